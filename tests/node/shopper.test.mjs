// The shopper (www/shopper.js + the wasm foldIn/rerank/recommendFor/segment/explain)
// in Node, against bundles from `vitrine session synth` (neighbours + segments).

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { load } from '../../pkg/node.js';
import { createShopper, SCHEMA, VERSION } from '../../www/shopper.js';
import { CLI, tempDir } from './helpers.mjs';

const T0 = Date.UTC(2026, 0, 5, 12, 0, 0);
const MIN = 60_000;

function bundle(dtype = 'f32') {
  const out = join(tempDir(), `shopper-${dtype}.vtr`);
  if (!existsSync(out)) {
    execFileSync(CLI, ['session', 'synth', '--items', '1500', '--dim', '32', '--dtype', dtype, '--seed', '3', '--out', out], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }
  return out;
}

function code(f) {
  try {
    f();
  } catch (e) {
    return e.code;
  }
  return 'NO ERROR';
}

/** A Map-backed localStorage with an optional quota (in characters). */
function fakeLocalStorage(quota = Infinity) {
  const m = new Map();
  return {
    map: m,
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem: (k, v) => {
      if (String(v).length > quota) {
        const e = new Error('quota');
        e.name = 'QuotaExceededError';
        throw e;
      }
      m.set(k, String(v));
    },
    removeItem: (k) => m.delete(k),
  };
}

const dot = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0);

test('shopper: track, cap, sessions, bad events, explain sums to the score', async () => {
  const v = await load(bundle());
  let clock = T0;
  const warnings = [];
  const s = createShopper(v, { storage: 'none', cap: 6, now: () => clock, onWarning: (w) => warnings.push(w.code) });
  await s.ready;
  const ids = ['item-1', 'item-2', 'item-3', 'item-4', 'item-5', 'item-6', 'item-7'];
  for (const [k, id] of ids.entries()) {
    clock = T0 + k * MIN + (k >= 4 ? 60 * MIN : 0); // a 1 h gap before the 5th event
    await s.track({ type: k === 2 ? 'cart' : 'view', item: id });
  }
  const h = s.history();
  assert.equal(h.length, 6, 'capped at 6, oldest dropped');
  assert.equal(h[0].item, 'item-2');
  assert.deepEqual(s.sessions().map((x) => x.length), [3, 3]);

  assert.equal(code(() => s.track({ type: 'click', item: 'item-1' })), 'INVALID_EVENT');
  assert.equal(code(() => s.track({ type: 'view', item: 'item-1', ts: 'yesterday' })), 'INVALID_EVENT');
  assert.equal(code(() => s.track({ type: 'view', item: 'item-1', ts: NaN })), 'INVALID_EVENT');
  assert.equal(code(() => s.track({ type: 'view' })), 'INVALID_EVENT');
  await s.track({ type: 'view', item: 'item-9', ts: clock + 24 * 60 * MIN });
  assert.ok(warnings.includes('FUTURE_TS'));
  assert.equal(s.history().at(-1).ts, clock, 'future ts clamped to now');

  const u = s.userVector();
  assert.equal(u.length, 32);
  assert.ok(u.some((x) => x !== 0));
  for (const id of ['item-100', 'item-2', 'item-777']) {
    const e = s.explain(id);
    const y = v.itemVector(id);
    const score = dot(Array.from(u), Array.from(y));
    const sum = e.contributions.reduce((a, c) => a + c.weight, 0);
    assert.ok(Math.abs(e.score - score) < 1e-4 * (1 + Math.abs(score)), `score ${e.score} vs ${score}`);
    assert.ok(Math.abs(sum - e.score) < 1e-3 * (1 + Math.abs(e.score)), `contributions ${sum} vs ${e.score}`);
    const histIds = new Set(s.history().map((x) => x.item));
    for (const c of e.contributions) assert.ok(histIds.has(c.item));
  }
  v.dispose();
});

test('shopper: unknown history items are counted and ignored', async () => {
  const v = await load(bundle());
  const ev = [
    { type: 'view', item: 'item-10', ts: T0 },
    { type: 'purchase', item: 'item-11', ts: T0 + MIN },
  ];
  const a = v.raw.foldIn(ev, { now: T0 + 2 * MIN });
  const b = v.raw.foldIn([...ev, { type: 'view', item: 'no-such-item', ts: T0 + MIN }], { now: T0 + 2 * MIN });
  assert.equal(a.unknownItems, 0);
  assert.equal(b.unknownItems, 1);
  assert.deepEqual(Array.from(a.vector), Array.from(b.vector));
  assert.equal(code(() => v.raw.foldIn([{ type: 'like', item: 'item-1', ts: T0 }], {})), 'INVALID_EVENT');
  assert.equal(code(() => v.raw.foldIn([{ type: 'view', item: 'item-1', ts: '5' }], {})), 'INVALID_EVENT');
  assert.equal(code(() => v.raw.foldIn([{ type: 'view', item: 'item-1', ts: T0 }], { nope: 1 })), 'INVALID_ARGUMENT');
  const c = v.raw.foldIn([{ type: 'view', item: 'item-1', ts: T0 + 99 * MIN }], { now: T0 });
  assert.equal(c.clampedEvents, 1);
  v.dispose();
});

test('shopper: recommend and rerank with reasons and rules', async () => {
  const v = await load(bundle());
  let clock = T0;
  const s = createShopper(v, { storage: 'none', now: () => clock });
  const hist = ['item-20', 'item-21', 'item-22'];
  for (const id of hist) {
    await s.track({ type: 'view', item: id });
    clock += MIN;
  }
  await s.track({ type: 'purchase', item: 'item-23' });
  const r = s.recommend({ k: 12 });
  assert.equal(r.items.length, 12);
  assert.equal(r.coldStart, false);
  const known = new Set([...hist, 'item-23']);
  assert.ok(!r.items.some((x) => x.id === 'item-23'), 'purchased items excluded');
  for (const it of r.items) {
    assert.ok(['history', 'neighbour', 'popular', 'segment'].includes(it.reason.kind), JSON.stringify(it));
    if (it.reason.kind === 'history' || it.reason.kind === 'neighbour') assert.ok(known.has(it.reason.item), JSON.stringify(it));
  }
  for (let i = 1; i < r.items.length; i++) assert.ok(r.items[i - 1].score >= r.items[i].score);
  assert.ok(r.items.some((x) => x.reason.kind !== 'popular'), 'personalized reasons present');

  const cands = Array.from({ length: 60 }, (_, i) => `item-${100 + i}`).concat(['ghost-1']);
  const rr = s.rerank(cands, {});
  assert.equal(rr.unknownCandidates, 1);
  assert.equal(rr.items.length, 60);
  assert.deepEqual(new Set(rr.items.map((x) => x.id)), new Set(cands.slice(0, 60)));
  const top = rr.items[0].id;
  const ruled = s.rerank(cands, { pin: { 'item-159': 0 }, bury: [top], exclude: ['item-100'], k: 60 });
  assert.equal(ruled.items[0].id, 'item-159');
  assert.equal(ruled.items[0].reason.kind, 'pinned');
  assert.equal(ruled.items.at(-1).id, top);
  assert.ok(!ruled.items.some((x) => x.id === 'item-100'));
  const capped = s.rerank(cands, { categoryCap: 1, k: 4 });
  const cats = capped.items.map((x) => v.item(x.id).category);
  assert.equal(new Set(cats).size, cats.length, `one per category: ${cats}`);
  const div = s.rerank(cands, { mmrLambda: 0.3, k: 10 });
  assert.equal(div.items.length, 10);
  assert.equal(code(() => s.rerank(cands, { mmrLambda: 2 })), 'INVALID_ARGUMENT');
  v.dispose();
});

test('shopper: cold start falls back to popularity or the segment', async () => {
  const v = await load(bundle());
  const s = createShopper(v, { storage: 'none' });
  const r = s.recommend({ k: 8 });
  assert.equal(r.coldStart, true);
  assert.deepEqual(
    r.items.map((x) => x.id),
    v.popular({ k: 8 }).map((x) => x.id),
  );
  assert.ok(r.items.every((x) => x.reason.kind === 'popular'));
  const seg = s.recommend({ k: 8, segment: 0 });
  assert.ok(seg.items.some((x) => x.reason.kind === 'segment'), JSON.stringify(seg.items));
  assert.equal(s.segment(), null);
  await s.track({ type: 'view', item: 'item-5' });
  const g = s.segment();
  assert.ok(g && Number.isInteger(g.index) && g.distance >= 0 && /fans$/.test(g.name), JSON.stringify(g));
  assert.equal(code(() => v.raw.segment(new Float32Array(3))), 'DIM_MISMATCH');
  v.dispose();
});

test('shopper: localStorage record round trip, corruption, quota, forget', async () => {
  const v = await load(bundle());
  const ls = fakeLocalStorage();
  globalThis.localStorage = ls;
  try {
    const warnings = [];
    const a = createShopper(v, { storage: 'localStorage', key: 'k1', onWarning: (w) => warnings.push(w.code) });
    await a.track({ type: 'view', item: 'item-1', ts: T0 });
    await a.track({ type: 'cart', item: 'item-2', ts: T0 + MIN });
    const rec = JSON.parse(ls.getItem('k1'));
    assert.equal(rec.schema, SCHEMA);
    assert.equal(rec.version, VERSION);
    assert.equal(rec.events.length, 2);
    const b = createShopper(v, { storage: 'localStorage', key: 'k1' });
    await b.ready;
    assert.deepEqual(b.history(), a.history(), 'survives a reload');

    for (const bad of ['{not json', JSON.stringify({ schema: 'other', version: 1, events: [] }), JSON.stringify({ schema: SCHEMA, version: 2, events: [] }), JSON.stringify({ schema: SCHEMA, version: 1, events: [{ type: 'view', item: 'x', ts: 'now' }] })]) {
      ls.setItem('k2', bad);
      const w = [];
      const c = createShopper(v, { storage: 'localStorage', key: 'k2', onWarning: (x) => w.push(x.code) });
      await c.ready;
      assert.deepEqual(c.history(), []);
      assert.deepEqual(w, ['CORRUPT_RECORD'], bad);
      assert.equal(c.recommend({ k: 3 }).coldStart, true);
    }
    await a.forget();
    assert.equal(ls.getItem('k1'), null);
    assert.deepEqual(a.history(), []);

    globalThis.localStorage = fakeLocalStorage(10);
    const w = [];
    const q = createShopper(v, { storage: 'localStorage', key: 'q', onWarning: (x) => w.push(x.code) });
    await q.track({ type: 'view', item: 'item-3', ts: T0 });
    assert.deepEqual(w, ['QUOTA']);
    assert.equal(q.history().length, 1, 'kept in memory');
  } finally {
    delete globalThis.localStorage;
    v.dispose();
  }
});
