// Module Worker side of `loadInWorker()`: owns one model and answers
// `{id, op, args}` messages with `{id, result}` or `{id, error}`. Scoring a
// large catalogue can take milliseconds; running it here keeps the page's
// main thread free for input and rendering.

import { load, toVitrineError } from './vitrine.js';

/** @type {import('./vitrine.js').Vitrine | null} */
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

/** @type {Record<string, (args: any[], id: number) => any>} */
const ops = {
  async load([src, opts], id) {
    const onProgress = opts.progress ? (p) => self.postMessage({ id, progress: p }) : undefined;
    model = await load(src, { simd: opts.simd, wasmUrl: opts.wasmUrl, onProgress });
    return { nItems: model.nItems, dim: model.dim, dtype: model.dtype, variant: model.variant };
  },
  info: () => requireModel().info(),
  simdEnabled: () => requireModel().simdEnabled(),
  recommend([u, opts]) {
    const r = requireModel().recommend(u, opts);
    return { items: Array.from(r), unknownExcludes: r.unknownExcludes, unknownCategories: r.unknownCategories };
  },
  recommendIndices: ([u, k]) => requireModel().recommendIndices(u, k),
  similar([id, opts]) {
    const r = requireModel().similar(id, opts);
    return { items: Array.from(r), unknownExcludes: r.unknownExcludes, unknownCategories: r.unknownCategories };
  },
  popular([opts]) {
    const r = requireModel().popular(opts);
    return { items: Array.from(r), unknownExcludes: r.unknownExcludes, unknownCategories: r.unknownCategories };
  },
  item: ([id]) => requireModel().item(id),
  itemVector: ([id]) => requireModel().itemVector(id),
  itemIndex: ([id]) => requireModel().itemIndex(id),
  matchIntent: ([text]) => requireModel().matchIntent(text),
  dispose() {
    model?.dispose();
    model = null;
    return true;
  },
};

/**
 * Typed arrays in a result are transferred, not copied. Only arrays that own
 * their whole buffer qualify: a view into wasm memory must never be detached.
 */
function transferables(result) {
  if (!result || typeof result !== 'object') return [];
  const owned = (v) => ArrayBuffer.isView(v) && v.byteOffset === 0 && v.byteLength === v.buffer.byteLength;
  if (ArrayBuffer.isView(result)) return owned(result) ? [result.buffer] : [];
  const out = [];
  for (const v of Object.values(result)) if (owned(v)) out.push(v.buffer);
  return out;
}

self.onmessage = async (ev) => {
  const { id, op, args } = ev.data || {};
  const f = ops[op];
  if (!f) {
    self.postMessage({ id, error: { code: 'INTERNAL', message: `unknown worker op ${op}`, details: {} } });
    return;
  }
  try {
    const result = await f(args, id);
    self.postMessage({ id, result }, transferables(result));
  } catch (e) {
    self.postMessage({ id, error: serializeError(e) });
  }
};
