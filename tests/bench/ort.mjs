// onnxruntime-web as a bench engine: the peer the issue #19 compares against
// (wasm execution provider, f32 Gemm + TopK over the same matrix and biases,
// same top-k), so its ratios can be taken in the same run as vitrine's.
//
//   node tests/bench/ort.mjs [--n 20000] [--d 64] [--k 10] [--threads 1,2] [--reps 20] [--route f32]
//
// The ONNX models come from onnx.mjs (shared with the Chromium bench page,
// where ORT runs as an engine of `make bench-web`): the f32 Gemm + TopK and
// the int8 routes (--route). Each run is
// checked against a plain JS top-k over the same f32 data before it is timed,
// so a wrong model or a wrong thread setting fails instead of timing nonsense.
// Output: one JSON line per thread count, to stdout. This is the machinery;
// numbers taken while the machine is shared are not meaningful.

import { performance } from 'node:perf_hooks';

import { buildModel, dequantized, topK, overlap, minOverlap, ROUTES } from './onnx.mjs';

function lcg(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

/**
 * Loads the model with `threads` wasm threads, checks one query against
 * plain JS, then times `reps` queries.
 */
export async function runOrt({ n = 20000, d = 64, k = 10, threads = 1, reps = 20, seed = 1, route = 'f32' } = {}) {
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = threads;
  const rand = lcg(seed);
  const items = Float32Array.from({ length: n * d }, rand);
  const bias = Float32Array.from({ length: n }, () => rand() * 0.1);
  const bytes = buildModel(route, { items, bias, d, k });
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  const loadMs = performance.now() - t0;
  const query = async (user) => {
    const out = await session.run({ user: new ort.Tensor('float32', user, [1, d]) });
    return Array.from(out.indices.data, Number);
  };
  const user = Float32Array.from({ length: d }, rand);
  const got = await query(user);
  const want = topK(ROUTES[route].int8 ? dequantized(items, d) : items, bias, user, d, k);
  const common = overlap(got, want);
  if (common < minOverlap(route, k)) {
    throw new Error(`ORT top-${k} disagrees with plain JS: ${got} vs ${want}`);
  }
  const times = [];
  for (let r = 0; r < reps; r++) {
    const u = Float32Array.from({ length: d }, rand);
    const t = performance.now();
    await query(u);
    times.push(performance.now() - t);
  }
  await session.release();
  times.sort((a, b) => a - b);
  return {
    engine: 'onnxruntime-web',
    version: ort.env.versions?.web ?? null,
    dtype: ROUTES[route].int8 ? 'int8' : 'f32',
    route,
    n,
    d,
    k,
    threads,
    // What ORT ended up with (it may lower the request, e.g. without
    // SharedArrayBuffer).
    threads_effective: ort.env.wasm.numThreads,
    model_bytes: bytes.length,
    session_ms: loadMs,
    median_ms: times[Math.floor(times.length / 2)],
    p95_ms: times[Math.min(times.length - 1, Math.floor(times.length * 0.95))],
    top_k_agreement_with_js: common / k,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name, dflt) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : dflt;
  };
  const n = Number(arg('n', 20000));
  const d = Number(arg('d', 64));
  const k = Number(arg('k', 10));
  const reps = Number(arg('reps', 20));
  const route = String(arg('route', 'f32'));
  const counts = String(arg('threads', '1,2')).split(',').map(Number);
  if (counts.length === 1) {
    console.log(JSON.stringify(await runOrt({ n, d, k, threads: counts[0], reps, route })));
  } else {
    // ORT sets up its wasm (and thread pool) once per process: numThreads
    // changed after the first session is ignored. One process per count.
    const { execFileSync } = await import('node:child_process');
    for (const t of counts) {
      const args = [process.argv[1], '--n', n, '--d', d, '--k', k, '--reps', reps, '--route', route, '--threads', t];
      process.stdout.write(execFileSync(process.execPath, args.map(String), { stdio: ['ignore', 'pipe', 'inherit'] }));
    }
  }
}
