import { Injectable } from '@angular/core';
import { load, loadInWorker, VitrineError, type LoadOptions, type Vitrine, type VitrineWorker, type WorkerLoadOptions } from 'vitrine';
import { VITRINE_URLS } from './vitrine-urls';

/** What the test passes: the model's URL, a user vector, the model with the intent section. */
export interface RunArgs {
  url: string;
  u: number[];
  intentUrl: string;
}

const LOAD_OPTIONS: LoadOptions = { wasmUrl: VITRINE_URLS.wasmUrl };
const WORKER_OPTIONS = (): WorkerLoadOptions => ({ ...VITRINE_URLS });
const OWN_WORKER = (): Worker => new Worker(new URL('./vitrine.worker', import.meta.url), { type: 'module' });

type Model = Vitrine | VitrineWorker;

/** Plain data from a model's answers (the same calls on the page and in the worker). */
async function answers(m: Model, u: number[], intentModel: Model) {
  const plain = (list: Iterable<{ id: string; score: number }>) => [...list].map((x) => ({ id: x.id, score: x.score }));
  const rec = plain(await m.recommend(u, { k: 5 }));
  const out: Record<string, unknown> = {
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
    out['error'] = `${e instanceof VitrineError}:${(e as { code?: string }).code}`;
  }
  return out;
}

/** vitrine in an Angular service: the page's model, the package's worker and a worker the app starts itself. */
@Injectable({ providedIn: 'root' })
export class RecommenderService {
  async run({ url, u, intentUrl }: RunArgs) {
    const page = await load(url, LOAD_OPTIONS);
    const pageIntent = await load(intentUrl, LOAD_OPTIONS);
    const worker = await loadInWorker(url, WORKER_OPTIONS());
    const workerIntent = await loadInWorker(intentUrl, WORKER_OPTIONS());
    try {
      const result: Record<string, unknown> = { page: await answers(page, u, pageIntent), worker: await answers(worker, u, workerIntent) };
      const own = await loadInWorker(url, { ...LOAD_OPTIONS, worker: OWN_WORKER() });
      result['ownWorker'] = await answers(own, u, pageIntent);
      await own.dispose();
      return result;
    } finally {
      page.dispose();
      pageIntent.dispose();
      await worker.dispose();
      await workerIntent.dispose();
    }
  }
}
