# A neural peer for the session table: RecBole's GRU4Rec (and NARM) trained on
# the SAME NowPlaying-1M train/valid files as `make eval-session`, its top 20 for
# every test prefix written to a file and scored by vitrine's own next-item code
# (`vitrine session score`). Not part of `make test` nor `make eval`: it trains
# for tens of minutes. Included by the top-level Makefile (DATA, cli).
#
#   make neural-venv   torch + recbole into $(NEURAL_VENV)
#   make eval-neural   train, predict, score → target/eval/neural.json
#   make neural-report neural.json again from the per-model files + session/ranker JSON
#   make test-neural   scorer + split parity (in `make test`; no torch)
#
# Its own venv, not $(VENV): recbole 1.2.1 aliases np.float_ & co at import,
# which numpy 2 removed, so it needs numpy 1.26, while $(VENV) pins numpy 2.4.6
# for implicit/scikit-learn. PyPI has no CPU-only torch for Linux x86_64: every
# 2.x wheel there imports its nvidia-* libraries at `import torch` (with
# --no-deps it fails: "libcublas.so.*[0-9] not found"), so the wheel is
# installed with them and simply runs on the CPU (~3 GB once). torch 2.5.1 is
# the last release whose torch.load still defaults to weights_only=False,
# which RecBole's best-checkpoint reload needs.
NEURAL_VENV := .cache/venv-neural
NEURAL_PY := $(NEURAL_VENV)/bin/python
NEURAL_STAMP := $(NEURAL_VENV)/.vitrine-neural-deps
NEURAL_PIP := torch==2.5.1 numpy==1.26.4 scipy==1.13.1 pandas==2.2.3 scikit-learn==1.5.2 \
  tqdm==4.67.1 colorlog==4.7.2 colorama==0.4.4 pyyaml==6.0.2 tensorboard==2.18.0 \
  texttable==1.7.0 tabulate==0.9.0 psutil==6.1.1 thop==0.1.1.post2209072238
# recbole's own requirement list pins ray<=2.6.3 (for its hyper-parameter search,
# unused here): installed --no-deps over the list above.
NEURAL_RECBOLE := recbole==1.2.1
NEURAL_OUT := target/eval/neural
# Models trained in one `make eval-neural` (RecBole names), one after the other
# (NARM runs through the same script: NEURAL_MODELS="GRU4Rec NARM").
NEURAL_MODELS ?= GRU4Rec
# Budget per model: at most NEURAL_EPOCHS epochs, early stopping after
# NEURAL_PATIENCE epochs without a better MRR@20 on valid (every 4th valid
# session, ~12.6k points), and no new epoch past NEURAL_MINUTES of training.
# The cost is the full softmax over 121k items for 440k train prefixes:
# ~0.4 s of one core per batch of 512 at embedding 32, ~6 min of CPU per
# epoch, several times that in wall time on a loaded shared machine.
NEURAL_EPOCHS ?= 8
NEURAL_PATIENCE ?= 2
NEURAL_MINUTES ?= 65
# Continue an earlier run instead of starting over: a directory holding that
# run's work-<model>/saved/*.pth and <model>.meta.json (the same arguments are
# needed: the data files and item ids must match). On the shared machine one
# epoch took an hour of wall time, so a single run never reached a real epoch
# count; resuming keeps the epochs already paid for.
NEURAL_RESUME_DIR ?=
# One torch thread: the machine is shared.
NEURAL_THREADS ?= 1
NEURAL_ARGS ?= --epochs $(NEURAL_EPOCHS) --patience $(NEURAL_PATIENCE) --budget-minutes $(NEURAL_MINUTES) \
  --threads $(NEURAL_THREADS) --max-len 20 --embedding 32 --hidden 64 --lr 0.003 --batch 512 --valid-step 4

TEST_TARGETS += test-neural

.PHONY: neural-venv eval-neural neural-report test-neural

# The scorer (unit tests in src/eval/external/tests.rs run in test-rust) and
# the driver's split against vitrine's harness: no torch needed.
test-neural: cli
	$(CARGO) test --release --quiet --test session_score

neural-venv: $(NEURAL_STAMP)

$(NEURAL_STAMP): scripts/neural.mk
	test -x $(NEURAL_PY) || python3 -m venv $(NEURAL_VENV)
	$(NEURAL_PY) -m pip install --quiet --disable-pip-version-check $(NEURAL_PIP)
	$(NEURAL_PY) -m pip install --quiet --disable-pip-version-check --no-deps $(NEURAL_RECBOLE)
	$(NEURAL_PY) -c "import torch, recbole; assert torch.__version__.startswith('2.5.1'), torch.__version__; assert recbole.__version__ == '1.2.1'"
	@touch $@

# Per model: train + predict (Python, RecBole), then score with vitrine's
# next-item code; last, neural.json puts the models beside vitrine's rows from
# target/eval/session.json and ranker.json when `make eval` has written them.
eval-neural: cli data-nowplaying neural-venv
	@mkdir -p $(NEURAL_OUT)
	set -e; for m in $(NEURAL_MODELS); do \
	  echo "eval-neural: $$m (log: $(NEURAL_OUT)/$$m.log)"; \
	  OMP_NUM_THREADS=$(NEURAL_THREADS) $(NEURAL_PY) tests/eval/recbole_session.py --data $(NOWPLAYING) \
	    --model $$m --work $(NEURAL_OUT)/work-$$m --predictions $(NEURAL_OUT)/$$m.tsv \
	    --meta $(NEURAL_OUT)/$$m.meta.json $(NEURAL_ARGS) \
	    $(if $(NEURAL_RESUME_DIR),--resume "$$(ls -t $(NEURAL_RESUME_DIR)/work-$$m/saved/*.pth | head -n 1)" \
	      --resume-meta $(NEURAL_RESUME_DIR)/$$m.meta.json) > $(NEURAL_OUT)/$$m.log 2>&1 \
	    || { tail -n 30 $(NEURAL_OUT)/$$m.log; exit 1; }; \
	  target/release/vitrine session score --data $(NOWPLAYING) --predictions $(NEURAL_OUT)/$$m.tsv \
	    --name $$m --out $(NEURAL_OUT)/$$m.score.json; \
	done
	$(MAKE) --no-print-directory neural-report

# neural.json again from the per-model files, e.g. after `make eval-ranker`
# wrote fresher vitrine rows (no training).
neural-report:
	python3 tests/eval/recbole_report.py --dir $(NEURAL_OUT) --models "$(NEURAL_MODELS)" \
	  --session target/eval/session.json --ranker target/eval/ranker.json --out target/eval/neural.json
