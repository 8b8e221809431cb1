// vitrine shopper: the shopper's history, kept on this device only.
//
//   import { load } from './vitrine.js';
//   import { createShopper } from './shopper.js';
//   const shopper = createShopper(await load('/models/demo.vtr'), { storage: 'indexeddb' });
//   shopper.track({ type: 'view', item: 'item-42' });
//   const { items } = shopper.recommend({ k: 10 }); // [{id, score, reason}]
//
// Nothing here talks to the network: events go to IndexedDB / localStorage
// (or nowhere, with storage: 'none') and into the wasm model's fold-in.
//
// Over a model from `loadInWorker()` the same shopper keeps the history here
// and sends each ranking call, with the history of that moment, to the
// worker; its ranking methods then return Promises (`shopper.async`).
//
// Storage model (docs/shopper.md, "Storage"): the stored record is the truth
// that every tab of the site shares. A tab holds what it last read plus the
// events it tracked and has not written yet; a write reads the record, appends
// those events and writes it back inside one transaction (IndexedDB) or one
// Web Lock (localStorage), so two tabs never lose each other's events. Other
// tabs learn of a write or a forget through a BroadcastChannel, the
// IndexedDB `versionchange` of the deleted database, or the `storage` event.
// localStorage copies lag between tabs in Chromium, so there a tab also
// writes again its events that another tab's record lacks (`heal`) and takes
// out what was tracked before another tab's forget (`forgotten`).
// `forget()` drops everything in memory at once, so no write queued before it
// can carry old events back, and then deletes the record (the whole database
// for IndexedDB).

import { VitrineError, toVitrineError } from './vitrine.js';

/** @typedef {'view' | 'cart' | 'purchase' | 'search'} EventType */
/** @typedef {{type: EventType, item: string, ts: number}} ShopperEvent */
/**
 * @typedef {ShopperEvent & {id?: string, at?: number}} StoredEvent `id`: which tab tracked it, `at`: when
 * (clock()); they let tabs sharing localStorage repair each other's writes
 */

/** Wall-clock ms with sub-ms steps where there are (same-millisecond track and forget in two tabs). */
const clock = () => (typeof performance !== 'undefined' && performance.timeOrigin ? performance.timeOrigin + performance.now() : Date.now());

export const SCHEMA = 'vitrine.history';
export const VERSION = 1;
export const EVENT_TYPES = Object.freeze(['view', 'cart', 'purchase', 'search']);
/**
 * Codes passed to `onWarning` (never thrown): the shopper keeps working, in
 * memory if storage is gone.
 */
export const WARNING_CODES = Object.freeze([
  'STORAGE_UNAVAILABLE', // no storage, or access throws (blocked cookies, sandboxed iframe, opaque origin)
  'QUOTA', // the browser refused the write for space; history kept in memory, retried on the next track
  'CORRUPT_RECORD', // a stored record was unreadable or not ours; discarded and removed
  'FOREIGN_DATABASE', // the IndexedDB database under our name has another layout; left alone, memory only
  'STORAGE_ERROR', // any other storage failure; history kept in memory, retried on the next track
  'FUTURE_TS', // an event time more than 5 minutes ahead was clamped to now
]);
/** IndexedDB: one database per profile `key`, named so it will not meet another library's. */
export const DB_PREFIX = 'vitrine.shopper/';
/** The database earlier versions shared (one store "history", records keyed by `key`); read once to migrate. */
const LEGACY_DB = 'vitrine';
const STORE = 'history';
const RECORD_KEY = 'record';
const DB_VERSION = 1;
/** BroadcastChannel and Web Lock names are per profile key, like the database. */
const CHANNEL_PREFIX = 'vitrine.shopper/';
/**
 * Side records in localStorage (the one store a page can write synchronously
 * while it goes away). IndexedDB shoppers: events tracked but not yet in the
 * database when the page was hidden or left, merged by the next shopper to
 * start. Both kinds: the time of a `forget()` whose deletion may not have
 * run (localStorage: also how other tabs learn the forget's time in order).
 */
const UNSAVED_PREFIX = 'vitrine.shopper.unsaved/';
const FORGOT_PREFIX = 'vitrine.shopper.forgot/';
/**
 * Web Lock a tab holds from its `forget()` until that forget is done. Its mark
 * (FORGOT_PREFIX) is how the other tabs date the forget's second removal, so a
 * shopper starting meanwhile leaves the mark to it; a mark whose lock nobody
 * holds is from a page that went before its forget finished.
 */
const FORGETTING_PREFIX = 'vitrine.shopper.forgetting/';
const FUTURE_SLACK_MS = 5 * 60_000;
/** Longest array accepted from the caller (candidate ids, exclude, ...). */
const MAX_LIST = 1_000_000;
const MAX_CAP = 100_000;

/** Shopper errors are `VitrineError`s (codes: `INVALID_EVENT`, `INVALID_ARGUMENT`, `DISPOSED`, `INTERNAL`, and the engine's). */
export const ShopperError = VitrineError;

const hasOwn = (/** @type {object} */ o, /** @type {PropertyKey} */ k) => Object.prototype.hasOwnProperty.call(o, k);

/** @param {unknown} e */
function errText(e) {
  try {
    if (e && typeof e === 'object' && 'message' in e) return String(/** @type {any} */ (e).message);
    return String(e);
  } catch {
    return 'unprintable error';
  }
}

/**
 * An own property of a caller's object, never one inherited from a polluted
 * prototype; a throwing getter or proxy trap becomes a typed error.
 * @param {object} o @param {string} k @param {string} code @param {string} what
 */
function ownProp(o, k, code, what) {
  try {
    return hasOwn(o, k) ? /** @type {any} */ (o)[k] : undefined;
  } catch (e) {
    throw new VitrineError(code, `${what} could not be read: ${errText(e)}`, {}, { cause: e });
  }
}

/**
 * A copy of caller data made of own properties only (objects without a
 * prototype, dense arrays), for the wasm, which reads properties through the
 * prototype chain: `Object.prototype.categories = [...]` must not filter.
 * @param {unknown} v @param {string} path @param {number} [depth]
 * @returns {any}
 */
function plainCopy(v, path, depth = 0) {
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'function') throw new VitrineError('INVALID_ARGUMENT', `${path} must not be a function`);
    return v;
  }
  if (depth > 4) throw new VitrineError('INVALID_ARGUMENT', `${path} is nested too deeply`);
  if (Array.isArray(v)) {
    const n = v.length;
    if (n > MAX_LIST) throw new VitrineError('INVALID_ARGUMENT', `${path} has ${n} entries; at most ${MAX_LIST} are accepted`);
    const out = new Array(n);
    for (let i = 0; i < n; i++) {
      if (!hasOwn(v, i)) {
        out[i] = undefined; // a hole reads as undefined, never as Array.prototype[i]
        continue;
      }
      const x = v[i];
      // Primitives as they are: no path string per element (a million ids took ~100 ms more).
      out[i] = x === null || (typeof x !== 'object' && typeof x !== 'function') ? x : plainCopy(x, `${path}[${i}]`, depth + 1);
    }
    return out;
  }
  if (ArrayBuffer.isView(v)) return v;
  const out = Object.create(null);
  for (const k of Object.keys(v)) out[k] = plainCopy(/** @type {any} */ (v)[k], `${path}.${k}`, depth + 1);
  return out;
}

/** @param {unknown} v @param {string} path */
function readPlain(v, path) {
  try {
    return plainCopy(v, path);
  } catch (e) {
    if (e instanceof VitrineError) throw e;
    throw new VitrineError('INVALID_ARGUMENT', `${path} could not be read: ${errText(e)}`, {}, { cause: e });
  }
}

/**
 * Checks one stored event; returns a clean copy or null.
 * @param {any} e
 * @returns {ShopperEvent | null}
 */
function storedEvent(e) {
  if (!e || typeof e !== 'object') return null;
  const type = hasOwn(e, 'type') ? e.type : undefined;
  const item = hasOwn(e, 'item') ? e.item : undefined;
  const ts = hasOwn(e, 'ts') ? e.ts : undefined;
  if (!EVENT_TYPES.includes(type) || typeof item !== 'string' || item.length === 0) return null;
  if (typeof ts !== 'number' || !Number.isFinite(ts)) return null;
  /** @type {StoredEvent} */
  const out = { type, item, ts };
  const id = hasOwn(e, 'id') ? e.id : undefined;
  const at = hasOwn(e, 'at') ? e.at : undefined;
  if (typeof id === 'string' && id.length > 0 && id.length <= 64) out.id = id;
  if (typeof at === 'number' && Number.isFinite(at)) out.at = at;
  return out;
}

/**
 * Validates a storage record. Anything not exactly ours → null (never mixed in).
 * @param {any} rec
 * @returns {ShopperEvent[] | null}
 */
export function parseRecord(rec) {
  try {
    if (!rec || typeof rec !== 'object' || !hasOwn(rec, 'schema') || rec.schema !== SCHEMA || rec.version !== VERSION) return null;
    if (!hasOwn(rec, 'events') || !Array.isArray(rec.events)) return null;
    const out = [];
    for (const e of rec.events) {
      const c = storedEvent(e);
      if (!c) return null; // one bad event means the record is not ours or is damaged
      out.push(c);
    }
    return out;
  } catch {
    return null; // a record that throws when read (a proxy, a getter) is not ours either
  }
}

/** @param {ShopperEvent[]} events */
function record(events) {
  return {
    schema: SCHEMA,
    version: VERSION,
    events: events.map((/** @type {StoredEvent} */ e) => {
      /** @type {StoredEvent} */
      const c = { type: e.type, item: e.item, ts: e.ts };
      if (e.id !== undefined) c.id = e.id;
      if (e.at !== undefined) c.at = e.at;
      return c;
    }),
  };
}

/**
 * The stored events with `add` appended, in time order (ties keep arrival
 * order), the oldest dropped beyond `cap`.
 * @param {ShopperEvent[]} base @param {ShopperEvent[]} add @param {number} cap
 */
function mergeEvents(base, add, cap) {
  if (add.length > 0) {
    const ids = new Set(base.map((/** @type {StoredEvent} */ e) => e.id).filter(Boolean));
    add = add.filter((/** @type {StoredEvent} */ e) => !e.id || !ids.has(e.id)); // already stored (a retried write)
  }
  const out = add.length === 0 ? base.slice() : base.concat(add).sort((a, b) => a.ts - b.ts);
  return out.length > cap ? out.slice(out.length - cap) : out;
}

/** @param {StoredEvent} e */
const eventKey = (e) => e.id ?? `${e.type}\u0000${e.item}\u0000${e.ts}`;

const KINDS = ['history', 'neighbour', 'popular', 'segment', 'pinned', 'history'];

/**
 * @typedef {{kind: 'history' | 'neighbour' | 'popular' | 'segment' | 'pinned', item?: string, weight?: number, segment?: number, feature?: string}} Reason
 * @typedef {{items: {id: string, score: number, reason: Reason, promoted?: true}[], unknownItems: number, clampedEvents: number, unknownCandidates: number, coldStart: boolean, ranker: 'learned' | 'blend'}} RankedList
 */

/**
 * Turns the packed wasm result (typed arrays + concatenated strings, one
 * boundary crossing per field instead of several per item) into objects.
 * @param {any} p
 * @returns {RankedList}
 */
export function unpackRanked(p) {
  /** @param {unknown} cause @returns {never} */
  const refuse = (cause) => {
    throw new VitrineError('INVALID_ARGUMENT', 'unpackRanked needs the packed result of the wasm Model\'s recommendFor or rerank', {}, { cause });
  };
  let ok = false;
  try {
    ok = p !== null && typeof p === 'object' && p.scores instanceof Float32Array && typeof p.ids === 'string' &&
      ['idLens', 'reasonLens', 'kinds', 'weights'].every((k) => ArrayBuffer.isView(p[k]) && p[k].length >= p.scores.length);
  } catch (e) {
    refuse(e);
  }
  if (!ok) refuse(undefined);
  try {
    return unpack(p);
  } catch (e) {
    return refuse(e);
  }
}

/** @param {any} p @returns {RankedList} */
function unpack(p) {
  const n = p.scores.length;
  const items = new Array(n);
  let io = 0;
  let ro = 0;
  // The learned ranker's path: the feature behind each reason, by name.
  const names = p.features ? String(p.featureNames).split(',') : null;
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
    if (names && names[p.features[i]] !== undefined) reason.feature = names[p.features[i]];
    items[i] = { id, score: p.scores[i], reason };
    // A promotion's slot (options.promotion; src/placements/business.rs).
    if (p.promoted?.[i] === 1) items[i].promoted = true;
  }
  return {
    items,
    unknownItems: p.unknownItems,
    clampedEvents: p.clampedEvents,
    unknownCandidates: p.unknownCandidates,
    coldStart: p.coldStart,
    ranker: names ? 'learned' : 'blend',
  };
}

// ---- storage backends ------------------------------------------------------
//
// Each backend: `read()` → events ([] when there is nothing), `update(f)` runs
// f(stored events) → events to store (or null: store nothing) atomically
// against other tabs and returns what was stored, `destroy()` removes every
// trace, `listen(signal)` reports other tabs' changes ('changed' | 'forget' |
// 'removed', with the forget's time when it is known).
// Failures are thrown as platform errors (or StorageFailure) and classified
// by the shopper.

class StorageFailure extends Error {
  /** @param {string} code @param {string} message @param {boolean} fatal */
  constructor(code, message, fatal) {
    super(message);
    this.code = code;
    this.fatal = fatal;
  }
}

/**
 * The warning code for a storage failure, and whether storage is gone for
 * this page (then the shopper continues in memory).
 * @param {unknown} e
 * @returns {{code: string, fatal: boolean}}
 */
function classify(e) {
  if (e instanceof StorageFailure) return { code: e.code, fatal: e.fatal };
  let name = '';
  let legacyCode;
  try {
    name = e && typeof e === 'object' ? String(/** @type {any} */ (e).name) : '';
    legacyCode = e && typeof e === 'object' ? /** @type {any} */ (e).code : undefined;
  } catch {
    /* an unreadable error: STORAGE_ERROR */
  }
  if (name === 'QuotaExceededError' || legacyCode === 22) return { code: 'QUOTA', fatal: false };
  if (name === 'SecurityError') return { code: 'STORAGE_UNAVAILABLE', fatal: true };
  if (name === 'VersionError' || name === 'NotFoundError') return { code: 'FOREIGN_DATABASE', fatal: true };
  return { code: 'STORAGE_ERROR', fatal: false };
}

/** @param {ShopperEvent[]} [initial] */
function memoryBackend(initial = []) {
  let data = initial.slice();
  return {
    kind: /** @type {const} */ ('none'),
    read: async () => data.slice(),
    /** @param {(cur: ShopperEvent[]) => ShopperEvent[] | null} f */
    update: async (f) => {
      const next = f(data.slice());
      if (next) data = next;
      return next;
    },
    destroy: async () => {
      data = [];
    },
    listen: () => {},
    close: () => {},
  };
}

/** The page's Web Locks, or null (older browsers, Node). */
function webLocks() {
  const locks = /** @type {any} */ (globalThis).navigator?.locks;
  return locks && typeof locks.request === 'function' ? locks : null;
}

/**
 * Holds the Web Lock `name` until the returned function is called. Without
 * Web Locks, or when the request is refused, nothing is held.
 * @param {string} name @returns {() => void}
 */
function holdLock(name) {
  const locks = webLocks();
  /** @type {() => void} */
  let release = () => {};
  if (!locks) return release;
  const released = new Promise((r) => (release = () => r(undefined)));
  try {
    Promise.resolve(locks.request(name, () => released)).catch(() => {});
  } catch {
    /* refused: nothing is held */
  }
  return release;
}

/**
 * Whether some tab holds or waits for the Web Lock `name`. False when that
 * cannot be known (no Web Locks, or `query` fails).
 * @param {string} name @returns {Promise<boolean>}
 */
async function lockInUse(name) {
  const locks = webLocks();
  if (!locks || typeof locks.query !== 'function') return false;
  try {
    const q = await locks.query();
    return [...(q?.held ?? []), ...(q?.pending ?? [])].some((l) => l?.name === name);
  } catch {
    return false;
  }
}

/**
 * @param {Storage} ls @param {string} key
 * @param {(code: string, message: string) => void} warn
 */
function localBackend(ls, key, warn) {
  const markKey = FORGOT_PREFIX + key;
  /** @param {string | null} raw */
  const parse = (raw) => {
    if (raw === null) return [];
    let rec;
    try {
      rec = JSON.parse(raw);
    } catch {
      rec = undefined;
    }
    const events = parseRecord(rec);
    if (events) return events;
    warn('CORRUPT_RECORD', `discarded an unreadable or foreign history record under "${key}"`);
    try {
      ls.removeItem(key);
    } catch {
      /* the next write replaces it */
    }
    return [];
  };
  /** @type {((e: any) => void) | null} */
  let listener = null;
  const locks = webLocks();
  // One tab at a time from read to write; `run` is synchronous, so without
  // Web Locks the read-merge-write is still atomic within this page. Across
  // tabs Chromium's per-tab copy of localStorage can lag behind the lock
  // (docs/shopper.md: IndexedDB is the backend for exact merges).
  /** @template T @param {() => T} run @returns {Promise<T>} */
  const locked = async (run) => (locks ? locks.request(CHANNEL_PREFIX + key, run) : run());
  /** @param {(cur: ShopperEvent[]) => ShopperEvent[] | null} f */
  const merge = (f) => {
    const next = f(parse(ls.getItem(key)));
    if (next) ls.setItem(key, JSON.stringify(record(next)));
    return next;
  };
  return {
    kind: /** @type {const} */ ('localStorage'),
    async read() {
      return parse(ls.getItem(key));
    },
    /** @param {(cur: ShopperEvent[]) => ShopperEvent[] | null} f */
    async update(f) {
      return locked(() => merge(f));
    },
    async destroy() {
      await locked(() => ls.removeItem(key));
    },
    /**
     * The same read-merge-write without the lock, for the page's end (the lock
     * is granted asynchronously, after the page may be gone). Synchronous, so
     * atomic within this tab; a queued locked write of the same events merges
     * nothing twice (events carry ids).
     */
    updateNow: merge,
    // forget() calls this at once, before the queued destroy(): a tab closed
    // or reloaded right after forget() (the lock and the queue are async)
    // must not leave the history on the device. A write already under the
    // lock filters out everything tracked before the forget. The mark goes
    // first: a removal's storage event carries no time, and another tab
    // that tracked after the forget but hears of it late must know which of
    // its events came after (storage events arrive in the order of writes).
    /** @param {number} at */
    wipeNow(at) {
      try {
        ls.setItem(markKey, String(at));
      } catch {
        /* full: other tabs fall back to dropping all they tracked before hearing of it */
      }
      ls.removeItem(key);
    },
    /** @param {(what: 'changed' | 'forget' | 'removed', newValue?: string, at?: number) => void} signal */
    listen(signal) {
      if (typeof globalThis.addEventListener !== 'function') return;
      /** The time of the forget in progress in another tab (its mark is up), if any. */
      let markAt;
      listener = (e) => {
        if (e.storageArea !== ls) return;
        if (e.key === markKey) {
          const m = typeof e.newValue === 'string' && e.newValue !== '' ? Number(e.newValue) : NaN;
          markAt = Number.isFinite(m) ? m : undefined;
          if (markAt !== undefined) signal('forget', undefined, markAt);
          return;
        }
        if (e.key === null) markAt = undefined; // clear(): no time known
        else if (e.key !== key) return;
        if (e.newValue !== null) signal('changed', e.newValue);
        else signal(markAt === undefined ? 'forget' : 'removed', undefined, markAt);
      };
      globalThis.addEventListener('storage', listener);
    },
    close() {
      if (listener) globalThis.removeEventListener('storage', listener);
      listener = null;
    },
  };
}

/**
 * Runs `body` in one transaction on STORE; resolves with what `body` sets
 * once the transaction has committed.
 * @param {IDBDatabase} db @param {IDBTransactionMode} mode
 * @param {(s: IDBObjectStore, set: (v: any) => void, tx: IDBTransaction) => void} body
 */
function inTx(db, mode, body) {
  return new Promise((resolve, reject) => {
    /** @type {IDBTransaction} */
    let tx;
    try {
      tx = db.transaction(STORE, mode);
    } catch (e) {
      reject(e);
      return;
    }
    /** @type {any} */
    let result;
    tx.oncomplete = () => resolve(result);
    tx.onerror = (ev) => ev.preventDefault(); // reported once, by onabort
    tx.onabort = () => reject(tx.error ?? new StorageFailure('STORAGE_ERROR', 'IndexedDB transaction aborted', false));
    try {
      body(tx.objectStore(STORE), (v) => (result = v), tx);
    } catch (e) {
      try {
        tx.abort();
      } catch {
        /* already finished */
      }
      reject(e);
    }
  });
}

/**
 * Opens `name` only if it exists (a read must not create an empty database:
 * after a forget, none must be left). Resolves null when there is none.
 * @param {IDBFactory} idb @param {string} name
 * @returns {Promise<IDBDatabase | null>}
 */
async function openExisting(idb, name) {
  if (typeof idb.databases === 'function') {
    let list = null;
    try {
      list = await idb.databases();
    } catch {
      /* fall back to open-and-abort */
    }
    if (list && !list.some((d) => d.name === name)) return null;
  }
  return new Promise((resolve, reject) => {
    const req = idb.open(name);
    let created = false;
    req.onupgradeneeded = (ev) => {
      if (ev.oldVersion === 0) {
        created = true;
        /** @type {IDBTransaction} */ (req.transaction).abort(); // a newly created database disappears again
      }
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = (ev) => {
      ev.preventDefault();
      if (created) resolve(null);
      else reject(req.error);
    };
  });
}

/**
 * Deletes a database; resolves once it is gone or, if another connection
 * blocks it, right away (the deletion then completes when that one closes).
 * @param {IDBFactory} idb @param {string} name
 */
function deleteDb(idb, name) {
  return new Promise((resolve, reject) => {
    const req = idb.deleteDatabase(name);
    req.onsuccess = () => resolve(true);
    req.onerror = (ev) => {
      ev.preventDefault();
      reject(req.error);
    };
    req.onblocked = () => resolve(false);
  });
}

/**
 * @param {IDBFactory} idb @param {string} key
 * @param {(code: string, message: string) => void} warn
 */
function indexedBackend(idb, key, warn) {
  const name = DB_PREFIX + key;
  /** @type {Promise<IDBDatabase | null> | null} */
  let conn = null;
  /** @type {((what: 'changed' | 'forget') => void) | null} */
  let signal = null;
  let legacyChecked = false;

  /** @param {boolean} create */
  const open = (create) => {
    if (conn) return conn;
    const p = (async () => {
      // Opaque origins (sandboxed iframes, data: URLs) never get IndexedDB; asking
      // `databases()` there also leaves an unhandled rejection in Chromium.
      if (/** @type {any} */ (globalThis).origin === 'null') {
        throw new StorageFailure('STORAGE_UNAVAILABLE', 'IndexedDB is denied in an opaque origin (sandboxed iframe, data: URL)', true);
      }
      /** @type {IDBDatabase | null} */
      let db;
      if (create) {
        db = await new Promise((resolve, reject) => {
          const req = idb.open(name, DB_VERSION);
          req.onupgradeneeded = (ev) => {
            if (ev.oldVersion === 0) req.result.createObjectStore(STORE);
          };
          req.onsuccess = () => resolve(req.result);
          req.onerror = (ev) => {
            ev.preventDefault();
            reject(req.error);
          };
        });
      } else {
        db = await openExisting(idb, name);
      }
      if (!db) return null;
      if (db.version !== DB_VERSION || !db.objectStoreNames.contains(STORE)) {
        db.close();
        throw new StorageFailure('FOREIGN_DATABASE', `the IndexedDB database "${name}" has another layout (version ${db.version}); left alone, history kept in memory`, true);
      }
      db.onversionchange = (ev) => {
        // Never block another tab's upgrade or deletion; a deletion is a forget.
        db.close();
        if (conn === p) conn = null;
        if (ev.newVersion === null && signal) signal('forget');
      };
      db.onclose = () => {
        if (conn === p) conn = null;
      };
      return db;
    })();
    conn = p;
    p.then(
      (db) => {
        if (!db && conn === p) conn = null;
      },
      () => {
        if (conn === p) conn = null;
      },
    );
    return p;
  };

  /** @param {IDBDatabase} db */
  const readRecord = async (db) => {
    const rec = await inTx(db, 'readonly', (s, set) => {
      const g = s.get(RECORD_KEY);
      g.onsuccess = () => set(g.result);
    });
    if (rec === undefined) return null;
    const events = parseRecord(rec);
    if (events) return events;
    warn('CORRUPT_RECORD', `discarded an unreadable or foreign history record in IndexedDB "${name}"`);
    await inTx(db, 'readwrite', (s) => {
      const g = s.get(RECORD_KEY);
      g.onsuccess = () => {
        if (g.result !== undefined && !parseRecord(g.result)) s.delete(RECORD_KEY);
      };
    }).catch(() => {});
    return [];
  };

  /**
   * The history an earlier version kept in the shared "vitrine" database:
   * taken (read and deleted in one transaction, so two tabs cannot both
   * migrate it) if that database has exactly the old layout. A database of
   * that name with anything else in it belongs to someone else: untouched.
   * @param {boolean} keep false on forget: delete without reading
   * @returns {Promise<ShopperEvent[]>}
   */
  const takeLegacy = async (keep) => {
    if (/** @type {any} */ (globalThis).origin === 'null') return [];
    const db = await openExisting(idb, LEGACY_DB).catch(() => null);
    if (!db) return [];
    let taken;
    try {
      if (db.version !== 1 || db.objectStoreNames.length !== 1 || !db.objectStoreNames.contains(STORE)) return [];
      taken = await inTx(db, 'readwrite', (s, set) => {
        const g = s.get(key);
        g.onsuccess = () => {
          const events = g.result === undefined ? null : parseRecord(g.result);
          // A record that is not ours under our key: someone else's, left alone.
          if (events || (!keep && g.result !== undefined)) s.delete(key);
          const c = s.count();
          c.onsuccess = () => set({ events: events ?? [], left: c.result, ours: events !== null });
        };
      });
    } finally {
      db.close();
    }
    // Delete the old database once it is empty, when it was certainly ours.
    if (taken.left === 0 && (taken.ours || !keep)) await deleteDb(idb, LEGACY_DB).catch(() => {});
    return keep ? taken.events : [];
  };

  return {
    kind: /** @type {const} */ ('indexeddb'),
    async read() {
      const db = await open(false);
      const events = db ? await readRecord(db) : null;
      if (events !== null && events.length > 0) return events;
      if (legacyChecked) return events ?? [];
      legacyChecked = true;
      const old = await takeLegacy(true);
      if (old.length === 0) return events ?? [];
      const wdb = /** @type {IDBDatabase} */ (await open(true));
      return inTx(wdb, 'readwrite', (s, set) => {
        const g = s.get(RECORD_KEY);
        g.onsuccess = () => {
          const merged = mergeEvents(parseRecord(g.result) ?? [], old, MAX_CAP);
          s.put(record(merged), RECORD_KEY);
          set(merged);
        };
      });
    },
    /** @param {(cur: ShopperEvent[]) => ShopperEvent[] | null} f */
    async update(f) {
      const attempt = async () => {
        const db = /** @type {IDBDatabase} */ (await open(true));
        return inTx(db, 'readwrite', (s, set) => {
          const g = s.get(RECORD_KEY);
          g.onsuccess = () => {
            let cur = g.result === undefined ? [] : parseRecord(g.result);
            if (cur === null) {
              warn('CORRUPT_RECORD', `replaced an unreadable or foreign history record in IndexedDB "${name}"`);
              cur = [];
            }
            const next = f(cur);
            if (next) s.put(record(next), RECORD_KEY);
            set(next);
          };
        });
      };
      try {
        return await attempt();
      } catch (e) {
        // The connection closed under us (another tab deleted or upgraded the
        // database between open and transaction): once more on a fresh one.
        if (/** @type {any} */ (e)?.name !== 'InvalidStateError') throw e;
        conn = null;
        return attempt();
      }
    },
    async destroy() {
      // Empty the record first, so it is gone even if the deletion has to wait.
      const db = await open(false).catch(() => null);
      if (db) {
        await inTx(db, 'readwrite', (s) => s.delete(RECORD_KEY)).catch(() => {});
        db.close();
      }
      conn = null;
      await deleteDb(idb, name);
      legacyChecked = true;
      await takeLegacy(false).catch(() => {});
    },
    /** @param {(what: 'changed' | 'forget') => void} s */
    listen(s) {
      signal = s;
    },
    close() {
      signal = null;
      const c = conn;
      conn = null;
      c?.then((db) => db?.close()).catch(() => {});
    },
  };
}

// ---- the shopper -------------------------------------------------------------

const OPTION_KEYS = Object.freeze([
  'storage',
  'key',
  'cap',
  'sessionGapMinutes',
  'halfLifeDays',
  'weights',
  'onWarning',
  'now',
  'excludeCart',
  'excludePurchased',
  'excludeViewed',
]);
/** Per-call options handled here, not passed to the wasm. */
const JS_CALL_KEYS = ['excludeCart', 'excludeViewed'];

/**
 * @param {unknown} v @param {string} name
 * @returns {boolean | undefined}
 */
function optBool(v, name) {
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new VitrineError('INVALID_ARGUMENT', `${name} must be true or false`);
  return v;
}

const PACK_UTF8 = new TextEncoder();

/**
 * The engine's byte form of a list of ids: each id's UTF-8 followed by a 0
 * byte (the ids hold no 0 character).
 * @param {string[]} ids
 */
const closedUtf8 = (ids) => PACK_UTF8.encode(ids.length === 0 ? '' : ids.join('\0') + '\0');

/**
 * Candidate ids for the engine as one Uint8Array, the UTF-8 of each id
 * followed by a 0 byte: one copy instead of a string per id. A list with
 * anything but strings free of 0 characters goes as it is (the engine
 * names the bad entry).
 * @param {unknown[]} list
 * @returns {Uint8Array | unknown[]}
 */
function packIds(list) {
  for (const id of list) if (typeof id !== 'string' || id.includes('\0')) return list;
  return closedUtf8(/** @type {string[]} */ (list));
}

/**
 * Events for the engine in its packed form: `types` (codes in EVENT_TYPES'
 * order), `ts`, and `items`, the UTF-8 of every id each followed by a 0
 * byte. The engine reads an array of event objects with three property
 * reads and two strings per event; these arrays cross in three copies. An
 * id holding a 0 character cannot be packed: the events then go as objects.
 * @param {ShopperEvent[]} list
 * @returns {{types: Uint8Array, ts: Float64Array, items: Uint8Array} | {type: string, item: string, ts: number}[]}
 */
function packEvents(list) {
  const n = list.length;
  const types = new Uint8Array(n);
  const ts = new Float64Array(n);
  const ids = new Array(n);
  for (let i = 0; i < n; i++) {
    const e = list[i];
    const code = EVENT_TYPES.indexOf(e.type);
    if (code < 0 || e.item.includes('\0')) return list.map((x) => ({ type: x.type, item: x.item, ts: x.ts }));
    types[i] = code;
    ts[i] = e.ts;
    ids[i] = e.item;
  }
  return { types, ts, items: closedUtf8(ids) };
}

/**
 * The shopper's own copies of caller data have no prototype (see
 * `plainCopy`); the engine reads own properties only but takes a value for
 * options only when it is an ordinary `Object` (`instanceof`), so those
 * copies become ordinary objects at the boundary, own keys only. A worker
 * needs none of this: structured cloning does the same.
 * @param {unknown} v @param {number} depth
 * @returns {unknown}
 */
function forWasm(v, depth) {
  if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v) || depth > 8) return v;
  if (Array.isArray(v)) return v.map((x) => forWasm(x, depth + 1));
  if (Object.getPrototypeOf(v) !== null) return v;
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const k of Object.keys(v)) {
    Object.defineProperty(out, k, { value: forWasm(/** @type {any} */ (v)[k], depth + 1), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/**
 * How the shopper reaches the engine. The page's model (`load()`) answers at
 * once; a worker-hosted one (`loadInWorker()`) answers with Promises. The
 * shopper's logic is written once against `call` and `step`, which are
 * synchronous for the first and chain Promises for the second, so the two
 * modes cannot drift apart; only the model calls cross to the worker, the
 * history and its storage stay in this page.
 * @param {object} vitrine
 * @returns {{async: boolean, call: (method: string, args: unknown[]) => any}}
 */
function engineOf(vitrine) {
  /** @type {unknown} */
  let shopperCall;
  let disposed = false;
  try {
    shopperCall = /** @type {any} */ (vitrine).shopperCall;
    if (typeof shopperCall === 'function') disposed = /** @type {any} */ (vitrine).disposed === true;
  } catch (e) {
    throw new VitrineError('INVALID_ARGUMENT', `the model could not be read: ${errText(e)}`, {}, { cause: e });
  }
  if (typeof shopperCall === 'function') {
    if (disposed) throw new VitrineError('DISPOSED', 'this worker model was disposed; load it again to use it');
    const f = /** @type {(method: string, ...args: unknown[]) => Promise<any>} */ (shopperCall);
    return {
      async: true,
      // A dead worker rejects with its WORKER error, a disposed one with DISPOSED.
      call: (method, args) =>
        Promise.resolve(f.call(vitrine, method, ...args)).catch((e) => {
          throw toVitrineError(e);
        }),
    };
  }
  /** The wasm model, looked up on every call so that a disposed model says DISPOSED. */
  const model = () => {
    let raw;
    try {
      raw = /** @type {any} */ (vitrine).raw;
      if (!raw || typeof raw.foldIn !== 'function') raw = null;
    } catch (e) {
      const err = toVitrineError(e);
      if (err.code !== 'INTERNAL') throw err; // DISPOSED
      throw new VitrineError('INVALID_ARGUMENT', `the model could not be read: ${errText(e)}`, {}, { cause: e });
    }
    if (!raw) {
      throw new VitrineError('INVALID_ARGUMENT', 'createShopper needs the model returned by load() or loadInWorker()');
    }
    return raw;
  };
  model();
  return {
    async: false,
    call(method, args) {
      const raw = model();
      // The lean build's wasm lacks the shopper's exports (the glue has them).
      if (/** @type {any} */ (vitrine)._wasm?.engineParts?.() === 'lean') {
        throw new VitrineError('INVALID_ARGUMENT', `shopper: ${method} is not in this model's engine build: a lean build (wasmUrl pointing at *-lean) has no shopper or placements; load the model with the full build`);
      }
      const plain = args.map((a) => forWasm(a, 0));
      try {
        return raw[method](...plain);
      } catch (e) {
        // Codes from the engine pass through; a trap or any uncoded failure is INTERNAL, never blamed on the caller.
        throw toVitrineError(e);
      }
    },
  };
}

/**
 * @param {object} vitrine the object returned by `load()` or `loadInWorker()` in vitrine.js
 * @param {Record<string, any>} [options] see pkg/shopper.d.ts (`ShopperOptions`)
 */
export function createShopper(vitrine, options) {
  if (vitrine === null || typeof vitrine !== 'object') {
    throw new VitrineError('INVALID_ARGUMENT', 'createShopper needs the model returned by load() or loadInWorker()');
  }
  const engine = engineOf(vitrine);
  /**
   * `thunk()` then `ok(result)`; `onErr` handles a failure of `thunk` only.
   * Synchronous for the page's model; for a worker's, a Promise (the thunk
   * itself still runs now, so the history it reads is this moment's).
   * @param {() => any} thunk @param {(v: any) => any} [ok] @param {(e: unknown) => any} [onErr]
   */
  const step = (thunk, ok = (v) => v, onErr) => {
    if (engine.async) {
      /** @type {Promise<any>} */
      let p;
      try {
        p = Promise.resolve(thunk());
      } catch (e) {
        p = Promise.reject(e);
      }
      return p.then(ok, onErr);
    }
    let v;
    try {
      v = thunk();
    } catch (e) {
      if (!onErr) throw e;
      return onErr(e);
    }
    return ok(v);
  };
  /**
   * A ranking method: as is over the page's model; over a worker's, every
   * outcome (bad arguments too) is a Promise, so callers handle one path.
   * @template {(...a: any[]) => any} F @param {F} f @returns {F}
   */
  const ranking = (f) =>
    engine.async
      ? /** @type {F} */ (
          (/** @type {any[]} */ ...a) => {
            try {
              return Promise.resolve(f(...a));
            } catch (e) {
              return Promise.reject(e);
            }
          }
        )
      : f;
  const o = options ?? {};
  /** @param {string} k */
  const opt = (k) => ownProp(o, k, 'INVALID_ARGUMENT', `option ${k}`);
  let keys;
  try {
    if (typeof o !== 'object' || Array.isArray(o) || ArrayBuffer.isView(o)) {
      throw new VitrineError('INVALID_ARGUMENT', 'createShopper options must be an object like {storage: "indexeddb"}');
    }
    keys = Object.keys(o);
  } catch (e) {
    if (e instanceof VitrineError) throw e;
    throw new VitrineError('INVALID_ARGUMENT', `createShopper options could not be read: ${errText(e)}`, {}, { cause: e });
  }
  for (const k of keys) {
    if (!OPTION_KEYS.includes(k)) throw new VitrineError('INVALID_ARGUMENT', `unknown option "${k}"; expected one of ${OPTION_KEYS.join(', ')}`);
  }
  // IndexedDB by default: its transactions make writes from several tabs safe.
  const storageGiven = opt('storage') !== undefined;
  const storage = opt('storage') ?? ('indexedDB' in globalThis ? 'indexeddb' : 'localStorage' in globalThis ? 'localStorage' : 'none');
  const key = opt('key') ?? 'vitrine.history';
  const cap = opt('cap') ?? 500;
  const sessionGapMinutes = opt('sessionGapMinutes') ?? 30;
  const halfLifeDays = opt('halfLifeDays');
  const weights = opt('weights') === undefined ? undefined : readPlain(opt('weights'), 'weights');
  const onWarning = opt('onWarning');
  const now = opt('now') ?? Date.now;
  const defaults = {
    excludeCart: optBool(opt('excludeCart'), 'excludeCart') ?? true,
    excludePurchased: optBool(opt('excludePurchased'), 'excludePurchased') ?? true,
    excludeViewed: optBool(opt('excludeViewed'), 'excludeViewed') ?? false,
  };
  if (!['indexeddb', 'localStorage', 'none'].includes(storage)) {
    throw new VitrineError('INVALID_ARGUMENT', `storage must be 'indexeddb', 'localStorage' or 'none', got ${typeof storage === 'string' ? JSON.stringify(storage) : typeof storage}`);
  }
  if (typeof key !== 'string' || key.length === 0 || key.length > 200) {
    throw new VitrineError('INVALID_ARGUMENT', 'key must be a non-empty string of at most 200 characters');
  }
  if (!(Number.isInteger(cap) && cap > 0 && cap <= MAX_CAP)) {
    throw new VitrineError('INVALID_ARGUMENT', `cap must be a whole number from 1 to ${MAX_CAP}`);
  }
  if (!(typeof sessionGapMinutes === 'number' && Number.isFinite(sessionGapMinutes) && sessionGapMinutes > 0)) {
    throw new VitrineError('INVALID_ARGUMENT', 'sessionGapMinutes must be a positive number');
  }
  if (halfLifeDays !== undefined && !(typeof halfLifeDays === 'number' && Number.isFinite(halfLifeDays) && halfLifeDays > 0)) {
    throw new VitrineError('INVALID_ARGUMENT', 'halfLifeDays must be a positive number');
  }
  if (weights !== undefined) {
    if (weights === null || typeof weights !== 'object' || Array.isArray(weights)) {
      throw new VitrineError('INVALID_ARGUMENT', 'weights must be an object like {view: 1, cart: 3}');
    }
    for (const [k, w] of Object.entries(weights)) {
      if (!EVENT_TYPES.includes(k)) throw new VitrineError('INVALID_ARGUMENT', `unknown weights field "${k}"; expected ${EVENT_TYPES.join(', ')}`);
      if (!(typeof w === 'number' && Number.isFinite(w) && w >= 0)) throw new VitrineError('INVALID_ARGUMENT', `weights.${k} must be a finite number ≥ 0`);
    }
  }
  if (onWarning !== undefined && typeof onWarning !== 'function') throw new VitrineError('INVALID_ARGUMENT', 'onWarning must be a function');
  if (typeof now !== 'function') throw new VitrineError('INVALID_ARGUMENT', 'now must be a function returning ms since the epoch');

  /** @param {string} code @param {string} message */
  const warn = (code, message) => {
    try {
      console.warn(`vitrine shopper: ${message}`);
      if (onWarning) onWarning({ code, message });
    } catch {
      /* a throwing handler must not break storage */
    }
  };

  /** @returns {ReturnType<typeof memoryBackend> | ReturnType<typeof localBackend> | ReturnType<typeof indexedBackend>} */
  const pick = () => {
    if (storage === 'none') return memoryBackend();
    /** @type {any} */
    let s;
    try {
      s = storage === 'indexeddb' ? globalThis.indexedDB : globalThis.localStorage;
    } catch (e) {
      // Blocked cookies, sandboxed iframes and opaque origins throw here.
      warn('STORAGE_UNAVAILABLE', `${storage} cannot be used here (${/** @type {any} */ (e)?.name ?? errText(e)}); history stays in memory`);
      return memoryBackend();
    }
    if (!s) {
      warn('STORAGE_UNAVAILABLE', `${storage} is not available; history stays in memory`);
      return memoryBackend();
    }
    return storage === 'indexeddb' ? indexedBackend(s, key, warn) : localBackend(s, key, warn);
  };
  let backend = pick();

  // What was last read from storage, what is being written, what waits to be.
  /** @type {ShopperEvent[]} */
  let stored = [];
  /** @typedef {{ev: ShopperEvent, seq: number, at: number}} Tracked seq orders against forgets seen here, at (clock()) against another tab's */
  /** @type {Tracked[]} */
  let inflight = [];
  /** @type {Tracked[]} */
  let pending = [];
  /** Bumped by every forget (here or in another tab): results of older reads are dropped. */
  let epoch = 0;
  let seq = 0;
  /** Names this shopper's events (with `seq`), so that a tab can tell its own events in a record. */
  const tabId = Math.random().toString(36).slice(2, 10).padEnd(8, '0');
  /**
   * This shopper's events it has written (localStorage: a tab whose copy lagged
   * may have overwritten them; they are written again when that shows).
   * @type {Tracked[]}
   */
  let mine = [];
  /** Events tracked at or before these were forgotten. */
  let cutSeq = 0;
  let cutAt = -Infinity;
  const alive = (/** @type {Tracked} */ p) => p.seq > cutSeq && p.at > cutAt;
  /** The latest forget this tab knows of (its own or another tab's), by the device clock. */
  let forgotAt = -Infinity;
  /**
   * A stored event tracked (by any tab of this device: one clock) before a
   * forget this tab knows of. localStorage: another tab's lagging copy can
   * write such events back after the forget; they are dropped on every read
   * and write here, so a late stale write never resurrects them.
   * @param {StoredEvent} e
   */
  const forgottenBefore = (e) => e.at !== undefined && e.at < forgotAt;

  // The page's end (IndexedDB: the side records of UNSAVED_PREFIX and FORGOT_PREFIX).
  const unsavedKey = UNSAVED_PREFIX + key;
  const forgotKey = FORGOT_PREFIX + key;
  /** localStorage for the side records, or null where it is absent or throws. */
  const side = () => {
    try {
      return globalThis.localStorage ?? null;
    } catch {
      return null;
    }
  };
  /**
   * A forget of an earlier page whose deletion may not have finished: every
   * event tracked before it is dropped (on the first read here and from the
   * database before anything else runs). An unreadable time counts as now.
   * @type {number | null}
   */
  let forgotMark = null;
  /** The mark as it was read, so that only that mark is removed once it is done. */
  let forgotRaw = '';
  if (backend.kind === 'indexeddb' || backend.kind === 'localStorage') {
    try {
      const raw = side()?.getItem(forgotKey);
      if (typeof raw === 'string') {
        forgotRaw = raw;
        const m = Number(raw);
        const readable = raw !== '' && Number.isFinite(m);
        // Only a forget writes this key: unreadable, it still asked to forget.
        if (!readable) warn('CORRUPT_RECORD', `an unreadable forget mark under "${forgotKey}" (localStorage) is taken as a forget now`);
        forgotMark = readable ? m : clock();
        forgotAt = forgotMark;
      }
    } catch {
      /* no side store: nothing was left there */
    }
  }
  /** @type {ShopperEvent[] | null} */
  let view = null;
  const events = () =>
    (view ??= mergeEvents(
      stored,
      inflight.concat(pending).map((p) => p.ev),
      cap,
    ));
  const changed = () => {
    view = null;
  };

  /** @type {BroadcastChannel | null} */
  let channel = null;
  const post = (/** @type {any} */ msg) => {
    try {
      channel?.postMessage(msg);
    } catch {
      /* closed */
    }
  };
  let lastWarning = '';
  /** @param {unknown} e @param {string} what */
  const failed = (e, what) => {
    const { code, fatal } = classify(e);
    if (code !== lastWarning) {
      warn(code, `${backend.kind} ${what} failed (${errText(e)}); ${fatal ? 'history stays in memory from now on' : 'history kept in memory'}`);
    }
    lastWarning = code;
    if (fatal) {
      backend.close();
      channel?.close();
      channel = null;
      backend = memoryBackend(events());
      stored = events();
      inflight = [];
      pending = [];
      mine = [];
      changed();
    }
  };

  /** Operations on storage, one at a time, in call order; none rejects. */
  let queue = Promise.resolve();
  /** @param {() => Promise<void>} op @returns {Promise<void>} */
  const enqueue = (op) => {
    const p = queue.then(op).catch((e) => failed(e, 'operation'));
    queue = p;
    return p;
  };

  /** Reads storage; dropped if a forget came after the read was asked for (`ep`). */
  const refresh = async (/** @type {number} */ ep) => {
    let ev;
    try {
      ev = await backend.read();
    } catch (e) {
      failed(e, 'read');
      return;
    }
    if (epoch !== ep) return;
    if (forgotAt > -Infinity) ev = ev.filter((/** @type {StoredEvent} */ e) => !forgottenBefore(e));
    stored = ev.length > cap ? ev.slice(ev.length - cap) : ev;
    changed();
  };
  /** The epoch of a queued, not yet started refresh (coalesced), or -1. */
  let refreshQueued = -1;
  const scheduleRefresh = () => {
    if (refreshQueued === epoch) return;
    const ep = epoch;
    refreshQueued = ep;
    enqueue(async () => {
      if (refreshQueued === ep) refreshQueued = -1;
      await refresh(ep);
    });
  };

  const flush = async () => {
    if (pending.length === 0) return;
    const ep = epoch;
    const taken = pending;
    pending = [];
    inflight = taken;
    /** @type {ShopperEvent[] | null} */
    let next;
    /** @type {Tracked[]} */
    let written = [];
    try {
      // Filtered inside the transaction: a forget that arrived meanwhile wins over what was tracked before it.
      next = await backend.update((cur) => {
        written = taken.filter(alive);
        const kept = forgotAt > -Infinity ? cur.filter((/** @type {StoredEvent} */ e) => !forgottenBefore(e)) : cur;
        return written.length === 0 ? null : mergeEvents(kept, written.map((p) => p.ev), cap);
      });
    } catch (e) {
      pending = taken.filter(alive).concat(pending);
      if (pending.length > cap) pending = pending.slice(pending.length - cap);
      inflight = [];
      changed();
      failed(e, 'write');
      return;
    }
    inflight = [];
    if (journaled) pruneUnsaved(written.map((p) => /** @type {StoredEvent} */ (p.ev).id));
    if (next) {
      if (backend.kind === 'localStorage') mine = mine.concat(written.filter(alive)).slice(-cap);
      lastWarning = '';
      post({ t: 'changed' });
      if (epoch === ep) stored = next;
      else scheduleRefresh();
    }
    changed();
  };

  /**
   * `cur` without what a known forget dropped, plus those of `evs` it lacks;
   * null when it has them all (nothing to write).
   * @param {StoredEvent[]} cur @param {StoredEvent[]} evs
   */
  const appendNew = (cur, evs) => {
    const kept = forgotAt > -Infinity ? cur.filter((e) => !forgottenBefore(e)) : cur;
    const have = new Set(kept.map((e) => e.id));
    return evs.every((e) => have.has(e.id)) ? null : mergeEvents(kept, evs, cap);
  };
  /** Whether this page wrote to the side record of unsaved events (then each write prunes it). */
  let journaled = false;
  /** @param {string} raw @returns {StoredEvent[] | null} */
  const parseSide = (raw) => {
    try {
      return parseRecord(JSON.parse(raw));
    } catch {
      return null;
    }
  };
  /**
   * Takes events now in the database out of the side record of unsaved ones
   * (removed when empty); other tabs' events there stay for their next start.
   * @param {(string | undefined)[]} ids
   */
  const pruneUnsaved = (ids) => {
    const ls = side();
    try {
      const raw = ls?.getItem(unsavedKey);
      if (typeof raw !== 'string') return;
      const done = new Set(ids);
      const left = (parseSide(raw) ?? []).filter((e) => !done.has(e.id));
      if (left.length === 0) ls?.removeItem(unsavedKey);
      else ls?.setItem(unsavedKey, JSON.stringify(record(left)));
    } catch {
      /* the next start merges them again: ids make that harmless */
    }
  };
  /**
   * The page is being hidden or left: the events tracked and not yet stored
   * are written synchronously, because the queued write waits for a Web Lock
   * or an IndexedDB transaction that a leaving page may never get (a click on
   * a product link tracks a view and navigates at once). localStorage: into
   * the record itself; IndexedDB: into the side record of unsaved events,
   * which the next shopper to start on this device merges into the database.
   * Nothing is taken out of the queue: if the page stays (a hidden tab), the
   * queued write stores the same events once more, which ids make a no-op.
   */
  const saveNow = () => {
    const evs = inflight.concat(pending).filter(alive).map((p) => /** @type {StoredEvent} */ (p.ev));
    if (evs.length === 0) return;
    try {
      if (backend.kind === 'localStorage') {
        /** @type {any} */ (backend).updateNow((/** @type {StoredEvent[]} */ cur) => appendNew(cur, evs));
      } else if (backend.kind === 'indexeddb') {
        const ls = side();
        if (!ls) return;
        const raw = ls.getItem(unsavedKey);
        const cur = typeof raw === 'string' ? (parseSide(raw) ?? []) : [];
        ls.setItem(unsavedKey, JSON.stringify(record(mergeEvents(cur, evs, MAX_CAP))));
        journaled = true;
      }
    } catch {
      /* full or gone: the page is ending, the queued write is all that is left */
    }
  };
  /**
   * At start: finishes an earlier page's forget (FORGOT_PREFIX), then
   * (IndexedDB) merges the events earlier pages could not write (UNSAVED_PREFIX).
   */
  const recoverSide = async () => {
    const ls = side();
    if (!ls) return;
    if (forgotMark !== null) {
      const m = forgotMark;
      // Events without `at` come from versions before the forget existed: forgotten too.
      const after = (/** @type {StoredEvent} */ e) => e.at !== undefined && e.at > m;
      const cur = await backend.read();
      if (cur.some(after)) await backend.update((c) => c.filter(after));
      else await backend.destroy(); // nothing kept: no database left behind, as forget() promises
      // A later forget's mark stays, and so does the mark of a forget still
      // running in another tab: its second removal may come after this.
      const running = await lockInUse(FORGETTING_PREFIX + key);
      try {
        if (!running && ls.getItem(forgotKey) === forgotRaw) ls.removeItem(forgotKey);
      } catch {
        /* done again at the next start */
      }
    }
    if (backend.kind !== 'indexeddb') return; // localStorage's page end writes the record itself
    let raw;
    try {
      raw = ls.getItem(unsavedKey);
    } catch {
      return;
    }
    if (typeof raw !== 'string') return;
    const evs = parseSide(raw);
    if (!evs) {
      warn('CORRUPT_RECORD', `discarded an unreadable or foreign record of unsaved events under "${unsavedKey}" (localStorage)`);
      try {
        ls.removeItem(unsavedKey);
      } catch {
        /* the next save replaces it */
      }
      return;
    }
    const keep = evs.filter((/** @type {StoredEvent} */ e) => !forgottenBefore(e) && (forgotMark === null || (e.at !== undefined && e.at > forgotMark)));
    if (keep.length > 0) await backend.update((cur) => appendNew(cur, keep));
    pruneUnsaved(evs.map((e) => e.id));
  };
  const doc = /** @type {any} */ (globalThis).document;
  // The last event a mobile browser promises before it may discard a background tab.
  const onHidden = () => {
    if (doc.visibilityState === 'hidden') saveNow();
  };
  let listening = false;
  /** On while the shopper is open; `close()` lets go of it (a page may make many), a later `track()` listens again. */
  const listenForEnd = (/** @type {boolean} */ on) => {
    if (on === listening || backend.kind === 'none' || typeof globalThis.addEventListener !== 'function') return;
    listening = on;
    const method = on ? 'addEventListener' : 'removeEventListener';
    globalThis[method]('pagehide', saveNow);
    if (doc && typeof doc[method] === 'function') doc[method]('visibilitychange', onHidden);
  };
  listenForEnd(true);

  /**
   * Another tab (or shopper) forgot: drop what we hold from before, i.e.
   * everything tracked up to now when we learn it from storage itself, or up
   * to the other tab's clock `at` when its message comes (maybe late).
   * @param {number} [at]
   */
  const forgotten = (at) => {
    // localStorage: this tab's lagging copy may have written the old record
    // back over the forget; take out every event tracked before it (events of
    // older versions, without `at`: those this tab knew). IndexedDB's
    // transactions cannot lag.
    if (at !== undefined && backend.kind === 'localStorage') {
      const known = new Set(stored.map(eventKey));
      enqueue(async () => {
        await backend.update((cur) => {
          const keep = cur.filter((/** @type {StoredEvent} */ e) => (e.at === undefined ? !known.has(eventKey(e)) : e.at > at));
          return keep.length === cur.length ? null : keep;
        });
      });
    }
    epoch++;
    if (at === undefined) cutSeq = seq;
    else {
      cutAt = Math.max(cutAt, at);
      forgotAt = Math.max(forgotAt, at);
    }
    stored = [];
    inflight = inflight.filter(alive);
    pending = pending.filter(alive);
    mine = mine.filter(alive);
    changed();
    scheduleRefresh();
  };
  /**
   * localStorage: another tab wrote `raw`. Its copy of localStorage may have
   * lagged behind ours, so its record can lack events we wrote: write those
   * again (unless the cap pushed them out), on top of its record.
   * @param {string} raw
   */
  const heal = (raw) => {
    if (mine.length === 0) return;
    let evs;
    try {
      evs = parseRecord(JSON.parse(raw));
    } catch {
      evs = null;
    }
    if (evs) rewrite(evs);
  };
  /** Writes again those of `mine` that the record `evs` lacks. @param {StoredEvent[]} evs */
  const rewrite = (evs) => {
    const there = new Set(evs.map((/** @type {StoredEvent} */ e) => e.id));
    const oldest = evs.length >= cap ? evs[0].ts : -Infinity;
    const missing = mine.filter((p) => alive(p) && !there.has(/** @type {StoredEvent} */ (p.ev).id) && p.ev.ts >= oldest);
    if (missing.length === 0) return;
    mine = mine.filter((p) => !missing.includes(p));
    pending = missing.concat(pending);
    changed();
    enqueue(flush);
  };
  backend.listen((what, raw, at) => {
    if (what === 'forget') return forgotten(at);
    if (what === 'removed') {
      // The forgetting tab's removal (its first, or the one after its queued
      // writes) may have taken events this tab wrote after the forget.
      forgotten(at);
      return rewrite([]);
    }
    if (typeof raw === 'string') heal(raw);
    scheduleRefresh();
  });
  if (backend.kind !== 'none' && typeof BroadcastChannel === 'function') {
    try {
      channel = new BroadcastChannel(CHANNEL_PREFIX + key);
      /** @type {any} */ (channel).unref?.(); // Node: do not keep the process alive
      channel.onmessage = (ev) => {
        const m = ev.data;
        if (m && m.t === 'forget' && typeof m.at === 'number') forgotten(m.at);
        else if (m && m.t === 'changed') scheduleRefresh();
      };
    } catch {
      channel = null; // opaque origins: the storage events still tell us
    }
  }

  /**
   * Before this version the default storage was localStorage: a shopper left
   * on the default takes the history stored there into IndexedDB once.
   */
  const fromLocalStorage = async () => {
    /** @type {any} */
    let ls;
    let events = null;
    try {
      ls = globalThis.localStorage;
      const raw = ls ? ls.getItem(key) : null;
      events = raw === null ? null : parseRecord(JSON.parse(raw));
    } catch {
      return; // unavailable or unreadable: nothing of ours to take
    }
    if (!events) return;
    await backend.update((cur) => (epoch === first ? mergeEvents(cur, events, cap) : null));
    try {
      ls.removeItem(key);
    } catch {
      /* it is copied; a second copy merges as duplicates only if this fails */
    }
  };
  const first = epoch;
  const ready = enqueue(async () => {
    if (!storageGiven && backend.kind === 'indexeddb') {
      try {
        await fromLocalStorage();
      } catch (e) {
        failed(e, 'migration');
      }
    }
    if (backend.kind === 'indexeddb' || forgotMark !== null) {
      try {
        await recoverSide();
      } catch (e) {
        failed(e, 'recovery of the last visit\'s unsaved events or forget');
      }
    }
    await refresh(first);
  });

  const profileOptions = () => {
    const t = now();
    if (typeof t !== 'number' || !Number.isFinite(t)) throw new VitrineError('INVALID_ARGUMENT', 'the now() option must return a finite number of ms');
    /** @type {Record<string, any>} */
    const p = Object.create(null);
    p.now = t;
    p.sessionGapMinutes = sessionGapMinutes;
    if (halfLifeDays !== undefined) p.halfLifeDays = halfLifeDays;
    if (weights !== undefined) p.weights = weights;
    return p;
  };
  /** Events for the wasm: fresh objects with own fields only. */
  // The history as the engine reads it fastest: three typed arrays, made
  // once per change of the history (events() keeps its array until then),
  // not an object per event per call (see packEvents).
  /** @type {ShopperEvent[] | null} */
  let packedOf = null;
  /** @type {ReturnType<typeof packEvents> | null} */
  let packed = null;
  const wasmEvents = () => {
    const list = events();
    if (packedOf !== list) {
      packed = packEvents(list);
      packedOf = list;
    }
    return packed;
  };

  /**
   * Per-call options → wasm options: own properties only, the shopper's
   * profile settings, and the default exclusions (cart, purchases, views).
   * @param {unknown} opts @param {string} what
   */
  const callOptions = (opts, what) => {
    /** @type {Record<string, any>} */
    const user = opts == null ? Object.create(null) : readPlain(opts, `${what} options`);
    if (typeof user !== 'object' || Array.isArray(user) || ArrayBuffer.isView(user)) {
      throw new VitrineError('INVALID_ARGUMENT', `${what} options must be an object like {k: 10}`);
    }
    if ('events' in user) throw new VitrineError('INVALID_ARGUMENT', 'events come from the shopper\'s history; use the wasm Model directly to pass your own');
    const excludeCart = optBool(user.excludeCart, 'excludeCart') ?? defaults.excludeCart;
    const excludeViewed = optBool(user.excludeViewed, 'excludeViewed') ?? defaults.excludeViewed;
    for (const k of JS_CALL_KEYS) delete user[k];
    const out = Object.assign(profileOptions(), user);
    if (out.excludePurchased === undefined) out.excludePurchased = defaults.excludePurchased;
    if (excludeCart || excludeViewed) {
      const ex = new Set(Array.isArray(out.exclude) ? out.exclude : []);
      for (const e of events()) {
        if ((excludeCart && e.type === 'cart') || (excludeViewed && e.type === 'view')) ex.add(e.item);
      }
      if (out.exclude === undefined || Array.isArray(out.exclude)) out.exclude = [...ex];
    }
    return out;
  };

  const shopper = {
    /** Resolves once the stored history has been read (never rejects). */
    ready,
    /** Where the history lives: 'indexeddb' | 'localStorage' | 'none' (also after a fallback to memory). */
    get storage() {
      return backend.kind;
    },

    /**
     * Records an event on this device. `ts` defaults to now; a `ts` more than
     * 5 minutes in the future is clamped to now with a warning.
     * @param {{type: EventType, item: string, ts?: number}} ev
     * @returns {Promise<void>} settles when stored (never rejects: storage failures are warnings)
     */
    track(ev) {
      let shape;
      try {
        shape = ev !== null && typeof ev === 'object' && !Array.isArray(ev);
      } catch (e) {
        throw new VitrineError('INVALID_EVENT', `the event could not be read: ${errText(e)}`, {}, { cause: e });
      }
      if (!shape) throw new VitrineError('INVALID_EVENT', 'track() needs {type, item, ts?}');
      const type = ownProp(ev, 'type', 'INVALID_EVENT', 'event type');
      const item = ownProp(ev, 'item', 'INVALID_EVENT', 'event item');
      const given = ownProp(ev, 'ts', 'INVALID_EVENT', 'event ts');
      if (!EVENT_TYPES.includes(type)) {
        throw new VitrineError('INVALID_EVENT', `unknown event type ${typeof type === 'string' ? JSON.stringify(type) : typeof type}; expected ${EVENT_TYPES.join(', ')}`);
      }
      if (typeof item !== 'string' || item.length === 0) throw new VitrineError('INVALID_EVENT', 'event item must be a non-empty string id');
      const t = now();
      let ts = given === undefined ? t : given;
      if (typeof ts !== 'number' || !Number.isFinite(ts)) {
        throw new VitrineError('INVALID_EVENT', `event ts must be a finite number of ms since the epoch, got ${typeof ts === 'number' ? String(ts) : typeof ts}`);
      }
      if (ts > t + FUTURE_SLACK_MS) {
        warn('FUTURE_TS', `event time ${ts} is in the future; clamped to now`);
        ts = t;
      }
      seq++;
      const at = clock();
      pending.push({ ev: /** @type {StoredEvent} */ ({ type, item, ts, id: `${tabId}.${seq.toString(36)}`, at }), seq, at });
      if (pending.length > cap) pending.splice(0, pending.length - cap);
      changed();
      listenForEnd(true);
      return enqueue(flush);
    },

    /** @returns {ShopperEvent[]} a copy, oldest first */
    history() {
      return events().map((e) => ({ type: e.type, item: e.item, ts: e.ts }));
    },

    /** Events split at gaps longer than `sessionGapMinutes`. @returns {ShopperEvent[][]} */
    sessions() {
      /** @type {ShopperEvent[][]} */
      const out = [];
      for (const e of events()) {
        const cur = out[out.length - 1];
        const c = { type: e.type, item: e.item, ts: e.ts };
        if (cur && e.ts - cur[cur.length - 1].ts <= sessionGapMinutes * 60_000) cur.push(c);
        else out.push([c]);
      }
      return out;
    },

    /**
     * Wipes the history from memory at once and from storage (the IndexedDB
     * database is deleted), in this tab and the others. Writes queued before
     * it carry nothing; it settles when storage is clean.
     * @returns {Promise<void>}
     */
    forget() {
      const at = clock();
      epoch++;
      cutSeq = seq;
      forgotAt = Math.max(forgotAt, at);
      stored = [];
      inflight = [];
      pending = [];
      mine = [];
      changed();
      const ls = backend.kind === 'none' ? null : side();
      // Asked for before the mark goes up, so a tab that reads the mark finds it.
      const release = ls ? holdLock(FORGETTING_PREFIX + key) : () => {};
      try {
        backend.wipeNow?.(at);
      } catch {
        /* the queued destroy() reports it */
      }
      // IndexedDB's deletion is queued and asynchronous: a page left before it
      // runs must still forget, so the next start finishes it from this mark.
      try {
        if (backend.kind === 'indexeddb') ls?.setItem(forgotKey, String(at));
        ls?.removeItem(unsavedKey);
      } catch {
        /* no side store: the queued destroy() is all there is */
      }
      journaled = false;
      return enqueue(async () => {
        let done = false;
        try {
          await backend.destroy();
          done = true;
        } catch (e) {
          failed(e, 'forget');
        } finally {
          if (done) {
            try {
              if (ls?.getItem(forgotKey) === String(at)) ls.removeItem(forgotKey);
            } catch {
              /* the next start finds the database gone and removes it */
            }
          }
          release();
        }
        post({ t: 'forget', at });
      });
    },

    /**
     * The folded-in user vector (zeros for an empty history); a Promise over
     * a worker-hosted model.
     */
    userVector: ranking(() => step(() => engine.call('foldIn', [wasmEvents(), profileOptions()]), (r) => r.vector)),

    /**
     * Personalized top-k over the catalogue, with reasons. Items in the cart
     * and purchased items are left out unless `excludeCart` / `excludePurchased`
     * is false; viewed items with `excludeViewed: true`. A Promise over a
     * worker-hosted model.
     * @type {(opts?: Record<string, any>) => RankedList}
     */
    recommend: ranking((/** @type {Record<string, any> | undefined} */ opts) => {
      const o2 = callOptions(opts, 'recommend');
      return step(() => engine.call('recommendFor', [wasmEvents(), o2]), unpackRanked);
    }),

    /**
     * Reranks any candidate list (server results, search, a category page).
     * A Promise over a worker-hosted model.
     * @type {(ids: string[], opts?: Record<string, any>) => RankedList}
     */
    rerank: ranking((/** @type {string[]} */ ids, /** @type {Record<string, any> | undefined} */ opts) => {
      const list = readPlain(ids, 'ids');
      if (!Array.isArray(list)) throw new VitrineError('INVALID_ARGUMENT', 'rerank needs an array of item ids');
      const o2 = callOptions(opts, 'rerank');
      o2.events = wasmEvents();
      return step(() => engine.call('rerank', [packIds(list), o2]), unpackRanked);
    }),

    /**
     * Behaviour segment of this device's history, from the bundle's BEHAVIOUR
     * section: `{id, label, features, distance, missing}` (features computed
     * here by the same function the exporter ran on every user; a feature the
     * data cannot give, e.g. spend without prices, is null and listed in
     * `missing`), or `{segment: null, reason: 'NO_HISTORY'}` when no tracked
     * event names an item of this bundle. A bundle without the section throws
     * NO_SECTION (its message names `vitrine export --behaviour LOG`). Nothing
     * leaves the device. A Promise over a worker-hosted model.
     */
    segment: ranking(() => step(() => engine.call('behaviourSegment', [wasmEvents(), profileOptions()]))),

    /**
     * Nearest taste segment (k-means over ALS user vectors, the SEGMENTS
     * section) `{index, name, distance}`, or null (no segments, no GRAM or no
     * history). A Promise over a worker-hosted model.
     */
    tasteSegment: ranking(() => {
      if (events().length === 0) return null;
      return step(
        () => engine.call('foldIn', [wasmEvents(), profileOptions()]),
        (r) => engine.call('segment', [r.vector]),
        (e) => {
          const err = toVitrineError(e);
          // A bundle without GRAM cannot fold in: no segment, not an error.
          if (err.code === 'MISSING_CAPABILITY') return null;
          throw err;
        },
      );
    }),

    /**
     * Why `id` scores as it does: exact per-history-item contributions. A
     * Promise over a worker-hosted model.
     */
    explain: ranking((/** @type {string} */ id) => {
      if (typeof id !== 'string') throw new VitrineError('INVALID_ARGUMENT', 'explain needs an item id (a string)');
      return step(() => engine.call('explain', [wasmEvents(), id, profileOptions()]));
    }),

    /** Whether the ranking methods return Promises (a shopper over `loadInWorker()`'s model). */
    get async() {
      return engine.async;
    },

    /**
     * Stops listening to other tabs and to the page's end, and closes the
     * storage connection. The shopper keeps working; a later write reopens
     * storage and listens for the page's end again.
     */
    close() {
      listenForEnd(false);
      backend.close();
      channel?.close();
      channel = null;
    },
  };
  return shopper;
}
