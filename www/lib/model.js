// The page-side model: argument checks, then one call into the wasm `Model`.

import { VitrineError, badArg, describe, toVitrineError } from './errors.js';
import { BUSINESS_OPTION_KEYS, checkId, checkRecOptions, checkThreshold, checkUserVector, intentView, scoredList } from './checks.js';

/** @typedef {import('../vitrine.js').RecOptions} RecOptions */
/** @typedef {import('../vitrine.js').ScoredList} ScoredList */

/** A loaded model. Create with `load()`; call `dispose()` to free wasm memory. */
export class Vitrine {
  /**
   * @param {any} model wasm `Model`
   * @param {'relaxed' | 'simd' | 'scalar'} variant
   * @param {any} wasm the wasm glue module namespace
   * @param {() => Promise<any>} [loadIntentWasm] imports the intent module
   * @param {{ build?: {variant: string, reason: string}, load?: Record<string, unknown>, settled?: Promise<void> }} [loaded]
   *   how `load()` made it: the build and why, the load's timings and cache part (for `info()`)
   */
  constructor(model, variant, wasm, loadIntentWasm, loaded) {
    /** @type {any} */
    this._model = model;
    /** @type {'relaxed' | 'simd' | 'scalar'} which wasm build runs this model */
    this.variant = variant;
    /** @type {any} */
    this._wasm = wasm;
    this._loadIntentWasm = loadIntentWasm;
    /** @type {Promise<any> | null} the wasm `IntentModel`, once asked for */
    this._intent = null;
    this._loaded = loaded;
    /**
     * Resolves once the load's background work is done: storing the bundle
     * in the device's cache, or revalidating the cached copy with the server.
     * @type {Promise<void>}
     */
    this.cacheSettled = loaded?.settled ?? Promise.resolve();
    /** @type {import('./page-threads.js').PageSplit | null} `threads`: the helper split (lib/page-threads.js) */
    this._split = null;
    /** @type {any} what `info().threads` says under `threads` */
    this._threadsInfo = null;
    /** @type {Promise<any>} `info().threads` once the helper is ready (or not started, or failed) */
    this.threadsReady = Promise.resolve(null);
    const m = this._call(() => ({ n: model.nItems, d: model.dim, t: model.dtype }));
    /** @type {number} */
    this.nItems = m.n;
    /** @type {number} */
    this.dim = m.d;
    /** @type {'f32' | 'f16' | 'int8'} */
    this.dtype = m.t;
  }

  /** @template T @param {() => T} f @returns {T} */
  _call(f) {
    if (!this._model) {
      throw new VitrineError('DISPOSED', 'this model was disposed; load it again to use it');
    }
    try {
      return f();
    } catch (e) {
      throw toVitrineError(e);
    }
  }

  /**
   * How many of the requested category names the bundle does not know. The
   * core filters them out silently (a category may simply have no items in
   * this model), so a typo would otherwise look like "no results".
   * @param {RecOptions} opts
   */
  _unknownCategories(opts) {
    if (!opts.categories || opts.categories.length === 0) return 0;
    if (!this._categoryNames) this._categoryNames = new Set(this._call(() => this._model.info().categories));
    const known = /** @type {Set<string>} */ (this._categoryNames);
    return new Set(opts.categories.filter((c) => !known.has(c))).size;
  }

  /** @returns {boolean} whether the wasm build in use was compiled with SIMD */
  simdEnabled() {
    return this._call(() => this._wasm.simdEnabled());
  }

  /**
   * Bundle metadata: format version, sizes, dtype, meta strings, sections,
   * category names and which optional parts are present.
   */
  info() {
    const i = this._call(() => this._model.info());
    if (this._loaded?.build) i.build = { ...this._loaded.build };
    if (this._loaded?.load) i.load = structuredClone(this._loaded.load);
    // Page mode scans on the caller's thread: recommend() is synchronous.
    i.threads = this._threadsInfo
      ? { ...this._threadsInfo, ...(this._split && { stats: { ...this._split.stats } }) }
      : { count: 1, requested: 1, reason: "load() scans on the calling thread (threads: 2 or 'auto' adds a helper worker)", sharedBytes: false };
    // 'lean': the engine without the shopper and placements (served through wasmUrl).
    i.engine = this._call(() => this._wasm.engineParts?.() ?? 'full');
    return i;
  }

  /**
   * Top-k items for a user vector: score = ⟨user, item⟩ + item bias, best first.
   * The returned array has non-enumerable `unknownExcludes` (how many
   * `exclude` ids were not in the model, usually stale ids from a cart) and
   * `unknownCategories` (requested category names the bundle does not know).
   * @param {Float32Array | Float64Array | number[]} userVector
   * @param {RecOptions} [options]
   * @returns {ScoredList}
   */
  recommend(userVector, options) {
    const opts = checkRecOptions(options, BUSINESS_OPTION_KEYS);
    const user = this._call(() => checkUserVector(userVector, this.dim));
    const s = this._split?.recommend(this, user, opts);
    if (s) return s;
    const r = this._call(() => this._model.recommend(user, opts));
    return scoredList(r.items, r.unknownExcludes, this._unknownCategories(opts));
  }

  /**
   * Hot path without options or strings: item indices and scores only.
   * @param {Float32Array | Float64Array | number[]} userVector
   * @param {number} [k]
   * @returns {{ indices: Uint32Array, scores: Float32Array }}
   */
  recommendIndices(userVector, k = 10) {
    checkRecOptions({ k });
    const user = this._call(() => checkUserVector(userVector, this.dim));
    const s = this._split?.recommendIndices(this, user, k);
    if (s) return s;
    return this._call(() => this._model.recommendFast(user, k));
  }

  /**
   * Items most similar to `id` (cosine of the item factors), excluding `id`.
   * @param {string} id
   * @param {RecOptions} [options]
   * @returns {ScoredList}
   */
  similar(id, options) {
    checkId(id);
    const opts = checkRecOptions(options);
    const s = this._split?.similar(this, id, opts);
    if (s) return s;
    const r = this._call(() => this._model.similar(id, opts));
    return scoredList(r.items, r.unknownExcludes, this._unknownCategories(opts));
  }

  /**
   * Most popular items (interaction weight in the training data), filtered.
   * @param {RecOptions} [options]
   * @returns {ScoredList}
   */
  popular(options) {
    const opts = checkRecOptions(options);
    const r = this._call(() => this._model.popular(opts));
    return scoredList(r.items, r.unknownExcludes, this._unknownCategories(opts));
  }

  /**
   * Catalogue attributes of one item; throws UNKNOWN_ITEM for an unknown id.
   * @param {string} id
   */
  item(id) {
    checkId(id);
    return this._call(() => this._model.item(id));
  }

  /** @param {string} id @returns {boolean} */
  has(id) {
    checkId(id);
    return this._call(() => this._model.itemIndex(id) !== undefined);
  }

  /** @param {string} id @returns {number | undefined} */
  itemIndex(id) {
    checkId(id);
    return this._call(() => this._model.itemIndex(id));
  }

  /** @param {number} index @returns {string} */
  itemId(index) {
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= this.nItems) {
      badArg(`index must be an integer in [0, ${this.nItems}), got ${describe(index)}`);
    }
    return this._call(() => this._model.itemId(index));
  }

  /**
   * The item's factor vector as f32 (dequantized for f16 / int8 bundles).
   * @param {string} id
   * @returns {Float32Array}
   */
  itemVector(id) {
    checkId(id);
    return this._call(() => this._model.itemVector(id));
  }

  /**
   * Classify a shopper's text (search box, chat) with the bundle's intent
   * model. The matcher is its own small wasm module, fetched on the first
   * call (or by `loadIntent()`), so pages that never ask pay nothing for it.
   * Rejects with NO_INTENT_MODEL for bundles exported without one. Product
   * mentions carry the item's `id` as well as its catalogue `item` index.
   * @param {string} text
   * @returns {Promise<any>} shaped as `IntentMatch` in vitrine.d.ts
   */
  async matchIntent(text) {
    if (typeof text !== 'string') badArg(`text must be a string, got ${describe(text)}`);
    const [raw] = await this._intentModel();
    return this._call(() => {
      const r = raw.matchIntent(text);
      for (const p of r.slots.products) p.id = this._model.itemId(p.item);
      return r;
    });
  }

  /**
   * Fetch and start the intent matcher now, e.g. when the help box gets
   * focus, so the first question answers without the download. Resolves to
   * `IntentModel` (vitrine.d.ts), checked like the model's methods.
   * @returns {Promise<any>}
   */
  async loadIntent() {
    return (await this._intentModel())[1];
  }

  /** @returns {Promise<[any, any]>} the wasm `IntentModel` and its view */
  _intentModel() {
    if (!this._intent) {
      const bytes = this._call(() => this._model.intentSection());
      if (!bytes) {
        throw new VitrineError('NO_INTENT_MODEL', 'this bundle has no intent model; export it with `vitrine export --intent FILE`');
      }
      if (!this._loadIntentWasm) {
        throw new VitrineError('WASM_UNAVAILABLE', 'no intent module loader was given to this model');
      }
      const p = this._loadIntentWasm().then((w) => {
        /** @type {any} */
        let im;
        try {
          // With the item count, a title index built for another catalogue
          // is refused here (BAD_SECTION), not on a shopper's question.
          im = w.IntentModel.fromBytes(bytes, this.nItems);
        } catch (e) {
          throw toVitrineError(e);
        }
        const call = (/** @type {(im: any) => any} */ f) => this._call(() => f(im));
        return [im, intentView((k) => call((m) => m[k]), (t) => void call((m) => m.setThreshold(checkThreshold(t))), () => void call((m) => m.resetConversation()))];
      });
      // A failed download may be retried by the next call.
      p.catch(() => {
        if (this._intent === p) this._intent = null;
      });
      this._intent = p;
    }
    return this._intent;
  }

  /**
   * `text` with phones, e-mails, cards, ID and passport numbers and
   * addresses masked (`[phone]`, `[email]`, `[card]`, `[id_number]`, `[address]`),
   * order numbers kept: for forwarding a question to a human agent. Runs in
   * the intent module (fetched on first use); needs no intent model.
   * @param {string} text
   * @returns {Promise<string>}
   */
  async redact(text) {
    if (typeof text !== 'string') badArg(`text must be a string, got ${describe(text)}`);
    if (!this._loadIntentWasm) {
      throw new VitrineError('WASM_UNAVAILABLE', 'no intent module loader was given to this model');
    }
    const w = await this._loadIntentWasm();
    return this._call(() => w.redact(text));
  }

  /**
   * Starts a new conversation for `matchIntent`: earlier negative messages no
   * longer count towards a repeated complaint (`escalate`).
   * @returns {Promise<void>}
   */
  async resetConversation() {
    (await this.loadIntent()).resetConversation();
  }

  /** Free the wasm memory held by this model. Safe to call twice. */
  dispose() {
    if (this._model) {
      this._split?.stop('the model was disposed');
      const m = this._model;
      this._model = null;
      const intent = this._intent;
      this._intent = null;
      intent?.then(([im]) => im.free()).catch(() => {});
      try {
        m.free();
      } catch (e) {
        throw toVitrineError(e);
      }
    }
  }

  /** @returns {boolean} */
  get disposed() {
    return this._model === null;
  }

  /** The underlying wasm `Model`, for advanced use (no argument checks). */
  get raw() {
    return this._call(() => this._model);
  }
}
