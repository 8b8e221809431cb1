// The placements through the glue (www/placements.js + src/wasm/placements.rs)
// in Node: exactly k with reasons, typed errors (NO_SECTION naming the section
// and the flag, UNKNOWN_ITEM, INVALID_ARGUMENT, INVALID_EVENT), strict vs
// relaxed, promotions, rotation from the impression log.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { load } from '../../pkg/node.js';
import {
  REASONS,
  boughtTogether,
  buyAgain,
  createImpressionLog,
  recentlyViewed,
  trending,
  trendingFacets,
  viewedTogether,
  withPlacements,
} from '../../www/placements.js';
import { CLI, tempDir } from './helpers.mjs';

const T0 = Date.UTC(2026, 0, 5, 12, 0, 0);
let plain;
let store;

test.before(() => {
  const dir = tempDir();
  const run = (args) => execFileSync(CLI, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  run(['session', 'synth', '--items', '500', '--dim', '16', '--seed', '4', '--out', join(dir, 'pl-base.vtr')]);
  run(['placements', 'build', '--bundle', join(dir, 'pl-base.vtr'), '--synthetic-baskets', '5000', '--out', join(dir, 'pl-store.vtr')]);
  plain = join(dir, 'pl-base.vtr');
  store = join(dir, 'pl-store.vtr');
});

function code(f) {
  try {
    f();
  } catch (e) {
    return e.code;
  }
  return 'no error';
}

const shopperOf = (events) => ({ history: () => events });

test('every placement returns exactly k, each item with a known reason', async () => {
  const v = await load(store);
  const events = [
    { type: 'view', item: 'item-3', ts: T0 - 50_000 },
    { type: 'purchase', item: 'item-7', ts: T0 - 40_000 },
    { type: 'view', item: 'item-9', ts: T0 - 30_000 },
  ];
  const s = shopperOf(events);
  const lists = {
    boughtTogether: boughtTogether(v, 'item-1', { k: 8, now: T0 }),
    cart: boughtTogether(v, ['item-1', 'item-2'], { k: 8, now: T0 }),
    viewedTogether: viewedTogether(v, 'item-1', { k: 8, now: T0 }),
    buyAgain: buyAgain(v, s, { k: 8, now: T0 }),
    recentlyViewed: recentlyViewed(v, s, { k: 8, now: T0 }),
    trending: trending(v, { k: 8 }),
  };
  for (const [name, r] of Object.entries(lists)) {
    assert.equal(r.items.length, 8, name);
    assert.equal(new Set(r.items.map((x) => x.id)).size, 8, `${name}: no duplicates`);
    for (const x of r.items) assert.ok(REASONS.includes(x.reason), `${name}: ${x.reason}`);
  }
  assert.equal(lists.boughtTogether.items[0].reason, 'bought_together');
  assert.equal(lists.boughtTogether.items[0].because, 'item-1');
  assert.ok(!lists.cart.items.some((x) => x.id === 'item-1' || x.id === 'item-2'));
  assert.equal(lists.buyAgain.items[0].id, 'item-7');
  assert.equal(lists.buyAgain.items[0].reason, 'buy_again');
  assert.deepEqual(lists.recentlyViewed.items.slice(0, 2).map((x) => x.id), ['item-9', 'item-3']);
  const cats = v.info().categories;
  const inCat = trending(v, { k: 5, category: cats[0] });
  assert.ok(inCat.items.every((x) => v.item(x.id).category === cats[0]));
  const facets = trendingFacets(v, { k: 2 });
  assert.equal(facets.length, 2);
  assert.ok(cats.includes(facets[0].category) && facets[0].rise >= facets[1].rise);
  // Strict may return fewer, never anything but co-purchases.
  // At most 100 partners are stored per item (--max-partners), so 200 cannot be filled.
  const strict = boughtTogether(v, 'item-1', { k: 200, mode: 'strict' });
  assert.ok(strict.items.length > 0 && strict.items.length < 200);
  assert.ok(strict.items.every((x) => x.reason === 'bought_together'));
  v.dispose();
});

test('a bundle without the sections: NO_SECTION naming section and flag', async () => {
  const v = await load(plain);
  for (const [f, section] of [
    [() => boughtTogether(v, 'item-1'), 'CO_PURCHASE'],
    [() => buyAgain(v, shopperOf([])), 'CADENCE'],
    [() => trending(v), 'TRENDING'],
    [() => trendingFacets(v), 'TRENDING'],
  ]) {
    try {
      f();
      assert.fail('expected NO_SECTION');
    } catch (e) {
      assert.equal(e.code, 'NO_SECTION');
      assert.equal(e.name, 'VitrineError');
      assert.match(e.message, new RegExp(section));
      assert.match(e.message, /vitrine placements build --baskets/);
    }
  }
  // Recently viewed and viewed together need no section.
  assert.equal(recentlyViewed(v, shopperOf([]), { k: 4 }).items.length, 4);
  assert.equal(viewedTogether(v, 'item-1', { k: 4 }).items.length, 4);
  v.dispose();
});

test('bad input is a typed error, unknown ids are counted', async () => {
  const v = await load(store);
  assert.equal(code(() => boughtTogether(v, 'no-such-item')), 'UNKNOWN_ITEM');
  const r = boughtTogether(v, ['item-1', 'nope'], { k: 3 });
  assert.equal(r.unknownItems, 1);
  assert.equal(r.items.length, 3);
  assert.equal(code(() => boughtTogether(v, [])), 'INVALID_ARGUMENT');
  assert.equal(code(() => boughtTogether(v, 'item-1', { mode: 'loose' })), 'INVALID_ARGUMENT');
  assert.equal(code(() => boughtTogether(v, 'item-1', { price: 'cheap' })), 'INVALID_ARGUMENT');
  assert.equal(code(() => boughtTogether(v, 'item-1', { kk: 3 })), 'INVALID_ARGUMENT');
  assert.equal(code(() => boughtTogether(v, 'item-1', { shrinkage: -1 })), 'INVALID_ARGUMENT');
  assert.equal(code(() => boughtTogether(v, 'item-1', { promotion: { share: 2 } })), 'INVALID_ARGUMENT');
  assert.equal(code(() => boughtTogether(v, 'item-1', { k: 1.5 })), 'INVALID_ARGUMENT');
  assert.equal(code(() => buyAgain(v, shopperOf([{ type: 'like', item: 'item-1', ts: T0 }]))), 'INVALID_EVENT');
  assert.equal(code(() => trending(v, { category: 'no-such-category' })), 'INVALID_ARGUMENT');
  assert.equal(code(() => buyAgain(v, null)), 'INVALID_ARGUMENT');
  v.dispose();
});

test('promotions, price levels and rotation', async () => {
  const v = await load(store);
  const cats = v.info().categories;
  const promo = cats[cats.length - 1];
  const r = boughtTogether(v, 'item-1', { k: 8, promotion: { categories: [promo], share: 0.25 } });
  const promoted = r.items.filter((x) => v.item(x.id).category === promo);
  assert.ok(promoted.length >= 2, `${promoted.length}`);
  assert.ok(promoted.every((x) => x.reason === 'promoted'));
  // Price: the same items, cheaper first with 'lower' at a high level among the fill.
  const hi = trending(v, { k: 8, price: 'high', preferPrice: 'higher' }).items.map((x) => v.item(x.id).price);
  const lo = trending(v, { k: 8, price: 'high', preferPrice: 'lower' }).items.map((x) => v.item(x.id).price);
  const mean = (a) => a.reduce((s, x) => s + x, 0) / a.length;
  assert.ok(mean(hi) > mean(lo), `${mean(hi)} vs ${mean(lo)}`);
  // Rotation: what was shown three times without a click moves down.
  let t = T0;
  const log = createImpressionLog({ storage: 'none', now: () => t });
  const s = withPlacements(shopperOf([]), v, { impressions: log, rotationRate: 0.5 });
  const first = s.trending({ k: 4, now: t }).items.map((x) => x.id);
  for (let i = 0; i < 3; i++) log.shown(first);
  assert.equal(log.count(first[0]), 3);
  const next = s.trending({ k: 4, now: t }).items.map((x) => x.id);
  assert.ok(next.filter((id) => first.includes(id)).length < 4, `${first} / ${next}`);
  log.clicked(first[0]);
  assert.equal(log.count(first[0]), 0);
  // A day later the damping has faded.
  t += 2 * 86_400_000;
  assert.deepEqual(s.trending({ k: 4, now: t }).items.map((x) => x.id), first);
  v.dispose();
});
