# Fuzzing (libFuzzer through cargo-fuzz, fuzz/) and property tests
# (tests/props.rs). Included by the top-level Makefile. See DEVELOPERS.md, "Fuzzing".
#
#   make fuzz            seed corpora, then every target for FUZZ_SECONDS each (not in `make test`)
#   make fuzz-bundle     one target (also fuzz-vti, fuzz-intent_text, fuzz-shopper, fuzz-placements)
#   make fuzz-seeds      fuzz/corpus/<target>/ from the fixtures, `vitrine synth`, the default intent set
#   make fuzz-toolchain  nightly Rust (or the stable one with RUSTC_BOOTSTRAP=1) + cargo-fuzz
#   make fuzz-test       the fuzz crate's own tests: mutators, reseal, replay of fuzz/regressions/
#                        and of the placements target's fixed inputs, corrupt placement/RANKER sections
#   make fuzz-reach      what the corpora reach (fuzz/examples/reach.rs), into target/fuzz/reach.txt
#   make test-props      property tests (part of `make test`)
#
# Knobs: FUZZ_SECONDS (per target, default 60), FUZZ_TARGETS, FUZZ_ARGS (extra
# libFuzzer flags, e.g. FUZZ_ARGS=-runs=10000000), FUZZ_SANITIZER (address | none),
# VITRINE_FUZZ_STRICT=1 (also assert finite scores and confidences).
# Logs and a summary (executions, exec/s, cov, ft) land in target/fuzz/.

CARGO_FUZZ_VERSION := 0.13.2
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= bundle vti intent_text shopper placements
FUZZ_SANITIZER ?= address
FUZZ_ARGS ?=
FUZZ_ENV := fuzz/target/toolchain.env
FUZZ_VTI := fuzz/seeds/intent_default.vti
# Longest input per target: bundles of the seed size plus room to grow a
# section; the default .vti is ~300 KB; texts past 512 chars are cut anyway.
FUZZ_MAXLEN_bundle := 16384
FUZZ_MAXLEN_vti := 393216
FUZZ_MAXLEN_intent_text := 2048
FUZZ_MAXLEN_shopper := 1024
# Eight calls with their options and a few dozen events each.
FUZZ_MAXLEN_placements := 2048

TEST_TARGETS += test-props

.PHONY: fuzz fuzz-toolchain fuzz-seeds fuzz-test fuzz-reach test-props $(addprefix fuzz-,$(FUZZ_TARGETS))

# Bounded case counts: well under a minute in release.
test-props:
	$(CARGO) test --release --quiet --test props

# Nightly through rustup when it can be had; otherwise the stable toolchain
# with RUSTC_BOOTSTRAP=1 (rustup's stable ships the ASan runtime too). The
# choice is written to $(FUZZ_ENV) and read by every fuzz target below.
fuzz-toolchain:
	@mkdir -p $(dir $(FUZZ_ENV))
	@if rustup run nightly rustc --version >/dev/null 2>&1 \
	   || rustup toolchain install nightly --profile minimal >/dev/null 2>&1; then \
	  echo "FUZZ_CARGO='cargo +nightly'" > $(FUZZ_ENV); \
	else \
	  echo 'nightly unavailable: using the stable toolchain with RUSTC_BOOTSTRAP=1' >&2; \
	  echo "FUZZ_CARGO='env RUSTC_BOOTSTRAP=1 cargo'" > $(FUZZ_ENV); \
	fi
	@cargo fuzz --version 2>/dev/null | grep -qF '$(CARGO_FUZZ_VERSION)' \
	  || cargo install cargo-fuzz --version $(CARGO_FUZZ_VERSION) --locked
	@cat $(FUZZ_ENV)

# Seeds: from fuzz/examples/seedgen.rs the committed fixtures, bundles with
# every optional section, .vti models (the default set's from
# `make intent-demo`), the default set's utterances and shopper histories;
# then bundles written by `vitrine synth` (int8 + RESIDUAL + INTENT, f16,
# f32). Small on purpose (a few KB): the default .vti is ~300 KB and goes to
# the vti target only. Regenerated on every `make fuzz`; what the fuzzers
# added to fuzz/corpus/ stays.
fuzz-seeds: intent-demo cli
	@mkdir -p fuzz/corpus/bundle fuzz/seeds
	cp $(INTENT_DEMO) $(FUZZ_VTI)
	cd fuzz && $(CARGO) run --quiet --example seedgen -- corpus seeds/intent_default.vti
	target/release/vitrine synth --items 24 --dim 8 --dtype int8 --residual --categories 3 \
	  --intent fuzz/corpus/vti/small-titles.vti --out fuzz/corpus/bundle/synth-int8-residual-intent.vtr
	target/release/vitrine synth --items 30 --dim 12 --dtype f16 --out fuzz/corpus/bundle/synth-f16.vtr
	target/release/vitrine synth --items 40 --dim 32 --dtype f32 --seed 3 --out fuzz/corpus/bundle/synth-f32.vtr

fuzz: fuzz-seeds $(addprefix fuzz-,$(FUZZ_TARGETS))
	@echo "fuzz summary (target/fuzz/summary.txt):"; cat target/fuzz/summary.txt
	@$(MAKE) --no-print-directory fuzz-reach

# What the corpora reach: bundles that load with placement / RANKER sections
# (ranker used or refused), placement calls answering Ok per kind.
fuzz-reach:
	cd fuzz && $(CARGO) run --quiet --example reach -- corpus | tee ../target/fuzz/reach.txt

# One target for FUZZ_SECONDS. A crash stops the run with libFuzzer's report
# and the input in fuzz/artifacts/<target>/; make it a regression test
# (fuzz/regressions/<target>/ and a Rust test in the owning module).
$(addprefix fuzz-,$(FUZZ_TARGETS)): fuzz-%: fuzz-toolchain
	@mkdir -p target/fuzz fuzz/corpus/$*
	. $(FUZZ_ENV); VITRINE_FUZZ_VTI=$(CURDIR)/$(FUZZ_VTI) $$FUZZ_CARGO fuzz run -s $(FUZZ_SANITIZER) $* -- \
	  -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAXLEN_$*) -print_final_stats=1 $(FUZZ_ARGS) \
	  2>&1 | tee target/fuzz/$*.log | grep -E '^(stat::|Done|SUMMARY|==[0-9]+==|artifact_prefix|Test unit written)' || true
	@grep -qE '^Done [0-9]+ runs' target/fuzz/$*.log || { echo "fuzz-$*: did not finish cleanly, see target/fuzz/$*.log"; exit 1; }
	@touch target/fuzz/summary.txt; grep -v '^$* ' target/fuzz/summary.txt > target/fuzz/summary.tmp || true
	@awk -v t=$* '/ cov: /{c=$$0} /^stat::number_of_executed_units/{n=$$2} /^stat::average_exec_per_sec/{e=$$2} \
	  END{match(c,/cov: [0-9]+/); cv=substr(c,RSTART+5,RLENGTH-5); match(c,/ft: [0-9]+/); f=substr(c,RSTART+4,RLENGTH-4); \
	  printf "%s execs=%s exec/s=%s cov=%s ft=%s\n", t, n, e, cv, f}' target/fuzz/$*.log >> target/fuzz/summary.tmp
	@mv target/fuzz/summary.tmp target/fuzz/summary.txt; grep '^$* ' target/fuzz/summary.txt

fuzz-test:
	cd fuzz && $(CARGO) test --quiet
