// vitrine — JavaScript glue around the vitrine WebAssembly core.
//
// Plain ES modules, no build step: `www/vitrine.js` and `www/lib/*.js` are
// served as they are during development and shipped as they are in the npm
// package (`pkg/vitrine.js`, `pkg/lib/`). The worker entry is the exception:
// `pkg/vitrine.worker.js` is one self-contained script built by esbuild.
// Each concern lives in its own module:
//
//   lib/errors.js         VitrineError, codes, mapping of anything thrown
//   lib/detect.js         which engine build runs here (SIMD probes)
//   lib/wasm.js           fetching and instantiating the wasm builds
//   lib/integrity.js      Subresource Integrity checks
//   lib/source.js         load options, bundle bytes → wasm Model
//   lib/checks.js         argument checks shared by page and worker
//   lib/model.js          Vitrine, the page-side model API
//   lib/load.js           load()
//   lib/worker-client.js  loadInWorker(), VitrineWorker
//   lib/worker-host.js    the worker's side of the protocol
//
// Everything the wasm throws is rethrown as a `VitrineError` with the same
// stable `code`; arguments are checked first so that a wrong call fails with
// a message saying what to fix.

/**
 * @typedef {{
 *   k?: number,
 *   exclude?: string[],
 *   categories?: string[],
 *   priceMin?: number,
 *   priceMax?: number,
 *   inStockOnly?: boolean,
 * }} RecOptions
 *
 * @typedef {{ id: string, score: number }} Scored
 * @typedef {Scored[] & { readonly unknownExcludes: number, readonly unknownCategories: number }} ScoredList
 *
 * @typedef {{
 *   onProgress?: (p: { loaded: number, total: number | undefined }) => void,
 *   simd?: 'auto' | boolean | 'relaxed',
 *   wasmUrl?: string | URL | { relaxed?: string | URL, simd?: string | URL, scalar?: string | URL, intent?: string | URL },
 *   wasmIntegrity?: { relaxed?: string, simd?: string, scalar?: string, intent?: string },
 *   integrity?: string,
 *   maxBytes?: number,
 *   screen?: boolean,
 *   workerUrl?: string | URL,
 *   worker?: Worker,
 * }} LoadOptions
 */

export { JS_ERROR_CODES, VitrineError, toVitrineError } from './lib/errors.js';
export { simdSupported, relaxedSimdSupported, pickVariant } from './lib/detect.js';
export { BUILDS, wasmUrlOf, loadWasm } from './lib/wasm.js';
export { checkLoadOptions, modelFromChunks, modelFromResponse, modelFromBytes, openSource, DEFAULT_MAX_BYTES } from './lib/source.js';
export { checkRecOptions, checkUserVector, checkId, scoredList } from './lib/checks.js';
export { Vitrine } from './lib/model.js';
export { loadModel as load } from './lib/load.js';
export { loadInWorker, VitrineWorker } from './lib/worker-client.js';

/**
 * Load a sharded bundle (`vitrine shard`): the head at once, factor shards
 * on demand, cached per model id. The implementation (`shards.js`) is
 * fetched on the first call, so pages that never shard pay nothing for it.
 * @param {string | URL} head URL of `head.vtr`
 * @param {any} [options] LoadOptions plus cache, prefetch, concurrency, fetch
 * @returns {Promise<import('./shards.js').ShardedVitrine>}
 */
export async function loadSharded(head, options) {
  const m = await import('./shards.js');
  return m.loadSharded(head, options);
}
