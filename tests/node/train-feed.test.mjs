// A product feed's stock through the whole path: `vitrine train --items feed
// --stock-col availability --export` (ISO-dated log), loaded by the package,
// where `inStockOnly` then leaves out what the feed said is not in stock.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from '../../pkg/node.js';
import { CLI, tempDir } from './helpers.mjs';

test('feed stock reaches inStockOnly through the package', async () => {
  if (!existsSync(CLI)) throw new Error(`the native CLI is missing at ${CLI}: run make cli`);
  const dir = tempDir();
  const log = ['user_id,item_id,timestamp'];
  const items = ['a', 'b', 'c', 'd', 'e', 'f'];
  for (let u = 0; u < 6; u++) {
    for (let k = 0; k < 4; k++) {
      log.push(`u${u},${items[(u + k) % items.length]},2024-03-1${u}T09:0${k}:00+01:00`);
    }
  }
  writeFileSync(join(dir, 'feed-log.csv'), log.join('\n') + '\n');
  // Google Merchant Center spelling; `f` is not in the feed (stays in stock).
  writeFileSync(
    join(dir, 'feed.tsv'),
    'id\tprice\tavailability\n' +
      'a\t12.99 USD\tin stock\n' +
      'b\t1,299.00 USD\tout of stock\n' +
      'c\t5 USD\tbackorder\n' +
      'd\t7.50 USD\t3\n' +
      'e\t8 USD\t0\n',
  );
  const vtr = join(dir, 'feed.vtr');
  execFileSync(
    CLI,
    ['train', join(dir, 'feed-log.csv'), '--value-col', 'none', '--factors', '4', '--iterations', '2', '--threads', '1', '--quiet',
      '--items', join(dir, 'feed.tsv'), '--item-id-col', 'id', '--price-col', 'price', '--stock-col', 'availability',
      '-o', join(dir, 'feed.vstate'), '--export', vtr, '--dtype', 'f32'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const m = await load(vtr);
  const ids = (r) => r.map((x) => x.id).sort();
  assert.deepEqual(ids(m.popular({ k: 10 })), ['a', 'b', 'c', 'd', 'e', 'f']);
  assert.deepEqual(ids(m.popular({ k: 10, inStockOnly: true })), ['a', 'd', 'f']);
  const user = new Float32Array(m.dim).fill(0.1);
  assert.deepEqual(ids(m.recommend(user, { k: 10, inStockOnly: true })), ['a', 'd', 'f']);
  assert.deepEqual(ids(m.recommend(user, { k: 10, inStockOnly: true, priceMax: 1000 })), ['a', 'd']);
});

// Listings hand every id to JS in one string cut by UTF-16 offsets: ids with
// two-byte, three-byte and four-byte UTF-8 (surrogate pairs in JS) and joiner
// sequences must come back whole, each under its own score.
test('ids outside ASCII come back whole from recommend, similar and popular', async () => {
  if (!existsSync(CLI)) throw new Error(`the native CLI is missing at ${CLI}: run make cli`);
  const dir = tempDir();
  const items = ['a', 'é-1', 'ß', '😀-2', '中文商品', '👨‍👩‍👧', 'x y', `long-${'é'.repeat(100)}`, '𝒳', 'z'];
  const log = ['user_id,item_id,timestamp'];
  for (let u = 0; u < 12; u++) {
    for (let k = 0; k < 5; k++) log.push(`u${u},"${items[(u * 3 + k) % items.length]}",${1_700_000_000 + u * 100 + k}`);
  }
  writeFileSync(join(dir, 'log.csv'), log.join('\n') + '\n');
  const vtr = join(dir, 'ids.vtr');
  execFileSync(
    CLI,
    ['train', join(dir, 'log.csv'), '--value-col', 'none', '--factors', '4', '--iterations', '2', '--threads', '1', '--quiet',
      '-o', join(dir, 'ids.vstate'), '--export', vtr, '--dtype', 'f32'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const m = await load(vtr);
  const sorted = (xs) => [...xs].sort();
  const pop = m.popular({ k: 100 });
  assert.deepEqual(sorted(pop.map((x) => x.id)), sorted(items));
  for (const id of items) {
    assert.equal(m.item(id).id, id);
    const sim = m.similar(id, { k: 100 });
    assert.deepEqual(sorted(sim.map((x) => x.id)), sorted(items.filter((x) => x !== id)), `similar(${id})`);
    const rec = m.recommend(m.itemVector(id), { k: 100 });
    assert.deepEqual(sorted(rec.map((x) => x.id)), sorted(items));
    // Each id keeps its own score: the index route gives the same pairs.
    const fast = m.recommendIndices(m.itemVector(id), 100);
    assert.deepEqual(rec.map((x) => [x.id, x.score]), Array.from(fast.indices, (i, j) => [m.itemId(i), fast.scores[j]]));
    assert.deepEqual(Object.keys(rec[0]), ['id', 'score']);
  }
  m.dispose();
});
