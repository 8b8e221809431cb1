// Worker mode, worker side: owns one model and answers `{id, op, args}`
// messages with `{id, result}` or `{id, error}`. Scoring a large catalogue
// can take milliseconds; running it here keeps the page's main thread free
// for input and rendering. The page sends absolute wasm URLs, so nothing
// here depends on where a bundler put this file.

import { toVitrineError } from './errors.js';
import { loadHere } from './load.js';
import { checkId, checkRecOptions, checkUserVector } from './checks.js';
import { OP, helperLoop, sharedViews } from './helper.js';

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

/** @type {Record<string, (args: any[], id: number, post: (m: any) => void) => any>} */
const ops = {
  async load([src, opts], id, post) {
    const onProgress = opts.progress ? (/** @type {any} */ p) => post({ id, progress: p }) : undefined;
    const simd = opts.variant === 'relaxed' ? 'relaxed' : opts.variant === 'simd';
    model?.dispose();
    model = null;
    model = await loadHere(src, {
      simd,
      wasmUrl: opts.wasmUrl,
      wasmIntegrity: opts.wasmIntegrity,
      integrity: opts.integrity,
      maxBytes: opts.maxBytes,
      cache: opts.cache,
      screen: opts.screen,
      onProgress,
      onWarning: opts.warnings ? (/** @type {string} */ code, /** @type {string} */ message) => post({ id, warning: { code, message } }) : undefined,
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
   * The helper of a page-mode two-thread model (`load(src, {threads: 2})`):
   * scans the parts the page posts through shared memory until it is told
   * to stop (lib/helper.js, `helperLoop`). Answers only then.
   */
  helper([ctl, data]) {
    const m = requireModel();
    const raw = m.raw;
    /** @param {string} json */
    const options = (json) => Object.assign(Object.create(null), JSON.parse(json));
    // Two scans first, so the engine's hot loop is compiled by the optimizing
    // tier before the first part is claimed (a part from the baseline tier
    // comes late, and the page would time splits as not paying).
    for (let i = 0; i < 2; i++) raw.recommendFastPart(new Float32Array(m.dim), 10, 0, m.nItems);
    helperLoop(new Int32Array(ctl), sharedViews(data, m.dim), {
      [OP.FAST]: (from, to, k, user) => raw.recommendFastPart(user, k, from, to),
      [OP.RECOMMEND]: (from, to, _k, user, json) => raw.recommendPart(user, options(json), from, to),
      [OP.SIMILAR]: (from, to, _k, _user, json) => {
        const { id, opts } = JSON.parse(json);
        return raw.similarPart(id, Object.assign(Object.create(null), opts), from, to);
      },
    });
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
  /** Answers the threshold as the wasm stores it (an f32), for the page's `threshold`. */
  async setThreshold([t]) {
    const im = await requireModel().loadIntent();
    im.setThreshold(t);
    return im.threshold;
  },
  dispose() {
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
  });
  post({ ready: true });
}
