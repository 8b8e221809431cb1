// Behaviour segments on the device: shopper.segment() over bundles whose
// BEHAVIOUR section was written by `vitrine session segments --bundle`
// (simulated shoppers over the bundle's prices) and by `vitrine train
// --export --behaviour LOG` (a log without prices). The features the device
// computes are checked by hand, the segments by the habit they describe.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from '../../pkg/node.js';
import { createShopper } from '../../www/shopper.js';
import { VitrineError } from '../../www/vitrine.js';
import { CLI, tempDir } from './helpers.mjs';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 5, 12, 0, 0);

function run(args) {
  try {
    execFileSync(CLI, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`${CLI} ${args.join(' ')} failed: ${e.stderr?.toString() || e.message}`);
  }
}

/** A synthetic store (prices, categories) with and without BEHAVIOUR. */
function storeBundles() {
  const dir = tempDir();
  const base = join(dir, 'seg-base.vtr');
  const seg = join(dir, 'seg-behaviour.vtr');
  if (!existsSync(seg)) {
    run(['session', 'synth', '--items', '600', '--dim', '16', '--seed', '5', '--out', base]);
    run(['session', 'segments', '--synthetic-users', '1200', '--k', '4', '--bundle', base, '--bundle-out', seg]);
  }
  return { base, seg };
}

/** Items below / at or above their category's median price, as the storefront sees them. */
function priceHalves(v) {
  const byCat = new Map();
  const items = [];
  for (let i = 0, n = v.info().nItems; i < n; i++) {
    const id = v.itemId(i);
    const it = v.item(id);
    if (typeof it.price !== 'number' || !it.category) continue;
    items.push({ id, price: it.price, category: it.category });
    if (!byCat.has(it.category)) byCat.set(it.category, []);
    byCat.get(it.category).push(it.price);
  }
  const median = new Map([...byCat].map(([c, p]) => [c, p.sort((a, b) => a - b)[Math.floor(p.length / 2)]]));
  return {
    cheap: items.filter((x) => x.price < median.get(x.category)).map((x) => x.id),
    dear: items.filter((x) => x.price >= median.get(x.category)).map((x) => x.id),
  };
}

async function shopperWith(v, events, now) {
  const s = createShopper(v, { storage: 'none', now: () => now });
  for (const e of events) await s.track(e);
  return s;
}

/** `visits` visits `every` days apart ending `ago` days before now, `size` purchases each. */
function habit({ visits, every, size, ago, pool, now }) {
  const out = [];
  for (let v = 0; v < visits; v++) {
    const day = now - (ago + (visits - 1 - v) * every) * DAY;
    for (let k = 0; k < size; k++) out.push({ type: 'purchase', item: pool[(v * size + k) % pool.length], ts: day + k * 60_000 });
  }
  return out;
}

test('segment(): no history is null with a reason, not a guess', async () => {
  const v = await load(storeBundles().seg);
  const s = await shopperWith(v, [], T0);
  assert.deepEqual({ ...s.segment() }, { segment: null, reason: 'NO_HISTORY', unknownItems: 0 });
  // Events on items this bundle does not know are no history either.
  const u = await shopperWith(v, [{ type: 'purchase', item: 'not-in-catalogue', ts: T0 - DAY }], T0);
  assert.deepEqual({ ...u.segment() }, { segment: null, reason: 'NO_HISTORY', unknownItems: 1 });
  v.dispose();
});

test('segment(): features computed on the device, by hand', async () => {
  const v = await load(storeBundles().seg);
  const { cheap } = priceHalves(v);
  const now = T0;
  // 3 visits (a day apart, far beyond the 30-minute gap), 5 purchases and a
  // view, one item bought twice; last event 4 days ago less a minute; every
  // purchase below its category's median price.
  const ev = [
    { type: 'purchase', item: cheap[0], ts: now - 6 * DAY },
    { type: 'purchase', item: cheap[1], ts: now - 6 * DAY + 60_000 },
    { type: 'view', item: cheap[9], ts: now - 5 * DAY },
    { type: 'purchase', item: cheap[2], ts: now - 5 * DAY + 1000 },
    { type: 'purchase', item: cheap[0], ts: now - 4 * DAY },
    { type: 'purchase', item: cheap[3], ts: now - 4 * DAY + 60_000 },
  ];
  const s = await shopperWith(v, ev, now);
  const g = s.segment();
  assert.ok(Number.isInteger(g.id) && g.id >= 0 && g.id < 4, JSON.stringify(g));
  assert.equal(typeof g.label, 'string');
  assert.ok(g.label.length > 0);
  assert.ok(Number.isFinite(g.distance) && g.distance >= 0);
  assert.deepEqual(g.missing, []);
  const f = g.features;
  const close = (a, b, what) => assert.ok(Math.abs(a - b) < 1e-5, `${what}: ${a} vs ${b}`);
  close(f.recency_days, Math.log1p((4 * DAY - 60_000) / DAY), 'recency');
  // 3 visits over max(6 days, 30) → per 30 days: 3.
  close(f.frequency, Math.log1p(3), 'frequency');
  // Picks are the purchases (views are left out when there are any): 5 over 3 visits.
  close(f.basket_size, Math.log1p(5 / 3), 'basket size');
  // 4 distinct items in 5 picks.
  close(f.repeat_rate, 1 - 4 / 5, 'repeat rate');
  close(f.cheaper_share, 1, 'cheaper share');
  const prices = ev.filter((e) => e.type === 'purchase').map((e) => v.item(e.item).price);
  close(f.monetary, Math.log1p(prices.reduce((a, b) => a + b, 0) / 3), 'monetary');
  const cats = new Set(ev.filter((e) => e.type === 'purchase').map((e) => v.item(e.item).category));
  close(f.category_breadth, cats.size / 4, 'category breadth');
  v.dispose();
});

test('segment(): three habits land in three segments whose labels say so', async () => {
  const v = await load(storeBundles().seg);
  const { cheap, dear } = priceHalves(v);
  const now = T0;
  const cases = {
    // Every 5 days for 90 days, 4 dear items a visit.
    loyal: habit({ visits: 18, every: 5, size: 4, ago: 1, pool: dear, now }),
    // Every 12 days, 2 items below their category's usual price.
    deals: habit({ visits: 8, every: 12, size: 2, ago: 3, pool: cheap, now }),
    // Bought once, 150 days ago.
    lapsed: habit({ visits: 1, every: 1, size: 1, ago: 150, pool: dear, now }),
  };
  const got = {};
  for (const [name, ev] of Object.entries(cases)) got[name] = (await shopperWith(v, ev, now)).segment();
  const show = JSON.stringify(got);
  assert.match(got.loyal.label, /frequent visitors|large baskets|big spenders/, show);
  assert.match(got.deals.label, /discount seekers/, show);
  assert.match(got.lapsed.label, /inactive for a while|rare visitors/, show);
  assert.equal(new Set(Object.values(got).map((g) => g.id)).size, 3, show);
  v.dispose();
});

test('segment(): a bundle without BEHAVIOUR is NO_SECTION naming the export flag', async () => {
  const v = await load(storeBundles().base);
  const s = await shopperWith(v, [{ type: 'view', item: v.itemId(1), ts: T0 - DAY }], T0);
  let err;
  try {
    s.segment();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof VitrineError, String(err));
  assert.equal(err.code, 'NO_SECTION');
  assert.match(err.message, /BEHAVIOUR/);
  assert.match(err.message, /vitrine export --behaviour/);
  // The raw wasm call says the same.
  assert.throws(() => v.raw.behaviourSegment([], {}), (e) => e.code === 'NO_SECTION');
  // Bad events are typed errors, not a crash.
  const w = await load(storeBundles().seg);
  assert.throws(() => w.raw.behaviourSegment([{ type: 'bogus', item: 'x' }], {}), (e) => e.code === 'INVALID_EVENT');
  assert.throws(() => w.raw.behaviourSegment([], { now: NaN }), (e) => e.code === 'INVALID_ARGUMENT');
  assert.throws(() => w.raw.behaviourSegment([], { sessionGapMinutes: -1 }), (e) => e.code === 'INVALID_ARGUMENT');
  v.dispose();
  w.dispose();
});

test('segment(): export from a log without prices; the device skips the spend features', async () => {
  const dir = tempDir();
  const log = join(dir, 'behaviour-log.csv');
  const out = join(dir, 'behaviour-export.vtr');
  if (!existsSync(out)) {
    const rows = ['user_id,item_id,rating,timestamp,type'];
    for (let u = 0; u < 40; u++) {
      const visits = u % 2 === 0 ? 25 : 1;
      for (let k = 0; k < visits; k++) {
        const t = u % 2 === 0 ? 1_700_000_000 + k * 4 * 86_400 : 1_700_000_000 + u;
        rows.push(`u${u},i${(u + k) % 30},5,${t},purchase`);
      }
    }
    writeFileSync(log, rows.join('\n') + '\n');
    run(['train', log, '--quiet', '--iterations', '2', '--factors', '4', '-o', join(dir, 'behaviour.vstate'),
      '--export', out, '--behaviour', log, '--behaviour-segments', '2']);
  }
  const v = await load(out);
  const end = (1_700_000_000 + 24 * 4 * 86_400) * 1000;
  const s = await shopperWith(v, [{ type: 'purchase', item: 'i3', ts: end - 2 * DAY }, { type: 'purchase', item: 'i4', ts: end - DAY }], end);
  const g = s.segment();
  assert.deepEqual([...g.missing].sort(), ['category_breadth', 'cheaper_share', 'monetary']);
  assert.equal(g.features.monetary, null);
  assert.ok(Number.isFinite(g.features.frequency));
  assert.ok(Number.isFinite(g.distance));
  v.dispose();
});
