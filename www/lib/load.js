// `load()` for pages and workers: pick the engine build, instantiate it, read
// the bundle into it.

import { pickVariant } from './detect.js';
import { loadWasm } from './wasm.js';
import { checkLoadOptions, openSource } from './source.js';
import { Vitrine } from './model.js';

/**
 * Load a model bundle (`.vtr`) and the matching wasm build.
 *
 * `source` may be a URL (string or `URL`), a `Request`, a `Response`, an
 * `ArrayBuffer` or a `Uint8Array`. Fetched bodies are streamed into wasm
 * memory chunk by chunk, calling `onProgress({loaded, total})` after each
 * chunk (`total` is undefined until the end when the server sends no
 * Content-Length). `simd: 'auto'` (default) uses the fastest build the
 * engine validates (relaxed SIMD, SIMD128, scalar; see `pickVariant`).
 *
 * @param {string | URL | Request | Response | ArrayBuffer | ArrayBufferView} source
 * @param {import('../vitrine.js').LoadOptions} [options]
 * @returns {Promise<Vitrine>}
 */
export async function loadModel(source, options) {
  const opts = checkLoadOptions(options);
  const variant = pickVariant(opts.simd, opts.wasmUrl);
  const wasm = await loadWasm(variant, opts.wasmUrl, opts.wasmIntegrity);
  const model = await openSource(wasm, source, opts);
  return new Vitrine(model, variant, wasm, () => loadWasm('intent', opts.wasmUrl, opts.wasmIntegrity));
}
