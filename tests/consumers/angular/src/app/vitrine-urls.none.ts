import type { WorkerLoadOptions } from 'vitrine';

/** The `zero-options` build's replacement for vitrine-urls.ts: the glue's default URLs. */
export const VITRINE_URLS: Pick<WorkerLoadOptions, 'wasmUrl' | 'workerUrl'> = {};
