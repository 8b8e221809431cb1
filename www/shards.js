// Sharded bundles (`vitrine shard`): catalogues too large for one page load.
// Its own module, imported by `loadSharded` of vitrine.js on first use, so
// pages that never shard download none of it (the glue's size budget).
//
// The head bundle (the most popular items with their factors, the Gram
// matrix, every category name, and the shard table) loads like any bundle,
// so popularity, cold start and a first recommendation are served at once.
// Factor shards are fetched when a query needs them (the shards of the
// categories it filters on, or all of them), checked against the head by
// the wasm core (`Model.checkShard`: model id, place, length, table
// checksum), kept in Cache Storage under a cache named after the model id,
// and scored where they are: each shard is a complete bundle, so its top-k
// comes from the same engine and the merged top-k over all shards is the
// whole catalogue's. A shard that does not match its head is evicted from
// the cache and fetched again from the network (HTTP cache bypassed); if
// the network copy is wrong too, the call fails with SHARD_MISMATCH.

import { VitrineError, badArg, describe, isOptionsObject, messageOf, readingArgument, toVitrineError } from './lib/errors.js';
import { pickVariant } from './lib/detect.js';
import { baseHref, loadWasm } from './lib/wasm.js';
import { checkLoadOptions, openSource } from './lib/source.js';
import { Vitrine } from './lib/model.js';
import { checkId, checkRecOptions, checkUserVector, scoredList } from './lib/checks.js';

/** Cache Storage names are `vitrine-shards:<model_id>`; older models' caches are dropped. */
export const SHARD_CACHE_PREFIX = 'vitrine-shards:';
const SHARD_OPTION_KEYS = new Set(['shardCache', 'prefetch', 'fetch', 'concurrency']);
const SCOPES = new Set(['loaded', 'needed', 'all']);

/**
 * Load a sharded bundle's head; shards follow on demand.
 *
 * Options: every `load()` option (`simd`, `wasmUrl`, `wasmIntegrity`,
 * `maxBytes` per file, `integrity` of the head, `onProgress` of the head),
 * plus `shardCache` (`'auto'` (default): Cache Storage where the page has it;
 * `false`: none; or any object with the Cache methods `match`, `put`,
 * `delete`), `prefetch` (`'none'` (default) or `'all'`: fetch every shard in
 * the background, see `whenAllLoaded()`), `concurrency` (parallel shard
 * downloads, default 4) and `fetch` (a fetch function, default `fetch`).
 *
 * @param {string | URL} head URL of `head.vtr`; shard files are resolved against it
 * @param {any} [options]
 * @returns {Promise<ShardedVitrine>}
 */
export function loadSharded(head, options) {
  return openSharded((variant, o) => loadWasm(variant, o.wasmUrl, o.wasmIntegrity), head, options);
}

/**
 * `loadSharded` with the wasm loader given (the Node entry reads the builds from disk).
 * @param {(variant: any, opts: any) => Promise<any>} getWasm
 * @param {string | URL} head
 * @param {any} [options]
 */
export async function openSharded(getWasm, head, options) {
  if (typeof head !== 'string' && !readingArgument('head', () => head instanceof URL)) {
    badArg(`the head must be a URL string or URL, got ${describe(head)}`);
  }
  if (options !== undefined && options !== null && !isOptionsObject(options)) {
    badArg(`options must be an object, got ${describe(options)}`);
  }
  /** @type {Record<string, any>} */
  const shardOpts = {};
  /** @type {Record<string, any>} */
  const rest = {};
  for (const [k, v] of readingArgument('options', () => Object.entries(options ?? {}))) (SHARD_OPTION_KEYS.has(k) ? shardOpts : rest)[k] = v;
  const lo = checkLoadOptions(rest);
  const fetchFn = shardOpts.fetch ?? globalThis.fetch;
  if (typeof fetchFn !== 'function') badArg(`options.fetch must be a function, got ${describe(shardOpts.fetch)}`);
  const prefetch = shardOpts.prefetch ?? 'none';
  if (prefetch !== 'none' && prefetch !== 'all') badArg(`options.prefetch must be 'none' or 'all', got ${describe(prefetch)}`);
  const concurrency = shardOpts.concurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    badArg(`options.concurrency must be a whole number in 1..64, got ${describe(concurrency)}`);
  }
  const cacheOpt = shardOpts.shardCache ?? 'auto';
  if (cacheOpt !== 'auto' && cacheOpt !== false && !readingArgument('options.shardCache', () => isCacheLike(cacheOpt))) {
    badArg(`options.shardCache must be 'auto', false, or an object with match, put and delete, got ${describe(cacheOpt)}`);
  }
  let headUrl = '';
  try {
    headUrl = new URL(String(head), baseHref()).href;
  } catch {
    badArg(`the head ${describe(String(head))} is not a valid URL`);
  }

  const variant = pickVariant(lo.simd, lo.wasmUrl);
  const wasm = await getWasm(variant, lo);
  let response;
  try {
    response = await fetchFn(headUrl);
  } catch (e) {
    throw new VitrineError('NETWORK', `fetching the head ${headUrl} failed: ${messageOf(e)}`, { url: headUrl }, { cause: e });
  }
  const raw = await openSource(wasm, response, lo);
  let table;
  try {
    table = raw.shardTable();
  } catch (e) {
    raw.free();
    throw toVitrineError(e);
  }
  if (!table) {
    raw.free();
    throw new VitrineError('INVALID_ARGUMENT', `${headUrl} is a plain bundle, not a shard head (no SHARD_TABLE section); load it with load(), or make a head with \`vitrine shard\``);
  }
  const headModel = new Vitrine(raw, variant, wasm, () => getWasm('intent', lo));
  const cache = await openCache(cacheOpt, table.modelId);
  const m = new ShardedVitrine({ head: headModel, table, headUrl, wasm, variant, fetchFn, cache, concurrency, maxBytes: lo.maxBytes });
  if (prefetch === 'all') m._background = m.loadShards('all');
  return m;
}

/** @param {any} c */
function isCacheLike(c) {
  return c !== null && typeof c === 'object' && ['match', 'put', 'delete'].every((k) => typeof c[k] === 'function');
}

/**
 * The model's Cache Storage cache; caches of other model ids (older exports)
 * are deleted, so a new model never serves an old model's shards.
 * @param {any} opt @param {string} modelId
 */
async function openCache(opt, modelId) {
  if (opt === false) return null;
  if (opt !== 'auto') return opt;
  const storage = globalThis.caches;
  if (!storage || typeof storage.open !== 'function') return null;
  const name = SHARD_CACHE_PREFIX + modelId;
  try {
    const keys = await storage.keys();
    await Promise.all(keys.filter((k) => k.startsWith(SHARD_CACHE_PREFIX) && k !== name).map((k) => storage.delete(k)));
    return await storage.open(name);
  } catch {
    // Opaque origins, storage blocked by the user: shards are fetched every time.
    return null;
  }
}

/**
 * The body of `resp`, refused as soon as it passes `expected` bytes (a wrong
 * file is not downloaded whole).
 * @param {Response} resp @param {number} expected
 */
async function readExactly(resp, expected) {
  // A compressed body's Content-Length is the compressed size: no early verdict then.
  const len = resp.headers?.get?.('content-encoding') ? NaN : Number(resp.headers?.get?.('content-length'));
  if (Number.isFinite(len) && len > 0 && len !== expected) {
    throw new VitrineError('SHARD_MISMATCH', `the server sends ${len} bytes, the head says ${expected}`);
  }
  if (!resp.body || typeof resp.body.getReader !== 'function') {
    const b = new Uint8Array(await resp.arrayBuffer());
    if (b.byteLength !== expected) throw new VitrineError('SHARD_MISMATCH', `${b.byteLength} bytes, the head says ${expected}`);
    return b;
  }
  const out = new Uint8Array(expected);
  const reader = resp.body.getReader();
  let n = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (n + value.byteLength > expected) {
        throw new VitrineError('SHARD_MISMATCH', `more than the ${expected} bytes the head says`);
      }
      out.set(value, n);
      n += value.byteLength;
    }
  } finally {
    reader.releaseLock?.();
  }
  if (n !== expected) throw new VitrineError('SHARD_MISMATCH', `${n} bytes, the head says ${expected}`);
  return out;
}

/** A catalogue of many shards behind one head. Create with `loadSharded()`. */
export class ShardedVitrine {
  /** @param {any} p */
  constructor(p) {
    /** The head bundle as a plain model (popular items, Gram, category names). */
    this.head = p.head;
    this._table = p.table;
    this._headUrl = p.headUrl;
    this._wasm = p.wasm;
    const f = p.fetchFn;
    // Called bare: the platform's fetch refuses any other `this`.
    this._fetch = (/** @type {string} */ u, /** @type {any} */ init) => f(u, init);
    /** @type {any} */
    this._cache = p.cache;
    this._concurrency = p.concurrency;
    this._maxBytes = p.maxBytes;
    /** @type {(Vitrine | null)[]} */
    this._models = p.table.shards.map(() => null);
    /** @type {(Promise<Vitrine> | null)[]} */
    this._pending = p.table.shards.map(() => null);
    /** @type {Promise<number> | null} */
    this._background = null;
    /** @type {string} */
    this.modelId = p.table.modelId;
    /** @type {'range' | 'category'} */
    this.by = p.table.by;
    /** @type {number} items over all shards */
    this.nItems = p.table.totalItems;
    /** @type {number} */
    this.dim = p.head.dim;
    /** @type {'f32' | 'f16' | 'int8'} */
    this.dtype = p.head.dtype;
    /** @type {'relaxed' | 'simd' | 'scalar'} */
    this.variant = p.variant;
    this._disposed = false;
  }

  _alive() {
    if (this._disposed) throw new VitrineError('DISPOSED', 'this sharded model was disposed; load it again to use it');
  }

  /** The shard table: per shard its file, bytes, rows, category, first/last id and whether it is loaded. */
  shards() {
    this._alive();
    return this._table.shards.map((/** @type {any} */ s, /** @type {number} */ i) => ({ ...s, loaded: this._models[i] !== null }));
  }

  /** @returns {number} shards loaded so far */
  get loadedShards() {
    return this._models.filter((m) => m !== null).length;
  }

  /** @returns {number} */
  get shardCount() {
    return this._table.shards.length;
  }

  /**
   * Indices of the shards a filter can match: by category, the categories'
   * shards; otherwise all of them.
   * @param {string[] | undefined} categories
   */
  _needed(categories) {
    const all = this._table.shards.map((/** @type {any} */ _s, /** @type {number} */ i) => i);
    if (this.by !== 'category' || !categories || categories.length === 0) return all;
    const want = new Set(categories);
    return all.filter((i) => want.has(this._table.shards[i].category));
  }

  /**
   * Fetch (or take from the cache) and check shards: `'all'`, an array of
   * shard indices, or `{categories}` (the shards those categories need).
   * Resolves to the number of shards loaded.
   * @param {'all' | number[] | {categories: string[]}} [which]
   */
  async loadShards(which = 'all') {
    this._alive();
    const idx = readingArgument('which', () => {
      if (which === 'all') return this._needed(undefined);
      if (Array.isArray(which)) {
        for (const i of which) {
          if (!Number.isInteger(i) || i < 0 || i >= this.shardCount) badArg(`shard index must be in [0, ${this.shardCount}), got ${describe(i)}`);
        }
        return which;
      }
      if (which && typeof which === 'object' && Array.isArray(which.categories)) return this._needed(which.categories);
      return badArg(`loadShards takes 'all', an array of shard indices or {categories}, got ${describe(which)}`);
    });
    await this._ensure(idx);
    return this.loadedShards;
  }

  /** Resolves when the background prefetch (`prefetch: 'all'`) is done; loads every shard if none was asked. */
  whenAllLoaded() {
    if (!this._background) this._background = this.loadShards('all');
    return this._background;
  }

  /** @param {number[]} idx */
  async _ensure(idx) {
    const todo = idx.filter((i) => this._models[i] === null);
    let next = 0;
    const worker = async () => {
      while (next < todo.length) {
        const i = todo[next++];
        await this._shard(i);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this._concurrency, todo.length) }, worker));
  }

  /** @param {number} i @returns {Promise<Vitrine>} */
  _shard(i) {
    const ready = this._models[i];
    if (ready) return Promise.resolve(ready);
    let p = this._pending[i];
    if (!p) {
      p = this._fetchShard(i).then(
        (m) => {
          this._pending[i] = null;
          if (this._disposed) {
            m.dispose();
            throw new VitrineError('DISPOSED', 'this sharded model was disposed while a shard loaded');
          }
          this._models[i] = m;
          return m;
        },
        (e) => {
          this._pending[i] = null;
          throw e;
        },
      );
      this._pending[i] = p;
    }
    return p;
  }

  /** @param {number} i */
  async _fetchShard(i) {
    const e = this._table.shards[i];
    const url = new URL(e.file, this._headUrl).href;
    const cache = this._cache;
    /** @type {any} */
    let last = null;
    if (cache) {
      let hit;
      try {
        hit = await cache.match(url);
      } catch {
        hit = undefined;
      }
      if (hit) {
        try {
          return this._verify(i, await readExactly(hit, e.bytes));
        } catch (err) {
          // Corrupt, stale, of another model, or evicted while it was read:
          // drop it and go to the network.
          last = err;
          await Promise.resolve(cache.delete(url)).catch(() => {});
        }
      }
    }
    // A cached copy that failed may have come from the HTTP cache: bypass it.
    for (const mode of last ? ['reload'] : ['default', 'reload']) {
      let bytes;
      try {
        let resp;
        try {
          resp = await this._fetch(url, mode === 'reload' ? { cache: 'reload' } : undefined);
        } catch (err) {
          throw new VitrineError('NETWORK', `fetching shard ${i} (${url}) failed: ${messageOf(err)}`, { url, shard: i }, { cause: err });
        }
        if (!resp.ok) {
          throw new VitrineError('NETWORK', `fetching shard ${i} (${url}) answered HTTP ${resp.status}`, { url, status: resp.status, shard: i });
        }
        bytes = await readExactly(resp, e.bytes);
      } catch (err) {
        if (!(err instanceof VitrineError)) {
          // The body broke off (connection reset, a proxy timing out).
          throw new VitrineError('NETWORK', `downloading shard ${i} (${url}) failed: ${messageOf(err)}`, { url, shard: i }, { cause: err });
        }
        if (err.code !== 'SHARD_MISMATCH') throw err;
        last = err;
        continue;
      }
      try {
        const m = this._verify(i, bytes);
        if (cache) {
          const headers = { 'content-type': 'application/octet-stream', 'content-length': String(bytes.byteLength) };
          await Promise.resolve(cache.put(url, new Response(bytes, { headers }))).catch(() => {});
        }
        return m;
      } catch (err) {
        last = err;
      }
    }
    throw this._mismatch(i, url, last);
  }

  /**
   * Loads `bytes` as a bundle and checks it is shard `i` of this head.
   * @param {number} i @param {Uint8Array} bytes
   */
  _verify(i, bytes) {
    const w = this._wasm;
    let raw;
    try {
      raw = w.Model.fromBytes(bytes, this._maxBytes);
    } catch (e) {
      throw toVitrineError(e);
    }
    try {
      this.head.raw.checkShard(raw, i);
    } catch (e) {
      raw.free();
      throw toVitrineError(e);
    }
    return new Vitrine(raw, this.variant, w);
  }

  /** @param {number} i @param {string} url @param {any} cause */
  _mismatch(i, url, cause) {
    const c = cause ? toVitrineError(cause) : null;
    const why = !c ? 'no copy could be read' : c.code === 'SHARD_MISMATCH' ? c.message : `it does not load (${c.code}: ${c.message})`;
    return new VitrineError(
      'SHARD_MISMATCH',
      `shard ${i} (${url}) does not match its head ${this.modelId}, from the cache nor the network: ${why}`,
      { shard: i, url, reason: c?.code },
      { cause: c ?? undefined },
    );
  }

  /** The head and the loaded shards that can hold items of `categories`. */
  _scored(/** @type {string[] | undefined} */ categories) {
    const idx = new Set(this._needed(categories));
    return [this.head, ...this._models.filter((m, i) => m !== null && idx.has(i))];
  }

  /**
   * @param {Vitrine[]} models @param {(m: Vitrine) => any[]} run
   * @param {number} k @param {any} opts
   */
  _merge(models, run, k, opts) {
    /** @type {Map<string, number>} */
    const best = new Map();
    for (const m of models) {
      for (const s of run(m)) {
        const prev = best.get(s.id);
        // The head's items are also in their shard, with the same bytes: the same score.
        if (prev === undefined || s.score > prev) best.set(s.id, s.score);
      }
    }
    const items = [...best].map(([id, score]) => ({ id, score }));
    items.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    items.length = Math.min(items.length, k);
    // Unknown: held by no loaded file and in the id range of no shard still
    // to load (exact once those shards are loaded).
    const loaded = [this.head, ...this._models.filter((m) => m !== null)];
    const unknown = (/** @type {string} */ id) =>
      !loaded.some((m) => m.has(id)) && this._candidates(id).every((i) => this._models[i] !== null);
    const unknownExcludes = new Set((opts.exclude ?? []).filter(unknown)).size;
    const known = new Set(this.head.info().categories);
    const unknownCategories = new Set((opts.categories ?? []).filter((/** @type {string} */ c) => !known.has(c))).size;
    return scoredList(items, unknownExcludes, unknownCategories);
  }

  /** @param {any} options */
  _split(options) {
    return readingArgument('options', () => {
      if (options != null && !isOptionsObject(options)) badArg(`options must be an object, got ${describe(options)}`);
      const { shards = 'needed', ...rest } = options ?? {};
      if (!SCOPES.has(shards)) badArg(`options.shards must be 'loaded', 'needed' or 'all', got ${describe(shards)}`);
      return { shards, opts: checkRecOptions(rest) };
    });
  }

  /**
   * Top-k for a user vector over the whole catalogue. `shards`:
   * `'needed'` (default) fetches the shards the filter can match first
   * (the categories' shards of a category-sharded bundle; all otherwise);
   * `'all'` fetches every shard; `'loaded'` scores the head and the shards
   * already loaded without waiting (a first answer at once). The list has
   * non-enumerable `complete` (every shard the filter can match was scored)
   * and `unknownExcludes` / `unknownCategories` as `recommend` of a model.
   * @param {Float32Array | Float64Array | number[]} userVector
   * @param {any} [options] RecOptions plus `shards`
   */
  async recommend(userVector, options) {
    this._alive();
    const { shards, opts } = this._split(options);
    const user = checkUserVector(userVector, this.dim);
    if (shards !== 'loaded') await this._ensure(this._needed(shards === 'all' ? undefined : opts.categories));
    this._alive();
    const models = this._scored(opts.categories);
    const list = this._merge(models, (m) => m.recommend(user, opts), opts.k ?? 10, opts);
    return this._complete(list, opts.categories);
  }

  /**
   * Most popular items: the head's (cold start, no download) merged with
   * the loaded shards'. Exact for `k` up to the head's size without filters,
   * and up to a tenth of it per category; `loadShards` first for more.
   * @param {any} [options] RecOptions
   */
  popular(options) {
    this._alive();
    const opts = checkRecOptions(options);
    const list = this._merge(this._scored(opts.categories), (m) => m.popular(opts), opts.k ?? 10, opts);
    return this._complete(list, opts.categories);
  }

  /** @param {any} list @param {string[] | undefined} categories */
  _complete(list, categories) {
    const complete = this._needed(categories).every((i) => this._models[i] !== null);
    Object.defineProperty(list, 'complete', { value: complete, enumerable: false });
    return list;
  }

  /**
   * The shards that may hold `id`: those whose first..last id range covers it.
   * @param {string} id
   */
  _candidates(id) {
    const enc = new TextEncoder();
    const b = enc.encode(id);
    const cmp = (/** @type {string} */ s) => compareBytes(b, enc.encode(s));
    return this._table.shards
      .map((/** @type {any} */ s, /** @type {number} */ i) => ({ s, i }))
      .filter(({ s }) => cmp(s.firstId) >= 0 && cmp(s.lastId) <= 0)
      .map(({ i }) => i);
  }

  /** @param {string} id @returns {Promise<Vitrine | null>} the head or the shard holding `id` */
  async _holder(id) {
    checkId(id);
    this._alive();
    if (this.head.has(id)) return this.head;
    for (const i of this._candidates(id)) {
      const m = await this._shard(i);
      if (m.has(id)) return m;
    }
    return null;
  }

  /**
   * Catalogue attributes of one item, fetching its shard if needed
   * (an id-range shard is found by binary search on the ids; a category
   * shard by its id range). UNKNOWN_ITEM if no shard holds it.
   * @param {string} id
   */
  async item(id) {
    const m = await this._holder(id);
    if (!m) throw new VitrineError('UNKNOWN_ITEM', `unknown item id "${id}"`);
    return m.item(id);
  }

  /** @param {string} id @returns {Promise<Float32Array>} */
  async itemVector(id) {
    const m = await this._holder(id);
    if (!m) throw new VitrineError('UNKNOWN_ITEM', `unknown item id "${id}"`);
    return m.itemVector(id);
  }

  /** @param {string} id @returns {Promise<boolean>} */
  async has(id) {
    return (await this._holder(id)) !== null;
  }

  /** Head info plus the shard table. */
  info() {
    this._alive();
    return { ...this.head.info(), modelId: this.modelId, by: this.by, totalItems: this.nItems, shards: this.shards() };
  }

  /** Frees the head and every loaded shard. Safe to call twice. */
  dispose() {
    if (this._disposed) return;
    this._disposed = true;
    for (const m of this._models) m?.dispose();
    this._models = this._models.map(() => null);
    this.head.dispose();
  }

  /** @returns {boolean} */
  get disposed() {
    return this._disposed;
  }
}

/** @param {Uint8Array} a @param {Uint8Array} b */
function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}
