#!/usr/bin/env node
// Browser scoring benchmark (`make bench-web`): top-10 latency of the wasm
// core (SIMD and scalar builds), a plain JS loop, tfjs-wasm and
// onnxruntime-web (1 and 2 threads, from a cross-origin isolated origin) in
// headless Chromium, plus bundle load time, wasm sizes and int8-vs-f32 top-10
// agreement. Merges the native rows from `vitrine bench-native` and writes
// target/bench/scoring.json.
//
// Env: BENCH_QUICK=1 skips the 1M-item shapes (for a fast smoke run);
//      BENCH_ORT_ROUTES=all times every ORT int8 route (tests/bench/onnx.mjs);
//      BENCH_SAMPLES (default 25), BENCH_QUERIES (agreement, default 1000).

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, statSync, rmSync, cpSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { cpus, loadavg, hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT, CLI, synth, rng, gaussianVector } from '../node/helpers.mjs';
import { startServer } from '../../scripts/serve.mjs';
import { launch } from '../browser/chromium.mjs';
import { load } from '../../pkg/node.js';
import { benchThreads } from './threads.mjs';
import { ROUTES } from './onnx.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
// onnxruntime-web's int8 route in the table: the fastest of its int8 operators
// here (tests/bench/onnx.mjs ROUTES), picked by `make bench-ort` with
// BENCH_ORT_INT8_ROUTE=matmulinteger,dqmatmul,nbits,nbits-acc4 (interleaved in
// one page, 2026-11-30, loaded host, main-thread CPU ms per query at 1M / 100k
// × 64: MatMulInteger 12.0 / 1.35, DynamicQuantizeMatMul 12.1 / 1.47, both
// MatMulNBits 8-bit ~15× slower at 100k; vitrine int8 3.1 / 0.22).
// BENCH_ORT_ROUTES=all puts every int8 route in the table.
const ORT_INT8_ROUTE = 'matmulinteger';
const ORT_INT8_ROUTES = process.env.BENCH_ORT_ROUTES === 'all' ? Object.keys(ROUTES).filter((r) => ROUTES[r].int8) : [ORT_INT8_ROUTE];
const QUICK = process.env.BENCH_QUICK === '1';
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 25);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 1000);
const K = 10;
const CACHE = join(ROOT, '.cache', 'bench');
const OUT_DIR = join(ROOT, 'target', 'bench');
mkdirSync(CACHE, { recursive: true });
mkdirSync(OUT_DIR, { recursive: true });

const log = (...a) => console.error('[bench]', ...a);
const load0 = loadavg();

// ---------------------------------------------------------------- bundles
/** @type {{n: number, d: number, dtypes: string[]}[]} */
const SHAPES = [
  ...(QUICK ? [] : [{ n: 1_000_000, d: 64, dtypes: ['f32', 'int8', 'int8+residual'] }]),
  { n: 100_000, d: 32, dtypes: ['f32', 'int8'] },
  { n: 100_000, d: 64, dtypes: ['f32', 'int8', 'int8+residual'] },
  { n: 100_000, d: 128, dtypes: ['f32', 'int8'] },
  { n: 10_000, d: 64, dtypes: ['f32', 'int8'] },
];
const SEED = 1;
const bundles = new Map();
for (const { n, d, dtypes } of SHAPES) {
  for (const dtype of dtypes) {
    const t0 = Date.now();
    const path = synth({ items: n, dim: d, dtype, seed: SEED, dir: CACHE });
    bundles.set(`${dtype} ${n} ${d}`, path);
    if (Date.now() - t0 > 50) log(`synth ${n}x${d} ${dtype}: ${Date.now() - t0} ms`);
  }
}

// ---------------------------------------------------------------- browser
// A snapshot of the wasm builds: a rebuild of pkg/wasm/ during the run (the
// tree is shared) must not mix two builds into one table.
const WASM_SNAPSHOT = join(CACHE, 'wasm-snapshot');
rmSync(WASM_SNAPSHOT, { recursive: true, force: true });
for (const v of ['relaxed', 'simd', 'scalar', 'intent', 'relaxed-lean', 'simd-lean', 'scalar-lean']) cpSync(join(ROOT, 'pkg', 'wasm', v), join(WASM_SNAPSHOT, v), { recursive: true });
const srv = await startServer({
  nodeModules: true,
  mounts: { '/bench/': CACHE, '/bench-page/': HERE, '/wasm/': WASM_SNAPSHOT },
  quiet: true,
});
// The same files from a cross-origin isolated origin (COOP/COEP): ORT's wasm
// threads need SharedArrayBuffer. Its own server, so the other rows run as
// they always have.
const isoSrv = await startServer({
  nodeModules: true,
  mounts: { '/bench/': CACHE, '/bench-page/': HERE, '/wasm/': WASM_SNAPSHOT },
  quiet: true,
  headers: ISOLATION,
});
const browser = await launch();
const chromiumVersion = browser.context.browser()?.version() ?? 'unknown';

/**
 * Each job in a fresh page: no JIT history carried between engines/shapes.
 * `isolated`: from the COOP/COEP origin.
 */
async function inFreshPage(job, { isolated = false } = {}) {
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await page.goto(`${isolated ? isoSrv.url : srv.url}/bench-page/page.html`);
    await page.waitForFunction(() => globalThis.benchReady === true);
    return await page.evaluate((j) => globalThis.bench(j), job);
  } catch (e) {
    throw new Error(`${JSON.stringify(job)}: ${e.message}${errors.length ? `\n${errors.join('\n')}` : ''}`);
  } finally {
    await page.close();
  }
}

const rows = [];
const opts = { samples: SAMPLES, minBatchMs: 20, warmupMs: 300 };
for (const { n, d, dtypes } of SHAPES) {
  for (const dtype of dtypes) {
    const url = `/bench/${basename(bundles.get(`${dtype} ${n} ${d}`))}`;
    const engines = [
      // The relaxed build differs from SIMD128 only in its int8 kernel.
      ...(dtype.startsWith('int8') ? [['wasm-relaxed', { kind: 'wasm', variant: 'relaxed' }]] : []),
      ['wasm-simd', { kind: 'wasm', variant: 'simd' }],
      // With a residual only the few re-scored candidates differ: the scan is
      // the int8 one, measured above for the scalar build.
      ...(dtype === 'int8+residual' ? [] : [['wasm-scalar', { kind: 'wasm', variant: 'scalar' }]]),
      ...(dtype === 'f32'
        ? [
            // The SIMD128 build without its int8 screen: the f32 kernel alone.
            ['wasm-simd-plain', { kind: 'wasm', variant: 'simd', screen: false }],
            ['js', { kind: 'js' }],
            ['tfjs-wasm', { kind: 'tfjs' }],
          ]
        : []),
      // onnxruntime-web, 1 and 2 threads: its f32 Gemm beside the f32 rows,
      // its int8 route beside the int8 ones (over the f32 bundle's items,
      // quantized per row as vitrine's int8 bundle is).
      ...(dtype === 'f32' || dtype === 'int8'
        ? (dtype === 'f32' ? ['f32'] : ORT_INT8_ROUTES).flatMap((route) =>
            [1, 2].map((threads) => [
              `ort-${threads}t${route === 'f32' || route === ORT_INT8_ROUTE ? '' : `-${route}`}`,
              { kind: 'ort', route, threads, url: `/bench/${basename(bundles.get(`f32 ${n} ${d}`))}`, isolated: true },
            ]),
          )
        : []),
    ];
    for (const [engine, job] of engines) {
      const t0 = Date.now();
      try {
        const r = await inFreshPage({ url, ...job, k: K, opts }, { isolated: job.isolated });
        const row = { engine, dtype, n, d, k: K, median_ms: round(r.median_ms), p95_ms: round(r.p95_ms), min_ms: round(r.min_ms), batch: r.batch, samples: r.samples };
        for (const extra of ['simd_enabled', 'overlap_with_wasm', 'tfjs_version', 'tfjs_simd', 'tfjs_threads', 'threads', 'ort_version', 'ort_route', 'overlap_with_js', 'session_ms']) {
          if (r[extra] !== undefined) row[extra] = r[extra];
        }
        rows.push(row);
        log(`${engine.padEnd(11)} ${dtype.padEnd(4)} ${n}x${d}: median ${row.median_ms} ms, p95 ${row.p95_ms} ms (${Date.now() - t0} ms wall)`);
      } catch (e) {
        log(`FAILED ${engine} ${dtype} ${n}x${d}: ${e.message}`);
        rows.push({ engine, dtype, n, d, k: K, median_ms: null, p95_ms: null, error: e.message.slice(0, 300) });
      }
    }
  }
}

// Two-thread scans (worker mode, tests/bench/threads.mjs): two workers
// splitting each scan against the page's own thread and one worker, on a
// cross-origin isolated page, in interleaved rounds (the speed-ups are
// medians of per-round ratios), with the host's two-scan ceiling.
const threadLines = [];
try {
  const t = await benchThreads({ browser, quick: QUICK, k: K });
  rows.push(...t.rows);
  threadLines.push(...t.lines);
} catch (e) {
  log(`FAILED two-thread rows: ${e.message}`);
  rows.push({ metric: 'two_thread_speedup', error: e.message.slice(0, 300) });
}

// wasm-read: a bare wasm loop reading the same matrix bytes as `bound` counts,
// in this browser: the floor for any wasm scan (the f32 kernel is close to it).
for (const { n, d } of QUICK ? [{ n: 100_000, d: 64 }] : [{ n: 1_000_000, d: 64 }, { n: 100_000, d: 64 }]) {
  const stride = Math.ceil(d / 16) * 16;
  for (const [dtype, bytes] of [['f32', n * stride * 4], ['int8', n * stride + n * 4]]) {
    const r = await inFreshPage({ kind: 'read', bytes, opts });
    rows.push({ engine: 'wasm-read', dtype, n, d, k: K, median_ms: round(r.median_ms), p95_ms: round(r.p95_ms), min_ms: round(r.min_ms), batch: r.batch, samples: r.samples, bytes });
    log(`wasm-read   ${dtype.padEnd(4)} ${n}x${d}: median ${round(r.median_ms)} ms (${bytes} bytes)`);
  }
}

// load_ms: 100k×64 int8 (and with the residual), bytes in hand → Model.fromBytes returns
for (const dtype of ['int8', 'int8+residual']) {
  const url = `/bench/${basename(bundles.get(`${dtype} 100000 64`))}`;
  const r = await inFreshPage({ kind: 'loadTime', url, reps: 15 });
  rows.push({ metric: 'load_ms', engine: `wasm-${r.variant}`, dtype, n: 100_000, d: 64, median_ms: round(r.median_ms), p95_ms: round(r.p95_ms), reps: r.reps, bytes: r.bytes });
  log(`load_ms 100k x 64 ${dtype} (${r.bytes} bytes, ${r.variant} build): median ${round(r.median_ms)} ms`);
}
// paired: the host's memory bandwidth drifts by 15-20% over minutes (other
// guests), while `bound` is measured once, before the browser rows. Each
// round here probes the native bandwidth right before and after one
// browser run of the same 1M matrix, and the ratio uses that bandwidth: the
// spread over rounds shows how much of a single-run ratio is drift.
const PAIRED_ROUNDS = QUICK ? 0 : Number(process.env.BENCH_PAIRED_ROUNDS ?? 5);
const probe = () => JSON.parse(execFileSync(CLI, ['bench-native', '--bandwidth'], { encoding: 'utf8' })).read_gbps * 1e9;
if (PAIRED_ROUNDS > 0) {
  const n = 1_000_000;
  const d = 64;
  const bytes = n * Math.ceil(d / 16) * 16 * 4; // as the wasm-read rows count
  const url = `/bench/${basename(bundles.get(`f32 ${n} ${d}`))}`;
  const pairedOpts = { ...opts, samples: 11 };
  const runs = [
    // The f32 kernel against the memory bound: without the int8 screen.
    ['wasm-simd-plain', () => inFreshPage({ kind: 'wasm', variant: 'simd', url, k: K, opts: pairedOpts, screen: false })],
    ['wasm-read', () => inFreshPage({ kind: 'read', bytes, opts: pairedOpts })],
  ];
  // Per engine: the ratio and the bandwidth probed around each of its runs.
  const ratios = new Map(runs.map(([e]) => [e, []]));
  const gbps = new Map(runs.map(([e]) => [e, []]));
  try {
    for (let rnd = 0; rnd < PAIRED_ROUNDS; rnd++) {
      for (const [engine, run] of runs) {
        const before = probe();
        const r = await run();
        const bw = (before + probe()) / 2;
        gbps.get(engine).push(round(bw / 1e9, 3));
        ratios.get(engine).push(round(r.median_ms / ((bytes / bw) * 1e3), 3));
      }
    }
    for (const [engine, list] of ratios) {
      const sorted = [...list].sort((a, b) => a - b);
      const value = sorted[Math.floor(sorted.length / 2)];
      rows.push({ metric: 'paired_bound_ratio', engine, dtype: 'f32', n, d, k: K, value, ratios: list, rounds: PAIRED_ROUNDS, read_gbps: gbps.get(engine) });
      log(`paired ${engine} f32 ${n}x${d} / bound: median ${value} over rounds ${list.join(' ')}`);
    }
  } catch (e) {
    log(`FAILED paired rounds: ${e.message}`);
  }
}

await browser.close();
await srv.close();
await isoSrv.close();

// ---------------------------------------------------------------- wasm sizes
// The engine builds are what every page loads; the intent module only pages
// that ask `matchIntent`, on first use.
for (const variant of ['relaxed', 'simd', 'scalar', 'intent', 'relaxed-lean', 'simd-lean', 'scalar-lean']) {
  const file = join(WASM_SNAPSHOT, variant, variant === 'intent' ? 'vitrine_intent_bg.wasm' : 'vitrine_core_bg.wasm');
  const raw = readFileSync(file);
  rows.push({ metric: 'wasm_size', variant, raw_bytes: raw.byteLength, gzip_bytes: gzipSync(raw, { level: 9 }).byteLength });
}

// ---------------------------------------------------------------- int8 vs f32 agreement (Node, same wasm)
for (const { n, d } of QUICK ? [{ n: 100_000, d: 64 }] : [{ n: 1_000_000, d: 64 }, { n: 100_000, d: 64 }]) {
  const f = await load(bundles.get(`f32 ${n} ${d}`));
  for (const [dtype, metric] of [['int8', 'int8_top10_agreement'], ['int8+residual', 'int8_residual_top10_agreement']]) {
    const q8 = await load(bundles.get(`${dtype} ${n} ${d}`));
    const r = rng(2024);
    let equal = 0;
    let overlap = 0;
    for (let q = 0; q < QUERIES; q++) {
      const u = gaussianVector(r, d);
      const a = new Set(f.recommendIndices(u, 10).indices);
      const b = q8.recommendIndices(u, 10).indices;
      const common = Array.from(b).filter((i) => a.has(i)).length;
      overlap += common / 10;
      if (common === 10) equal++;
    }
    q8.dispose();
    rows.push({
      metric,
      engine: 'wasm-simd',
      n,
      d,
      value: round(equal / QUERIES, 4),
      mean_overlap: round(overlap / QUERIES, 4),
      queries: QUERIES,
      query_distribution: 'iid N(0,1) per dimension',
    });
    log(`${dtype} top-10 agreement ${n}x${d}: ${equal}/${QUERIES} identical sets, mean overlap ${(overlap / QUERIES).toFixed(4)}`);
  }
  f.dispose();
}

// ---------------------------------------------------------------- native rows
const nativePath = join(OUT_DIR, 'native.json');
let nativeNote = '';
// `make bench` runs bench-native just before this script: reuse a native.json
// newer than the CLI binary instead of spending another minute on it.
const nativeFresh = existsSync(nativePath) && statSync(nativePath).mtimeMs > statSync(CLI).mtimeMs && statSync(nativePath).mtimeMs > Date.now() - 3600e3;
if (process.env.BENCH_NATIVE === 'run' || (!nativeFresh && process.env.BENCH_NATIVE !== 'skip')) {
  try {
    execFileSync(CLI, ['bench-native', '--out', nativePath], { stdio: ['ignore', 'inherit', 'inherit'] });
  } catch (e) {
    nativeNote = `vitrine bench-native failed: ${e.message.split('\n')[0]}`;
    log(nativeNote);
  }
} else {
  log(`merging ${nativePath} (fresh; BENCH_NATIVE=run to re-measure)`);
}
if (existsSync(nativePath)) {
  try {
    const native = JSON.parse(readFileSync(nativePath, 'utf8'));
    const list = Array.isArray(native) ? native : native.rows ?? [];
    for (const row of list) rows.push(row);
    if (nativeNote && statSync(nativePath).mtimeMs < Date.now() - 3600e3) nativeNote += ' (merged an older native.json)';
  } catch (e) {
    nativeNote = `cannot parse ${nativePath}: ${e.message}`;
  }
}

const load1 = loadavg();
rows.push({
  metric: 'environment',
  // When and where (the README's tables name both: hosts differ 2x in bandwidth).
  date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  host: hostname(),
  chromium: chromiumVersion,
  node: process.version,
  cpus: cpus().length,
  cpu_model: cpus()[0]?.model ?? 'unknown',
  loadavg_start: load0.map((x) => round(x, 2)),
  loadavg_end: load1.map((x) => round(x, 2)),
  quick: QUICK,
  note: 'timings are per call; noisy if other processes share the 2 cores (see loadavg)',
});
writeFileSync(join(OUT_DIR, 'scoring.json'), JSON.stringify(rows, null, 2) + '\n');

// ---------------------------------------------------------------- report
function round(x, digits = 4) {
  if (x === null || x === undefined || !Number.isFinite(x)) return x ?? null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
/** 4 significant digits for display; the JSON keeps the full values. */
const sig = (x) => (typeof x === 'number' && Number.isFinite(x) ? String(Number(x.toPrecision(4))) : 'n/a');
const find = (engine, dtype, n, d) => rows.find((r) => !r.metric && r.engine === engine && r.dtype === dtype && r.n === n && r.d === d && r.median_ms);

const lines = [];
lines.push('| engine | dtype | n | d | k | median ms | p95 ms | min ms |');
lines.push('|---|---|---:|---:|---:|---:|---:|---:|');
for (const r of rows.filter((r) => !r.metric)) {
  lines.push(`| ${r.engine} | ${r.dtype} | ${r.n} | ${r.d} | ${r.k ?? ''} | ${sig(r.median_ms)} | ${sig(r.p95_ms)} | ${sig(r.min_ms)} |`);
}
lines.push('');
for (const r of rows.filter((r) => r.metric === 'wasm_size')) {
  lines.push(`- wasm ${r.variant}: ${r.raw_bytes} bytes raw, ${r.gzip_bytes} bytes gzip -9`);
}
for (const r of rows.filter((r) => r.metric === 'load_ms')) {
  lines.push(`- load_ms (${r.n}x${r.d} ${r.dtype}, ${r.bytes} bytes in hand → Model.fromBytes, ${r.engine}): median ${r.median_ms} ms, p95 ${r.p95_ms} ms over ${r.reps}`);
}
const AGREEMENT = {
  int8_top10_agreement: 'int8 vs f32 bundle top-10 set agreement',
  int8_residual_top10_agreement: 'int8+residual vs f32 bundle top-10 set agreement',
  int8_scan_vs_exact_same_items: 'int8 scan vs exact f32-user scoring of the same int8 items, top-10 set agreement',
};
for (const r of rows.filter((r) => AGREEMENT[r.metric])) {
  const extra = [r.queries !== undefined ? `${r.queries} queries` : '', r.query_distribution ?? '', r.mean_overlap !== undefined ? `mean overlap ${r.mean_overlap}` : '']
    .filter(Boolean)
    .join('; ');
  lines.push(`- ${AGREEMENT[r.metric]} ${r.n}x${r.d} (${r.engine ?? 'native, from native.json'}): ${r.value}${extra ? ` (${extra})` : ''}`);
}
lines.push('');
const bigN = QUICK ? 100_000 : 1_000_000;
const ratio = (label, a, b) => {
  if (a && b) lines.push(`- ${label}: ${(a.median_ms / b.median_ms).toFixed(2)}× (${sig(a.median_ms)} / ${sig(b.median_ms)} ms)`);
  else lines.push(`- ${label}: n/a (missing ${!a ? 'numerator' : 'denominator'} row)`);
};
// 'auto' runs the relaxed build in Chromium: its int8 rows are what a page gets.
ratio(`wasm-relaxed int8 ${bigN}x64 / bound int8`, find('wasm-relaxed', 'int8', bigN, 64), find('bound', 'int8', bigN, 64));
ratio(`js f32 / wasm-relaxed int8 (${bigN}x64)`, find('js', 'f32', bigN, 64), find('wasm-relaxed', 'int8', bigN, 64));
ratio(`tfjs-wasm f32 / wasm-relaxed int8 (${bigN}x64)`, find('tfjs-wasm', 'f32', bigN, 64), find('wasm-relaxed', 'int8', bigN, 64));
ratio(`wasm-relaxed int8+residual ${bigN}x64 / bound int8`, find('wasm-relaxed', 'int8+residual', bigN, 64), find('bound', 'int8', bigN, 64));
ratio(`wasm-simd int8 ${bigN}x64 / bound int8`, find('wasm-simd', 'int8', bigN, 64), find('bound', 'int8', bigN, 64));
ratio(`js f32 / wasm-simd int8 (${bigN}x64)`, find('js', 'f32', bigN, 64), find('wasm-simd', 'int8', bigN, 64));
ratio(`tfjs-wasm f32 / wasm-simd int8 (${bigN}x64)`, find('tfjs-wasm', 'f32', bigN, 64), find('wasm-simd', 'int8', bigN, 64));
ratio(`wasm-simd-plain f32 / bound f32 (${bigN}x64, the f32 kernel without the int8 screen)`, find('wasm-simd-plain', 'f32', bigN, 64), find('bound', 'f32', bigN, 64));
ratio(`wasm-simd-plain f32 / wasm-simd f32 (${bigN}x64, what the int8 screen gains; same answers)`, find('wasm-simd-plain', 'f32', bigN, 64), find('wasm-simd', 'f32', bigN, 64));
ratio(`wasm-read f32 ${bigN}x64 / bound f32 (a bare wasm read of the same bytes)`, find('wasm-read', 'f32', bigN, 64), find('bound', 'f32', bigN, 64));
ratio(`wasm-simd-plain f32 / wasm-read f32 (${bigN}x64)`, find('wasm-simd-plain', 'f32', bigN, 64), find('wasm-read', 'f32', bigN, 64));
for (const r of rows.filter((r) => r.metric === 'paired_bound_ratio')) {
  lines.push(`- ${r.engine} ${r.dtype} ${r.n}x${r.d} / bound f32, bound re-measured around each of ${r.rounds} browser runs: median ${r.value}× (rounds: ${r.ratios.join(', ')}; native read ${Math.min(...r.read_gbps)}–${Math.max(...r.read_gbps)} GB/s)`);
}
for (const l of threadLines) lines.push(`- ${l}`);
ratio(`wasm-scalar int8 / wasm-simd int8 (${bigN}x64)`, find('wasm-scalar', 'int8', bigN, 64), find('wasm-simd', 'int8', bigN, 64));
// onnxruntime-web at equal thread count (> 1: vitrine is ahead). One thread:
// the in-page scans ('auto' runs SIMD128 for f32 here, relaxed for int8);
// two: the page-2t and worker-2t rows of the two-thread section, and the
// faster of the two.
for (const n of [...new Set([bigN, 100_000])]) {
  ratio(`ort-1t f32 / wasm-simd f32 (${n}x64)`, find('ort-1t', 'f32', n, 64), find('wasm-simd', 'f32', n, 64));
  ratio(`ort-1t int8 (${ORT_INT8_ROUTE}) / wasm-relaxed int8 (${n}x64)`, find('ort-1t', 'int8', n, 64), find('wasm-relaxed', 'int8', n, 64));
  for (const dtype of ['f32', 'int8']) {
    ratio(`ort-2t ${dtype} / worker-2t-relaxed ${dtype} (${n}x64)`, find('ort-2t', dtype, n, 64), find('worker-2t-relaxed', dtype, n, 64));
    ratio(`ort-2t ${dtype} / page-2t-relaxed ${dtype} (${n}x64)`, find('ort-2t', dtype, n, 64), find('page-2t-relaxed', dtype, n, 64));
    // vitrine's faster two-thread mode in this run (both from the isolated origin).
    const best = [find('page-2t-relaxed', dtype, n, 64), find('page-2t-always-relaxed', dtype, n, 64), find('worker-2t-relaxed', dtype, n, 64)].filter(Boolean).sort((a, b) => a.median_ms - b.median_ms)[0];
    ratio(`ort-2t ${dtype} / vitrine's best two-thread mode ${best?.engine ?? ''} ${dtype} (${n}x64)`, find('ort-2t', dtype, n, 64), best);
    ratio(`ORT's own two-thread speed-up, ort-1t / ort-2t ${dtype} (${n}x64)`, find('ort-1t', dtype, n, 64), find('ort-2t', dtype, n, 64));
  }
}
lines.push('');
lines.push(`Chromium ${chromiumVersion}, Node ${process.version}, ${cpus().length} CPUs; load average ${load0.map((x) => x.toFixed(2)).join(' ')} → ${load1.map((x) => x.toFixed(2)).join(' ')} (other processes on the machine add noise).`);
if (nativeNote) lines.push(`Note: ${nativeNote}`);
console.log(lines.join('\n'));
writeFileSync(join(OUT_DIR, 'scoring.md'), lines.join('\n') + '\n');
