# First load and warm visits (issue #19): time to first recommendation over
# throttled connections, and the relaxed-SIMD vs SIMD128 A/B in Chromium.
# Included by the top-level Makefile.
#
#   make bench-ttfr     -> target/bench/ttfr.json, ttfr.md (BENCH_QUICK=1: 100k only;
#                          BENCH_TTFR_BEFORE=<commit>: also the glue of that commit)
#   make bench-ttfr-stores -> target/bench/ttfr_stores.json, .md: reading a stored bundle back
#                          (Cache Storage, IndexedDB, OPFS) in a fresh page
#   make bench-simd-ab  -> target/bench/simd_ab.json

BENCH_TARGETS += bench-ttfr bench-ttfr-stores bench-simd-ab
.PHONY: bench-ttfr bench-ttfr-stores bench-simd-ab

bench-ttfr: setup-web wasm cli pkg-web
	$(NODE) tests/bench/ttfr.mjs

bench-ttfr-stores: setup-web wasm cli
	$(NODE) tests/bench/ttfr-stores.mjs

bench-simd-ab: setup-web wasm cli pkg-web
	$(NODE) tests/bench/simd-ab.mjs
