// Node entry of the `vitrine` package: the same API as the browser glue,
// with the wasm read from the package directory (no fetch of file: URLs in
// Node) and bundles loadable from a file path.

import { readFileSync, createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  Vitrine,
  VitrineError,
  VitrineWorker,
  JS_ERROR_CODES,
  checkLoadOptions,
  pickVariant,
  simdSupported,
  relaxedSimdSupported,
  openSource,
  modelFromChunks,
  toVitrineError,
  BUILDS,
  wasmUrlOf,
} from './vitrine.js';

export { Vitrine, VitrineError, VitrineWorker, JS_ERROR_CODES, simdSupported, relaxedSimdSupported, toVitrineError };

/** @type {Map<string, Promise<any>>} */
const cache = new Map();

/**
 * @param {'relaxed' | 'simd' | 'scalar' | 'intent'} variant
 * @param {import('./vitrine.js').LoadOptions['wasmUrl']} wasmUrl
 */
function nodeWasm(variant, wasmUrl) {
  const url = wasmUrlOf(variant, wasmUrl);
  const key = `${variant} ${url ? String(url) : ''}`;
  let p = cache.get(key);
  if (!p) {
    p = (async () => {
      const build = BUILDS[variant];
      const mod = await build.glue();
      const path = url === undefined ? build.wasm() : toPathOrUrl(url);
      mod.initSync({ module: readFileSync(path) });
      return mod;
    })().catch((e) => {
      cache.delete(key);
      throw new VitrineError(
        'WASM_UNAVAILABLE',
        `could not load the ${variant} wasm build: ${e && e.message ? e.message : e}`,
        { variant },
        { cause: e },
      );
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
 * Load a model bundle. In Node `source` may also be a file path or a
 * `file:` URL; those are streamed into wasm memory with progress reports.
 * @param {string | URL | Request | Response | ArrayBuffer | ArrayBufferView} source
 * @param {import('./vitrine.js').LoadOptions} [options]
 * @returns {Promise<Vitrine>}
 */
export async function load(source, options) {
  const opts = checkLoadOptions(options);
  const variant = pickVariant(opts.simd, opts.wasmUrl);
  const wasm = await nodeWasm(variant, opts.wasmUrl);
  let model;
  const isHttp = (s) => /^https?:/i.test(s);
  if ((typeof source === 'string' && !isHttp(source)) || (source instanceof URL && source.protocol === 'file:')) {
    const path = source instanceof URL ? fileURLToPath(source) : /^file:/i.test(source) ? fileURLToPath(source) : source;
    let size;
    try {
      size = (await stat(path)).size;
    } catch (e) {
      throw new VitrineError('NETWORK', `cannot read the model file ${path}: ${e.message}`, { path }, { cause: e });
    }
    const stream = createReadStream(path, { highWaterMark: 1 << 20 });
    model = await modelFromChunks(wasm, stream, size, opts.onProgress);
  } else {
    model = await openSource(wasm, source, opts);
  }
  return new Vitrine(model, variant, wasm, () => nodeWasm('intent', opts.wasmUrl));
}

/** Worker mode is browser-only; Node callers can use worker_threads themselves. */
export async function loadInWorker() {
  throw new VitrineError('WORKER', 'loadInWorker is only available in browsers; use load() in Node');
}
