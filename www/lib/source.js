// Bundle bytes → wasm `Model`: load options, fetching, streaming into wasm
// memory, size limits and integrity. Memory is committed as bytes arrive (a
// `Content-Length` header is a claim, not a fact) and freed on every failure.

import { VitrineError, badArg, callCallback, describe, messageOf, readingArgument, toVitrineError } from './errors.js';
import { parseIntegrity, verifyIntegrity } from './integrity.js';

/** @typedef {import('../vitrine.js').LoadOptions} LoadOptions */

/**
 * Default `maxBytes`: far above any bundle a storefront should ship (a
 * 1M-item, 64-dim int8 bundle is ~70 MB) and far below what a browser tab
 * can commit; wasm memory, once grown, is never returned to the system.
 */
export const DEFAULT_MAX_BYTES = 512 * 1024 * 1024;

/**
 * Up to this size a trusted-looking Content-Length is allocated up front
 * (one copy, straight into wasm memory). Above it the chunks are collected
 * as they arrive and copied at the end, so a lying header can never commit
 * more memory than the bytes actually received.
 */
export const EAGER_ALLOC_BYTES = 64 * 1024 * 1024;

const LOAD_OPTION_KEYS = new Set(['onProgress', 'simd', 'wasmUrl', 'wasmIntegrity', 'integrity', 'maxBytes', 'workerUrl', 'worker']);

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
  if (typeof opts !== 'object' || Array.isArray(opts)) {
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
  parseIntegrity(o.integrity, 'options.integrity');
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
 * @param {any} wasm the wasm glue module namespace
 * @param {AsyncIterable<Uint8Array> | Iterable<Uint8Array>} chunks
 * @param {number | undefined} total
 * @param {LoadOptions} opts
 */
export async function modelFromChunks(wasm, chunks, total, opts = {}) {
  const { onProgress } = opts;
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const integrity = parseIntegrity(opts.integrity, 'options.integrity');
  const report = (/** @type {number} */ loaded, /** @type {number | undefined} */ t) => {
    if (onProgress) callCallback('options.onProgress', onProgress, { loaded, total: t });
  };
  const known = total !== undefined && Number.isSafeInteger(total) && total > 0;
  if (known && /** @type {number} */ (total) > maxBytes) throw tooLarge(/** @type {number} */ (total), maxBytes, true);
  if (known && !integrity && /** @type {number} */ (total) <= EAGER_ALLOC_BYTES) {
    const t = /** @type {number} */ (total);
    let buf;
    try {
      buf = new wasm.BundleBuffer(t);
    } catch (e) {
      throw toVitrineError(e);
    }
    let loaded = 0;
    try {
      report(0, t);
      for await (const chunk of chunks) {
        if (chunk.byteLength === 0) continue;
        if (loaded + chunk.byteLength > t) {
          throw new VitrineError(
            'LENGTH_MISMATCH',
            `the response is longer than its Content-Length (${t} bytes); is it compressed or changing while served?`,
            { expected: t, received: loaded + chunk.byteLength },
          );
        }
        try {
          buf.write(loaded, chunk);
        } catch (e) {
          throw toVitrineError(e);
        }
        loaded += chunk.byteLength;
        report(loaded, t);
      }
      if (loaded !== t) throw truncated(loaded, t);
    } catch (e) {
      buf.free();
      throw toVitrineError(e);
    }
    return modelFromBuffer(wasm, buf);
  }
  /** @type {Uint8Array[]} */
  const parts = [];
  let loaded = 0;
  report(0, known ? total : undefined);
  for await (const chunk of chunks) {
    if (chunk.byteLength === 0) continue;
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
  if (known && loaded !== total) throw truncated(loaded, /** @type {number} */ (total));
  if (!known) report(loaded, loaded);
  if (integrity) {
    const all = parts.length === 1 ? parts[0] : concat(parts, loaded);
    await verifyIntegrity(all, integrity, 'the model bundle');
    return modelFromBytes(wasm, all);
  }
  if (parts.length === 1) return modelFromBytes(wasm, parts[0]);
  let buf;
  try {
    buf = new wasm.BundleBuffer(loaded);
    let off = 0;
    for (const p of parts) {
      buf.write(off, p);
      off += p.byteLength;
    }
  } catch (e) {
    if (buf) buf.free();
    throw toVitrineError(e);
  }
  return modelFromBuffer(wasm, buf);
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
 * The Model takes the buffer's memory; the emptied JS handle is freed here
 * whether or not validation succeeded.
 * @param {any} wasm @param {any} buf
 */
function modelFromBuffer(wasm, buf) {
  try {
    return wasm.Model.fromBuffer(buf);
  } catch (e) {
    throw toVitrineError(e);
  } finally {
    try {
      buf.free();
    } catch {
      // already consumed by a build whose fromBuffer takes ownership
    }
  }
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
 * @param {any} wasm
 * @param {Response} response
 * @param {LoadOptions} opts
 */
export async function modelFromResponse(wasm, response, opts) {
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
    return modelFromChunks(wasm, [new Uint8Array(buf)], undefined, opts);
  }
  return modelFromChunks(wasm, readerChunks(response.body, response.url), total, opts);
}

/**
 * Fetch-or-copy a model source into a wasm Model.
 * @param {any} wasm
 * @param {unknown} source
 * @param {LoadOptions} opts
 */
export async function openSource(wasm, source, opts) {
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
    return modelFromBytes(wasm, bytes);
  }
  if (typeof Response !== 'undefined' && source instanceof Response) {
    return modelFromResponse(wasm, source, opts);
  }
  if (
    typeof source === 'string' ||
    source instanceof URL ||
    (typeof Request !== 'undefined' && source instanceof Request)
  ) {
    const url = String(source instanceof Request ? source.url : source);
    let response;
    try {
      response = await fetch(/** @type {any} */ (source));
    } catch (e) {
      throw new VitrineError('NETWORK', `fetching the model ${url} failed: ${messageOf(e)}`, { url }, { cause: e });
    }
    return modelFromResponse(wasm, response, opts);
  }
  return badArg(
    `source must be a URL string, URL, Request, Response, ArrayBuffer or Uint8Array, got ${describe(source)}`,
  );
}
