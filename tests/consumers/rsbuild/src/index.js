// Fixture app for tests/consumers/rsbuild: vitrine as an Rsbuild user gets it, with
// no configuration: `rsbuild build` (entry src/index.js and a generated index.html, Rsbuild's defaults).
import { load, loadInWorker, VitrineError } from 'vitrine';

const LOAD_OPTIONS = {};
const WORKER_OPTIONS = () => ({});
const OWN_WORKER = () => new Worker(new URL('vitrine/worker', import.meta.url), { type: 'module' });

/** Plain data from a model's answers (the same calls on the page and in the worker). */
async function answers(m, u, intentModel) {
  const plain = (list) => [...list].map((x) => ({ id: x.id, score: x.score }));
  const rec = plain(await m.recommend(u, { k: 5 }));
  const out = {
    variant: m.variant,
    rec,
    similar: plain(await m.similar(rec[0].id, { k: 5 })),
    popular: plain(await m.popular({ k: 5, priceMax: null })),
    item: await m.item(rec[0].id),
    intent: (await intentModel.matchIntent('where is my order 12345')).intent,
  };
  try {
    await m.item('no-such-item');
  } catch (e) {
    out.error = `${e instanceof VitrineError}:${e.code}`;
  }
  return out;
}

/** Called by tests/consumers/consumers.test.mjs through Playwright. */
globalThis.vitrineRun = async ({ url, u, intentUrl }) => {
  const page = await load(url, LOAD_OPTIONS);
  const pageIntent = await load(intentUrl, LOAD_OPTIONS);
  const worker = await loadInWorker(url, WORKER_OPTIONS());
  const workerIntent = await loadInWorker(intentUrl, WORKER_OPTIONS());
  try {
    const result = { page: await answers(page, u, pageIntent), worker: await answers(worker, u, workerIntent) };
    if (typeof OWN_WORKER === 'function') {
      const own = await loadInWorker(url, { ...LOAD_OPTIONS, worker: OWN_WORKER() });
      result.ownWorker = await answers(own, u, pageIntent);
      await own.dispose();
    }
    return result;
  } finally {
    page.dispose();
    pageIntent.dispose();
    await worker.dispose();
    await workerIntent.dispose();
  }
};
globalThis.vitrineReady = true;
