// Argument checks shared by the page API and the worker proxy: a wrong call
// fails here, with a message saying what to fix, before anything crosses into
// the wasm or a worker.

import { VitrineError, badArg, describe, isOptionsObject, readingArgument } from './errors.js';

/** @typedef {import('../vitrine.js').RecOptions} RecOptions */
/** @typedef {import('../vitrine.js').Scored} Scored */
/** @typedef {import('../vitrine.js').ScoredList} ScoredList */

const REC_OPTION_KEYS = new Set(['k', 'exclude', 'categories', 'priceMin', 'priceMax', 'inStockOnly']);
/**
 * `recommend` only: the business options (price level, rotation, promotion;
 * their values are checked by the engine, which names the bad one) and the
 * clock the rotation fades by.
 */
export const BUSINESS_OPTION_KEYS = Object.freeze(['price', 'preferPrice', 'rotation', 'promotion', 'now']);

/**
 * @param {unknown} opts
 * @param {readonly string[]} [extra] keys allowed besides the filters (passed through as given)
 * @returns {RecOptions}
 */
export function checkRecOptions(opts, extra = []) {
  return readingArgument('options', () => recOptions(opts, extra));
}

/** @param {unknown} opts @param {readonly string[]} extra @returns {RecOptions} */
function recOptions(opts, extra) {
  if (opts === undefined || opts === null) return {};
  if (!isOptionsObject(opts)) {
    badArg(`options must be an object like {k: 10}, got ${describe(opts)}`);
  }
  const o = /** @type {Record<string, unknown>} */ (opts);
  // No prototype: the wasm reads options through the prototype chain, so a
  // polluted Object.prototype (e.g. `categories`) must not reach it.
  /** @type {RecOptions} */
  const out = Object.create(null);
  for (const key of Object.keys(o)) {
    if (!REC_OPTION_KEYS.has(key) && !extra.includes(key)) {
      const hint = /^(top_?k|topK|limit|n|count)$/i.test(key) ? ' (did you mean "k"?)' : '';
      badArg(`unknown option "${key}"${hint}; known options: ${[...REC_OPTION_KEYS, ...extra].join(', ')}`);
    }
    if (o[key] === undefined || o[key] === null) continue; // null: not given
    /** @type {any} */ (out)[key] = o[key];
  }
  if (out.k !== undefined) {
    const k = out.k;
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > 0xffffffff) {
      badArg(`options.k must be a positive integer (e.g. 10), got ${describe(k)}`);
    }
  }
  for (const key of /** @type {const} */ (['exclude', 'categories'])) {
    const v = out[key];
    if (v === undefined) continue;
    if (!Array.isArray(v)) {
      badArg(`options.${key} must be an array of strings, got ${describe(v)}`);
    }
    for (let i = 0; i < v.length; i++) {
      if (typeof v[i] !== 'string') {
        badArg(`options.${key}[${i}] must be a string, got ${describe(v[i])}`);
      }
    }
  }
  for (const key of /** @type {const} */ (['priceMin', 'priceMax'])) {
    const v = out[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      badArg(`options.${key} must be a finite number, got ${describe(v)}`);
    }
  }
  if (out.priceMin !== undefined && out.priceMax !== undefined && out.priceMin > out.priceMax) {
    badArg(`options.priceMin (${out.priceMin}) is greater than options.priceMax (${out.priceMax})`);
  }
  if (out.inStockOnly !== undefined && typeof out.inStockOnly !== 'boolean') {
    badArg(`options.inStockOnly must be true or false, got ${describe(out.inStockOnly)}`);
  }
  return out;
}

/**
 * @param {unknown} v
 * @param {number} dim
 * @param {string} [name]
 * @returns {Float32Array}
 */
export function checkUserVector(v, dim, name = 'userVector') {
  return readingArgument(name, () => userVector(v, dim, name));
}

/** @param {unknown} v @param {number} dim @param {string} name @returns {Float32Array} */
function userVector(v, dim, name) {
  let len;
  if (v instanceof Float32Array || v instanceof Float64Array || Array.isArray(v)) {
    len = v.length;
  } else {
    return badArg(`${name} must be a Float32Array, Float64Array or array of numbers, got ${describe(v)}`);
  }
  if (len !== dim) {
    throw new VitrineError(
      'DIM_MISMATCH',
      `${name} has length ${len} but the model has dim ${dim}; build the vector from this model's factors`,
      { expected: dim, actual: len },
    );
  }
  const out = v instanceof Float32Array ? v : new Float32Array(len);
  for (let i = 0; i < len; i++) {
    const x = v[i];
    if (typeof x !== 'number') badArg(`${name}[${i}] must be a number, got ${describe(x)}`);
    if (out !== v) out[i] = x;
    // Checked after the f32 conversion: a huge finite double becomes Infinity.
    if (!Number.isFinite(out[i])) {
      badArg(`${name}[${i}] is ${x} (after conversion to f32: ${out[i]}); every entry must be finite`);
    }
  }
  return out;
}

/** @param {unknown} t the intent threshold @returns {number} */
export function checkThreshold(t) {
  if (typeof t !== 'number' || !(t >= 0 && t <= 1)) badArg(`threshold must be a number in [0, 1], got ${describe(t)}`);
  return /** @type {number} */ (t);
}

/**
 * What `loadIntent()` resolves to, page and worker alike: the wasm object
 * stays inside (no argument checks, no item ids in its `matchIntent`).
 * @param {(k: string) => any} read throws DISPOSED once the model is
 * @param {(t: unknown) => any} set @param {() => any} reset
 */
export const intentView = (read, set, reset) =>
  Object.freeze({
    get intents() {
      return [...read('intents')];
    },
    get threshold() {
      return read('threshold');
    },
    setThreshold: set,
    resetConversation: reset,
  });

/** @param {unknown} id @param {string} [name] @returns {string} */
export function checkId(id, name = 'id') {
  if (typeof id !== 'string') badArg(`${name} must be a string item id, got ${describe(id)}`);
  return /** @type {string} */ (id);
}

/**
 * Attach the exclude statistics without changing what the array looks like
 * when printed or serialized.
 * @param {Scored[]} items
 * @param {number} unknownExcludes
 * @returns {ScoredList}
 */
export function scoredList(items, unknownExcludes, unknownCategories = 0) {
  Object.defineProperty(items, 'unknownExcludes', { value: unknownExcludes, enumerable: false });
  Object.defineProperty(items, 'unknownCategories', { value: unknownCategories, enumerable: false });
  return /** @type {ScoredList} */ (items);
}
