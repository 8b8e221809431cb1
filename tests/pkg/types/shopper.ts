// Types test for `vitrine/shopper` (pkg/shopper.d.ts), mirroring docs/shopper.md.
// Checked with `tsc --strict --noEmit` under NodeNext and bundler resolution;
// every `@ts-expect-error` line must stay an error (tsc fails on an unused one).

import { load, loadInWorker, VitrineError } from 'vitrine';
import {
  createShopper,
  EVENT_TYPES,
  WARNING_CODES,
  ShopperError,
  type Shopper,
  type AsyncShopper,
  type SegmentMatch,
  type Explanation,
  type ShopperEvent,
  type ShopperWarning,
  type RankedList,
  type Reason,
  type StorageKind,
} from 'vitrine/shopper';

export async function docs(serverIds: string[]): Promise<void> {
  const vitrine = await load('/models/demo.vtr');
  const warnings: ShopperWarning[] = [];
  const shopper: Shopper = createShopper(vitrine, {
    storage: 'indexeddb',
    cap: 500,
    halfLifeDays: 30,
    excludeViewed: false,
    onWarning: (w) => {
      warnings.push(w);
      if (w.code === 'STORAGE_UNAVAILABLE' || w.code === 'QUOTA') console.info('history stays in memory');
    },
  });
  await shopper.ready;
  await shopper.track({ type: 'view', item: 'sku-123' });
  await shopper.track({ type: 'purchase', item: 'sku-9', ts: Date.now() });
  const r: RankedList = shopper.recommend({ k: 10, excludeCart: false, categories: ['shoes'], priceMax: 80 });
  for (const { id, score, reason } of r.items) {
    const s: string = id;
    const n: number = score;
    describe(reason);
    void s;
    void n;
  }
  const rr = shopper.rerank(serverIds, { mmrLambda: 0.7, categoryCap: 3, pin: { 'sku-9': 0 }, blend: { long: 0.3 } });
  const cold: boolean = rr.coldStart;
  // The learned ranker: which one ordered the list, the feature behind a reason.
  const active: 'learned' | 'blend' = rr.ranker;
  const feature: string | undefined = rr.items[0]?.reason.feature;
  const blendOnly = shopper.recommend({ k: 5, ranker: false });
  void [active, feature, blendOnly];
  const seg = shopper.segment();
  const segName: string | undefined = seg?.name;
  const e = shopper.explain('sku-77');
  const total: number = e.contributions.reduce((a, c) => a + c.weight, 0);
  const u: Float32Array = shopper.userVector();
  const h: ShopperEvent[] = shopper.history();
  const where: StorageKind = shopper.storage;
  await shopper.forget();
  shopper.close();
  void [cold, segName, total, u, h, where, EVENT_TYPES, WARNING_CODES];
  try {
    shopper.track({ type: 'view', item: '' });
  } catch (err) {
    if (err instanceof ShopperError && err.code === 'INVALID_EVENT') console.info(err.message);
    if (err instanceof VitrineError) console.info(err.code);
  }
}

function describe(reason: Reason): string {
  switch (reason.kind) {
    case 'history':
      return reason.item ? `because you viewed ${reason.item}` : 'for you';
    case 'neighbour':
      return `often viewed with ${reason.item} (${reason.weight.toFixed(2)})`;
    case 'segment':
      return `popular in segment ${reason.segment}`;
    case 'popular':
    case 'pinned':
      return reason.kind;
  }
}

export function refused(shopper: Shopper, model: Awaited<ReturnType<typeof load>>): void {
  // @ts-expect-error 'wishlist' is not an event type
  shopper.track({ type: 'wishlist', item: 'sku-1' });
  // @ts-expect-error item is required
  shopper.track({ type: 'view' });
  // @ts-expect-error ts is a number of ms
  shopper.track({ type: 'view', item: 'sku-1', ts: '2026-01-01' });
  // @ts-expect-error unknown storage
  createShopper(model, { storage: 'cookies' });
  // @ts-expect-error unknown option (typo)
  createShopper(model, { storgae: 'none' });
  // @ts-expect-error excludeViewed is a boolean
  shopper.recommend({ excludeViewed: 'yes' });
  // @ts-expect-error rerank takes ids
  shopper.rerank([1, 2]);
  // @ts-expect-error events come from the history
  shopper.recommend({ events: [] });
  // @ts-expect-error storage is read-only
  shopper.storage = 'none';
  // @ts-expect-error a warning code outside the list
  const w: ShopperWarning = { code: 'OOPS', message: '' };
  void w;
}

// Worker mode (docs/shopper.md, "In a worker"): same names, ranking methods async.
export async function worker(serverIds: string[]): Promise<void> {
  const remote = await loadInWorker('/models/demo.vtr');
  const shopper: AsyncShopper = createShopper(remote, { storage: 'indexeddb' });
  const isAsync: true = shopper.async;
  await shopper.ready;
  await shopper.track({ type: 'view', item: 'sku-123' });
  const h: ShopperEvent[] = shopper.history();
  const r: RankedList = await shopper.recommend({ k: 10 });
  const rr: RankedList = await shopper.rerank(serverIds, { mmrLambda: 0.7 });
  const seg: SegmentMatch | null = await shopper.segment();
  const e: Explanation = await shopper.explain('sku-77');
  const u: Float32Array = await shopper.userVector();
  try {
    await shopper.recommend({ k: 5 });
  } catch (err) {
    if (err instanceof VitrineError && err.code === 'WORKER') console.info('the worker died; load the model again');
  }
  await shopper.forget();
  void [isAsync, h, r, rr, seg, e, u];
}

export async function workerRefused(remote: Awaited<ReturnType<typeof loadInWorker>>): Promise<void> {
  const shopper = createShopper(remote);
  // @ts-expect-error a worker shopper's ranking is a Promise, not a RankedList
  const r: RankedList = shopper.recommend({ k: 10 });
  // @ts-expect-error a Promise has no items
  shopper.rerank(['sku-1']).items;
  // @ts-expect-error a worker shopper is not a page Shopper
  const s: Shopper = shopper;
  // @ts-expect-error the segment is a Promise
  const name: string | undefined = shopper.segment()?.name;
  void [r, s, name];
}
