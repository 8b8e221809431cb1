// `load()` for pages and workers: pick the engine build, instantiate it, read
// the bundle into it. The wasm compiles (streaming) while the bundle
// downloads: neither waits for the other.

import { pickVariant, pickVariantWithReason } from './detect.js';
import { loadWasm } from './wasm.js';
import { applyScreen, checkLoadOptions, newLoadContext, now, openSource } from './source.js';
import { Vitrine } from './model.js';
import { requireSubtle } from './integrity.js';

/**
 * Load a model bundle (`.vtr`) and the matching wasm build.
 *
 * `source` may be a URL (string or `URL`), a `Request`, a `Response`, an
 * `ArrayBuffer` or a `Uint8Array`. Fetched bodies are streamed into wasm
 * memory chunk by chunk, calling `onProgress({loaded, total})` after each
 * chunk (`total` is undefined until the end when the server sends no
 * Content-Length). `simd: 'auto'` (default) uses the build measured fastest
 * in this browser (see `pickVariantWithReason`). URL sources are kept in the
 * device's model cache for the next visit unless `cache: false`.
 *
 * @param {string | URL | Request | Response | ArrayBuffer | ArrayBufferView} source
 * @param {import('../vitrine.js').LoadOptions} [options]
 * @returns {Promise<Vitrine>}
 */
export async function loadModel(source, options) {
  const v = await loadHere(source, options);
  // threads: 2 | 'auto': a helper worker scans part of each query (lib/page-threads.js,
  // fetched only then; not in the worker's bundle, which imports loadHere).
  const threads = /** @type {any} */ (options)?.threads;
  if (threads !== undefined && threads !== null && threads !== 1) (await import('./page-threads.js')).attachThreads(v, source, threads, checkLoadOptions(options));
  return v;
}

/**
 * `load()` on this thread only (the worker's load).
 * @param {string | URL | Request | Response | ArrayBuffer | ArrayBufferView} source
 * @param {import('../vitrine.js').LoadOptions} [options]
 * @returns {Promise<Vitrine>}
 */
export async function loadHere(source, options) {
  const opts = checkLoadOptions(options);
  // Bad simd / wasmUrl options fail here, before anything is fetched.
  pickVariant(opts.simd, opts.wasmUrl);
  // Pinned builds need crypto.subtle (secure contexts): refused before any download.
  const wi = /** @type {any} */ (opts.wasmIntegrity);
  if (wi && Object.keys(wi).some((k) => k !== 'intent' && wi[k] != null)) requireSubtle('the wasm build');
  const t = newLoadContext();
  t.compileStart = now();
  // Under simd: 'auto' the first load in a browser measures both SIMD builds
  // (calibrate.js) while the bundle downloads; later loads remember.
  const pick = pickVariantWithReason(opts.simd, opts.wasmUrl, opts.wasmIntegrity);
  const wasmP = pick
    .then(({ variant }) => loadWasm(variant, opts.wasmUrl, opts.wasmIntegrity))
    .then((w) => {
      t.compileEnd = now();
      return w;
    });
  // The download may fail first; its error is the one reported.
  wasmP.catch(() => {});
  const model = applyScreen(await openSource(wasmP, source, opts, t), opts);
  const wasm = await wasmP;
  const { variant, reason, calibration } = await pick;
  const { background, ...load } = t;
  return new Vitrine(model, variant, wasm, () => loadWasm('intent', opts.wasmUrl, opts.wasmIntegrity), {
    build: { variant, reason, ...(calibration ? { calibration } : {}) },
    load,
    settled: Promise.allSettled(background).then(() => undefined),
  });
}
