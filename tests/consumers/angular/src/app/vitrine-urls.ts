import type { WorkerLoadOptions } from 'vitrine';

/**
 * Where angular.json's `assets` put the package's wasm files and worker
 * script, relative to the app's <base href> (as every URL the glue is given:
 * they hold on any route and under any --base-href). The glue's own
 * defaults, `new URL('../wasm/…', import.meta.url)`, miss the copies under
 * `ng serve` (it serves the package's modules from /@fs/… paths) and under a
 * --base-href sub-path (`..` from a chunk at /shop/ climbs to /); they find
 * them only in a production build served at the origin's root (the
 * `zero-options` build configuration checks that).
 */
export const VITRINE_URLS: Pick<WorkerLoadOptions, 'wasmUrl' | 'workerUrl'> = {
  wasmUrl: {
    relaxed: 'wasm/relaxed/vitrine_core_bg.wasm',
    simd: 'wasm/simd/vitrine_core_bg.wasm',
    scalar: 'wasm/scalar/vitrine_core_bg.wasm',
    intent: 'wasm/intent/vitrine_intent_bg.wasm',
  },
  workerUrl: 'vitrine.worker.js',
};
