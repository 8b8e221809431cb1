// Priming the engine's code while a load waits for its bundle's bytes.
//
// V8 compiles a wasm function when it is first called (baseline code,
// Liftoff) and again, optimized, once it has run a while. Chromium's code
// cache, which would bring the last visit's compiled code back, was never
// written for this module in our runs with default settings (docs/web.md,
// "Warm visits"). So every visit's first validation and first query paid to
// compile each function they reach, on the critical path: on a warm visit
// 3–30 ms of cached validation and 3–25 ms of first query where the second
// query takes 0.3 ms. The wasm is usually ready while the stored bytes are
// still being read, and the main thread then mostly waits: this module
// runs the same exports (BundleBuffer.push, Model.fromBufferCached or
// fromBuffer, Model.recommend) once on a tiny catalogue of its own in that
// wait, so those compiles happen there. It runs at most once per wasm
// instance and never after the bytes are in.

/**
 * Rows of the primer catalogue: enough to reach every loop of the scan and
 * the top-k, few enough that building it in cold JS costs well under 1 ms.
 */
const PRIMER_ITEMS = 32;

/** @type {Uint32Array | undefined} */
let crcTable;
/** CRC-32 (IEEE), as the bundle format uses. @param {Uint8Array} b @param {number} [crc] */
export function crc32(b, crc = 0) {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = ~crc >>> 0;
  for (let i = 0; i < b.length; i++) c = crcTable[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** @type {Map<string, Uint8Array>} */
const primers = new Map();

/**
 * A valid bundle (format 1.2: MODEL, ITEM_IDS, ID_INDEX, FACTORS, SCALES)
 * of `n` items in the given dtype layout, built once per page and shape.
 * Only int8 is primed (the dtype of the 30 ms goal); the factors are a
 * cheap pseudo-random pattern so the top-k sees distinct scores.
 * @param {number} n @param {number} dim a multiple of 16
 */
export function primerBundle(n = PRIMER_ITEMS, dim = 64) {
  const key = `${n}x${dim}`;
  const hit = primers.get(key);
  if (hit) return hit;
  const model = new Uint8Array(32);
  new Uint32Array(model.buffer, 0, 4).set([n, dim, dim, 2]);
  // Ids "p" + 7 decimal digits: fixed width, so numeric order is byte order
  // and the identity permutation is the sorted index.
  const width = 8;
  const ids = new Uint8Array(4 + 4 * (n + 1) + width * n);
  const dv0 = new DataView(ids.buffer);
  dv0.setUint32(0, n, true);
  for (let i = 0; i <= n; i++) dv0.setUint32(4 + 4 * i, width * i, true);
  const base = 4 + 4 * (n + 1);
  for (let i = 0; i < n; i++) {
    const at = base + width * i;
    ids[at] = 0x70; // 'p'
    for (let d = width - 1, v = i; d >= 1; d--, v = Math.floor(v / 10)) ids[at + d] = 0x30 + (v % 10);
  }
  const index = new Uint32Array(n);
  for (let i = 0; i < n; i++) index[i] = i;
  const factors = new Int8Array(n * dim);
  // A row pattern shifted per row: distinct scores without a per-byte loop.
  const row = new Int8Array(dim + n);
  for (let i = 0; i < row.length; i++) row[i] = ((i * 37) % 255) - 127;
  for (let r = 0; r < n; r++) factors.set(row.subarray(r, r + dim), r * dim);
  const scales = new Float32Array(n).fill(1 / 127);
  const sections = /** @type {[number, Uint8Array][]} */ ([
    [1, model],
    [3, ids],
    [4, new Uint8Array(index.buffer)],
    [5, new Uint8Array(factors.buffer)],
    [6, new Uint8Array(scales.buffer)],
  ]);
  const align = (/** @type {number} */ x) => Math.ceil(x / 64) * 64;
  const tableEnd = 64 + 32 * sections.length;
  let off = align(tableEnd);
  const placed = sections.map(([kind, body]) => {
    const p = { kind, body, offset: off };
    off = align(off + body.length);
    return p;
  });
  const last = placed[placed.length - 1];
  const fileLen = last.offset + last.body.length;
  const out = new Uint8Array(fileLen);
  const dv = new DataView(out.buffer);
  out.set([0x56, 0x49, 0x54, 0x52, 0x49, 0x4e, 0x45, 0x00], 0);
  dv.setUint16(8, 1, true);
  dv.setUint16(10, 2, true);
  dv.setUint32(12, 64, true);
  dv.setUint32(16, sections.length, true);
  dv.setUint32(24, fileLen, true);
  placed.forEach((p, i) => {
    const e = 64 + 32 * i;
    dv.setUint32(e, p.kind, true);
    dv.setUint32(e + 4, 1, true);
    dv.setUint32(e + 8, p.offset, true);
    dv.setUint32(e + 16, p.body.length, true);
    dv.setUint32(e + 24, crc32(p.body), true);
    out.set(p.body, p.offset);
  });
  dv.setUint32(32, crc32(out.subarray(64, tableEnd), crc32(out.subarray(0, 32))), true);
  primers.set(key, out);
  return out;
}

/** Instances already primed (priming is about compiling, which happens once per instance). */
const primed = new WeakSet();

/**
 * Run the load path's exports once on the primer catalogue, after the tasks
 * already queued (the chunks that have arrived go into wasm memory first),
 * unless `done()` says the real bytes are in by then. Never throws: priming
 * is an optimization, and a build without one of the exports is skipped.
 * @param {any} wasm the instantiated glue module
 * @param {{ cached: boolean, done: () => boolean, stats?: { ms: number | null } }} how `cached`: the real
 *   bundle comes from the device's cache (fromBufferCached), else fromBuffer;
 *   `stats.ms` is updated after each step (the load's info() may be read
 *   before the second step has run, or instead of it)
 * @returns {Promise<number | null>} main-thread milliseconds spent, or null when skipped
 */
export async function prime(wasm, how) {
  if (!wasm || typeof wasm !== 'object' || primed.has(wasm)) return null;
  await new Promise((ok) => setTimeout(ok, 0));
  if (how.done() || primed.has(wasm)) return null;
  primed.add(wasm);
  const clock = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());
  let t0 = clock();
  /** Main-thread time of the two steps (not the wait between them). */
  let spent = 0;
  let buf;
  let m;
  try {
    const finish = how.cached ? wasm.Model?.fromBufferCached : wasm.Model?.fromBuffer;
    if (!wasm.BundleBuffer || typeof finish !== 'function') return null;
    const dim = 64;
    const bytes = primerBundle(PRIMER_ITEMS, dim);
    const user = new Float32Array(dim);
    for (let i = 0; i < dim; i++) user[i] = Math.sin(i + 1);
    buf = new wasm.BundleBuffer(bytes.length);
    buf.push(bytes);
    m = finish.call(wasm.Model, buf);
    // Two tasks, not one: chunks that arrive meanwhile wait for at most half.
    spent += clock() - t0;
    if (how.stats) how.stats.ms = spent;
    await new Promise((ok) => setTimeout(ok, 0));
    t0 = clock();
    if (!how.done()) m.recommend(user, { k: 10 });
    spent += clock() - t0;
    t0 = clock();
    if (how.stats) how.stats.ms = spent;
  } catch {
    // A build or browser where this fails only loses the head start.
  } finally {
    try {
      m?.free();
      buf?.free();
    } catch {
      // consumed by the model
    }
  }
  return spent + (clock() - t0);
}
