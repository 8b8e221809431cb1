// Type-checked by tests/pkg/types.test.mjs: the sharded-bundle examples of
// docs/web.md; `@ts-expect-error` lines are mistakes the types must catch.

import { loadSharded, VitrineError, type ShardedVitrine, type ShardedScoredList } from 'vitrine';

declare const userVector: Float32Array;

export async function sharded(): Promise<void> {
  const model: ShardedVitrine = await loadSharded('/models/shop/head.vtr', { prefetch: 'all', concurrency: 2 });
  const cold: ShardedScoredList = model.popular({ k: 12 });
  const first = await model.recommend(userVector, { k: 10, shards: 'loaded' });
  const exact = await model.recommend(userVector, { k: 10, categories: ['shoes'] });
  const all = await model.recommend(userVector, { k: 10, shards: 'all' });
  console.log(cold.complete, first.length, exact[0]?.id, all.unknownExcludes, model.shardCount, model.head.nItems);
  await model.loadShards({ categories: ['shoes'] });
  await model.whenAllLoaded();
  const entry = model.shards()[0];
  if (entry) console.log(entry.file, entry.bytes, entry.category ?? 'by id range', entry.loaded);
  try {
    await model.loadShards([0]);
  } catch (e) {
    if (e instanceof VitrineError && e.code === 'SHARD_MISMATCH') console.log(e.details);
  }
  // @ts-expect-error shards is 'loaded' | 'needed' | 'all'
  await model.recommend(userVector, { shards: 'some' });
  // @ts-expect-error popular answers at once: no promise
  await model.popular().then(() => 0);
  // @ts-expect-error shardCache is 'auto', false or a Cache-like object
  await loadSharded('/h.vtr', { shardCache: true });
  model.dispose();
}
