// vitrine shopper: the shopper's history, kept on this device only.
//
//   import { load } from './vitrine.js';
//   import { createShopper } from './shopper.js';
//   const shopper = createShopper(await load('/models/demo.vtr'), { storage: 'localStorage' });
//   shopper.track({ type: 'view', item: 'item-42' });
//   const { items } = shopper.recommend({ k: 10 }); // [{id, score, reason}]
//
// Nothing here talks to the network: events go to IndexedDB / localStorage
// (or nowhere, with storage: 'none') and into the wasm model's fold-in.

import { VitrineError } from './vitrine.js';

/** @typedef {'view' | 'cart' | 'purchase' | 'search'} EventType */
/** @typedef {{type: EventType, item: string, ts: number}} ShopperEvent */
/**
 * @typedef {object} ShopperOptions
 * @property {'indexeddb' | 'localStorage' | 'none'} [storage] default 'localStorage' when available
 * @property {string} [key] storage key (one profile per key), default 'vitrine.history'
 * @property {number} [cap] events kept, oldest dropped first (default 500)
 * @property {number} [sessionGapMinutes] inactivity that ends a session (default 30)
 * @property {number} [halfLifeDays] older events count less (default: no decay)
 * @property {{view?: number, cart?: number, purchase?: number, search?: number}} [weights]
 * @property {(w: {code: string, message: string}) => void} [onWarning]
 * @property {() => number} [now] clock (ms), for tests
 */

export const SCHEMA = 'vitrine.history';
export const VERSION = 1;
export const EVENT_TYPES = Object.freeze(['view', 'cart', 'purchase', 'search']);
const FUTURE_SLACK_MS = 5 * 60_000;

/** Shopper errors are `VitrineError`s (codes here: `INVALID_EVENT`, `INVALID_ARGUMENT`). */
export const ShopperError = VitrineError;

/**
 * Checks one stored event; returns a clean copy or null.
 * @param {any} e
 * @returns {ShopperEvent | null}
 */
function storedEvent(e) {
  if (!e || typeof e !== 'object') return null;
  if (!EVENT_TYPES.includes(e.type) || typeof e.item !== 'string' || e.item.length === 0) return null;
  if (typeof e.ts !== 'number' || !Number.isFinite(e.ts)) return null;
  return { type: e.type, item: e.item, ts: e.ts };
}

/**
 * Validates a storage record. Anything not exactly ours → null (never mixed in).
 * @param {any} rec
 * @returns {ShopperEvent[] | null}
 */
export function parseRecord(rec) {
  if (!rec || typeof rec !== 'object' || rec.schema !== SCHEMA || rec.version !== VERSION) return null;
  if (!Array.isArray(rec.events)) return null;
  const out = [];
  for (const e of rec.events) {
    const c = storedEvent(e);
    if (!c) return null; // one bad event means the record is not ours or is damaged
    out.push(c);
  }
  return out;
}

const KINDS = ['history', 'neighbour', 'popular', 'segment', 'pinned', 'history'];

/**
 * @typedef {{kind: 'history' | 'neighbour' | 'popular' | 'segment' | 'pinned', item?: string, weight?: number, segment?: number}} Reason
 * @typedef {{items: {id: string, score: number, reason: Reason}[], unknownItems: number, clampedEvents: number, unknownCandidates: number, coldStart: boolean}} RankedList
 */

/**
 * Turns the packed wasm result (typed arrays + concatenated strings, one
 * boundary crossing per field instead of several per item) into objects.
 * @param {any} p
 * @returns {RankedList}
 */
export function unpackRanked(p) {
  const n = p.scores.length;
  const items = new Array(n);
  let io = 0;
  let ro = 0;
  for (let i = 0; i < n; i++) {
    const id = p.ids.substr(io, p.idLens[i]);
    io += p.idLens[i];
    const rl = p.reasonLens[i];
    const kind = p.kinds[i];
    /** @type {Reason} */
    const reason = { kind: /** @type {any} */ (KINDS[kind] ?? 'popular') };
    if (rl > 0) reason.item = p.reasonItems.substr(ro, rl);
    ro += rl;
    if (!Number.isNaN(p.weights[i])) reason.weight = p.weights[i];
    if (kind === 3) reason.segment = p.segments[i];
    items[i] = { id, score: p.scores[i], reason };
  }
  return {
    items,
    unknownItems: p.unknownItems,
    clampedEvents: p.clampedEvents,
    unknownCandidates: p.unknownCandidates,
    coldStart: p.coldStart,
  };
}

/** @param {ShopperEvent[]} events */
function record(events) {
  return { schema: SCHEMA, version: VERSION, events };
}

// ---- storage backends ------------------------------------------------------

/** @param {string} key @param {(code: string, msg: string) => void} warn */
function localStore(key, warn) {
  const ls = globalThis.localStorage;
  return {
    kind: 'localStorage',
    async read() {
      let raw;
      try {
        raw = ls.getItem(key);
      } catch (e) {
        warn('STORAGE_UNAVAILABLE', `localStorage cannot be read: ${e && e.message}`);
        return [];
      }
      if (raw === null) return [];
      let rec;
      try {
        rec = JSON.parse(raw);
      } catch {
        rec = undefined;
      }
      const events = parseRecord(rec);
      if (!events) {
        warn('CORRUPT_RECORD', `discarded an unreadable or foreign history record under "${key}"`);
        try {
          ls.removeItem(key);
        } catch {
          /* ignore */
        }
        return [];
      }
      return events;
    },
    /** @param {ShopperEvent[]} events */
    async write(events) {
      try {
        ls.setItem(key, JSON.stringify(record(events)));
        return true;
      } catch (e) {
        warn('QUOTA', `localStorage refused the history (${e && e.name}); keeping it in memory only`);
        return false;
      }
    },
    async clear() {
      try {
        ls.removeItem(key);
      } catch {
        /* ignore */
      }
    },
  };
}

/** @param {string} key @param {(code: string, msg: string) => void} warn */
function indexedStore(key, warn) {
  const DB = 'vitrine';
  const STORE = 'history';
  /** @type {Promise<IDBDatabase> | null} */
  let dbp = null;
  const open = () =>
    (dbp ??= new Promise((resolve, reject) => {
      const req = indexedDB.open(DB, 1);
      req.onupgradeneeded = () => {
        if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE);
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    }));
  /** @param {IDBTransactionMode} mode @param {(s: IDBObjectStore) => IDBRequest} f */
  const run = async (mode, f) => {
    const db = await open();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = f(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  };
  return {
    kind: 'indexeddb',
    async read() {
      let rec;
      try {
        rec = await run('readonly', (s) => s.get(key));
      } catch (e) {
        warn('STORAGE_UNAVAILABLE', `IndexedDB cannot be read: ${e && e.message}`);
        return [];
      }
      if (rec === undefined) return [];
      const events = parseRecord(rec);
      if (!events) {
        warn('CORRUPT_RECORD', `discarded an unreadable or foreign history record under "${key}"`);
        await run('readwrite', (s) => s.delete(key)).catch(() => {});
        return [];
      }
      return events;
    },
    /** @param {ShopperEvent[]} events */
    async write(events) {
      try {
        await run('readwrite', (s) => s.put(record(events), key));
        return true;
      } catch (e) {
        warn('QUOTA', `IndexedDB refused the history (${e && e.name}); keeping it in memory only`);
        return false;
      }
    },
    async clear() {
      await run('readwrite', (s) => s.delete(key)).catch(() => {});
    },
  };
}

function memoryStore() {
  return { kind: 'none', read: async () => [], write: async () => true, clear: async () => {} };
}

// ---- the shopper -------------------------------------------------------------

/**
 * @param {{raw: any, dim: number}} vitrine the object returned by `load()` in vitrine.js
 * @param {ShopperOptions} [options]
 */
export function createShopper(vitrine, options = {}) {
  if (!vitrine || !vitrine.raw) {
    throw new ShopperError('INVALID_ARGUMENT', 'createShopper needs the model returned by load()');
  }
  const {
    storage = globalThis.localStorage ? 'localStorage' : 'none',
    key = 'vitrine.history',
    cap = 500,
    sessionGapMinutes = 30,
    halfLifeDays,
    weights,
    onWarning,
    now = Date.now,
  } = options;
  if (!['indexeddb', 'localStorage', 'none'].includes(storage)) {
    throw new ShopperError('INVALID_ARGUMENT', `storage must be 'indexeddb', 'localStorage' or 'none', got ${storage}`);
  }
  if (!(Number.isInteger(cap) && cap > 0)) throw new ShopperError('INVALID_ARGUMENT', 'cap must be a positive integer');
  /** @param {string} code @param {string} message */
  const warn = (code, message) => {
    console.warn(`vitrine shopper: ${message}`);
    if (onWarning) onWarning({ code, message });
  };
  const store =
    storage === 'none'
      ? memoryStore()
      : storage === 'indexeddb'
        ? globalThis.indexedDB
          ? indexedStore(key, warn)
          : (warn('STORAGE_UNAVAILABLE', 'IndexedDB is not available; history stays in memory'), memoryStore())
        : globalThis.localStorage
          ? localStore(key, warn)
          : (warn('STORAGE_UNAVAILABLE', 'localStorage is not available; history stays in memory'), memoryStore());

  /** @type {ShopperEvent[]} */
  let events = [];
  let writes = Promise.resolve();
  const ready = store.read().then((ev) => {
    // Events tracked before the read finished come after the stored ones.
    events = ev.concat(events).slice(-cap);
  });
  const persist = () => {
    const snapshot = events.slice();
    writes = writes.then(() => store.write(snapshot)).then(() => undefined);
    return writes;
  };
  const profileOptions = () => {
    /** @type {Record<string, any>} */
    const o = { now: now(), sessionGapMinutes };
    if (halfLifeDays !== undefined) o.halfLifeDays = halfLifeDays;
    if (weights !== undefined) o.weights = weights;
    return o;
  };
  /** @template T @param {() => T} f @returns {T} */
  const call = (f) => {
    try {
      return f();
    } catch (e) {
      if (e && typeof e === 'object' && 'code' in e) throw e;
      throw new ShopperError('INVALID_ARGUMENT', String(e && e.message ? e.message : e));
    }
  };

  return {
    /** Resolves once the stored history has been read. */
    ready,
    /** Where the history lives: 'indexeddb' | 'localStorage' | 'none'. */
    storage: store.kind,

    /**
     * Records an event on this device. `ts` defaults to now; a `ts` more than
     * 5 minutes in the future is clamped to now with a warning.
     * @param {{type: EventType, item: string, ts?: number}} ev
     * @returns {Promise<void>} settles when stored
     */
    track(ev) {
      if (!ev || typeof ev !== 'object') throw new ShopperError('INVALID_EVENT', 'track() needs {type, item, ts?}');
      if (!EVENT_TYPES.includes(ev.type)) {
        throw new ShopperError('INVALID_EVENT', `unknown event type ${JSON.stringify(ev.type)}; expected ${EVENT_TYPES.join(', ')}`);
      }
      if (typeof ev.item !== 'string' || ev.item.length === 0) {
        throw new ShopperError('INVALID_EVENT', 'event item must be a non-empty string id');
      }
      const t = now();
      let ts = ev.ts === undefined ? t : ev.ts;
      if (typeof ts !== 'number' || !Number.isFinite(ts)) {
        throw new ShopperError('INVALID_EVENT', `event ts must be a finite number of ms since the epoch, got ${JSON.stringify(ev.ts)}`);
      }
      if (ts > t + FUTURE_SLACK_MS) {
        warn('FUTURE_TS', `event time ${ts} is in the future; clamped to now`);
        ts = t;
      }
      events.push({ type: ev.type, item: ev.item, ts });
      if (events.length > cap) events.splice(0, events.length - cap);
      return ready.then(persist);
    },

    /** @returns {ShopperEvent[]} a copy, oldest first */
    history() {
      return events.map((e) => ({ ...e }));
    },

    /** Events split at gaps longer than `sessionGapMinutes`. @returns {ShopperEvent[][]} */
    sessions() {
      const sorted = events.slice().sort((a, b) => a.ts - b.ts);
      /** @type {ShopperEvent[][]} */
      const out = [];
      for (const e of sorted) {
        const cur = out[out.length - 1];
        if (cur && e.ts - cur[cur.length - 1].ts <= sessionGapMinutes * 60_000) cur.push({ ...e });
        else out.push([{ ...e }]);
      }
      return out;
    },

    /** Wipes the history from memory and storage. */
    async forget() {
      events = [];
      await writes.catch(() => {});
      await store.clear();
    },

    /** The folded-in user vector (zeros for an empty history). */
    userVector() {
      return call(() => vitrine.raw.foldIn(events, profileOptions())).vector;
    },

    /**
     * Personalized top-k over the catalogue, with reasons.
     * @param {Record<string, any>} [opts] k, blend, mmrLambda, pin, boost, bury, exclude, categoryCap, categories, priceMin, priceMax, inStockOnly, segment, reasonDepth
     * @returns {RankedList}
     */
    recommend(opts = {}) {
      return unpackRanked(call(() => vitrine.raw.recommendFor(events, { ...profileOptions(), ...opts })));
    },

    /**
     * Reranks any candidate list (server results, search, a category page).
     * @param {string[]} ids
     * @param {Record<string, any>} [opts]
     */
    rerank(ids, opts = {}) {
      return unpackRanked(call(() => vitrine.raw.rerank(ids, { ...profileOptions(), ...opts, events })));
    },

    /** Nearest segment `{index, name, distance}`, or null (no segments, no GRAM or no history). */
    segment() {
      if (events.length === 0) return null;
      let r;
      try {
        r = vitrine.raw.foldIn(events, profileOptions());
      } catch (e) {
        // A bundle without GRAM cannot fold in: no segment, not an error.
        if (e && e.code === 'MISSING_CAPABILITY') return null;
        throw e;
      }
      return call(() => vitrine.raw.segment(r.vector));
    },

    /**
     * Why `id` scores as it does: exact per-history-item contributions.
     * @param {string} id
     */
    explain(id) {
      return call(() => vitrine.raw.explain(events, id, profileOptions()));
    },
  };
}
