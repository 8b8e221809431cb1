#!/usr/bin/env node
// vitrine vs onnxruntime-web, interleaved in one Chromium page (`make
// bench-ort`, part of `make bench`): the same bundle's items and biases in
// vitrine (the build 'auto' would run for the dtype: SIMD128 for f32, relaxed
// for int8) and in an ORT session (tests/bench/onnx.mjs: the f32 Gemm, or the
// int8 route run.mjs reports), both warmed up, then alternating timed
// batches, so drift of the host (other guests, memory bandwidth) hits both
// alike. The bench-web table has the same engines from separate pages; this
// is the paired ratio. Each side's top-k is checked first (vitrine against
// ORT's f32 answer, ORT against plain JS).
//
// Env: BENCH_QUICK=1 (100k only), BENCH_AB_ROUNDS (default 15),
//      BENCH_AB_DTYPES (default f32,int8), BENCH_AB_N (e.g. 10000,100000x32; d = 64 unless given),
//      BENCH_ORT_THREADS (default 1; ORT's intra-op threads, the page is
//      cross-origin isolated; above 1, vitrine's split scan on as many
//      workers joins the rounds as vitrine-<n>t, and at 2 the page + helper
//      split of `load(bytes, {threads: 2})` as vitrine-page-2t), VITRINE_AB_WASM=DIR[,DIR…]: also time the engine
//      builds in DIR (a `scripts/build-wasm.sh` output with VITRINE_WASM_OUT)
//      as vitrine-b (-c, …) in the same rounds, for kernel work. f32 rows
//      also time vitrine-plain: the same build with its int8 screen dropped.
// Writes target/bench/ort_ab.json (ort_ab_<n>t.json with BENCH_ORT_THREADS=n > 1).

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT, synth } from '../node/helpers.mjs';
import { startServer } from '../../scripts/serve.mjs';
import { launch } from '../browser/chromium.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const QUICK = process.env.BENCH_QUICK === '1';
const ROUNDS = Number(process.env.BENCH_AB_ROUNDS ?? 15);
const THREADS = Number(process.env.BENCH_ORT_THREADS ?? 1);
const DTYPES = (process.env.BENCH_AB_DTYPES ?? 'f32,int8').split(',');
const B_WASM = process.env.VITRINE_AB_WASM ? process.env.VITRINE_AB_WASM.split(',').map((x) => resolve(x)) : [];
for (const dir of B_WASM) if (!existsSync(dir)) throw new Error(`VITRINE_AB_WASM: no such directory ${dir}`);
const OTHERS = B_WASM.map((_, i) => String.fromCharCode(98 + i)); // b, c, …
// What run.mjs reports as ORT's int8 row. BENCH_ORT_INT8_ROUTE: others of
// onnx.mjs ROUTES, comma-separated, all timed in the same rounds (the first
// is `ort`, the others `ort-<route>`): how the int8 route was picked.
const INT8_ROUTES = (process.env.BENCH_ORT_INT8_ROUTE ?? 'matmulinteger').split(',');
const CACHE = join(ROOT, '.cache', 'bench');
const OUT_DIR = join(ROOT, 'target', 'bench');
mkdirSync(OUT_DIR, { recursive: true });
const log = (...a) => console.error('[ort-ab]', ...a);
const load0 = loadavg();

const SHAPES = process.env.BENCH_AB_N
  ? process.env.BENCH_AB_N.split(',').map((s) => ({ n: Number(s.split('x')[0]), d: Number(s.split('x')[1] ?? 64) }))
  : [...(QUICK ? [] : [{ n: 1_000_000, d: 64 }]), { n: 100_000, d: 64 }];
const srv = await startServer({
  nodeModules: true,
  // '/b/wasm/' before '/b/': the B copy of www/vitrine.js finds its builds there.
  mounts: { '/bench/': CACHE, '/bench-page/': HERE, ...Object.fromEntries(OTHERS.flatMap((x, i) => [[`/${x}/wasm/`, B_WASM[i]], [`/${x}/`, join(ROOT, 'www')]])) },
  quiet: true,
  headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
});
const browser = await launch();
const chromium = browser.context.browser()?.version() ?? 'unknown';

/**
 * One page per shape and dtype: `pageSetup` loads the engines, then Node
 * runs the rounds, reading the page's main-thread CPU time around each batch
 * through the DevTools protocol (Performance.getMetrics `ThreadTime`). On a
 * shared host the wall time of a batch includes the time slices other
 * processes took; the thread's CPU time does not, so `cpu_ms` is the steadier
 * comparison of two kernels (ORT with one thread runs on that thread too).
 */
async function inFreshPage(arg) {
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await page.goto(`${srv.url}/bench-page/ab.html`);
    const cdp = await browser.context.newCDPSession(page);
    await cdp.send('Performance.enable', { timeDomain: 'threadTicks' });
    const threadTime = async () => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'ThreadTime')?.value ?? NaN;
    const info = await page.evaluate(pageSetup, arg);
    // The protocol round trip's own main-thread time (an empty batch), taken
    // off every sample.
    const empty = [];
    for (let i = 0; i < 9; i++) {
      const c0 = await threadTime();
      await page.evaluate(() => globalThis.ab.timed(''));
      empty.push((await threadTime()) - c0);
    }
    const overhead = empty.sort((a, b) => a - b)[4];
    const per = Object.fromEntries(info.names.map((x) => [x, { wall: [], cpu: [] }]));
    for (let r = 0; r < arg.rounds; r++) {
      // Rotate the order so no engine always runs first.
      for (let i = 0; i < info.names.length; i++) {
        const name = info.names[(i + r) % info.names.length];
        const c0 = await threadTime();
        const wall = await page.evaluate((x) => globalThis.ab.timed(x), name);
        const cpu = (((await threadTime()) - c0 - overhead) * 1e3) / info.batch[name];
        per[name].wall.push(wall);
        per[name].cpu.push(cpu);
      }
    }
    const tail = await page.evaluate(() => globalThis.ab.finish());
    return { ...info, ...tail, per };
  } catch (e) {
    throw new Error(`${e.message}${errors.length ? `\n${errors.join('\n')}` : ''}`);
  } finally {
    await page.close();
  }
}

/** In the page: engines loaded and checked, warmed up, batch sizes found. */
async function pageSetup({ f32Url, url, dtype, routes, threads, others }) {
  const route = routes[0];
  const onnx = await import('/bench-page/onnx.mjs');
  const ort = await import('/node_modules/onnxruntime-web/dist/ort.wasm.min.mjs');
  ort.env.wasm.wasmPaths = '/node_modules/onnxruntime-web/dist/';
  ort.env.wasm.numThreads = threads;
  const simd = dtype === 'int8' ? 'relaxed' : true;
  const v = await import('/vitrine.js');
  // Items and biases as the other engines see them (bench page.js `extract`).
  const f = await v.load(f32Url, { simd });
  const n = f.nItems;
  const d = f.dim;
  const items = new Float32Array(n * d);
  for (let i = 0; i < n; i++) items.set(f.raw.itemVector(f.raw.itemId(i)), i * d);
  const bias = new Float32Array(n);
  const all = f.raw.recommendFast(new Float32Array(d), n);
  for (let j = 0; j < all.indices.length; j++) bias[all.indices[j]] = all.scores[j];
  f.dispose();
  const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
  const models = { vitrine: await v.load(bytes, { simd }) };
  for (const x of others) models[`vitrine-${x}`] = await (await import(`/${x}/vitrine.js`)).load(bytes, { simd });
  // f32 / f16: the same build without its int8 screen, the plain scan.
  if (dtype !== 'int8') {
    const plain = await v.load(bytes, { simd });
    if (plain.raw.setScreen(false)) throw new Error('vitrine-plain: the screen stayed');
    models['vitrine-plain'] = plain;
  }
  const sessions = {};
  for (const [i, r] of routes.entries()) {
    sessions[i ? `ort-${r}` : 'ort'] = { route: r, session: await ort.InferenceSession.create(onnx.buildModel(r, { items, bias, d, k: 10 }), { executionProviders: ['wasm'] }) };
  }
  const users = Array.from({ length: 16 }, (_, q) => Float32Array.from({ length: d }, (_, i) => Math.sin(q * 13 + i)));
  const feeds = users.map((u) => ({ user: new ort.Tensor('float32', u, [1, d]) }));
  // Checks: ORT against plain JS; every vitrine against ORT's (first) answer.
  let ortTop = null;
  for (const { route: r, session } of Object.values(sessions)) {
    const ref = onnx.topK(onnx.ROUTES[r].int8 ? onnx.dequantized(items, d) : items, bias, users[0], d, 10);
    const got = Array.from((await session.run(feeds[0])).indices.data, Number);
    if (onnx.overlap(got, ref) < onnx.minOverlap(r, 10)) throw new Error(`ORT ${r} disagrees with plain JS: ${got} vs ${ref}`);
    ortTop ??= got;
  }
  const overlapWithOrt = {};
  for (const [name, m] of Object.entries(models)) {
    const got = Array.from(m.raw.recommendFast(users[0], 10).indices);
    overlapWithOrt[name] = onnx.overlap(got, ortTop) / 10;
    if (overlapWithOrt[name] < 0.7) throw new Error(`${name} disagrees with ORT: ${got} vs ${ortTop}`);
  }
  let sink = 0;
  const run = {};
  for (const [name, m] of Object.entries(models)) {
    const raw = m.raw;
    run[name] = async (calls) => {
      for (let c = 0; c < calls; c++) sink += raw.recommendFast(users[c & 15], 10).scores[0];
    };
  }
  // With ORT on `threads` > 1: vitrine's split scan on as many workers
  // (loadInWorker; this page is cross-origin isolated, so they share one
  // SharedArrayBuffer copy), the equal-thread comparison. Its workers' CPU
  // time is not the page thread's: compare its wall time only.
  let workerModel = null;
  if (threads > 1) {
    workerModel = await v.loadInWorker(bytes, { simd, threads });
    if (workerModel.threads.count !== threads) throw new Error(`vitrine: asked for ${threads} threads, got ${workerModel.threads.count}: ${workerModel.threads.reason}`);
    const got = Array.from((await workerModel.recommendIndices(users[0], 10)).indices);
    overlapWithOrt[`vitrine-${threads}t`] = onnx.overlap(got, ortTop) / 10;
    if (overlapWithOrt[`vitrine-${threads}t`] < 0.7) throw new Error(`vitrine ${threads}t disagrees with ORT: ${got} vs ${ortTop}`);
    run[`vitrine-${threads}t`] = async (calls) => {
      for (let c = 0; c < calls; c++) sink += (await workerModel.recommendIndices(users[c & 15], 10)).scores[0];
    };
  }
  // At two threads, also the page + helper split (`load(src, {threads: 2})`):
  // the page scans part of each query, a helper worker the rest.
  let pageTwo = null;
  if (threads === 2) {
    pageTwo = await v.load(bytes, { simd, threads: 2 });
    const t = await pageTwo.threadsReady;
    if (t.count !== 2) throw new Error(`vitrine: the page's helper was not granted: ${t.reason}`);
    const got = Array.from(pageTwo.recommendIndices(users[0], 10).indices);
    overlapWithOrt['vitrine-page-2t'] = onnx.overlap(got, ortTop) / 10;
    if (overlapWithOrt['vitrine-page-2t'] < 0.7) throw new Error(`vitrine page-2t disagrees with ORT: ${got} vs ${ortTop}`);
    run['vitrine-page-2t'] = async (calls) => {
      for (let c = 0; c < calls; c++) sink += pageTwo.recommendIndices(users[c & 15], 10).scores[0];
    };
  }
  // The floor: a bare wasm loop reading as many bytes as vitrine's scan
  // (run.mjs's wasm-read rows), in the same rounds.
  {
    const { readModuleBytes } = await import('/bench-page/page.js');
    const { instance } = await WebAssembly.instantiate(readModuleBytes());
    const { mem, sum } = /** @type {any} */ (instance.exports);
    const stride = Math.ceil(d / 16) * 16;
    const end = Math.ceil((dtype === 'int8' ? n * stride + n * 4 : n * stride * 4) / 64) * 64;
    mem.grow(Math.ceil(end / 65536));
    new Uint8Array(mem.buffer).fill(0x3f);
    run['wasm-read'] = async (calls) => {
      for (let c = 0; c < calls; c++) sink += sum(0, end);
    };
  }
  for (const [name, { session }] of Object.entries(sessions)) {
    run[name] = async (calls) => {
      for (let c = 0; c < calls; c++) sink += (await session.run(feeds[c & 15])).values.data[0];
    };
  }
  const names = Object.keys(run);
  const batch = {};
  for (const name of names) {
    const s = performance.now();
    while (performance.now() - s < 300) await run[name](1);
    let b = 1;
    for (;;) {
      const t = performance.now();
      await run[name](b);
      // 100 ms batches: the CPU time's protocol overhead is small beside them.
      if (performance.now() - t >= 100) break;
      b *= 2;
    }
    batch[name] = b;
  }
  globalThis.ab = {
    /** One batch of `name`; ms per call. */
    async timed(name) {
      if (!name) return 0;
      const s = performance.now();
      await run[name](batch[name]);
      return (performance.now() - s) / batch[name];
    },
    async finish() {
      for (const { session } of Object.values(sessions)) await session.release();
      for (const m of Object.values(models)) m.dispose();
      await workerModel?.dispose();
      pageTwo?.dispose();
      return { sink: Number.isFinite(sink) };
    },
  };
  return {
    names,
    batch,
    overlap_with_ort: overlapWithOrt,
    ort_threads: ort.env.wasm.numThreads,
    ort_version: ort.env.versions?.web ?? null,
    isolated: globalThis.crossOriginIsolated,
  };
}

const rows = [];
for (const { n, d } of SHAPES) {
  const f32Path = synth({ items: n, dim: d, dtype: 'f32', seed: 1, dir: CACHE });
  for (const dtype of DTYPES) {
    const path = dtype === 'f32' ? f32Path : synth({ items: n, dim: d, dtype: 'int8', seed: 1, dir: CACHE });
    const routes = dtype === 'f32' ? ['f32'] : INT8_ROUTES;
    const route = routes[0];
    const t0 = Date.now();
    const r = await inFreshPage({ f32Url: `/bench/${basename(f32Path)}`, url: `/bench/${basename(path)}`, dtype, routes, rounds: ROUNDS, threads: THREADS, others: OTHERS });
    const med = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
    const stat = (key, f) => Object.fromEntries(r.names.map((x) => [x, f(r.per[x][key])]));
    // Per round, ORT's time over vitrine's: > 1 means vitrine is ahead.
    const ratio = (key) => med(r.per.ort[key].map((t, i) => t / r.per.vitrine[key][i]));
    const row = {
      dtype, n, d, k: 10, ort_route: route, ort_threads: r.ort_threads, vitrine_threads: 1, rounds: ROUNDS,
      median_ms: stat('wall', med), min_ms: stat('wall', (xs) => Math.min(...xs)), cpu_median_ms: stat('cpu', med), cpu_min_ms: stat('cpu', (xs) => Math.min(...xs)),
      ort_over_vitrine_median: ratio('wall'), ort_over_vitrine_cpu_median: ratio('cpu'),
      // ORT on n threads over vitrine's split scan on n workers (wall).
      ...(r.per[`vitrine-${THREADS}t`] ? { ort_over_vitrine_threads_median: med(r.per.ort.wall.map((t, i) => t / r.per[`vitrine-${THREADS}t`].wall[i])) } : {}),
      // ORT on 2 threads over the page + helper split (wall), and over
      // vitrine's faster two-thread mode of this run (the lower median).
      ...(r.per['vitrine-page-2t'] ? (() => {
        const page = med(r.per.ort.wall.map((t, i) => t / r.per['vitrine-page-2t'].wall[i]));
        const workers = r.per[`vitrine-${THREADS}t`] ? med(r.per.ort.wall.map((t, i) => t / r.per[`vitrine-${THREADS}t`].wall[i])) : 0;
        return { ort_over_vitrine_page_2t_median: page, ort_over_vitrine_best_2t_median: Math.max(page, workers), vitrine_best_2t: page >= workers ? 'vitrine-page-2t' : `vitrine-${THREADS}t` };
      })() : {}),
      // Per round, in the order run: the spread behind each median.
      rounds_ms: stat('wall', (xs) => xs), cpu_rounds_ms: stat('cpu', (xs) => xs),
      batch: r.batch, overlap_with_ort: r.overlap_with_ort, ort_version: r.ort_version, isolated: r.isolated, sink: r.sink,
    };
    rows.push(row);
    const fmt = (o) => Object.entries(o).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ');
    log(`${dtype} ${n}x${d} (ORT ${route}, ${r.ort_threads}t): wall median ms ${fmt(row.median_ms)}; CPU median ms ${fmt(row.cpu_median_ms)}; ORT/vitrine per round median: wall ${row.ort_over_vitrine_median.toFixed(3)}, CPU ${row.ort_over_vitrine_cpu_median.toFixed(3)}${row.ort_over_vitrine_threads_median ? `; ORT ÷ vitrine-${THREADS}t wall ${row.ort_over_vitrine_threads_median.toFixed(3)}` : ''}${row.ort_over_vitrine_page_2t_median ? `; ORT ÷ vitrine-page-2t wall ${row.ort_over_vitrine_page_2t_median.toFixed(3)}` : ''}; ${Date.now() - t0} ms wall`);
  }
}
await browser.close();
await srv.close();

const out = {
  run: { date: new Date().toISOString(), host: hostname(), cpu_model: cpus()[0]?.model ?? 'unknown', cpus: cpus().length, chromium, load_average: [load0, loadavg()] },
  rows,
};
writeFileSync(join(OUT_DIR, THREADS > 1 ? `ort_ab_${THREADS}t.json` : 'ort_ab.json'), JSON.stringify(out, null, 2) + '\n');
console.log(JSON.stringify(out.rows.map(({ dtype, n, ort_route, ort_threads, median_ms, cpu_median_ms, ort_over_vitrine_median, ort_over_vitrine_cpu_median }) => ({ dtype, n, ort_route, ort_threads, median_ms, cpu_median_ms, ort_over_vitrine_median, ort_over_vitrine_cpu_median }))));
