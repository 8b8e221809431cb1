# Two-thread scans (the page + a helper worker, `load(src, {threads: 2})`, and
# two workers, `loadInWorker(src, {threads: 2})`):
#   make bench-threads  -> target/bench/threads.json, threads.md: page-2t and
#     worker-2t vs the page's own thread (page-1t) and one worker (worker-1t),
#     interleaved rounds, 1M and 100k x 64, int8 and f32, with the host's
#     two-scan ceiling (BENCH_QUICK=1: 100k only; BENCH_THREAD_ROUNDS, default 7;
#     BENCH_THREAD_SHAPES=int8:1000000,...; BENCH_PAGE_RATIO: the page's starting
#     share; BENCH_AUTOGROUP_NICE=-10 lifts Chromium's scheduler group on a
#     shared Linux host, see tests/bench/threads.mjs).
# `make bench-web` (tests/bench/run.mjs) runs the same rows into scoring.json.
.PHONY: bench-threads
bench-threads: setup-web wasm cli pkg-web
	$(NODE) tests/bench/threads.mjs
