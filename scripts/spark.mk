# Spark ALS and `implicit` imports (`vitrine import`). Included by the top-level
# Makefile (VENV, PY, DATA, `venv`, `cli`); the data and the implicit venv come
# from scripts/train.mk.
#
#   make spark-venv   Java 17 (apt, if missing) + PyPI pyspark into $(VENV)
#   make test-spark   Spark ALS + implicit on ml-100k → import → top-10 and fold-in checks
#   make eval-spark   Spark ALS as a row of the ml-1m comparison (target/eval/spark-ml-1m.json)

# Spark 4.0 needs Java 17+; pinned so every run imports the same layout.
SPARK_PIP := pyspark==4.0.5 py4j==0.10.9.9
SPARK_VENV_STAMP := $(VENV)/.vitrine-spark-deps
SPARK_CACHE ?= target/spark-cache

SETUP_TARGETS += spark-venv
TEST_TARGETS += test-spark
EVAL_TARGETS += eval-spark

.PHONY: spark-java spark-venv test-spark eval-spark

spark-java:
	@if ! java -version 2>&1 | grep -Eq 'version "(1[7-9]|2[0-9])'; then \
	  echo "spark: installing Java 17 (openjdk-17-jre-headless)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless; \
	fi

spark-venv: spark-java $(SPARK_VENV_STAMP)

$(SPARK_VENV_STAMP): scripts/spark.mk | venv
	$(PY) -m pip install --quiet --disable-pip-version-check $(SPARK_PIP)
	$(PY) -c "import pyspark; assert pyspark.__version__ == '4.0.5', pyspark.__version__"
	@touch $@

# Trained Spark / implicit outputs are cached in $(SPARK_CACHE) under a hash
# of the training script and its arguments (first run ~2-3 min, then seconds).
test-spark: spark-venv train-venv $(DATA)/ml-100k/ml-100k.inter
	VITRINE_PYTHON=$(abspath $(PY)) VITRINE_ML100K=$(abspath $(DATA)/ml-100k/ml-100k.inter) \
	VITRINE_SPARK_CACHE=$(abspath $(SPARK_CACHE)) \
	$(CARGO) test --release --quiet --test spark_import

# Spark ALS on the identical ml-1m split as `make eval-train` (vitrine's rows
# are recomputed beside it): target/eval/spark-ml-1m/{metrics.json,report.html}.
SPARK_REG_PARAM ?= 0.01
eval-spark: spark-venv train-venv $(DATA)/ml-1m/ml-1m.inter cli
	SPARK_REG_PARAM=$(SPARK_REG_PARAM) $(VITRINE_BIN) eval $(DATA)/ml-1m/ml-1m.inter --format recbole \
	  --dataset-name ml-1m --factors $(EVAL_FACTORS) --iterations $(EVAL_ITERATIONS) --alpha $(EVAL_ALPHA) \
	  --lambda $(EVAL_LAMBDA) --threads $(EVAL_THREADS) --seed $(EVAL_SEED) \
	  --implicit-python $(PY) --implicit-script tests/eval/spark_als_eval.py \
	  --out-dir target/eval/spark-ml-1m
