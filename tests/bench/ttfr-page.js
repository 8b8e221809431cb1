// In-page half of the time-to-first-recommendation benchmark (driven by
// ttfr.mjs): import the glue named in the query, load the model, ask for one
// recommendation, and publish when each step ended on the page's clock
// (performance.now(): navigation start = 0).

const q = new URLSearchParams(location.search);
const glue = q.get('glue') ?? '/vitrine.js';
const model = q.get('model') ?? '';
const dim = Number(q.get('dim') ?? 64);
const cache = q.get('cache') !== '0';

/** The bundle's and the wasm's Resource Timing entries (work for any glue version). */
function resource(/** @type {RegExp} */ re) {
  const e = performance.getEntriesByType('resource').find((r) => re.test(r.name));
  return e ? { start: e.startTime, responseStart: e.responseStart, end: e.responseEnd, bytes: e.transferSize } : null;
}

try {
  const v = await import(glue);
  const imported = performance.now();
  const u = new Float32Array(dim);
  for (let i = 0; i < dim; i++) u[i] = Math.sin(i + 1);
  // The glue of before the cache has no `cache` option (and rejects unknown ones).
  const opts = q.get('glueVersion') === 'before' ? {} : { cache };
  // ?mode=worker: the model in a worker (loadInWorker); its load timings
  // are on the worker's clock, so only their spans are comparable.
  const worker = q.get('mode') === 'worker';
  const m = worker ? await v.loadInWorker(model, opts) : await v.load(model, opts);
  const loaded = performance.now();
  const recs = worker ? await m.recommend(u, { k: 10 }) : m.recommend(u, { k: 10 });
  const first = performance.now();
  const info = worker ? await m.info() : m.info();
  globalThis.ttfr = {
    imported,
    loaded,
    first,
    top: recs[0]?.id,
    variant: m.variant,
    build: info.build ?? null,
    load: info.load ?? null,
    model: resource(new RegExp(model.replace(/[.?]/g, '\\$&'))),
    wasm: resource(/vitrine_core_bg\.wasm/),
  };
  if (!worker) await m.cacheSettled;
  globalThis.ttfrSettled = info.load ? (worker ? info.load.cache : m.info().load.cache) : null;
} catch (e) {
  globalThis.ttfr = { error: `${e?.code ?? ''} ${e?.message ?? e}` };
}
