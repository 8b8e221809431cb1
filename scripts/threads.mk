# Two-thread scans (worker mode, `loadInWorker(src, {threads: 2})`):
#   make bench-threads  -> target/bench/threads.json, threads.md: two workers
#     splitting each scan vs the page's own thread and one worker, interleaved
#     rounds, 1M and 100k x 64, int8 and f32 (BENCH_QUICK=1: 100k only;
#     BENCH_THREAD_ROUNDS, default 7; BENCH_AUTOGROUP_NICE=-10 lifts Chromium's
#     scheduler group on a shared Linux host, see tests/bench/threads.mjs).
# `make bench-web` (tests/bench/run.mjs) runs the same rows into scoring.json.
.PHONY: bench-threads
bench-threads: setup-web wasm cli pkg-web
	$(NODE) tests/bench/threads.mjs
