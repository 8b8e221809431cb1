// Bundle bytes → wasm `Model`: load options, fetching, streaming into wasm
// memory, size limits and integrity. Memory is committed as bytes arrive (a
// `Content-Length` header is a claim, not a fact) and freed on every failure.

import { VitrineError, badArg, callCallback, describe, isOptionsObject, messageOf, readingArgument, toVitrineError } from './errors.js';
import { parseIntegrity, requireSubtle, verifyIntegrity } from './integrity.js';
import { CacheMiss, bodyChunks, cacheKey, checkCacheOption, firstBytes, headerFields, openStore, revalidate, warningOf } from './cache.js';
import { baseHref } from './wasm.js';

/** @typedef {import('../vitrine.js').LoadOptions} LoadOptions */

/**
 * Default `maxBytes`: far above any bundle a storefront should ship (a
 * 1M-item, 64-dim int8 bundle is ~70 MB) and far below what a browser tab
 * can commit; wasm memory, once grown, is never returned to the system.
 */
export const DEFAULT_MAX_BYTES = 512 * 1024 * 1024;

/**
 * Up to this size a trusted-looking Content-Length goes straight into a
 * `BundleBuffer` (one copy, straight into wasm memory). Above it the buffer
 * is made only once `PROVEN_BYTES` have really arrived (the chunks wait in
 * JS until then), so a lying header never grows wasm memory, which is never
 * returned; from there on the bytes stream in and each section's CRC is
 * computed while the rest downloads, at any size.
 */
export const EAGER_ALLOC_BYTES = 64 * 1024 * 1024;
/** What a large Content-Length must be backed by before wasm memory is committed to it. */
const PROVEN_BYTES = 32 * 1024 * 1024;

const LOAD_OPTION_KEYS = new Set(['onProgress', 'simd', 'wasmUrl', 'wasmIntegrity', 'integrity', 'maxBytes', 'workerUrl', 'worker', 'cache', 'onWarning', 'threads', 'screen']);

/** Milliseconds on the page's clock (navigation start = 0), for the load timings. */
export const now = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/**
 * What one load did and when, kept for `info().load`: the phases on the
 * page's clock (`performance.now()`, navigation start = 0) and the cache's
 * part. Phases overlap: the wasm compiles while the bundle downloads.
 * @typedef {{ start: number, fetchStart?: number, firstByte?: number, downloadEnd?: number,
 *             compileStart?: number, compileEnd?: number, validateStart?: number, validateEnd?: number,
 *             validation?: 'full' | 'cached', bytes?: number, prime?: { ms: number | null },
 *             cache: { status: 'off' | 'none' | 'miss' | 'hit' | 'stored', store?: string, warnings: string[],
 *                      revalidation?: 'pending' | 'unchanged' | 'changed' | 'offline' | 'pinned' },
 *             background: Promise<unknown>[] }} LoadContext
 * `background`: the cache's work after the load (storing, revalidating), kept
 * out of `cache` so that `info()` stays plain data (it crosses to workers).
 */

/** @returns {LoadContext} */
export function newLoadContext() {
  return { start: now(), cache: { status: 'none', warnings: [] }, background: [] };
}

/**
 * Validate load options; `null`/`undefined` values mean "not given".
 * @param {unknown} opts
 * @returns {LoadOptions}
 */
export function checkLoadOptions(opts) {
  return readingArgument('load options', () => loadOptions(opts));
}

/** @param {unknown} opts @returns {LoadOptions} */
function loadOptions(opts) {
  if (opts === undefined || opts === null) return {};
  if (!isOptionsObject(opts)) {
    badArg(`load options must be an object, got ${describe(opts)}`);
  }
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const key of Object.keys(opts)) {
    if (!LOAD_OPTION_KEYS.has(key)) {
      badArg(`unknown load option "${key}" (known: ${[...LOAD_OPTION_KEYS].join(', ')})`);
    }
    const v = /** @type {any} */ (opts)[key];
    if (v !== undefined && v !== null) out[key] = v;
  }
  const o = /** @type {LoadOptions} */ (out);
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') {
    badArg(`options.onProgress must be a function, got ${describe(o.onProgress)}`);
  }
  if (o.maxBytes !== undefined && (typeof o.maxBytes !== 'number' || !Number.isSafeInteger(o.maxBytes) || o.maxBytes < 1)) {
    badArg(`options.maxBytes must be a positive whole number of bytes, got ${describe(o.maxBytes)}`);
  }
  if (o.onWarning !== undefined && typeof o.onWarning !== 'function') {
    badArg(`options.onWarning must be a function, got ${describe(o.onWarning)}`);
  }
  if (o.screen !== undefined && typeof o.screen !== 'boolean') badArg(`options.screen must be true or false, got ${describe(o.screen)}`);
  const threads = /** @type {any} */ (o).threads;
  if (threads !== undefined && threads !== 1 && threads !== 2 && threads !== 'auto') badArg(`options.threads must be 1, 2 or 'auto', got ${describe(threads)}`);
  checkCacheOption(o.cache);
  parseIntegrity(o.integrity, 'options.integrity');
  // Per-build objects copied now: a throwing getter is INVALID_ARGUMENT here, not a raw error in the loader.
  for (const key of ['wasmUrl', 'wasmIntegrity']) {
    const v = /** @type {any} */ (o)[key];
    if (v === undefined || typeof v !== 'object' || v instanceof URL) continue;
    if (!isOptionsObject(v)) badArg(`options.${key} must be an object (one entry per build), got ${describe(v)}`);
    /** @type {any} */ (o)[key] = Object.fromEntries(['relaxed', 'simd', 'scalar', 'intent'].filter((b) => Object.prototype.hasOwnProperty.call(v, b) && v[b] != null).map((b) => [b, v[b]]));
  }
  return o;
}

/** @param {number} n @param {number} max */
function tooLarge(n, max, claimed = false) {
  return new VitrineError(
    'TOO_LARGE',
    `the bundle ${claimed ? 'announces' : 'has at least'} ${n} bytes, more than options.maxBytes (${max}); raise maxBytes if this bundle is really that large`,
    { maxBytes: max, bytes: n },
  );
}

/**
 * Build a Model from a stream of chunks. A known total of modest size lets
 * the bytes go straight into their final, aligned place in wasm memory (no
 * second copy); otherwise the chunks are collected first and copied once.
 * `wasm` may still be compiling (a promise): chunks that arrive before it is
 * ready wait in a queue, so the download never waits for the compile.
 * @param {any} wasm the wasm glue module namespace, or a promise of it
 * @param {AsyncIterable<Uint8Array> | Iterable<Uint8Array>} chunks
 * @param {number | undefined} total
 * @param {LoadOptions} opts
 * @param {{ t?: LoadContext, keep?: Uint8Array[], cached?: boolean }} [ctx] timings; `keep` collects
 *   the chunks for the cache; `cached`: bytes from the device's cache (reduced validation)
 */
export async function modelFromChunks(wasm, chunks, total, opts = {}, ctx = {}) {
  const { onProgress } = opts;
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const integrity = parseIntegrity(opts.integrity, 'options.integrity');
  const t = ctx.t;
  const keep = ctx.keep;
  const report = (/** @type {number} */ loaded, /** @type {number | undefined} */ tt) => {
    if (onProgress) callCallback('options.onProgress', onProgress, { loaded, total: tt });
  };
  const got = (/** @type {Uint8Array} */ chunk) => {
    if (t && t.firstByte === undefined) t.firstByte = now();
    if (keep) keep.push(chunk);
  };
  const known = total !== undefined && Number.isSafeInteger(total) && total > 0;
  if (known && /** @type {number} */ (total) > maxBytes) throw tooLarge(/** @type {number} */ (total), maxBytes, true);
  let finished = false;
  if (isPromise(wasm)) {
    const stats = { ms: /** @type {number | null} */ (null) };
    if (t) t.prime = stats;
    wasm.then((/** @type {any} */ w) => prime(w, !!ctx.cached, () => finished, stats), () => {});
  }
  if (known && !integrity) {
    const tt = /** @type {number} */ (total);
    const source = isPromise(wasm) ? eager(chunks) : chunks;
    let loaded = 0;
    report(0, tt);
    /** @type {Uint8Array[]} */
    const early = [];
    /** @type {any} */
    let w = isPromise(wasm) ? undefined : wasm;
    if (w === undefined) wasm.then((/** @type {any} */ v) => (w = v), () => {});
    /** @type {any} */
    let buf;
    const flushEarly = () => {
      buf = newBuffer(w, tt, maxBytes);
      for (const e of early) pushChunk(buf, e);
      early.length = 0;
    };
    try {
      for await (const chunk of source) {
        if (chunk.byteLength === 0) continue;
        got(chunk);
        if (loaded + chunk.byteLength > tt) {
          throw new VitrineError(
            'LENGTH_MISMATCH',
            `the response is longer than its Content-Length (${tt} bytes); is it compressed or changing while served?`,
            { expected: tt, received: loaded + chunk.byteLength },
          );
        }
        // Chunks that arrive while the wasm compiles (or before a large
        // Content-Length is backed by bytes) wait, then go in at once.
        if (!buf && w !== undefined && (tt <= EAGER_ALLOC_BYTES || loaded + chunk.byteLength >= PROVEN_BYTES)) flushEarly();
        if (buf) pushChunk(buf, chunk);
        else early.push(chunk);
        loaded += chunk.byteLength;
        report(loaded, tt);
      }
      if (loaded !== tt) throw truncated(loaded, tt);
      finished = true;
      if (!buf) {
        w = await wasm;
        flushEarly();
      }
    } catch (e) {
      finished = true;
      buf?.free();
      throw toVitrineError(e);
    }
    if (t) t.downloadEnd = now();
    return modelFromBuffer(w, buf, ctx);
  }
  /** @type {Uint8Array[]} */
  const parts = [];
  let loaded = 0;
  report(0, known ? total : undefined);
  for await (const chunk of isPromise(wasm) ? eager(chunks) : chunks) {
    if (chunk.byteLength === 0) continue;
    got(chunk);
    loaded += chunk.byteLength;
    if (loaded > maxBytes) throw tooLarge(loaded, maxBytes);
    if (known && loaded > /** @type {number} */ (total)) {
      throw new VitrineError(
        'LENGTH_MISMATCH',
        `the response is longer than its Content-Length (${total} bytes); is it compressed or changing while served?`,
        { expected: total, received: loaded },
      );
    }
    parts.push(chunk);
    report(loaded, known ? total : undefined);
  }
  finished = true;
  if (known && loaded !== total) throw truncated(loaded, /** @type {number} */ (total));
  if (!known) report(loaded, loaded);
  if (t) t.downloadEnd = now();
  const w = await wasm;
  if (integrity) {
    const all = parts.length === 1 ? parts[0] : concat(parts, loaded);
    await verifyIntegrity(all, integrity, 'the model bundle');
    return timedValidate(ctx, () => modelFromBytes(w, all));
  }
  if (parts.length === 1) return timedValidate(ctx, () => modelFromBytes(w, parts[0]));
  let buf;
  try {
    buf = newBuffer(w, loaded);
    let off = 0;
    for (const p of parts) {
      writeChunk(buf, off, p);
      off += p.byteLength;
    }
  } catch (e) {
    if (buf) buf.free();
    throw toVitrineError(e);
  }
  return modelFromBuffer(w, buf, ctx);
}

const tick = () => new Promise((ok) => setTimeout(ok, 0));
const primed = new WeakSet();
/** @type {Promise<Uint8Array> | undefined} */
let primerBytes;
/**
 * The primer's catalogue. Its module (calibrate.js) is not loaded by a load
 * whose build choice is remembered, and fetching it only once the wasm was
 * ready let most warm visits answer before the priming ran (the module
 * came after the last byte): `openSource` starts it with the load.
 */
export function primerCatalogue() {
  primerBytes ??= import('./calibrate.js').then((c) => c.calibrationBundle(32, 64));
  return primerBytes;
}

/**
 * Wasm compiles on first call and Chromium did not keep our code between
 * visits: so the load and query exports run on a tiny catalogue while bytes
 * arrive (docs/web.md, "What a warm visit waits for"). Never throws.
 * @param {any} w @param {boolean} cached @param {() => boolean} done @param {{ ms: number | null }} s
 */
export async function prime(w, cached, done, s) {
  if (!w?.BundleBuffer || primed.has(w)) return;
  await tick();
  if (done() || primed.has(w)) return;
  primed.add(w);
  let m;
  let buf;
  try {
    const bytes = await primerCatalogue();
    // The module may come after the last byte: then priming would only delay the load.
    if (done()) return;
    let t0 = now();
    buf = new w.BundleBuffer(bytes.length);
    buf.push(bytes);
    m = cached ? w.Model.fromBufferCached(buf) : w.Model.fromBuffer(buf);
    s.ms = now() - t0;
    await tick();
    if (done()) return;
    t0 = now();
    m.recommend(new Float32Array(64).fill(0.1), { k: 10 });
    s.ms += now() - t0;
  } catch {
    // only the head start is lost
  } finally {
    try {
      m?.free();
      buf?.free();
    } catch {
      // consumed by the model
    }
  }
}

/** @param {unknown} x @returns {x is Promise<any>} */
const isPromise = (x) => !!x && typeof (/** @type {any} */ (x)).then === 'function';

/** @param {any} w @param {number} n @param {number} [max] */
function newBuffer(w, n, max) {
  try {
    return max === undefined ? new w.BundleBuffer(n) : new w.BundleBuffer(n, max);
  } catch (e) {
    throw toVitrineError(e);
  }
}

/** @param {any} buf @param {Uint8Array} chunk */
function pushChunk(buf, chunk) {
  try {
    buf.push(chunk);
  } catch (e) {
    throw toVitrineError(e);
  }
}

/** @param {any} buf @param {number} off @param {Uint8Array} chunk */
function writeChunk(buf, off, chunk) {
  try {
    buf.write(off, chunk);
  } catch (e) {
    throw toVitrineError(e);
  }
}

/**
 * Reads `chunks` from now on, whether or not anyone is waiting: a network
 * body that is not read stalls once the browser's buffer is full, so the
 * download would otherwise wait for the compile. Stopping the consumer
 * (an error, a `return`) stops the reading.
 * @param {AsyncIterable<Uint8Array> | Iterable<Uint8Array>} chunks
 * @returns {AsyncGenerator<Uint8Array>}
 */
function eager(chunks) {
  /** @type {Uint8Array[]} */
  const queue = [];
  let head = 0;
  let finished = false;
  let stopped = false;
  /** @type {unknown} */
  let failure;
  let failed = false;
  /** @type {(() => void) | undefined} */
  let wake;
  const pump = (async () => {
    try {
      for await (const c of chunks) {
        if (stopped) break;
        queue.push(c);
        wake?.();
      }
    } catch (e) {
      failure = e;
      failed = true;
    } finally {
      finished = true;
      wake?.();
    }
  })();
  return (async function* () {
    try {
      for (;;) {
        if (head < queue.length) {
          const c = queue[head];
          queue[head++] = /** @type {any} */ (undefined);
          yield c;
          continue;
        }
        if (failed) throw failure;
        if (finished) return;
        await new Promise((ok) => (wake = () => ok(undefined)));
        wake = undefined;
      }
    } finally {
      stopped = true;
      await pump;
    }
  })();
}

/** @param {Uint8Array[]} parts @param {number} n */
function concat(parts, n) {
  const all = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.byteLength;
  }
  return all;
}

/** @param {number} loaded @param {number} total */
function truncated(loaded, total) {
  return new VitrineError('TRUNCATED', `the download ended after ${loaded} of ${total} bytes; retry the request`, {
    expected: total,
    received: loaded,
  });
}

/**
 * @param {{ t?: LoadContext }} ctx @param {() => any} f
 */
function timedValidate(ctx, f) {
  if (ctx.t) ctx.t.validateStart = now();
  try {
    return f();
  } finally {
    if (ctx.t) {
      ctx.t.validateEnd = now();
      ctx.t.validation ??= 'full';
    }
  }
}

/**
 * The Model takes the buffer's memory; the emptied JS handle is freed here
 * whether or not validation succeeded. Bytes from the device's cache go
 * through `fromBufferCached` where the build has it (docs/web.md, "Warm
 * visits": why they may skip the content checks).
 * @param {any} wasm @param {any} buf @param {{ t?: LoadContext, cached?: boolean }} [ctx]
 */
function modelFromBuffer(wasm, buf, ctx = {}) {
  const cached = !!ctx.cached && typeof wasm.Model.fromBufferCached === 'function';
  if (ctx.t) ctx.t.validation = cached ? 'cached' : 'full';
  return timedValidate(ctx, () => {
    try {
      return cached ? wasm.Model.fromBufferCached(buf) : wasm.Model.fromBuffer(buf);
    } catch (e) {
      throw toVitrineError(e);
    } finally {
      try {
        buf.free();
      } catch {
        // already consumed by a build whose fromBuffer takes ownership
      }
    }
  });
}

/**
 * `options.screen`: an f32 or f16 catalogue's int8 screen is built by its
 * first scan unless this says otherwise: `true` builds it now (the load pays,
 * not the first query), `false` never (its memory, a quarter of the f32
 * rows, is not wanted). Engine builds without `setScreen` have no screen.
 * @param {any} model @param {LoadOptions} opts
 */
export function applyScreen(model, opts) {
  const on = /** @type {any} */ (opts).screen;
  if (on === undefined || typeof model?.setScreen !== 'function') return model;
  try {
    model.setScreen(on);
  } catch (e) {
    model.free?.();
    throw toVitrineError(e);
  }
  return model;
}

/** @param {any} wasm @param {Uint8Array} bytes */
export function modelFromBytes(wasm, bytes) {
  try {
    return wasm.Model.fromBytes(bytes);
  } catch (e) {
    throw toVitrineError(e);
  }
}

/**
 * Chunks of a body; a connection that breaks off mid-download (a raw
 * `TypeError: terminated` / "network error") becomes NETWORK.
 * @param {ReadableStream<Uint8Array>} body @param {string} url
 */
async function* readerChunks(body, url) {
  const reader = body.getReader();
  let received = 0;
  try {
    for (;;) {
      let r;
      try {
        r = await reader.read();
      } catch (e) {
        throw new VitrineError(
          'NETWORK',
          `the download of ${url || 'the model'} broke off after ${received} bytes (${messageOf(e)}); retry the request`,
          { url, received },
          { cause: e },
        );
      }
      if (r.done) return;
      received += r.value.byteLength;
      yield r.value;
    }
  } finally {
    try {
      await reader.cancel();
    } catch {
      // the stream already failed
    }
    reader.releaseLock();
  }
}

/**
 * @param {any} wasm the glue module, or a promise of it
 * @param {Response} response
 * @param {LoadOptions} opts
 * @param {{ t?: LoadContext, keep?: Uint8Array[] }} [ctx]
 */
export async function modelFromResponse(wasm, response, opts, ctx = {}) {
  if (!response.ok) {
    throw new VitrineError(
      'NETWORK',
      `fetching the model failed: HTTP ${response.status} ${response.statusText} for ${response.url || 'the request'}`,
      { status: response.status, url: response.url },
    );
  }
  // Content-Length counts encoded bytes: with gzip/br it is not the body size.
  const encoding = response.headers.get('content-encoding');
  const lenHeader = response.headers.get('content-length');
  let total;
  if (lenHeader !== null && (!encoding || encoding === 'identity')) {
    const n = Number(lenHeader);
    if (Number.isSafeInteger(n) && n >= 0) total = n;
  }
  if (!response.body) {
    let buf;
    try {
      buf = await response.arrayBuffer();
    } catch (e) {
      throw new VitrineError('NETWORK', `reading the model failed: ${messageOf(e)}`, { url: response.url }, { cause: e });
    }
    return modelFromChunks(wasm, [new Uint8Array(buf)], undefined, opts, ctx);
  }
  return modelFromChunks(wasm, readerChunks(response.body, response.url), total, opts, ctx);
}

/**
 * Report a cache warning: to `onWarning(code, message)` when given, else
 * to the console; always into `info().load.cache.warnings`.
 * @param {LoadOptions} opts @param {LoadContext | undefined} t @param {string} code @param {string} message
 */
function warn(opts, t, code, message) {
  t?.cache.warnings.push(code);
  if (opts.onWarning) callCallback('options.onWarning', opts.onWarning, code, message);
  else if (typeof console !== 'undefined') console.warn(`vitrine: ${message} [${code}]`);
}

/**
 * A Model from a cache entry: the header is compared with the entry's
 * record (a bundle of another model has another table CRC), then the bytes
 * go through the cached-bundle validation. Throws CacheMiss (or a bundle
 * error) when the entry cannot be used.
 * @param {any} wasm @param {import('./cache.js').CacheEntry} entry @param {LoadOptions} opts @param {LoadContext} t
 */
async function modelFromCacheEntry(wasm, entry, opts, t) {
  const rec = entry.record;
  async function* checked() {
    /** @type {Uint8Array[]} */
    const head = [];
    let headBytes = 0;
    let ok = false;
    for await (const c of bodyChunks(entry.body)) {
      if (!ok) {
        head.push(c);
        headBytes += c.byteLength;
        if (headBytes < 36) {
          continue;
        }
        const h = headerFields(firstBytes(head, 36));
        if (!h) throw new CacheMiss('CACHE_CORRUPT', 'the cached bundle does not start with a bundle header');
        if (h.tableCrc !== rec.tableCrc || h.fileLength !== rec.bytes) {
          throw new CacheMiss(
            'CACHE_FOREIGN',
            `the cache entry for ${rec.url} holds another bundle (table CRC ${hex(h.tableCrc)}, ${h.fileLength} bytes; stored for ${hex(rec.tableCrc)}, ${rec.bytes} bytes)`,
          );
        }
        ok = true;
        yield* head;
        head.length = 0;
        continue;
      }
      yield c;
    }
    if (!ok) throw new CacheMiss('CACHE_EVICTED', `the cached bundle ended after ${headBytes} bytes`);
  }
  // The stored bytes were checked against `integrity` before they were
  // stored, and the checksums prove these are those bytes.
  const { integrity: _pinned, ...rest } = opts;
  return modelFromChunks(wasm, checked(), rec.bytes, rest, { t, cached: true });
}

/** @param {number} n */
const hex = (n) => n.toString(16).padStart(8, '0');

/**
 * Fetch-or-copy a model source into a wasm Model. A URL source goes through
 * the device's model cache unless `cache: false` (browsers; Node has no
 * store unless one is passed).
 * @param {any} wasm the glue module, or a promise of it (the download then starts at once)
 * @param {unknown} source
 * @param {LoadOptions} opts
 * @param {LoadContext} [t] filled with timings and the cache's part
 */
export async function openSource(wasm, source, opts, t = newLoadContext()) {
  // `instanceof` throws for a Proxy whose getPrototypeOf trap throws.
  readingArgument('source', () => source instanceof ArrayBuffer);
  // Fetched while the wasm compiles, so priming can run as soon as it is ready.
  if (isPromise(wasm)) primerCatalogue().catch(() => {});
  // An unverifiable hash (insecure origin) fails before the download.
  if (opts.integrity) requireSubtle('the model bundle');
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    const bytes =
      source instanceof Uint8Array
        ? source
        : source instanceof ArrayBuffer
          ? new Uint8Array(source)
          : new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
    const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
    if (bytes.byteLength > maxBytes) throw tooLarge(bytes.byteLength, maxBytes);
    if (opts.onProgress) callCallback('options.onProgress', opts.onProgress, { loaded: bytes.byteLength, total: bytes.byteLength });
    const integrity = parseIntegrity(opts.integrity, 'options.integrity');
    if (integrity) await verifyIntegrity(bytes, integrity, 'the model bundle');
    const w = await wasm;
    return timedValidate({ t }, () => modelFromBytes(w, bytes));
  }
  if (typeof Response !== 'undefined' && source instanceof Response) {
    return modelFromResponse(wasm, source, opts, { t });
  }
  if (
    typeof source === 'string' ||
    source instanceof URL ||
    (typeof Request !== 'undefined' && source instanceof Request)
  ) {
    const url = String(source instanceof Request ? source.url : source);
    let store = await storeFor(source, url, opts, t);
    const key = store ? cacheKey(store.url, opts.integrity) : '';
    if (store) {
      const model = await fromCache(wasm, store.store, key, opts, t);
      if (model) return model;
      if (model === false) store = null; // unreadable: not written either
    }
    t.fetchStart = now();
    let response;
    try {
      response = await fetch(/** @type {any} */ (source));
    } catch (e) {
      throw new VitrineError('NETWORK', `fetching the model ${url} failed: ${messageOf(e)}`, { url }, { cause: e });
    }
    const etag = response.headers.get('etag');
    const lastModified = response.headers.get('last-modified');
    // Without a validator (or a pinned hash) a stored copy could never be
    // revalidated: such bundles are not cached.
    const keep = store && response.ok && (etag !== null || lastModified !== null || opts.integrity) ? [] : undefined;
    const model = await modelFromResponse(wasm, response, opts, { t, keep });
    if (store && keep) {
      const h = headerFields(firstBytes(keep, 36));
      const bytes = keep.reduce((n, c) => n + c.byteLength, 0);
      if (h && h.fileLength === bytes) {
        /** @type {import('./cache.js').CacheRecord} */
        const record = { v: 1, url: store.url, integrity: opts.integrity ?? '', etag, lastModified, bytes, tableCrc: h.tableCrc, modelId: null, storedAt: Date.now() };
        // Stored after the first answer, off the critical path; the model in
        // hand passed full validation, so only validated bytes are stored.
        t.background.push(new Promise((ok) => setTimeout(ok, 0))
          .then(() => store.store.put(key, record, keep))
          .then(
            () => {
              t.cache.status = 'stored';
              return true;
            },
            (e) => {
              warn(opts, t, 'CACHE_UNAVAILABLE', `the model could not be stored on this device (${messageOf(e)}); the next visit downloads it again`);
              return false;
            },
          ),
        );
      }
    }
    return model;
  }
  return badArg(
    `source must be a URL string, URL, Request, Response, ArrayBuffer or Uint8Array, got ${describe(source)}`,
  );
}

/**
 * The model store for a URL source, with the absolute URL that keys it, or
 * null (cache off, no store here, not a GET of an http(s) URL).
 * @param {unknown} source @param {string} url @param {LoadOptions} opts @param {LoadContext} t
 */
async function storeFor(source, url, opts, t) {
  if (opts.cache === false) {
    t.cache.status = 'off';
    return null;
  }
  if (typeof Request !== 'undefined' && source instanceof Request && source.method !== 'GET') return null;
  let abs;
  try {
    abs = new URL(url, baseHref()).href;
  } catch {
    return null;
  }
  if (!/^https?:/i.test(abs)) return null;
  let store;
  try {
    store = await openStore(opts.cache ?? true);
  } catch (e) {
    warn(opts, t, 'CACHE_UNAVAILABLE', `the model cache could not be opened (${messageOf(e)}); loading from the network`);
    return null;
  }
  if (!store) {
    // A store asked for by name that is not here (Cache Storage: secure contexts only).
    if (typeof opts.cache === 'string') warn(opts, t, 'CACHE_UNAVAILABLE', `options.cache '${opts.cache}' is not available here (Cache Storage needs https or localhost); loading uncached (cache: true falls back to IndexedDB)`);
    return null;
  }
  t.cache.status = 'miss';
  t.cache.store = store.kind;
  return { store, url: abs };
}

/**
 * The model from the device's cache, revalidated in the background; null
 * when there is no usable entry (a bad one is evicted with a warning), false
 * when the store could not be read at all.
 * @param {any} wasm @param {import('./cache.js').ModelStore} store @param {string} key @param {LoadOptions} opts @param {LoadContext} t
 */
async function fromCache(wasm, store, key, opts, t) {
  let entry;
  try {
    entry = await store.get(key);
  } catch (e) {
    warn(opts, t, 'CACHE_UNAVAILABLE', `the model cache could not be read (${messageOf(e)}); loading from the network`);
    return false;
  }
  t.cache.store = store.kind; // IndexedDB may have taken over
  if (!entry) return null;
  t.fetchStart = now();
  try {
    const model = await modelFromCacheEntry(wasm, entry, opts, t);
    t.cache.status = 'hit';
    if (opts.integrity) {
      // The page pinned these exact bytes: nothing to ask the server.
      t.cache.revalidation = 'pinned';
    } else {
      t.cache.revalidation = 'pending';
      // After the first answer, like the store (it cost 1–17 ms here).
      t.background.push(
        new Promise((ok) => setTimeout(ok, 0))
          .then(() => revalidate(store, key, entry.record))
          .then((r) => (t.cache.revalidation = r)),
      );
    }
    return model;
  } catch (e) {
    // Not the entry's fault: the wasm did not load, or maxBytes is now lower.
    if (e instanceof VitrineError && ['WASM_UNAVAILABLE', 'TOO_LARGE', 'INVALID_ARGUMENT'].includes(e.code)) throw e;
    const code = warningOf(e);
    const what = code === 'CACHE_FOREIGN' ? 'holds another model' : code === 'CACHE_EVICTED' ? 'vanished while being read' : 'is corrupt';
    warn(opts, t, code, `the cached copy of ${entry.record.url} ${what} (${messageOf(e)}); evicted, downloading it again`);
    t.cache.status = 'miss';
    delete t.validation;
    try {
      await store.delete(key);
    } catch {
      // gone already
    }
    return null;
  }
}
