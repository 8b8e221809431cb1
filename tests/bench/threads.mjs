#!/usr/bin/env node
// Two-thread scans (`make bench-threads`, and the two-thread rows of
// `make bench-web`): one query's scan split between the page and a helper
// worker (`load(url, {threads: 2})`, page-2t) and across two workers
// (`loadInWorker(url, {threads: 2})`, worker-2t), against the two
// one-thread scans a page could use instead, the page's own thread
// (`load()`, page-1t) and one worker (`threads: 1`, worker-1t), in headless
// Chromium on a cross-origin isolated page.
//
// The four run in the same page in interleaved rounds (page-1t, page-2t,
// worker-1t, worker-2t, then again in a rotated order), and each speed-up is
// taken per round before its median: the host's speed drifts by tens of percent over
// minutes (other guests, other processes), much more than the differences
// measured. Each answer is checked equal to the page's first.
//
// A `ceiling` row per shape says what two threads can gain at all on this
// host: two workers each scanning the WHOLE catalogue at once, against one.
// Near 2× the cores and memory can feed two scans; near 1× they cannot (the
// memory bus is saturated by one, or the second core is busy elsewhere).
//
// Env: BENCH_QUICK=1 (100k only), BENCH_THREAD_ROUNDS (default 7),
//      BENCH_AUTOGROUP_NICE (e.g. -10: see `raisePriority`),
//      BENCH_PAGE_RATIO (the page's share of the rows in page-2t, default
//      the library's), BENCH_THREAD_SHAPES (e.g. int8:1000000,f32:100000).

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT, synth } from '../node/helpers.mjs';
import { startServer } from '../../scripts/serve.mjs';
import { launch } from '../browser/chromium.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const CACHE = join(ROOT, '.cache', 'bench');
const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
const log = (...a) => console.error('[bench-threads]', ...a);

/**
 * Linux with `sched_autogroup_enabled` (the default on desktop and many
 * server kernels) shares the CPU between sessions first, and `nice` acts only
 * inside a session: on a host where other sessions run niced builds, a
 * benchmark at normal priority still gets only its session's share, and two
 * threads measure like one. Playwright starts Chromium in a session of its
 * own, so its autogroup's nice value (`/proc/<pid>/autogroup`) sets the
 * browser's share. Negative values need root or CAP_SYS_NICE; without them
 * this says so and the run goes on at normal priority.
 * @param {string | undefined} nice
 * @returns {string} what was done, for the environment row
 */
export function raisePriority(nice) {
  if (nice === undefined || nice === '') return 'not set';
  let pids;
  try {
    pids = execFileSync('pgrep', ['-P', String(process.pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return 'no child process found';
  }
  const done = [];
  for (const pid of pids) {
    try {
      writeFileSync(`/proc/${pid}/autogroup`, String(nice));
      done.push(readFileSync(`/proc/${pid}/autogroup`, 'utf8').trim());
    } catch (e) {
      done.push(`pid ${pid}: ${e.code ?? e.message}`);
    }
  }
  return done.join('; ') || 'nothing to set';
}

/**
 * In the page: the three engines on one bundle, interleaved rounds.
 * @param {{ url: string, k: number, rounds: number, minBatchMs: number, batches: number }} job
 */
async function inPage({ url, k, rounds, minBatchMs, batches, ratio }) {
  const v = await import('/vitrine.js');
  const page = await v.load(url, { simd: 'relaxed' });
  // page-2t: the split-or-alone rule of threads: 'auto' (switched on by hand,
  // since 'auto' keeps catalogues whose factors are under 4 MiB on one thread).
  const pageTwo = await v.load(url, { simd: 'relaxed', threads: 2 });
  const pageThreads = await pageTwo.threadsReady;
  if (pageThreads.count !== 2) throw new Error(`the page's helper was not granted: ${pageThreads.reason}`);
  pageTwo._split.adaptive = true;
  // page-2t-always: what threads: 2 does, every query split; its own model,
  // so page-2t's counters and timings are its own.
  const pageAlways = await v.load(url, { simd: 'relaxed', threads: 2 });
  if ((await pageAlways.threadsReady).count !== 2) throw new Error('the always-split page model got no helper');
  pageAlways._split.adaptive = false;
  if (ratio) pageTwo._split.ratio = pageAlways._split.ratio = ratio;
  const one = await v.loadInWorker(url, { simd: 'relaxed', threads: 1 });
  const two = await v.loadInWorker(url, { simd: 'relaxed', threads: 2 });
  if (two.threads.count !== 2) throw new Error(`two threads were not granted: ${two.threads.reason}`);
  // Deterministic Gaussian users (the same generator as page.js).
  let a = 42 >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const us = Array.from({ length: 64 }, () => Float32Array.from({ length: page.dim }, () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next())));
  /** @type {Record<string, (u: Float32Array) => Promise<{indices: Uint32Array, scores: Float32Array}>>} */
  const engines = {
    'page-1t': async (u) => page.recommendIndices(u, k),
    'page-2t': async (u) => pageTwo.recommendIndices(u, k),
    // Every query split (no measuring, the helper spinning from 500k items):
    // what the mechanism gives when the rule keeps splitting; beside page-2t
    // it shows what the rule costs or saves.
    'page-2t-always': async (u) => pageAlways.recommendIndices(u, k),
    'worker-1t': (u) => one.recommendIndices(u, k),
    'worker-2t': (u) => two.recommendIndices(u, k),
  };
  // The same answers first (indices and f32 scores, 8 users).
  for (let q = 0; q < 8; q++) {
    const want = await engines['page-1t'](us[q]);
    for (const name of ['page-2t', 'page-2t-always', 'worker-1t', 'worker-2t']) {
      const got = await engines[name](us[q]);
      if (JSON.stringify([Array.from(got.indices), Array.from(got.scores)]) !== JSON.stringify([Array.from(want.indices), Array.from(want.scores)])) {
        throw new Error(`${name} answered user ${q} differently from the page's scan`);
      }
    }
  }
  let sink = 0;
  let i = 0;
  /** Calls per batch so one batch takes ≥ minBatchMs (timer resolution). */
  const batchOf = async (/** @type {(u: Float32Array) => Promise<any>} */ f) => {
    for (let w = 0, t0 = performance.now(); performance.now() - t0 < 200 || w < 5; w++) sink += (await f(us[i++ & 63])).scores[0];
    for (let batch = 1; ; batch *= 2) {
      const s = performance.now();
      for (let b = 0; b < batch; b++) sink += (await f(us[i++ & 63])).scores[0];
      if (performance.now() - s >= minBatchMs) return batch;
    }
  };
  const batch = {};
  for (const [name, f] of Object.entries(engines)) batch[name] = await batchOf(f);
  /** Median per-call ms over `batches` batches. */
  const timed = async (/** @type {string} */ name) => {
    const f = engines[name];
    const per = [];
    for (let s = 0; s < batches; s++) {
      const t0 = performance.now();
      for (let b = 0; b < batch[name]; b++) sink += (await f(us[i++ & 63])).scores[0];
      per.push((performance.now() - t0) / batch[name]);
    }
    per.sort((x, y) => x - y);
    return per[per.length >> 1];
  };
  // Two workers scanning the whole catalogue each, at once, against one.
  const full = (/** @type {any} */ w) => w._request('recommendIndices', [new Float32Array(us[i++ & 63]), k]);
  const ceilingOf = async () => {
    const t = async (/** @type {() => Promise<any>} */ f) => {
      const n = Math.max(2, batch['worker-1t']);
      const t0 = performance.now();
      for (let b = 0; b < n; b++) await f();
      return (performance.now() - t0) / n;
    };
    const alone = await t(() => full(two));
    const both = await t(() => Promise.all([full(two), full(two._peer)]));
    return (2 * alone) / both;
  };
  const names = Object.keys(engines);
  /** @type {Record<string, number[]>} */
  const ms = Object.fromEntries(names.map((n) => [n, []]));
  const ceiling = [];
  for (let r = 0; r < rounds; r++) {
    // Rotate the order: no engine always runs first (or right after another).
    for (let e = 0; e < names.length; e++) {
      const name = names[(e + r) % names.length];
      ms[name].push(await timed(name));
    }
    ceiling.push(await ceilingOf());
  }
  const pageStats = pageTwo.info().threads.stats;
  const pageRatio = pageTwo._split?.ratio;
  page.dispose();
  pageTwo.dispose();
  pageAlways.dispose();
  await one.dispose();
  await two.dispose();
  return { ms, ceiling, batch, sink, isolated: crossOriginIsolated, threads: two.threads, pageThreads, pageStats, ratio: pageRatio, variant: page.variant, nItems: page.nItems, dim: page.dim };
}

const median = (/** @type {number[]} */ xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
};
const round = (/** @type {number} */ x, d = 4) => Math.round(x * 10 ** d) / 10 ** d;

/**
 * Runs the two-thread rows; returns rows for scoring.json and lines for the
 * report.
 * @param {{ browser?: any, quick?: boolean, rounds?: number, k?: number }} [o]
 */
export async function benchThreads(o = {}) {
  const quick = o.quick ?? process.env.BENCH_QUICK === '1';
  const rounds = o.rounds ?? Number(process.env.BENCH_THREAD_ROUNDS ?? 7);
  const k = o.k ?? 10;
  mkdirSync(CACHE, { recursive: true });
  const srv = await startServer({ mounts: { '/bench/': CACHE, '/bench-page/': HERE }, quiet: true, headers: ISOLATION });
  const own = !o.browser;
  const browser = o.browser ?? (await launch());
  const priority = own ? raisePriority(process.env.BENCH_AUTOGROUP_NICE) : 'set by the caller';
  const rows = [];
  const lines = [];
  try {
    const shapes = process.env.BENCH_THREAD_SHAPES
      ? process.env.BENCH_THREAD_SHAPES.split(',').map((x) => /** @type {[string, number]} */ ([x.split(':')[0], Number(x.split(':')[1])]))
      : (quick ? [100_000] : [1_000_000, 100_000]).flatMap((n) => ['int8', 'f32'].map((dtype) => /** @type {[string, number]} */ ([dtype, n])));
    for (const [dtype, n] of shapes) {
      {
        const url = `/bench/${basename(synth({ items: n, dim: 64, dtype, seed: 1, dir: CACHE }))}`;
        const page = await browser.context.newPage();
        const errors = [];
        page.on('pageerror', (e) => errors.push(e.message));
        let r;
        try {
          await page.goto(`${srv.url}/bench-page/page.html`);
          r = await page.evaluate(inPage, { url, k, rounds, minBatchMs: 20, batches: 5, ratio: Number(process.env.BENCH_PAGE_RATIO ?? 0) || undefined });
        } catch (e) {
          log(`FAILED ${dtype} ${n}x64: ${e.message}${errors.length ? `\n${errors.join('\n')}` : ''}`);
          rows.push({ metric: 'two_thread_speedup', dtype, n, d: 64, error: e.message.slice(0, 300) });
          continue;
        } finally {
          await page.close();
        }
        for (const [name, list] of Object.entries(r.ms)) {
          rows.push({ engine: `${name}-relaxed`, dtype, n, d: 64, k, threads: name.includes('-2t') ? 2 : 1, median_ms: round(median(list)), min_ms: round(Math.min(...list)), rounds: list.map((x) => round(x)), batch: r.batch[name], interleaved: true });
        }
        /** Per-round speed-ups of `two` over `base`. @param {string} base @param {string} two */
        const ratio = (base, two = 'worker-2t') => r.ms[base].map((b, i) => b / r.ms[two][i]);
        const vsPage = ratio('page-1t');
        const vsWorker = ratio('worker-1t');
        const pageVsPage = ratio('page-1t', 'page-2t');
        const pageVsWorker = ratio('worker-1t', 'page-2t');
        const alwaysVsPage = ratio('page-1t', 'page-2t-always');
        const best = ['page-2t', 'page-2t-always', 'worker-2t'].sort((a, b) => median(r.ms[a]) - median(r.ms[b]))[0];
        rows.push({
          metric: 'two_thread_speedup',
          dtype,
          n,
          d: 64,
          k,
          // worker-2t (two workers) over the one-thread scans
          vs_page_1t: round(median(vsPage), 3),
          vs_worker_1t: round(median(vsWorker), 3),
          per_round_vs_page_1t: vsPage.map((x) => round(x, 3)),
          per_round_vs_worker_1t: vsWorker.map((x) => round(x, 3)),
          // page-2t (the page + a helper worker) over the same
          page_2t_vs_page_1t: round(median(pageVsPage), 3),
          page_2t_vs_worker_1t: round(median(pageVsWorker), 3),
          per_round_page_2t_vs_page_1t: pageVsPage.map((x) => round(x, 3)),
          page_2t_always_vs_page_1t: round(median(alwaysVsPage), 3),
          per_round_page_2t_always_vs_page_1t: alwaysVsPage.map((x) => round(x, 3)),
          best_2t: `${best}-relaxed`,
          page_2t_ratio: r.ratio,
          page_2t_stats: r.pageStats,
          ceiling: round(median(r.ceiling), 3),
          per_round_ceiling: r.ceiling.map((x) => round(x, 3)),
          rounds,
          isolated: r.isolated,
          threads: r.threads,
          page_threads: r.pageThreads,
          variant: r.variant,
        });
        const st = r.pageStats;
        const ms = (/** @type {string} */ e) => median(r.ms[e]).toFixed(3);
        const line = `two threads ${dtype} ${n}x64: page + helper (page-2t) ${median(pageVsPage).toFixed(2)}× the page's one-thread scan, ${median(pageVsWorker).toFixed(2)}× one worker (every query split: ${median(alwaysVsPage).toFixed(2)}× page-1t, ${ms('page-2t-always')} ms); two workers (worker-2t) ${median(vsPage).toFixed(2)}× and ${median(vsWorker).toFixed(2)}× (medians of ${rounds} interleaved rounds; page-1t ${ms('page-1t')} ms, page-2t ${ms('page-2t')} ms, worker-1t ${ms('worker-1t')} ms, worker-2t ${ms('worker-2t')} ms; page-2t cut ${r.ratio?.toFixed(2)} to the page at the end, helper answered ${st.helped} of ${st.splits} parts, late ${st.late}, not claimed in time ${st.pageTookOver}, run alone ${st.alone}); ceiling, two whole scans at once vs one: ${median(r.ceiling).toFixed(2)}×`;
        lines.push(line);
        log(line);
      }
    }
  } finally {
    if (own) await browser.close();
    await srv.close();
  }
  rows.push({ metric: 'two_thread_environment', autogroup_priority: priority, rounds });
  return { rows, lines };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = join(ROOT, 'target', 'bench');
  mkdirSync(out, { recursive: true });
  const { rows, lines } = await benchThreads();
  writeFileSync(join(out, 'threads.json'), JSON.stringify(rows, null, 2) + '\n');
  writeFileSync(join(out, 'threads.md'), lines.map((l) => `- ${l}`).join('\n') + '\n');
  console.log(lines.join('\n'));
}
