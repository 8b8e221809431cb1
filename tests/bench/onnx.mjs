// ONNX models for the onnxruntime-web bench engine, written by hand (a
// minimal protobuf encoder, no onnx package) so the same module runs in Node
// (tests/node/ort.test.mjs, tests/bench/ort.mjs) and in the Chromium bench
// page (tests/bench/page.js): no Node imports here.
//
// Every model takes `user` [1, d] (f32) and returns `values` [1, k] (f32) and
// `indices` [1, k] (int64), best first, over the same items and biases as a
// vitrine bundle: score_j = ⟨user, item_j⟩ + bias_j. ROUTES names the ways
// ORT can compute it (the f32 Gemm and its int8 operators); which int8 one is
// fastest is measured, not assumed (run.mjs, BENCH_ORT_ROUTES=all).

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

// ONNX TensorProto.DataType values (onnx/onnx.proto3).
const FLOAT = 1;
const UINT8 = 2;
const INT8 = 3;
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

/** NodeProto; `domain` '' is the default ONNX operator set. */
function node(op, inputs, outputs, attrs = [], domain = '') {
  return [
    inputs.map((s) => str(1, s)),
    outputs.map((s) => str(2, s)),
    str(3, `${op.toLowerCase()}_${outputs[0]}`),
    str(4, op),
    attrs.map((a) => ld(5, a)),
    domain ? str(7, domain) : [],
  ];
}

/**
 * The model around `nodes`: input `user` [1, d], the TopK over `scores`,
 * outputs `values` and `indices` [1, k].
 */
function topKModel(nodes, inits, d, k) {
  const graph = [
    nodes.map((n) => ld(1, n)),
    ld(1, node('TopK', ['scores', 'K'], ['values', 'indices'], [intAttr('axis', -1), intAttr('largest', 1), intAttr('sorted', 1)])),
    str(2, 'vitrine_topk'),
    inits.map((t) => ld(5, t)),
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
    ld(8, [str(1, 'com.microsoft'), vi(2, 1)]),
  ];
  const out = new Uint8Array(size(model));
  write(model, out, 0);
  return out;
}

// ------------------------------------------------------------------- int8 data

/**
 * Per-row symmetric int8 (scale = max |x| / 127, q = round(x / scale)): the
 * scheme of vitrine's int8 bundles, so ORT's int8 routes read as many bytes
 * per item as vitrine's int8 scan.
 * @param {Float32Array} items n × d
 * @param {number} d
 */
export function quantizeRows(items, d) {
  const n = items.length / d;
  const q = new Int8Array(n * d);
  const scales = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    let m = 0;
    for (let c = 0; c < d; c++) m = Math.max(m, Math.abs(items[j * d + c]));
    const s = m > 0 ? m / 127 : 1;
    scales[j] = s;
    for (let c = 0; c < d; c++) q[j * d + c] = Math.round(items[j * d + c] / s);
  }
  return { q, scales };
}

/** n × d → d × n (the K × N layout of ONNX's MatMul B). */
function transpose(q, n, d) {
  const t = new Int8Array(n * d);
  for (let j = 0; j < n; j++) for (let c = 0; c < d; c++) t[c * n + j] = q[j * d + c];
  return t;
}

// --------------------------------------------------------------------- routes

/**
 * What each route computes and which bytes it scans. `int8: true` routes
 * take the per-row int8 items (quantizeRows) and quantize the user at run
 * time, as vitrine's int8 scan does.
 * QLinearMatMul is not a route: its output is 8-bit too (256 score levels
 * over a million items), so its top-10 cannot match a float top-10.
 */
export const ROUTES = {
  /** Gemm(user, itemsᵀ, bias): ORT's f32 path (B pre-packed at session creation). */
  f32: { int8: false, build: (x) => f32Model(x) },
  /** com.microsoft DynamicQuantizeMatMul: user quantized, int8 B [d, n], per-column scale, bias. */
  dqmatmul: { int8: true, build: (x) => dqMatMulModel(x) },
  /** DynamicQuantizeLinear + MatMulInteger (u8 × s8 → i32) + Cast + scales + bias. */
  matmulinteger: { int8: true, build: (x) => matMulIntegerModel(x) },
  /** com.microsoft MatMulNBits, 8 bits, one block per row (the row's scale), f32 compute. */
  nbits: { int8: true, build: (x) => nBitsModel(x, 0) },
  /** MatMulNBits with accuracy_level 4: the user quantized to int8, int8 dot products. */
  'nbits-acc4': { int8: true, build: (x) => nBitsModel(x, 4) },
};

/**
 * @param {{items: Float32Array, bias: Float32Array, d: number, k: number}} x
 */
export function f32Model({ items, bias, d, k }) {
  const n = bias.length;
  if (items.length !== n * d) throw new Error(`items must be ${n} × ${d}`);
  return topKModel(
    [node('Gemm', ['user', 'items', 'bias'], ['scores'], [intAttr('transB', 1)])],
    [tensor('items', [n, d], FLOAT, items), tensor('bias', [n], FLOAT, bias)],
    d,
    k,
  );
}

/** @param {{q: Int8Array, scales: Float32Array, bias: Float32Array, d: number, k: number}} x */
export function dqMatMulModel({ q, scales, bias, d, k }) {
  const n = bias.length;
  return topKModel(
    [
      node('DynamicQuantizeMatMul', ['user', 'items_t', 'scales', '', 'bias'], ['mm'], [], 'com.microsoft'),
      node('Reshape', ['mm', 'shape'], ['scores']),
    ],
    [
      tensor('items_t', [d, n], INT8, transpose(q, n, d)),
      tensor('scales', [n], FLOAT, scales),
      tensor('bias', [n], FLOAT, bias),
      tensor('shape', [2], INT64, new BigInt64Array([1n, BigInt(n)])),
    ],
    d,
    k,
  );
}

/** @param {{q: Int8Array, scales: Float32Array, bias: Float32Array, d: number, k: number}} x */
export function matMulIntegerModel({ q, scales, bias, d, k }) {
  const n = bias.length;
  return topKModel(
    [
      node('DynamicQuantizeLinear', ['user'], ['uq', 'us', 'uz']),
      node('MatMulInteger', ['uq', 'items_t', 'uz'], ['acc']),
      node('Cast', ['acc'], ['accf'], [intAttr('to', FLOAT)]),
      node('Mul', ['scales', 'us'], ['sc']),
      node('Mul', ['accf', 'sc'], ['dot']),
      node('Add', ['dot', 'bias'], ['scores']),
    ],
    [
      tensor('items_t', [d, n], INT8, transpose(q, n, d)),
      tensor('scales', [n], FLOAT, scales),
      tensor('bias', [n], FLOAT, bias),
    ],
    d,
    k,
  );
}

/**
 * MatMulNBits with 8-bit weights: B is [n, 1, d] bytes (row-major items,
 * one quantization block of d per row, stored as q + 128: the operator's
 * default zero point for 8 bits), scales [n].
 * @param {{q: Int8Array, scales: Float32Array, bias: Float32Array, d: number, k: number}} x
 * @param {number} accuracyLevel
 */
export function nBitsModel({ q, scales, bias, d, k }, accuracyLevel) {
  const n = bias.length;
  if (d < 16 || (d & (d - 1)) !== 0) throw new Error(`MatMulNBits needs a power-of-two block ≥ 16, d = ${d}`);
  const b = new Uint8Array(n * d);
  for (let i = 0; i < b.length; i++) b[i] = q[i] + 128;
  const attrs = [intAttr('K', d), intAttr('N', n), intAttr('bits', 8), intAttr('block_size', d), intAttr('accuracy_level', accuracyLevel)];
  return topKModel(
    [node('MatMulNBits', ['user', 'items_q', 'scales'], ['dot'], attrs, 'com.microsoft'), node('Add', ['dot', 'bias'], ['scores'])],
    [tensor('items_q', [n, 1, d], UINT8, b), tensor('scales', [n], FLOAT, scales), tensor('bias', [n], FLOAT, bias)],
    d,
    k,
  );
}

/**
 * The bytes of `route`'s model over f32 items (int8 routes quantize them
 * per row first).
 * @param {string} route a key of ROUTES
 * @param {{items: Float32Array, bias: Float32Array, d: number, k: number}} x
 */
export function buildModel(route, { items, bias, d, k }) {
  const r = ROUTES[route];
  if (!r) throw new Error(`unknown ORT route ${route} (one of ${Object.keys(ROUTES).join(', ')})`);
  if (!r.int8) return r.build({ items, bias, d, k });
  const { q, scales } = quantizeRows(items, d);
  return r.build({ q, scales, bias, d, k });
}

/**
 * The scores an int8 route approximates (the dequantized items, f32 user):
 * the plain-JS reference its answers are checked against.
 */
export function dequantized(items, d) {
  const { q, scales } = quantizeRows(items, d);
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = q[i] * scales[Math.floor(i / d)];
  return out;
}

/** Plain JS top-k indices (full sort: a reference, not a baseline). */
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

/**
 * How many of ORT's top-k are in the reference top-k. Near-ties may order
 * differently (ORT sums in another order; the int8 routes quantize the user
 * to 8 bits at run time), so callers allow a small miss: all but one for
 * f32, all but three for int8.
 */
export function overlap(got, want) {
  return got.filter((i) => want.includes(i)).length;
}

/** The least overlap `route` must reach at `k`. */
export function minOverlap(route, k) {
  return ROUTES[route]?.int8 ? k - 3 : k - 1;
}
