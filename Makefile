# vitrine: two commands matter on a fresh machine —
#   make demo   build everything and serve the demo storefront on 127.0.0.1:8080
#   make test   install what is missing, build, and run every test
# Other targets: setup, wasm, cli, bench, eval, lint, fmt, clean.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
DATA := .cache/data
CARGO ?= cargo

SETUP_TARGETS :=
TEST_TARGETS :=
BENCH_TARGETS :=
EVAL_TARGETS :=
DEMO_DEPS :=

# Each area (trainer, intent, web, ...) contributes its targets here.
include $(sort $(wildcard scripts/*.mk))

.PHONY: help setup toolchain wasm cli venv test test-rust bench bench-native eval demo lint fmt clean

help:
	@echo "make demo    build everything and serve the demo on http://127.0.0.1:$${PORT:-8080}/"
	@echo "make test    install what is missing, build, run all tests"
	@echo "make bench   benchmarks -> target/bench/*.json"
	@echo "make eval    offline evaluation on real datasets -> target/eval/"
	@echo "make lint    rustfmt --check + clippy -D warnings (native; wasm32 scalar, SIMD128, relaxed SIMD, intent module)"
	@echo "make deny    cargo deny check (licenses, duplicate versions, sources; advisories if a database copy exists)"
	@echo "make readme-numbers  README tables from docs/numbers/*.json (copied from target/ when newer)"

toolchain:
	@scripts/setup.sh --browser

setup: toolchain $(SETUP_TARGETS)

wasm: toolchain
	@scripts/build-wasm.sh relaxed simd scalar intent relaxed-lean simd-lean scalar-lean

cli:
	$(CARGO) build --release --quiet --bin vitrine

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip

venv: $(PY)

# Core Rust tests: unit tests of format/engine/intent/..., and integration tests
# that need no downloaded data. Areas with data-backed tests run them from
# their own fragment (TEST_TARGETS) after fetching the data.
test-rust:
	$(CARGO) test --release --quiet --lib
	$(CARGO) test --release --quiet --test cli

test: setup
	$(MAKE) --no-print-directory test-rust $(TEST_TARGETS)

bench-native: cli
	@mkdir -p target/bench
	target/release/vitrine bench-native --out target/bench/native.json

bench: setup bench-native $(BENCH_TARGETS)
	$(MAKE) --no-print-directory readme-numbers

eval: setup $(EVAL_TARGETS)
	$(MAKE) --no-print-directory readme-numbers

# The demo model (.cache/demo/demo.vtr, ml-100k with neighbours, segments and the
# intent set) comes from the trainer's fragment through DEMO_DEPS.
demo: setup wasm cli $(DEMO_DEPS)
	$(MAKE) --no-print-directory demo-web

# Every build the project makes is linted: native (lib, CLI, tests) and the
# four wasm32 builds (scalar, SIMD128, relaxed SIMD, intent module). The toolchain
# step installs the wasm32 target on a fresh clone (CI runs this first).
lint: toolchain
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets --release -- -D warnings
	$(CARGO) clippy --lib --release --target wasm32-unknown-unknown -- -D warnings
	RUSTFLAGS='-C target-feature=+simd128' CARGO_TARGET_DIR=target/lint-simd \
	  $(CARGO) clippy --lib --release --target wasm32-unknown-unknown -- -D warnings
	$(CARGO) clippy --lib --release --target wasm32-unknown-unknown --features intent-module -- -D warnings
	RUSTFLAGS='-C target-feature=+simd128,+relaxed-simd' CARGO_TARGET_DIR=target/lint-relaxed \
	  $(CARGO) clippy --lib --release --target wasm32-unknown-unknown -- -D warnings
	RUSTFLAGS='-C target-feature=+simd128' CARGO_TARGET_DIR=target/lint-simd \
	  $(CARGO) clippy --lib --release --target wasm32-unknown-unknown --features lean -- -D warnings

fmt:
	$(CARGO) fmt --all

clean:
	rm -rf target pkg/wasm
