# onnxruntime-web (pinned in package.json, installed by setup-web's npm ci)
# against vitrine in Chromium. Its table rows (f32 Gemm + TopK and the int8
# route, 1 and 2 threads) are part of `make bench-web` (tests/bench/run.mjs);
# this target adds the paired view: vitrine and ORT interleaved in one page,
# so the ratio does not move with the host's drift. Included by the Makefile.
#
#   make bench-ort   -> target/bench/ort_ab.json (ORT on one thread vs vitrine's
#                       scan) and ort_ab_2t.json (ORT on two threads vs vitrine's
#                       split scan on two workers; wall time only)
#                       BENCH_QUICK=1: 100k only; VITRINE_AB_WASM=DIR: also a
#                       candidate wasm build (tests/bench/ort-ab.mjs has the knobs)
#   $(NODE) tests/bench/ort.mjs --route f32 --threads 1,2   (ORT alone, in Node)
BENCH_TARGETS += bench-ort
.PHONY: bench-ort
bench-ort: setup-web wasm cli
	$(NODE) tests/bench/ort-ab.mjs
	BENCH_ORT_THREADS=2 $(NODE) tests/bench/ort-ab.mjs
