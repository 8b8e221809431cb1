# Sharded bundles (issue #17): catalogues past one page load. Included by the
# top-level Makefile.
#   make test-shard-cli    `vitrine shard` end to end (tests/shard_cli.rs; in make test)
#   make test-bundle-size  the README / docs/trainer.md size tables are the rendering
#                          of docs/numbers/bundle-size.json and the formula matches
#                          real `vitrine synth` files (in make test, seconds)
#   make bundle-size       measure the sizes again (1M and 10M sharded: ~1 GB of temp
#                          files, deleted) and rewrite the tables
#   make bench-shards      time to first recommendation, cold and warm visit, 1M and
#                          10M items, headless Chromium -> target/bench/shards.json
# The format and JS tests run with the others: `cargo test --lib format::shard`,
# tests/node/shards.test.mjs, tests/browser/shards.test.mjs (make test-web).

TEST_TARGETS += test-bundle-size test-shard-cli
BENCH_TARGETS += bench-shards

.PHONY: test-bundle-size test-shard-cli bundle-size bench-shards

test-bundle-size: cli
	python3 scripts/bundle_size.py check

# Files that load, stale shards removed, refused runs write nothing.
test-shard-cli:
	$(CARGO) test --release --quiet --test shard_cli

bundle-size: cli
	python3 scripts/bundle_size.py measure
	python3 scripts/bundle_size.py render

bench-shards: setup-web wasm cli pkg-web
	$(NODE) tests/bench/shards.mjs
