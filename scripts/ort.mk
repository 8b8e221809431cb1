# onnxruntime-web (pinned in package.json) as a bench engine: f32 Gemm + TopK
# over the same kind of matrix and biases, 1 and 2 wasm threads, each answer
# checked against plain JS first. Included by the Makefile.
#
#   make bench-ort   -> target/bench/ort.json (one JSON line per thread count)
BENCH_TARGETS += bench-ort
.PHONY: bench-ort
bench-ort: setup-web
	@mkdir -p target/bench
	$(NODE) tests/bench/ort.mjs --n 1000000 --d 64 --k 10 --threads 1,2 --reps 50 > target/bench/ort.json
	@cat target/bench/ort.json
