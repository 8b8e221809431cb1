// Type-checked by tests/pkg/types.test.mjs with `tsc --strict`, under both
// NodeNext and bundler module resolution. It mirrors the documented examples
// (README.md, pkg/README.md, docs/web.md, docs/shopper.md); the
// `@ts-expect-error` lines are mistakes the types must catch.

import {
  load,
  loadInWorker,
  VitrineError,
  JS_ERROR_CODES,
  simdSupported,
  relaxedSimdSupported,
  toVitrineError,
  type Vitrine,
  type VitrineWorker,
  type VitrineErrorCode,
  type ScoredList,
  type IntentMatch,
  type LoadOptions,
} from 'vitrine';
import { createShopper, ShopperError, type Shopper, type Reason, type RankedList } from 'vitrine/shopper';
import workerUrl from 'vitrine/worker';

declare const bar: HTMLProgressElement;
declare const userVector: Float32Array;
declare const cartIds: string[];

export async function page(): Promise<void> {
  const model: Vitrine = await load('/models/shop.vtr', {
    onProgress: ({ loaded, total }) => (bar.value = total ? loaded / total : 0),
    simd: 'auto',
    integrity: 'sha384-abc',
    maxBytes: 64 << 20,
    wasmUrl: null,
    screen: true,
  });
  const screenBytes: number = model.info().screenBytes;
  const recs: ScoredList = model.recommend(userVector, { k: 10, exclude: cartIds, categories: ['shoes'], priceMax: 80, inStockOnly: true });
  const n: number = recs.unknownExcludes + recs.unknownCategories;
  const first: string = recs[0].id;
  model.similar('sku-1', { k: 8 });
  model.popular({ k: 20, inStockOnly: true, priceMin: null });
  const price: number | undefined = model.item('sku-1').price;
  const has: boolean = model.has('sku-1');
  const idx: number | undefined = model.itemIndex('sku-1');
  const id: string = model.itemId(0);
  const vec: Float32Array = model.itemVector('sku-1');
  const { indices, scores } = model.recommendIndices(userVector, 10);
  const i0: number = indices[0] + scores[0];
  const r: IntentMatch = await model.matchIntent('waterproof jacket under 50');
  if (r.intent === 'product_search') {
    // products[].item is a catalogue index; .id is the item id.
    for (const p of r.slots.products) model.similar(p.id, { k: 4, priceMax: r.slots.price?.max });
  }
  const intents: string[] = (await model.loadIntent()).intents;
  const im = await model.loadIntent();
  im.setThreshold(0.5);
  im.resetConversation();
  // @ts-expect-error: questions go through model.matchIntent (it adds item ids)
  im.matchIntent('hello');
  // @ts-expect-error: read-only; set it with setThreshold
  im.threshold = 0.3;
  // @ts-expect-error: the option is `k`
  model.recommend(userVector, { topK: 5 });
  // @ts-expect-error: ids are strings
  model.similar(42);
  model.dispose();
  const gone: boolean = model.disposed;
  void [n, first, price, has, idx, id, vec, i0, intents, gone, screenBytes];
}

export async function worker(): Promise<void> {
  const w: VitrineWorker = await loadInWorker('/models/shop.vtr', { onProgress: ({ loaded }) => console.log(loaded) });
  const recs: ScoredList = await w.recommend(userVector, { k: 10 });
  const has: boolean = await w.has('sku-1');
  const id: string = await w.itemId(0);
  const t: { intents: string[]; threshold: number } = await w.loadIntent();
  const applied: Promise<void> = (await w.loadIntent()).setThreshold(0.4);
  await applied;
  const disposed: boolean = w.disposed;
  await w.dispose();
  const own = await loadInWorker('/models/shop.vtr', {
    worker: new Worker(new URL('vitrine/worker', import.meta.url), { type: 'module' }),
  });
  await own.dispose();
  // esbuild recipe: the worker file's URL from the file loader.
  const viaUrl = await loadInWorker('/models/shop.vtr', { workerUrl, wasmUrl: { simd: '/a.wasm', intent: new URL('/b.wasm', location.href) } });
  const n: number = await viaUrl.shopperCall('foldIn', [], {}).then(() => 1);
  // Two workers split each scan; info() and .threads say what runs and why.
  const two = await loadInWorker('/models/shop.vtr', { threads: 2 });
  const count: 1 | 2 = two.threads.count;
  const why: string = (await two.info()).threads.reason;
  void [recs, has, id, t, disposed, n, count, why];
}

export function errors(e: unknown): string {
  const codes: readonly VitrineErrorCode[] = JS_ERROR_CODES;
  if (e instanceof VitrineError) {
    const code: VitrineErrorCode = e.code;
    switch (e.code) {
      case 'DIM_MISMATCH':
        return `${e.details.expected} vs ${e.details.actual}`;
      case 'NETWORK':
        return `HTTP ${e.details.status ?? '?'} for ${e.details.url ?? '?'}`;
      case 'TOO_LARGE':
        return `${e.details.bytes} > ${e.details.maxBytes}`;
      case 'WORKER':
        return `${e.details.reason} ${e.details.url}`;
      case 'WASM_UNAVAILABLE':
        return `${e.details.reason} ${e.details.contentType}`;
      case 'CHECKSUM_MISMATCH':
        return `${e.details.section}@${e.details.offset}`;
      default:
        // @ts-expect-error: INVALID_ARGUMENT has no details fields
        return e.details.expected + code;
    }
  }
  const v = toVitrineError(e);
  return v.code + codes.length + String(simdSupported()) + String(relaxedSimdSupported());
}

export const opts: LoadOptions = { simd: 'relaxed', wasmIntegrity: { simd: 'sha384-x' } };

export async function shopper(model: Vitrine): Promise<void> {
  const s: Shopper = createShopper(model, { storage: 'indexeddb', cap: 500, halfLifeDays: 30, onWarning: (w) => console.warn(w.code) });
  await s.ready;
  await s.track({ type: 'view', item: 'sku-123' });
  // @ts-expect-error: not an event type
  await s.track({ type: 'wishlist', item: 'sku-123' });
  const recs: RankedList = s.recommend({ k: 10 });
  const reason: Reason = recs.items[0].reason;
  const kind: 'history' | 'neighbour' | 'popular' | 'segment' | 'pinned' = reason.kind;
  s.rerank(['a', 'b'], { mmrLambda: 0.7, categoryCap: 3, pin: { 'sku-9': 0 } });
  const seg = s.tasteSegment();
  const segName: string | undefined = seg?.name;
  await s.forget();
  const err = new ShopperError('INVALID_EVENT', 'x');
  const isV: boolean = err instanceof VitrineError;
  void [kind, segName, isV];
}
