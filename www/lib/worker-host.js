// Worker mode, worker side: owns one model and answers `{id, op, args}`
// messages with `{id, result}` or `{id, error}`. Scoring a large catalogue
// can take milliseconds; running it here keeps the page's main thread free
// for input and rendering. The page sends absolute wasm URLs, so nothing
// here depends on where a bundler put this file.

import { toVitrineError } from './errors.js';
import { loadModel } from './load.js';
import { checkId, checkRecOptions, checkUserVector } from './checks.js';

const SHOPPER_METHODS = new Set(['foldIn', 'recommendFor', 'rerank', 'segment', 'explain', 'behaviourSegment']);

/** @type {import('./model.js').Vitrine | null} */
let model = null;

/** @param {unknown} e */
function serializeError(e) {
  const v = toVitrineError(e);
  /** @type {Record<string, unknown>} */
  const details = {};
  for (const [k, val] of Object.entries(v.details || {})) {
    if (val === null || ['string', 'number', 'boolean'].includes(typeof val)) details[k] = val;
  }
  return { code: v.code, message: v.message, details };
}

function requireModel() {
  if (!model) throw toVitrineError({ name: 'VitrineError', code: 'DISPOSED', message: 'no model is loaded in this worker' });
  return model;
}

/** @param {any} r */
const listed = (r) => ({ items: Array.from(r), unknownExcludes: r.unknownExcludes, unknownCategories: r.unknownCategories });

/**
 * A scan part with the page-side extras of a listing (unknown categories).
 * @param {import('./model.js').Vitrine} m @param {any} opts @param {() => any} scan
 */
function part(m, opts, scan) {
  let r;
  try {
    r = scan();
  } catch (e) {
    throw toVitrineError(e);
  }
  r.unknownCategories = m._unknownCategories(opts);
  return r;
}

// A split scan's shared slot (cross-origin isolated pages): four Int32
// header cells (claim of the second rows, state, candidate count, pool),
// then 12 bytes per candidate (u32 index, f32 scan, f32 score).
const SLOT_HEADER = 16;
const CLAIM_HELPER = 1;
const CLAIM_LEAD = 2;
const SLOT_DONE = 1;
const SLOT_FAILED = 2;

/**
 * How long the lead waits for the helper's rows before scanning them itself:
 * `HELPER_PATIENCE` times its own part's time, plus `HELPER_GRACE_MS`. The
 * helper started at about the same time on rows as many, so it is late only
 * when its core is taken (or it died); the answer is the same either way.
 */
const HELPER_PATIENCE = 3;
const HELPER_GRACE_MS = 20;

/** @param {unknown} slot */
function slotHeader(slot) {
  if (typeof SharedArrayBuffer !== 'function' || !(slot instanceof SharedArrayBuffer) || slot.byteLength < SLOT_HEADER) {
    throw toVitrineError({ name: 'VitrineError', code: 'INVALID_ARGUMENT', message: 'a split scan needs its shared slot (a SharedArrayBuffer)' });
  }
  return new Int32Array(slot, 0, 4);
}

/** @param {unknown} kind */
function partOp(kind) {
  if (kind !== 'recommendPart' && kind !== 'similarPart' && kind !== 'recommendFastPart') {
    throw toVitrineError({ name: 'VitrineError', code: 'INVALID_ARGUMENT', message: `unknown scan part ${String(kind)}` });
  }
  return ops[kind];
}

/**
 * The helper's part from the slot once it is written; `null` if the helper
 * failed or `deadline` (performance.now() ms) passed. Spins briefly (the
 * helper usually finishes within microseconds of the lead), then sleeps in a
 * futex wait, which the helper's `Atomics.notify` ends.
 * @param {Int32Array} ctl @param {SharedArrayBuffer} slot @param {number} deadline
 */
function awaitHelper(ctl, slot, deadline) {
  const spinUntil = Math.min(deadline, performance.now() + SPIN_MS);
  while (Atomics.load(ctl, 1) === 0 && performance.now() < spinUntil) {
    // spin: the helper is scanning rows as many as ours, on the other core
  }
  for (let left = deadline - performance.now(); Atomics.load(ctl, 1) === 0 && left > 0; left = deadline - performance.now()) {
    Atomics.wait(ctl, 1, 0, left);
  }
  if (Atomics.load(ctl, 1) !== SLOT_DONE) return null;
  const n = Atomics.load(ctl, 2);
  const cells = new DataView(slot, SLOT_HEADER);
  const out = { pool: Atomics.load(ctl, 3), indices: new Uint32Array(n), scan: new Float32Array(n), scores: new Float32Array(n), ids: /** @type {string[] | undefined} */ (undefined) };
  for (let i = 0; i < n; i++) {
    out.indices[i] = cells.getUint32(i * 12, true);
    out.scan[i] = cells.getFloat32(i * 12 + 4, true);
    out.scores[i] = cells.getFloat32(i * 12 + 8, true);
  }
  return out;
}

/** How long the lead spins for the helper before a futex wait (ms). */
const SPIN_MS = 0.5;

/**
 * The doorbell of a two-thread model's helper: an Int32Array on shared
 * memory the page bumps right after it posts a split scan. See `linger`.
 * @type {Int32Array | null}
 */
let bell = null;

/**
 * How long the helper stays on the CPU after its part, watching the doorbell
 * for the next query (ms). A worker that goes to sleep is woken by the next
 * message through the OS: on the measured 2-core VM 0.2 ms back to back and
 * 0.7 ms after 5 ms idle, against 1.2 ms for half a 1M × 64 int8 scan. Only
 * the helper lingers: with the page's thread and both workers spinning, three
 * threads shared two cores and every query got slower (docs/web.md).
 */
const LINGER_MS = 1;

/**
 * Stays on the CPU until the doorbell rings (the next query's message is
 * queued: the event loop takes it at once) or `LINGER_MS` pass.
 */
function linger() {
  const b = bell;
  if (!b) return;
  const seen = Atomics.load(b, 0);
  const until = performance.now() + LINGER_MS;
  while (Atomics.load(b, 0) === seen && performance.now() < until) {
    // spin: sleeping is the cost avoided
  }
}

/** @type {Record<string, (args: any[], id: number, post: (m: any) => void) => any>} */
const ops = {
  async load([src, opts], id, post) {
    const onProgress = opts.progress ? (/** @type {any} */ p) => post({ id, progress: p }) : undefined;
    const simd = opts.variant === 'relaxed' ? 'relaxed' : opts.variant === 'simd';
    model?.dispose();
    model = null;
    model = await loadModel(src, {
      simd,
      wasmUrl: opts.wasmUrl,
      wasmIntegrity: opts.wasmIntegrity,
      integrity: opts.integrity,
      maxBytes: opts.maxBytes,
      cache: opts.cache,
      onProgress,
    });
    return { nItems: model.nItems, dim: model.dim, dtype: model.dtype, variant: model.variant };
  },
  info: () => requireModel().info(),
  simdEnabled: () => requireModel().simdEnabled(),
  recommend: ([u, opts]) => listed(requireModel().recommend(u, opts)),
  recommendIndices: ([u, k]) => requireModel().recommendIndices(u, k),
  similar: ([id, opts]) => listed(requireModel().similar(id, opts)),
  popular: ([opts]) => listed(requireModel().popular(opts)),
  /** One part of a two-thread scan (lib/parallel.js joins the parts). */
  recommendPart: ([u, opts, from, to]) => {
    const m = requireModel();
    const o = checkRecOptions(opts);
    const user = checkUserVector(u, m.dim);
    return part(m, o, () => m.raw.recommendPart(user, o, from, to));
  },
  /** `recommendIndices`' part: typed arrays only (no options, no ids). */
  recommendFastPart: ([u, k, from, to]) => {
    const m = requireModel();
    const user = checkUserVector(u, m.dim);
    try {
      return m.raw.recommendFastPart(user, k, from, to);
    } catch (e) {
      throw toVitrineError(e);
    }
  },
  similarPart: ([id, opts, from, to]) => {
    const m = requireModel();
    checkId(id);
    const o = checkRecOptions(opts);
    return part(m, o, () => m.raw.similarPart(id, o, from, to));
  },
  /**
   * The lead's share of a split scan on a cross-origin isolated page: its
   * own rows `[a0, a1)`, then rows `[b0, b1)` either from the helper worker
   * (through the shared `slot`) or, when the helper has not claimed them
   * yet or does not deliver in time, scanned here. Both parts go back in one
   * message: the page waits for one worker, not two.
   */
  splitLead([q, second, slot, a0, a1, b0, b1, kind]) {
    const m = requireModel();
    const run = partOp(kind);
    const t0 = performance.now();
    const a = run([q, second, a0, a1]);
    const ctl = slotHeader(slot);
    let b;
    if (Atomics.compareExchange(ctl, 0, 0, CLAIM_LEAD) === 0) {
      b = run([q, second, b0, b1]);
    } else {
      b = awaitHelper(ctl, slot, t0 + HELPER_PATIENCE * (performance.now() - t0) + HELPER_GRACE_MS);
      if (b && kind !== 'recommendFastPart') b.ids = Array.from(b.indices, (i) => m.itemId(i));
      // Failed or late: the rows are scanned here (the answer never depends on the helper).
      b ??= run([q, second, b0, b1]);
    }
    return { parts: [a, b] };
  },
  /**
   * The helper's share: rows `[from, to)` written into `slot` for the lead,
   * unless the lead claimed them first. Answers `true` when it scanned.
   */
  splitHelp([q, second, slot, from, to, kind]) {
    const ctl = slotHeader(slot);
    const run = partOp(kind);
    if (Atomics.compareExchange(ctl, 0, 0, CLAIM_HELPER) !== 0) return false;
    try {
      const p = run([q, second, from, to]);
      const n = p.indices.length;
      const cells = new DataView(slot, SLOT_HEADER);
      if (cells.byteLength < n * 12) throw new Error(`slot too small for ${n} candidates`);
      for (let i = 0; i < n; i++) {
        cells.setUint32(i * 12, p.indices[i], true);
        cells.setFloat32(i * 12 + 4, p.scan[i], true);
        cells.setFloat32(i * 12 + 8, p.scores[i], true);
      }
      Atomics.store(ctl, 2, n);
      Atomics.store(ctl, 3, p.pool);
      Atomics.store(ctl, 1, SLOT_DONE);
    } catch {
      // The lead scans these rows itself.
      Atomics.store(ctl, 1, SLOT_FAILED);
    }
    Atomics.notify(ctl, 1);
    return true;
  },
  item: ([id]) => requireModel().item(id),
  itemVector: ([id]) => requireModel().itemVector(id),
  itemIndex: ([id]) => requireModel().itemIndex(id),
  itemId: ([index]) => requireModel().itemId(index),
  matchIntent: ([text]) => requireModel().matchIntent(text),
  redact: ([text]) => requireModel().redact(text),
  async resetConversation() {
    await requireModel().resetConversation();
    return true;
  },
  /** The shopper's wasm entry points, for an async shopper over a worker-hosted model. */
  shopper([method, args]) {
    if (!SHOPPER_METHODS.has(method)) throw toVitrineError({ name: 'VitrineError', code: 'INVALID_ARGUMENT', message: `unknown shopper method ${String(method)}` });
    const raw = requireModel().raw;
    try {
      return raw[method](...(Array.isArray(args) ? args : []));
    } catch (e) {
      throw toVitrineError(e);
    }
  },
  async loadIntent() {
    const im = await requireModel().loadIntent();
    return { intents: im.intents, threshold: im.threshold };
  },
  /** The page's doorbell: this worker is a two-thread model's helper (see `linger`). */
  doorbell([b]) {
    bell = b instanceof Int32Array && typeof SharedArrayBuffer === 'function' && b.buffer instanceof SharedArrayBuffer && b.length >= 1 ? b : null;
    return bell !== null;
  },
  dispose() {
    bell = null;
    model?.dispose();
    model = null;
    return true;
  },
};

/**
 * Typed arrays in a result are transferred, not copied. Only arrays that own
 * their whole buffer qualify: a view into wasm memory must never be detached.
 * @param {any} result
 */
function transferables(result) {
  if (!result || typeof result !== 'object') return [];
  const owned = (/** @type {any} */ v) => ArrayBuffer.isView(v) && v.byteOffset === 0 && v.byteLength === v.buffer.byteLength;
  if (ArrayBuffer.isView(result)) return owned(result) ? [result.buffer] : [];
  const out = [];
  for (const v of Object.values(result)) if (owned(v)) out.push(v.buffer);
  return out;
}

/**
 * Answer the page's messages on `scope` (the worker's global) and tell the
 * page the script has started.
 * @param {any} scope
 */
export function serve(scope) {
  const post = (/** @type {any} */ m, /** @type {Transferable[]} */ t = []) => scope.postMessage(m, t);
  scope.addEventListener('message', async (/** @type {MessageEvent} */ ev) => {
    const { id, op, args } = ev.data || {};
    const f = Object.prototype.hasOwnProperty.call(ops, op) ? ops[op] : undefined;
    if (!f) {
      post({ id, error: { code: 'INTERNAL', message: `unknown worker op ${op}`, details: {} } });
      return;
    }
    try {
      const result = await f(Array.isArray(args) ? args : [], id, post);
      post({ id, result }, transferables(result));
    } catch (e) {
      post({ id, error: serializeError(e) });
    }
    if (op === 'splitHelp') linger();
  });
  post({ ready: true });
}
