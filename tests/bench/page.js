// In-page half of the browser benchmark (driven by run.mjs). Every job runs
// in a fresh page so that JIT state from one engine never helps another.

import { load, loadInWorker } from '/vitrine.js';
import { ROUTES, buildModel, dequantized, topK, overlap, minOverlap } from './onnx.mjs';

/** Deterministic Gaussian user vectors so every engine sees the same queries. */
function users(dim, count, seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [];
  for (let q = 0; q < count; q++) {
    const v = new Float32Array(dim);
    for (let i = 0; i < dim; i++) v[i] = Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
    out.push(v);
  }
  return out;
}

/**
 * A 130-byte wasm module, assembled here: `sum(p, end)` adds every f32x4 in
 * [p, end) into four accumulators — a wasm scan with no arithmetic beyond
 * the adds. Its time over a matrix's bytes is the floor any wasm kernel
 * reading them can reach in this browser (the `wasm-read` rows).
 */
export function readModuleBytes() {
  const leb = (n) => { const o = []; do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; o.push(b); } while (n); return o; };
  const section = (id, body) => [id, ...leb(body.length), ...body];
  const str = (s) => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];
  const acc = (local, offset) => [0x20, local, 0x20, 0x00, 0xfd, 0x00, 0x04, ...leb(offset), 0xfd, 0xe4, 0x01, 0x21, local];
  const body = [
    0x01, 0x04, 0x7b, // 4 v128 locals (2..5)
    0x03, 0x40, // loop
    ...acc(2, 0), ...acc(3, 16), ...acc(4, 32), ...acc(5, 48),
    0x20, 0x00, 0x41, 0xc0, 0x00, 0x6a, 0x22, 0x00, // p += 64
    0x20, 0x01, 0x49, 0x0d, 0x00, // br_if p < end
    0x0b,
    0x20, 0x02, 0x20, 0x03, 0xfd, 0xe4, 0x01, 0x20, 0x04, 0xfd, 0xe4, 0x01, 0x20, 0x05, 0xfd, 0xe4, 0x01,
    0xfd, 0x1f, 0x00, // f32x4.extract_lane 0
    0x0b,
  ];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7d]),
    ...section(3, [0x01, 0x00]),
    ...section(5, [0x01, 0x00, 0x01]),
    ...section(7, [0x02, ...str('mem'), 0x02, 0x00, ...str('sum'), 0x00, 0x00]),
    ...section(10, [0x01, ...leb(body.length), ...body]),
  ]);
}

let sink = 0;

/**
 * Per-call latency of `fn(i)`: warm up, grow the batch until one batch takes
 * at least `minBatchMs` (performance.now is coarsened to 100 µs without
 * cross-origin isolation), then time `samples` batches.
 */
async function measure(fn, { warmupMs = 300, minBatchMs = 20, samples = 25 } = {}) {
  let i = 0;
  const t0 = performance.now();
  let warm = 0;
  while (performance.now() - t0 < warmupMs || warm < 5) {
    sink += fn(i++);
    warm++;
  }
  let batch = 1;
  for (;;) {
    const s = performance.now();
    for (let b = 0; b < batch; b++) sink += fn(i++);
    if (performance.now() - s >= minBatchMs) break;
    batch *= 2;
  }
  const per = [];
  for (let s = 0; s < samples; s++) {
    const a = performance.now();
    for (let b = 0; b < batch; b++) sink += fn(i++);
    per.push((performance.now() - a) / batch);
    // Let the event loop breathe (GC, timers) between samples.
    await new Promise((r) => setTimeout(r, 0));
  }
  per.sort((x, y) => x - y);
  const q = (p) => per[Math.min(per.length - 1, Math.ceil(p * per.length) - 1)];
  // min_ms: the least disturbed sample, a useful companion on a shared machine.
  return { median_ms: q(0.5), p95_ms: q(0.95), min_ms: per[0], batch, samples: per.length, warmup_calls: warm };
}

/** `measure` for an async call: the same warm-up, batching and samples. */
async function measureAsync(fn, { warmupMs = 300, minBatchMs = 20, samples = 25 } = {}) {
  let i = 0;
  const t0 = performance.now();
  let warm = 0;
  while (performance.now() - t0 < warmupMs || warm < 5) {
    sink += await fn(i++);
    warm++;
  }
  let batch = 1;
  for (;;) {
    const s = performance.now();
    for (let b = 0; b < batch; b++) sink += await fn(i++);
    if (performance.now() - s >= minBatchMs) break;
    batch *= 2;
  }
  const per = [];
  for (let s = 0; s < samples; s++) {
    const a = performance.now();
    for (let b = 0; b < batch; b++) sink += await fn(i++);
    per.push((performance.now() - a) / batch);
  }
  per.sort((x, y) => x - y);
  const q = (p) => per[Math.min(per.length - 1, Math.ceil(p * per.length) - 1)];
  return { median_ms: q(0.5), p95_ms: q(0.95), min_ms: per[0], batch, samples: per.length, warmup_calls: warm };
}

/**
 * Copy every item vector out of a loaded f32 model into one row-major array,
 * and the item biases (the scores of a zero user over the whole catalogue),
 * so that the baselines compute exactly the core's score = ⟨u, y⟩ + b.
 */
function extract(m) {
  const n = m.nItems;
  const d = m.dim;
  const items = new Float32Array(n * d);
  for (let i = 0; i < n; i++) items.set(m.raw.itemVector(m.raw.itemId(i)), i * d);
  const bias = new Float32Array(n);
  const all = m.raw.recommendFast(new Float32Array(d), n);
  for (let j = 0; j < all.indices.length; j++) bias[all.indices[j]] = all.scores[j];
  return { items, bias };
}

/** The straightforward JS baseline: dot products + bounded insertion top-k. */
function jsTopK(items, bias, n, d, u, k, outIdx, outScore) {
  outScore.fill(-Infinity);
  outIdx.fill(-1);
  let worst = -Infinity;
  for (let i = 0, off = 0; i < n; i++, off += d) {
    let s = bias[i];
    for (let j = 0; j < d; j++) s += items[off + j] * u[j];
    if (s > worst) {
      let p = k - 1;
      while (p > 0 && outScore[p - 1] < s) {
        outScore[p] = outScore[p - 1];
        outIdx[p] = outIdx[p - 1];
        p--;
      }
      outScore[p] = s;
      outIdx[p] = i;
      worst = outScore[k - 1];
    }
  }
}

function script(src) {
  return new Promise((ok, fail) => {
    const el = document.createElement('script');
    el.src = src;
    el.onload = ok;
    el.onerror = () => fail(new Error(`could not load ${src}`));
    document.head.append(el);
  });
}

const jobs = {
  async wasm({ url, variant, k, opts, screen }) {
    // `screen: false`: the plain f32 kernel (what the bound ratios are about).
    const m = await load(url, { simd: variant === 'scalar' ? false : variant === 'relaxed' ? 'relaxed' : true, ...(screen === undefined ? {} : { screen }) });
    const us = users(m.dim, 64, 42);
    const raw = m.raw; // the core's hot path, no JS argument checks
    const check = raw.recommendFast(us[0], k);
    if (check.indices.length !== k) throw new Error(`wasm returned ${check.indices.length} items`);
    const r = await measure((i) => raw.recommendFast(us[i & 63], k).scores[0], opts);
    r.simd_enabled = m.simdEnabled();
    m.dispose();
    return r;
  },

  /**
   * Worker mode with `threads` workers: the same top-k, postMessage round
   * trips included (one thread and two pay the same messaging). The two
   * answers are checked equal first.
   */
  async worker({ url, variant, k, threads, opts }) {
    const simd = variant === 'scalar' ? false : variant === 'relaxed' ? 'relaxed' : true;
    const m = await loadInWorker(url, { simd, threads });
    if (m.threads.count !== threads) throw new Error(`asked for ${threads} threads, got ${m.threads.count}: ${m.threads.reason}`);
    const us = users(m.dim, 64, 42);
    const got = await m.recommendIndices(us[0], k);
    if (got.indices.length !== k) throw new Error(`worker returned ${got.indices.length} items`);
    const r = await measureAsync(async (i) => (await m.recommendIndices(us[i & 63], k)).scores[0], opts);
    r.threads = m.threads.count;
    r.first_indices = Array.from(got.indices);
    await m.dispose();
    return r;
  },

  async js({ url, k, opts }) {
    const m = await load(url);
    const n = m.nItems;
    const d = m.dim;
    const { items, bias } = extract(m);
    const ref = m.raw.recommendFast(users(d, 1, 7)[0], k);
    m.dispose();
    const us = users(d, 64, 42);
    const idx = new Int32Array(k);
    const sc = new Float32Array(k);
    // Sanity: the baseline computes the same top-k as the wasm core.
    jsTopK(items, bias, n, d, users(d, 1, 7)[0], k, idx, sc);
    const overlap = Array.from(idx).filter((i) => ref.indices.includes(i)).length;
    const r = await measure((i) => {
      jsTopK(items, bias, n, d, us[i & 63], k, idx, sc);
      return sc[0];
    }, opts);
    r.overlap_with_wasm = overlap / k;
    return r;
  },

  async tfjs({ url, k, opts }) {
    await script('/node_modules/@tensorflow/tfjs-core/dist/tf-core.min.js');
    await script('/node_modules/@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.min.js');
    const tf = /** @type {any} */ (globalThis).tf;
    tf.wasm.setWasmPaths('/node_modules/@tensorflow/tfjs-backend-wasm/dist/');
    if (!(await tf.setBackend('wasm'))) throw new Error('tfjs wasm backend unavailable');
    await tf.ready();
    const m = await load(url);
    const n = m.nItems;
    const d = m.dim;
    const { items: itemsArr, bias: biasArr } = extract(m);
    const ref = m.raw.recommendFast(users(d, 1, 7)[0], k);
    m.dispose();
    const items = tf.tensor2d(itemsArr, [n, d]);
    const bias = tf.tensor1d(biasArr);
    const us = users(d, 64, 42).map((u) => tf.tensor2d(u, [d, 1]));
    let overlap;
    {
      const u = tf.tensor2d(users(d, 1, 7)[0], [d, 1]);
      const t = tf.topk(tf.add(tf.reshape(tf.matMul(items, u), [n]), bias), k);
      const got = Array.from(t.indices.dataSync());
      overlap = got.filter((i) => ref.indices.includes(i)).length;
      tf.dispose([u, t.values, t.indices]);
    }
    const call = (i) => {
      const [values, indices] = tf.tidy(() => {
        const s = tf.add(tf.reshape(tf.matMul(items, us[i & 63]), [n]), bias);
        const t = tf.topk(s, k);
        return [t.values, t.indices];
      });
      const v = values.dataSync();
      indices.dataSync();
      values.dispose();
      indices.dispose();
      return v[0];
    };
    const r = await measure(call, opts);
    r.overlap_with_wasm = overlap / k;
    r.tfjs_version = tf.version_core;
    r.tfjs_simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    r.tfjs_threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    items.dispose();
    bias.dispose();
    us.forEach((t) => t.dispose());
    return r;
  },

  /**
   * onnxruntime-web (wasm execution provider, `threads` intra-op threads) over
   * the f32 bundle's items and biases: `route` is one of onnx.mjs ROUTES
   * (the f32 Gemm, or an int8 operator over the items quantized per row).
   * The answer to one query is checked against plain JS before timing, and
   * a thread count ORT cannot honour (no cross-origin isolation) fails the
   * job instead of timing one thread under a two-thread label.
   */
  async ort({ url, k, threads = 1, route = 'f32', opts }) {
    if (threads > 1 && !globalThis.crossOriginIsolated) throw new Error('ORT threads need a cross-origin isolated page (COOP/COEP)');
    const ort = await import('/node_modules/onnxruntime-web/dist/ort.wasm.min.mjs');
    ort.env.wasm.wasmPaths = '/node_modules/onnxruntime-web/dist/';
    ort.env.wasm.numThreads = threads;
    const m = await load(url);
    const n = m.nItems;
    const d = m.dim;
    const { items, bias } = extract(m);
    m.dispose();
    const bytes = buildModel(route, { items, bias, d, k });
    const t0 = performance.now();
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    const sessionMs = performance.now() - t0;
    const us = users(d, 64, 42);
    const feeds = us.map((u) => ({ user: new ort.Tensor('float32', u, [1, d]) }));
    const probe = users(d, 1, 7)[0];
    const got = Array.from((await session.run({ user: new ort.Tensor('float32', probe, [1, d]) })).indices.data, Number);
    const want = topK(ROUTES[route].int8 ? dequantized(items, d) : items, bias, probe, d, k);
    const common = overlap(got, want);
    if (common < minOverlap(route, k)) throw new Error(`ORT ${route} top-${k} disagrees with plain JS: ${got} vs ${want}`);
    const r = await measureAsync(async (i) => (await session.run(feeds[i & 63])).values.data[0], opts);
    await session.release();
    r.overlap_with_js = common / k;
    r.ort_version = ort.env.versions?.web ?? null;
    r.ort_route = route;
    r.threads = ort.env.wasm.numThreads;
    r.session_ms = sessionMs;
    r.model_bytes = bytes.byteLength;
    return r;
  },

  /** A bare wasm streaming read of `bytes` bytes (touched, non-zero). */
  async read({ bytes, opts }) {
    const { instance } = await WebAssembly.instantiate(readModuleBytes());
    const { mem, sum } = /** @type {any} */ (instance.exports);
    const end = Math.ceil(bytes / 64) * 64;
    mem.grow(Math.ceil(end / 65536));
    // 0x3f3f3f3f ≈ 0.75: normal floats (denormals would be slow to add).
    new Uint8Array(mem.buffer).fill(0x3f);
    if (sum(0, 64) !== 4 * new Float32Array(new Uint8Array([0x3f, 0x3f, 0x3f, 0x3f]).buffer)[0]) throw new Error('read module is broken');
    return measure(() => sum(0, end), opts);
  },

  /** Bytes already in hand → Model.fromBytes returns (validation included). */
  async loadTime({ url, reps = 15 }) {
    const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
    const first = await load(bytes); // instantiates the build 'auto' picks, once
    const wasm = first._wasm;
    const variant = first.variant;
    first.dispose();
    const times = [];
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      const model = wasm.Model.fromBytes(bytes);
      times.push(performance.now() - t0);
      model.free();
      await new Promise((ok) => setTimeout(ok, 0));
    }
    times.sort((a, b) => a - b);
    return { median_ms: times[Math.floor(times.length / 2)], p95_ms: times[Math.ceil(0.95 * times.length) - 1], reps, bytes: bytes.byteLength, variant };
  },
};

globalThis.bench = async (job) => {
  const r = await jobs[job.kind](job);
  r.sink = Number.isFinite(sink) ? 1 : 0;
  return r;
};
globalThis.benchReady = true;
