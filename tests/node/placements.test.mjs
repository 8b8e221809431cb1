// The placements through the glue (www/placements.js + src/wasm/placements.rs)
// in Node: exactly k with reasons, typed errors (NO_SECTION naming the section
// and the flag, UNKNOWN_ITEM, INVALID_ARGUMENT, INVALID_EVENT), strict vs
// relaxed, promotions, rotation from the impression log; the same business
// options on the model's recommend and the shopper's recommend / rerank, and
// impressions without a click as a negative signal for the shopper.

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
import { createShopper } from '../../www/shopper.js';
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

function message(f) {
  try {
    f();
  } catch (e) {
    return `${e.code}: ${e.message}`;
  }
  return 'no error';
}

const mean = (a) => a.reduce((s, x) => s + x, 0) / a.length;

test('recommend on the model takes price, rotation and promotion', async () => {
  const v = await load(store);
  const cats = v.info().categories;
  const user = v.itemVector('item-11');
  const plainTop = v.recommend(user, { k: 8 }).map((x) => x.id);
  // Business options off: the same list, and no `promoted` field.
  const same = v.recommend(user, { k: 8, price: 'none' });
  assert.deepEqual(same.map((x) => x.id), plainTop);
  assert.ok(same.every((x) => !('promoted' in x)));
  const price = (preferPrice) => v.recommend(user, { k: 8, price: 'high', preferPrice }).map((x) => v.item(x.id).price);
  assert.ok(mean(price('higher')) > mean(price('lower')), `${mean(price('higher'))} vs ${mean(price('lower'))}`);
  // Promotion: ⌈0.25 · 8⌉ = 2 slots for the category least present in the plain list.
  const count = (c) => plainTop.filter((id) => v.item(id).category === c).length;
  const promo = [...cats].sort((a, b) => count(a) - count(b))[0];
  const r = v.recommend(user, { k: 8, promotion: { categories: [promo], share: 0.25 } });
  assert.equal(r.length, 8);
  const inPromo = r.filter((x) => v.item(x.id).category === promo);
  assert.ok(inPromo.length >= 2, `${inPromo.length}`);
  assert.ok(inPromo.every((x) => x.promoted === true));
  assert.ok(r.filter((x) => v.item(x.id).category !== promo).every((x) => x.promoted === undefined));
  // Rotation: the first three, shown 4 times without a click, leave the top three; a day later they are back.
  const impressions = plainTop.slice(0, 3).map((item) => ({ item, shown: 4, lastShown: T0 }));
  const rot = v.recommend(user, { k: 8, now: T0 + 1000, rotation: { impressions, rate: 0.4 } }).map((x) => x.id);
  for (const id of plainTop.slice(0, 3)) assert.ok(rot.indexOf(id) === -1 || rot.indexOf(id) >= 3, `${id} in ${rot}`);
  const later = v.recommend(user, { k: 8, now: T0 + 2 * 86_400_000, rotation: { impressions, rate: 0.4 } });
  assert.deepEqual(later.map((x) => x.id), plainTop);
  // Bad values: INVALID_ARGUMENT naming the option.
  const bad = [
    [{ price: 'cheap' }, 'price'],
    [{ price: 'low', preferPrice: 'cheaper' }, 'preferPrice'],
    [{ rotation: { impressions: [], rate: 2 } }, 'rotation.rate'],
    [{ rotation: { impressions: 'x' } }, 'rotation.impressions'],
    [{ rotation: { impressions: [], speed: 1 } }, 'speed'],
    [{ promotion: { categories: [promo], share: 1.5 } }, 'promotion.share'],
    [{ promotion: { category: promo } }, 'category'],
    [{ promotion: 'sale' }, 'promotion'],
    [{ price: 'low', k: 5000 }, 'k'],
  ];
  for (const [o, name] of bad) {
    const m = message(() => v.recommend(user, o));
    assert.match(m, /^INVALID_ARGUMENT: /, `${JSON.stringify(o)}: ${m}`);
    assert.ok(m.includes(name), `${JSON.stringify(o)}: ${m}`);
  }
  // Still refused on similar / popular, which have no business stage.
  assert.equal(code(() => v.popular({ price: 'low' })), 'INVALID_ARGUMENT');
  v.dispose();
});

test('the shopper: recommend and rerank take the business options', async () => {
  const v = await load(store);
  const cats = v.info().categories;
  let clock = T0;
  const s = createShopper(v, { storage: 'none', now: () => clock });
  for (const [i, id] of ['item-3', 'item-9', 'item-12'].entries()) await s.track({ type: 'view', item: id, ts: T0 - (3 - i) * 60_000 });
  const base = s.recommend({ k: 8 });
  const price = (preferPrice) => s.recommend({ k: 8, price: 'high', preferPrice }).items.map((x) => v.item(x.id).price);
  assert.ok(mean(price('higher')) > mean(price('lower')));
  const count = (c) => base.items.filter((x) => v.item(x.id).category === c).length;
  const promo = [...cats].sort((a, b) => count(a) - count(b))[0];
  const r = s.recommend({ k: 8, promotion: { categories: [promo], share: 0.25 } });
  assert.equal(r.items.length, 8);
  const inPromo = r.items.filter((x) => v.item(x.id).category === promo);
  assert.ok(inPromo.length >= 2, `${inPromo.length}`);
  assert.ok(inPromo.every((x) => x.promoted === true && typeof x.reason.kind === 'string'));
  assert.ok(r.items.filter((x) => v.item(x.id).category !== promo).every((x) => x.promoted === undefined));
  // rerank: promotions fill from the caller's candidates only; pins keep their slot.
  const cands = Array.from({ length: 40 }, (_, i) => `item-${100 + i}`);
  const rr = s.rerank(cands, { k: 6, pin: { 'item-120': 0 }, promotion: { categories: [promo], share: 0.5 } });
  assert.equal(rr.items.length, 6);
  assert.equal(rr.items[0].id, 'item-120');
  assert.equal(rr.items[0].reason.kind, 'pinned');
  assert.ok(rr.items.every((x) => cands.includes(x.id)));
  const matching = rr.items.filter((x) => v.item(x.id).category === promo);
  const available = cands.filter((id) => v.item(id).category === promo).length;
  assert.ok(matching.length >= Math.min(3, available), `${matching.length} of ${available}`);
  // Bad values: INVALID_ARGUMENT naming the option, from recommend and rerank alike.
  for (const call of [(o) => s.recommend(o), (o) => s.rerank(cands, o)]) {
    assert.match(message(() => call({ price: 'cheap' })), /^INVALID_ARGUMENT: .*price/);
    assert.match(message(() => call({ promotion: { share: -1 } })), /^INVALID_ARGUMENT: .*promotion\.share/);
    assert.match(message(() => call({ rotation: { impressions: [{ item: 'item-1', shown: -1 }] } })), /^INVALID_ARGUMENT: .*shown/);
  }
  v.dispose();
});

test('impressions without a click push an item down in the shopper ranking; a click cancels it', async () => {
  const v = await load(store);
  let clock = T0;
  const log = createImpressionLog({ storage: 'none', now: () => clock });
  const s = withPlacements(createShopper(v, { storage: 'none', now: () => clock }), v, { impressions: log });
  for (const [i, id] of ['item-3', 'item-9', 'item-12'].entries()) await s.track({ type: 'view', item: id, ts: T0 - (3 - i) * 60_000 });
  const base = s.recommend({ k: 8 }).items.map((x) => x.id);
  const x = base[0];
  for (let i = 0; i < 4; i++) log.shown([x]);
  clock += 1000;
  const pushed = s.recommend({ k: 8 }).items.map((x) => x.id);
  assert.ok(pushed.indexOf(x) === -1 || pushed.indexOf(x) > 0, `${x} still first: ${pushed}`);
  const rr = s.rerank(base, {}).items.map((x) => x.id);
  assert.ok(rr.indexOf(x) > 0, `rerank: ${x} still first: ${rr}`);
  // The log's click resets it: the ranking is the one before the impressions.
  log.clicked(x);
  assert.deepEqual(s.recommend({ k: 8 }).items.map((x) => x.id), base);
  // A tracked click on the item after its last showing cancels it as well
  // (the same ranking as that history without any impressions).
  for (let i = 0; i < 4; i++) log.shown([x]);
  clock += 1000;
  await s.track({ type: 'view', item: x });
  const withImpressions = s.recommend({ k: 8 }).items.map((x) => x.id);
  const without = s.recommend({ k: 8, rotation: { impressions: [] } }).items.map((x) => x.id);
  assert.deepEqual(withImpressions, without);
  v.dispose();
});
