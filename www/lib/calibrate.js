// `simd: 'auto'` by measurement. The relaxed-SIMD and SIMD128 builds differ
// only in their int8 kernel, and which one is faster depends on the CPU and
// the browser (one Chromium run on this project's hosts: relaxed 4.71 ms vs
// SIMD128 3.40 ms at 1M × 64 int8; another host: equal). So on the first load
// in a browser both builds score the same small int8 catalogue, interleaved,
// and the faster one is remembered (localStorage, per browser version and
// wasm URLs) for every later load. It runs while the bundle downloads: the
// download never waits for it (docs/web.md, "Which build").

import { CAL_DIM, CAL_ITEMS, remember } from './decision.js';
/** @typedef {import('./decision.js').Decision} Decision */

// Kept importable from here for existing callers; they live in decision.js so
// that a load with a remembered decision never fetches this module.
export { describeDecision, forgetDecisions, rememberedDecision } from './decision.js';

/** @type {Uint32Array | undefined} */
let crcTable;
/** CRC-32 (IEEE), as the bundle format uses. @param {Uint8Array} b */
function crc32(b, crc = 0) {
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

/**
 * A valid int8 bundle (format 1.2: MODEL, ITEM_IDS, ID_INDEX, FACTORS,
 * SCALES) with deterministic pseudo-random rows: what the calibration scans.
 * @param {number} n @param {number} dim (a multiple of 16)
 */
export function calibrationBundle(n = CAL_ITEMS, dim = CAL_DIM) {
  const enc = new TextEncoder();
  const model = new Uint8Array(32);
  new Uint32Array(model.buffer, 0, 4).set([n, dim, dim, 2]);
  const idBytes = [];
  const offsets = new Uint32Array(n + 1);
  let len = 0;
  for (let i = 0; i < n; i++) {
    const b = enc.encode(`c${String(i).padStart(6, '0')}`);
    idBytes.push(b);
    len += b.length;
    offsets[i + 1] = len;
  }
  const ids = new Uint8Array(4 + 4 * (n + 1) + len);
  new DataView(ids.buffer).setUint32(0, n, true);
  ids.set(new Uint8Array(offsets.buffer), 4);
  let at = 4 + 4 * (n + 1);
  for (const b of idBytes) {
    ids.set(b, at);
    at += b.length;
  }
  const index = new Uint32Array(n);
  for (let i = 0; i < n; i++) index[i] = i;
  const factors = new Int8Array(n * dim);
  let s = 0x9e3779b9;
  for (let i = 0; i < factors.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    factors[i] = ((s >>> 24) % 255) - 127;
  }
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
  const fileLen = placed[placed.length - 1].offset + placed[placed.length - 1].body.length;
  const out = new Uint8Array(fileLen);
  const dv = new DataView(out.buffer);
  out.set(enc.encode('VITRINE\0'), 0);
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
  return out;
}

/**
 * Milliseconds per top-10 scan of the calibration catalogue in each build,
 * measured in alternating rounds after a warm-up (V8 compiles hot wasm
 * functions a second time, optimized, after they have run a while).
 * @param {{relaxed: any, simd: any}} builds the two glue modules
 * @returns {{relaxed: number, simd: number, rounds: number}}
 */
export function measureBuilds(builds) {
  const bytes = calibrationBundle();
  const users = Array.from({ length: 8 }, (_, q) => Float32Array.from({ length: CAL_DIM }, (_, i) => Math.sin(q * 7 + i)));
  const models = { relaxed: builds.relaxed.Model.fromBytes(bytes), simd: builds.simd.Model.fromBytes(bytes) };
  try {
    const now = () => performance.now();
    let sink = 0;
    const run = (/** @type {any} */ m, /** @type {number} */ calls) => {
      for (let c = 0; c < calls; c++) sink += m.recommendFast(users[c & 7], 10).indices[0];
    };
    // Warm-up until the time per call settles (V8 first runs baseline code
    // and swaps in optimized code compiled in the background, which takes
    // longer on a busy machine): 10 ms windows until two in a row agree
    // within 10%, at least 30 ms and at most 400 ms per build.
    for (const m of [models.relaxed, models.simd]) {
      const t0 = now();
      let prev = Infinity;
      for (;;) {
        const w0 = now();
        let calls = 0;
        while (now() - w0 < 10) {
          run(m, 4);
          calls += 4;
        }
        const per1 = (now() - w0) / calls;
        const settled = Math.abs(per1 - prev) <= 0.1 * per1;
        prev = per1;
        if ((settled && now() - t0 >= 30) || now() - t0 >= 400) break;
      }
    }
    // A batch long enough for a coarse clock (100 µs steps without isolation).
    let batch = 4;
    for (;;) {
      const t0 = now();
      run(models.simd, batch);
      if (now() - t0 >= 3 || batch >= 4096) break;
      batch *= 2;
    }
    /** @type {{relaxed: number[], simd: number[]}} */
    const per = { relaxed: [], simd: [] };
    const ROUNDS = 7;
    for (let r = 0; r < ROUNDS; r++) {
      for (const v of /** @type {const} */ (r % 2 ? ['simd', 'relaxed'] : ['relaxed', 'simd'])) {
        const t0 = now();
        run(models[v], batch);
        per[v].push((now() - t0) / batch);
      }
    }
    // The least disturbed round of each: on a busy device other work only
    // ever adds time, so the minimum is the closest to the kernel's own speed.
    if (sink === -1) console.log(sink);
    return { relaxed: Math.min(...per.relaxed), simd: Math.min(...per.simd), rounds: ROUNDS };
  } finally {
    models.relaxed.free();
    models.simd.free();
  }
}

/**
 * Measure both builds and remember the faster.
 * @param {string} key @param {() => Promise<{relaxed: any, simd: any}>} loadBoth
 * @returns {Promise<Decision>}
 */
export async function calibrate(key, loadBoth) {
  const builds = await loadBoth();
  const m = measureBuilds(builds);
  /** @type {Decision} */
  const d = { variant: m.relaxed <= m.simd ? 'relaxed' : 'simd', relaxed_ms: m.relaxed, simd_ms: m.simd, at: Date.now(), key };
  remember(d);
  return d;
}
