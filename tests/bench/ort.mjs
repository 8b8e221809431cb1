// onnxruntime-web as a bench engine: the peer the issue #19 compares against
// (wasm execution provider, f32 Gemm + TopK over the same matrix and biases,
// same top-k), so its ratios can be taken in the same run as vitrine's.
//
//   node tests/bench/ort.mjs [--n 20000] [--d 64] [--k 10] [--threads 1,2] [--reps 20]
//
// The ONNX model is written here by hand (a minimal protobuf encoder, no
// onnx package): one Gemm (user · itemsᵀ + bias) and one TopK. Each run is
// checked against a plain JS top-k over the same f32 data before it is timed,
// so a wrong model or a wrong thread setting fails instead of timing nonsense.
// Output: one JSON line per thread count, to stdout. This is the machinery;
// numbers taken while the machine is shared are not meaningful.

import { performance } from 'node:perf_hooks';

// ------------------------------------------------------------ protobuf encoder
// A message is a tree of parts (Uint8Array | parts[]), flattened once at the
// end: a 1M × 64 f32 initializer (256 MB) is never copied per nesting level.

/** @param {number | bigint} v @returns {Uint8Array} */
function varint(v) {
  let x = BigInt.asUintN(64, BigInt(v));
  const out = [];
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x) b |= 0x80;
    out.push(b);
  } while (x);
  return Uint8Array.from(out);
}

/** @param {any} p @returns {number} */
function size(p) {
  return p instanceof Uint8Array ? p.length : p.reduce((a, q) => a + size(q), 0);
}

/** @param {any} p @param {Uint8Array} out @param {number} at @returns {number} */
function write(p, out, at) {
  if (p instanceof Uint8Array) {
    out.set(p, at);
    return at + p.length;
  }
  for (const q of p) at = write(q, out, at);
  return at;
}

/** Length-delimited field. @param {number} field @param {any} parts */
function ld(field, parts) {
  return [varint((field << 3) | 2), varint(size(parts)), parts];
}
/** @param {number} field @param {number | bigint} v */
function vi(field, v) {
  return [varint(field << 3), varint(v)];
}
/** @param {number} field @param {string} s */
function str(field, s) {
  return ld(field, new TextEncoder().encode(s));
}

// ONNX field numbers (onnx/onnx.proto3).
const FLOAT = 1;
const INT64 = 7;

/** TensorProto with raw little-endian data. */
function tensor(name, dims, dataType, raw) {
  return [
    dims.map((d) => vi(1, d)),
    vi(2, dataType),
    str(8, name),
    ld(9, new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength)),
  ];
}

/** ValueInfoProto of a tensor with fixed dims. */
function valueInfo(name, elemType, dims) {
  const shape = dims.map((d) => ld(1, vi(1, d)));
  const tensorType = [vi(1, elemType), ld(2, shape)];
  return [str(1, name), ld(2, ld(1, tensorType))];
}

/** AttributeProto of type INT. */
function intAttr(name, v) {
  return [str(1, name), vi(3, v), vi(20, 2)];
}

function node(op, inputs, outputs, attrs = []) {
  return [
    inputs.map((s) => str(1, s)),
    outputs.map((s) => str(2, s)),
    str(3, op.toLowerCase()),
    str(4, op),
    attrs.map((a) => ld(5, a)),
  ];
}

/**
 * The Gemm + TopK model: input `user` [1, d]; outputs `values` [1, k] and
 * `indices` [1, k] (int64), best first.
 * @param {Float32Array} items n × d, row-major
 * @param {Float32Array} bias n
 * @param {number} d
 * @param {number} k
 * @returns {Uint8Array}
 */
export function gemmTopKModel(items, bias, d, k) {
  const n = bias.length;
  if (items.length !== n * d) throw new Error(`items must be ${n} × ${d}`);
  const graph = [
    ld(1, node('Gemm', ['user', 'items', 'bias'], ['scores'], [intAttr('transB', 1)])),
    ld(1, node('TopK', ['scores', 'K'], ['values', 'indices'], [intAttr('axis', -1), intAttr('largest', 1), intAttr('sorted', 1)])),
    str(2, 'vitrine_gemm_topk'),
    ld(5, tensor('items', [n, d], FLOAT, items)),
    ld(5, tensor('bias', [n], FLOAT, bias)),
    ld(5, tensor('K', [1], INT64, new BigInt64Array([BigInt(k)]))),
    ld(11, valueInfo('user', FLOAT, [1, d])),
    ld(12, valueInfo('values', FLOAT, [1, k])),
    ld(12, valueInfo('indices', INT64, [1, k])),
  ];
  const model = [
    vi(1, 8), // ir_version
    str(2, 'vitrine-bench'),
    ld(7, graph),
    ld(8, [str(1, ''), vi(2, 17)]), // opset 17
  ];
  const out = new Uint8Array(size(model));
  write(model, out, 0);
  return out;
}

// ------------------------------------------------------------------- the run

/** Plain JS top-k, the reference every ORT answer is checked against. */
export function topK(items, bias, user, d, k) {
  const n = bias.length;
  const scores = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let c = 0; c < d; c++) s += items[j * d + c] * user[c];
    scores[j] = s + bias[j];
  }
  return [...scores.keys()].sort((a, b) => scores[b] - scores[a]).slice(0, k);
}

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
export async function runOrt({ n = 20000, d = 64, k = 10, threads = 1, reps = 20, seed = 1 } = {}) {
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = threads;
  const rand = lcg(seed);
  const items = Float32Array.from({ length: n * d }, rand);
  const bias = Float32Array.from({ length: n }, () => rand() * 0.1);
  const bytes = gemmTopKModel(items, bias, d, k);
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  const loadMs = performance.now() - t0;
  const query = async (user) => {
    const out = await session.run({ user: new ort.Tensor('float32', user, [1, d]) });
    return Array.from(out.indices.data, Number);
  };
  const user = Float32Array.from({ length: d }, rand);
  const got = await query(user);
  const want = topK(items, bias, user, d, k);
  // Near-ties may order differently (ORT's Gemm sums in another order):
  // the sets must agree on all but at most one item.
  const common = got.filter((i) => want.includes(i)).length;
  if (common < k - 1) {
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
    dtype: 'f32',
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
  const counts = String(arg('threads', '1,2')).split(',').map(Number);
  if (counts.length === 1) {
    console.log(JSON.stringify(await runOrt({ n, d, k, threads: counts[0], reps })));
  } else {
    // ORT sets up its wasm (and thread pool) once per process: numThreads
    // changed after the first session is ignored. One process per count.
    const { execFileSync } = await import('node:child_process');
    for (const t of counts) {
      const args = [process.argv[1], '--n', n, '--d', d, '--k', k, '--reps', reps, '--threads', t];
      process.stdout.write(execFileSync(process.execPath, args.map(String), { stdio: ['ignore', 'pipe', 'inherit'] }));
    }
  }
}
