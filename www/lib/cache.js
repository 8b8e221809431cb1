// The model cached on the device for warm visits. A bundle that passed full
// validation is stored (Cache Storage, else IndexedDB) under its URL and
// integrity, with its validator (ETag / Last-Modified), its length and its
// table CRC. A later visit reads it from there at once, checks it against
// that record and revalidates with the server in the background by a
// conditional request. Why a cached bundle may skip the content checks is
// argued in docs/web.md ("Warm visits").

import { VitrineError, badArg, describe, messageOf } from './errors.js';

/** Warning codes of the model cache (passed to `onWarning`, never thrown). */
export const CACHE_WARNING_CODES = Object.freeze([
  'CACHE_CORRUPT', // the cached bytes failed their checks: evicted, fetched again
  'CACHE_FOREIGN', // the entry holds another model's bytes: evicted, fetched again
  'CACHE_EVICTED', // the entry vanished or broke off while being read: fetched again
  'CACHE_UNAVAILABLE', // the store could not be opened or written: the load goes on without it
]);

/** Layout of the record kept beside the bytes; a change of it starts a new cache. */
const RECORD_VERSION = 1;
const CACHE_NAME = 'vitrine-models-v1';
const IDB_NAME = 'vitrine-models';
const IDB_STORE = 'bundles';

/**
 * @typedef {{ v: number, url: string, integrity: string, etag: string | null, lastModified: string | null,
 *             bytes: number, tableCrc: number, modelId: string | null, storedAt: number }} CacheRecord
 * @typedef {{ record: CacheRecord, body: ReadableStream<Uint8Array> | Blob | Response | Uint8Array | ArrayBuffer }} CacheEntry
 * @typedef {{ kind: string, get(key: string): Promise<CacheEntry | undefined>,
 *             put(key: string, record: CacheRecord, bytes: Uint8Array[]): Promise<void>,
 *             delete(key: string): Promise<void> }} ModelStore
 */

/**
 * Check the `cache` load option: true / undefined (default: Cache Storage,
 * else IndexedDB, else none), false (off), 'cache-storage', 'indexeddb', or
 * an object with get/put/delete (a custom store; how the Node tests drive it).
 * @param {unknown} c
 */
export function checkCacheOption(c) {
  if (c === undefined || c === null || c === true || c === false || c === 'cache-storage' || c === 'indexeddb') return;
  if (typeof c === 'object' && ['get', 'put', 'delete'].every((m) => typeof (/** @type {any} */ (c))[m] === 'function')) return;
  badArg(`options.cache must be true, false, 'cache-storage', 'indexeddb' or a store with get/put/delete, got ${describe(c)}`);
}

/**
 * The store for a `cache` option value, or null when none is usable here
 * (Node, an insecure context without Cache Storage and IndexedDB, cache: false).
 * @param {unknown} option
 * @returns {Promise<ModelStore | null>}
 */
export async function openStore(option) {
  if (option === false) return null;
  if (option && typeof option === 'object') {
    const o = /** @type {any} */ (option);
    return { kind: typeof o.kind === 'string' ? o.kind : 'custom', get: (k) => o.get(k), put: (k, r, b) => o.put(k, r, b), delete: (k) => o.delete(k) };
  }
  const wantCaches = option !== 'indexeddb';
  const wantIdb = option !== 'cache-storage';
  const idb = async () => {
    if (!wantIdb || typeof indexedDB === 'undefined') return null;
    try {
      return idbStore(await openIdb());
    } catch {
      return null;
    }
  };
  if (wantCaches && typeof caches !== 'undefined') return cacheStorageStore(idb);
  return idb();
}

/** The key of one cached bundle: where it came from and which bytes the page pinned. */
export function cacheKey(url, integrity) {
  return `${url}\n${integrity ?? ''}`;
}

/** Cache Storage wants a Request URL: the bundle's URL with the key appended as a query. */
function cacheRequestUrl(key) {
  const [url, integrity] = key.split('\n');
  const u = new URL(url);
  u.searchParams.set('vitrine-cache', `${RECORD_VERSION}:${integrity}`);
  return u.href;
}

/**
 * Cache Storage, looked up in one round trip (`caches.match` with
 * `cacheName`, which never creates the cache) and opened only to write or
 * evict. Where the lookup fails (refused: opaque origins, some private
 * modes), IndexedDB takes over; a failed write stays a failure (a full
 * disk is CACHE_UNAVAILABLE, not a silent copy elsewhere).
 * @param {() => Promise<ModelStore | null>} fallback
 * @returns {ModelStore}
 */
function cacheStorageStore(fallback) {
  /** @type {Promise<Cache> | undefined} */
  let opened;
  /** @type {Promise<ModelStore | null> | undefined} */
  let other;
  /** @type {(f: () => Promise<any>, g: (s: ModelStore) => Promise<any>, lookup?: boolean) => Promise<any>} */
  const run = async (f, g, lookup) => {
    if (!other) {
      try {
        return await f();
      } catch (e) {
        if (!lookup) throw e;
        other = fallback();
        const s = await other;
        if (!s) throw e;
        store.kind = s.kind;
      }
    }
    const s = await other;
    return s ? g(s) : undefined;
  };
  const open = () => (opened ??= caches.open(CACHE_NAME));
  /** @type {ModelStore} */
  const store = {
    kind: 'cache-storage',
    get: (key) =>
      run(
        async () => {
          const res = await caches.match(cacheRequestUrl(key), { cacheName: CACHE_NAME });
          if (!res) return undefined;
          const record = parseRecord(res.headers.get('x-vitrine-record'));
          if (!record || !res.body) {
            await (await open()).delete(cacheRequestUrl(key));
            return undefined;
          }
          return { record, body: res.body }; // streamed: CRCs as it arrives
        },
        (s) => s.get(key),
        true,
      ),
    put: (key, record, bytes) =>
      run(
        async () =>
          (await open()).put(
            cacheRequestUrl(key),
            new Response(new Blob(/** @type {BlobPart[]} */ (bytes)), { headers: { 'content-type': 'application/octet-stream', 'content-length': String(record.bytes), 'x-vitrine-record': JSON.stringify(record) } }),
          ),
        (s) => s.put(key, record, bytes),
      ),
    delete: (key) => run(async () => (await open()).delete(cacheRequestUrl(key)), (s) => s.delete(key)),
  };
  return store;
}

/** @returns {Promise<IDBDatabase>} */
function openIdb() {
  return new Promise((ok, fail) => {
    const req = indexedDB.open(IDB_NAME, RECORD_VERSION);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains(IDB_STORE)) db.createObjectStore(IDB_STORE);
    };
    req.onsuccess = () => ok(req.result);
    req.onerror = () => fail(req.error);
    req.onblocked = () => fail(new Error('IndexedDB open blocked'));
  });
}

/** @param {IDBRequest} req */
const done = (req) => new Promise((ok, fail) => {
  req.onsuccess = () => ok(req.result);
  req.onerror = () => fail(req.error);
});

/** @param {IDBDatabase} db @returns {ModelStore} */
function idbStore(db) {
  const tx = (/** @type {IDBTransactionMode} */ mode) => db.transaction(IDB_STORE, mode).objectStore(IDB_STORE);
  // A write is durable when its transaction completes, not when its request
  // succeeds: resolving earlier let a page that closed right after
  // `cacheSettled` lose a copy it had reported as stored.
  const write = (/** @type {(s: IDBObjectStore) => void} */ f) =>
    new Promise((ok, fail) => {
      const t = db.transaction(IDB_STORE, 'readwrite');
      f(t.objectStore(IDB_STORE));
      t.oncomplete = () => ok(undefined);
      t.onerror = t.onabort = () => fail(t.error ?? new Error('IndexedDB transaction aborted'));
    });
  return {
    kind: 'indexeddb',
    async get(key) {
      const v = await done(tx('readonly').get(key));
      if (!v) return undefined;
      const record = parseRecord(v.record);
      if (!record || !(v.blob instanceof Blob)) {
        await write((s) => s.delete(key));
        return undefined;
      }
      return { record, body: v.blob };
    },
    async put(key, record, bytes) {
      const blob = new Blob(/** @type {BlobPart[]} */ (bytes), { type: 'application/octet-stream' });
      await write((s) => s.put({ record: JSON.stringify(record), blob }, key));
    },
    async delete(key) {
      await write((s) => s.delete(key));
    },
  };
}

/**
 * A stored record, or undefined when it is missing, unreadable or of
 * another layout (treated as no entry: it is overwritten on the next store).
 * @param {unknown} text
 * @returns {CacheRecord | undefined}
 */
function parseRecord(text) {
  if (typeof text !== 'string') return undefined;
  let r;
  try {
    r = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!r || typeof r !== 'object' || r.v !== RECORD_VERSION) return undefined;
  if (!Number.isSafeInteger(r.bytes) || r.bytes < 64 || !Number.isInteger(r.tableCrc)) return undefined;
  if (typeof r.url !== 'string' || typeof r.integrity !== 'string') return undefined;
  return r;
}

/** Bundle header fields the cache compares (docs/format.md: magic, file length at 24, table CRC at 32). */
const MAGIC = [0x56, 0x49, 0x54, 0x52, 0x49, 0x4e, 0x45, 0x00];

/**
 * Header fields of a bundle from its first bytes, or undefined when they are
 * not a bundle header.
 * @param {Uint8Array} head at least 36 bytes
 */
export function headerFields(head) {
  if (head.byteLength < 36) return undefined;
  for (let i = 0; i < 8; i++) if (head[i] !== MAGIC[i]) return undefined;
  const dv = new DataView(head.buffer, head.byteOffset, 36);
  const lo = dv.getUint32(24, true);
  const hi = dv.getUint32(28, true);
  return { fileLength: hi * 2 ** 32 + lo, tableCrc: dv.getUint32(32, true) };
}

/**
 * The first `n` bytes of a list of chunks (fewer if they hold fewer).
 * @param {Uint8Array[]} chunks @param {number} n
 */
export function firstBytes(chunks, n) {
  const out = new Uint8Array(n);
  let off = 0;
  for (const c of chunks) {
    if (off >= n) break;
    const take = Math.min(n - off, c.byteLength);
    out.set(c.subarray(0, take), off);
    off += take;
  }
  return out.subarray(0, off);
}

/** A cache failure that makes the load go back to the network, with its warning code. */
export class CacheMiss extends Error {
  /** @param {'CACHE_CORRUPT' | 'CACHE_FOREIGN' | 'CACHE_EVICTED'} code @param {string} message @param {unknown} [cause] */
  constructor(code, message, cause) {
    super(message, { cause });
    this.code = code;
  }
}

/**
 * The chunks of a cached body; a read that fails (the entry evicted by the
 * browser under storage pressure, a blob gone from disk) is CACHE_EVICTED.
 * @param {CacheEntry['body']} body
 * @returns {AsyncGenerator<Uint8Array>}
 */
export async function* bodyChunks(body) {
  if (body instanceof Uint8Array) {
    yield body;
    return;
  }
  if (body instanceof ArrayBuffer) {
    yield new Uint8Array(body);
    return;
  }
  if (typeof Response !== 'undefined' && body instanceof Response) {
    let buf;
    try {
      buf = await body.arrayBuffer();
    } catch (e) {
      throw new CacheMiss('CACHE_EVICTED', `the cached bundle could not be read (${messageOf(e)})`, e);
    }
    yield new Uint8Array(buf);
    return;
  }
  const stream = typeof Blob !== 'undefined' && body instanceof Blob ? body.stream() : body;
  const reader = /** @type {ReadableStream<Uint8Array>} */ (stream).getReader();
  try {
    for (;;) {
      let r;
      try {
        r = await reader.read();
      } catch (e) {
        throw new CacheMiss('CACHE_EVICTED', `the cached bundle could not be read to its end (${messageOf(e)})`, e);
      }
      if (r.done) return;
      yield r.value;
    }
  } finally {
    try {
      await reader.cancel();
    } catch {
      // already failed
    }
    reader.releaseLock();
  }
}

/**
 * Conditional request for a cached bundle: 'unchanged' on 304, 'changed'
 * when the server sends other bytes (the entry is evicted, so the next visit
 * downloads them; this one goes on with what it has), 'offline' when the
 * server cannot be asked. Never rejects.
 * @param {ModelStore} store @param {string} key @param {CacheRecord} record
 * @returns {Promise<'unchanged' | 'changed' | 'offline'>}
 */
export async function revalidate(store, key, record) {
  const sameOrigin = typeof location === 'undefined' || new URL(record.url).origin === location.origin;
  let res;
  try {
    if (sameOrigin) {
      /** @type {Record<string, string>} */
      const headers = {};
      if (record.etag) headers['If-None-Match'] = record.etag;
      else if (record.lastModified) headers['If-Modified-Since'] = record.lastModified;
      // no-store: the browser must neither answer from its HTTP cache nor
      // turn the server's 304 into a 200 of its own copy.
      res = await fetch(record.url, { headers, cache: 'no-store' });
    } else {
      // Cross-origin, a conditional header of our own would need a CORS
      // preflight the CDN may refuse; the browser's own revalidation of its
      // HTTP copy needs none. The validators are compared below.
      res = await fetch(record.url, { cache: 'no-cache' });
    }
  } catch {
    return 'offline';
  }
  try {
    await res.body?.cancel();
  } catch {
    // nothing to cancel
  }
  if (res.status === 304) return 'unchanged';
  if (!res.ok) return 'offline';
  const etag = res.headers.get('etag');
  const lastModified = res.headers.get('last-modified');
  if (record.etag ? etag === record.etag : record.lastModified !== null && lastModified === record.lastModified) return 'unchanged';
  // Other bytes, or validators this origin may not read (a cross-origin ETag
  // needs Access-Control-Expose-Headers): a copy that cannot be shown fresh
  // is not kept.
  try {
    await store.delete(key);
  } catch {
    // the next visit revalidates again
  }
  return 'changed';
}

/** The warning code for an entry that could not be used: its own CacheMiss code, else a bundle error's. */
export function warningOf(/** @type {unknown} */ e) {
  // The glue wraps what it does not know (INTERNAL, with the cause kept).
  for (let c = e, i = 0; c && i < 4; c = /** @type {any} */ (c).cause, i++) if (c instanceof CacheMiss) return c.code;
  if (e instanceof VitrineError) {
    if (['TRUNCATED', 'LENGTH_MISMATCH'].includes(e.code)) return 'CACHE_EVICTED';
    return 'CACHE_CORRUPT';
  }
  return 'CACHE_CORRUPT';
}
