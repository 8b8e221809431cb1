// Node entry of the `vitrine` package: the same API as the browser glue,
// with the wasm read from the package directory (no fetch of file: URLs in
// Node) and bundles loadable from a file path.

import { readFileSync, createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { VitrineError, toVitrineError, messageOf, readingArgument } from './lib/errors.js';
import { pickVariant } from './lib/detect.js';
import { BUILDS, wasmUrlOf, wasmIntegrityOf } from './lib/wasm.js';
import { parseIntegrity, verifyIntegrity } from './lib/integrity.js';
import { applyScreen, checkLoadOptions, openSource, modelFromChunks } from './lib/source.js';
import { Vitrine } from './lib/model.js';
import { openSharded } from './shards.js';

export { VitrineError, toVitrineError };
export { JS_ERROR_CODES } from './lib/errors.js';
export { simdSupported, relaxedSimdSupported } from './lib/detect.js';
export { VitrineWorker } from './lib/worker-client.js';
export { ShardedVitrine, SHARD_CACHE_PREFIX } from './shards.js';

/** @type {Map<string, Promise<any>>} keyed by build, file and integrity */
const cache = new Map();

/**
 * @param {'relaxed' | 'simd' | 'scalar' | 'intent'} variant
 * @param {unknown} wasmUrl
 * @param {unknown} wasmIntegrity
 */
function nodeWasm(variant, wasmUrl, wasmIntegrity) {
  const url = wasmUrlOf(variant, wasmUrl);
  const integrity = wasmIntegrityOf(variant, wasmIntegrity);
  const path = url === undefined ? BUILDS[variant].wasm() : toPathOrUrl(url);
  const key = `${variant}\n${String(path)}\n${integrity ?? ''}`;
  let p = cache.get(key);
  if (!p) {
    p = (async () => {
      const mod = await BUILDS[variant].glue();
      let bytes;
      try {
        bytes = readFileSync(path);
      } catch (e) {
        throw new VitrineError('WASM_UNAVAILABLE', `could not read the ${variant} wasm build ${String(path)}: ${messageOf(e)}`, { variant, reason: 'read' }, { cause: e });
      }
      if (integrity) await verifyIntegrity(bytes, /** @type {any} */ (parseIntegrity(integrity, 'wasmIntegrity')), `the ${variant} wasm build ${String(path)}`);
      try {
        mod.initSync({ module: bytes });
      } catch (e) {
        throw new VitrineError('WASM_UNAVAILABLE', `could not instantiate the ${variant} wasm build ${String(path)}: ${messageOf(e)}`, { variant, reason: 'instantiate' }, { cause: e });
      }
      return mod;
    })().catch((e) => {
      cache.delete(key);
      throw toVitrineError(e);
    });
    cache.set(key, p);
  }
  return p;
}

/** @param {string | URL} u */
function toPathOrUrl(u) {
  if (u instanceof URL) return u;
  return /^file:/i.test(u) ? new URL(u) : u;
}

/**
 * A file stream whose read errors are NETWORK errors, like a broken download.
 * @param {string} path
 */
async function* fileChunks(path) {
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  try {
    for await (const chunk of stream) yield chunk;
  } catch (e) {
    throw new VitrineError('NETWORK', `reading the model file ${path} failed: ${messageOf(e)}`, { path }, { cause: e });
  } finally {
    stream.destroy();
  }
}

/**
 * Load a model bundle. In Node `source` may also be a file path or a
 * `file:` URL; those are streamed into wasm memory with progress reports.
 * @param {string | URL | Request | Response | ArrayBuffer | ArrayBufferView} source
 * @param {import('./vitrine.js').LoadOptions} [options]
 * @returns {Promise<Vitrine>}
 */
export async function load(source, options) {
  const opts = checkLoadOptions(options);
  const threads = /** @type {any} */ (opts).threads ?? 1; // checked by checkLoadOptions
  const variant = pickVariant(opts.simd, opts.wasmUrl);
  const wasm = await nodeWasm(variant, opts.wasmUrl, opts.wasmIntegrity);
  let model;
  // `instanceof` on a Proxy can throw (its getPrototypeOf trap): INVALID_ARGUMENT, not a raw error.
  readingArgument('source', () => source instanceof URL);
  const isHttp = (/** @type {string} */ s) => /^https?:/i.test(s);
  if ((typeof source === 'string' && !isHttp(source)) || (source instanceof URL && source.protocol === 'file:')) {
    const path = source instanceof URL ? fileURLToPath(source) : /^file:/i.test(source) ? fileURLToPath(source) : source;
    let size;
    try {
      size = (await stat(path)).size;
    } catch (e) {
      throw new VitrineError('NETWORK', `cannot read the model file ${path}: ${messageOf(e)}`, { path }, { cause: e });
    }
    model = await modelFromChunks(wasm, fileChunks(path), size, opts);
  } else {
    model = await openSource(wasm, source, opts);
  }
  applyScreen(model, opts);
  const v = new Vitrine(model, variant, wasm, () => nodeWasm('intent', opts.wasmUrl, opts.wasmIntegrity));
  // The browser's helper split needs a Worker and shared memory in a page;
  // in Node the option is accepted (the same code runs in both) and says so.
  if (threads !== 1) v._threadsInfo = { count: 1, requested: threads, reason: 'Node: the helper split of threads: 2 runs in browsers only (a Worker woken through shared memory); scans run on the calling thread', sharedBytes: false };
  return v;
}

/**
 * `loadSharded` in Node: an http(s) head URL, shards fetched with `fetch`
 * (or `options.fetch`); Node has no Cache Storage, so shards are cached only
 * in an `options.shardCache` object given (match, put, delete).
 * @param {string | URL} head
 * @param {any} [options]
 */
export function loadSharded(head, options) {
  return openSharded((variant, o) => nodeWasm(variant, o.wasmUrl, o.wasmIntegrity), head, options);
}

/** Worker mode is browser-only; Node callers can use worker_threads themselves. */
export async function loadInWorker() {
  throw new VitrineError('WORKER', 'loadInWorker is only available in browsers; use load() in Node', { reason: 'unsupported' });
}
