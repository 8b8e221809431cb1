// The shopper (www/shopper.js + the wasm foldIn/rerank/recommendFor/segment/explain)
// in Node, against bundles from `vitrine session synth` (neighbours + segments).

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { load } from '../../pkg/node.js';
import { createShopper, SCHEMA, VERSION, WARNING_CODES } from '../../www/shopper.js';
import { VitrineError } from '../../www/vitrine.js';
import { CLI, tempDir, until } from './helpers.mjs';

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

/** The glue's packed form of events, built here from the documented layout. */
function packed(ev) {
  const codes = ['view', 'cart', 'purchase', 'search'];
  return {
    types: Uint8Array.from(ev.map((e) => codes.indexOf(e.type))),
    ts: Float64Array.from(ev.map((e) => e.ts)),
    items: new TextEncoder().encode(ev.map((e) => e.item + '\0').join('')),
  };
}

test('shopper: packed events answer as the event objects do; a bad packed form is a typed error', async () => {
  const v = await load(bundle());
  const now = T0 + 200 * MIN;
  // Unknown and non-ASCII ids, a future time (clamped), equal times (arrival
  // order), every kind, a session and an older visit.
  const ev = [];
  for (let i = 0; i < 60; i++) ev.push({ type: ['view', 'cart', 'purchase', 'search'][i % 4], item: `item-${(i * 37) % 1500}`, ts: T0 + (i < 30 ? i : 120 + i) * MIN });
  ev.push({ type: 'view', item: 'no-such-item', ts: T0 + 190 * MIN });
  ev.push({ type: 'view', item: 'ítem-ünïcode-✓', ts: T0 + 190 * MIN });
  ev.push({ type: 'cart', item: 'item-7', ts: T0 + 190 * MIN });
  ev.push({ type: 'view', item: 'item-8', ts: now + 99 * MIN });
  const p = packed(ev);
  const same = (f) => assert.deepEqual(JSON.parse(JSON.stringify(f(p))), JSON.parse(JSON.stringify(f(ev))));
  const opts = { now };
  same((e) => ({ ...v.raw.foldIn(e, opts), vector: Array.from(v.raw.foldIn(e, opts).vector) }));
  same((e) => v.raw.recommendFor(e, { now, k: 20 }));
  same((e) => v.raw.recommendFor(e, { now, k: 10, mmrLambda: 0.5, exclude: ['item-3'] }));
  const cands = Array.from({ length: 300 }, (_, i) => `item-${(i * 7) % 1500}`);
  same((e) => v.raw.rerank(cands, { now, events: e }));
  same((e) => v.raw.explain(e, 'item-42', opts));
  const f = v.raw.foldIn(p, opts);
  assert.equal(f.unknownItems, 2);
  assert.equal(f.clampedEvents, 1);
  // No events, packed.
  assert.deepEqual(Array.from(v.raw.foldIn(packed([]), opts).vector), Array.from(v.raw.foldIn([], opts).vector));

  const bad = (over, want) => {
    const q = { ...packed(ev.slice(0, 3)), ...over };
    assert.equal(code(() => v.raw.foldIn(q, opts)), want, JSON.stringify(Object.keys(over)));
  };
  const enc = (s) => new TextEncoder().encode(s);
  bad({ types: Uint8Array.of(0, 9, 0) }, 'INVALID_EVENT');
  bad({ ts: Float64Array.of(T0, NaN, T0) }, 'INVALID_EVENT');
  bad({ ts: Float64Array.of(T0, Infinity, T0) }, 'INVALID_EVENT');
  bad({ ts: Float64Array.of(T0, T0) }, 'INVALID_ARGUMENT');
  bad({ items: enc('item-1\0item-2\0') }, 'INVALID_ARGUMENT'); // fewer ids than types
  bad({ items: enc('item-1\0item-2\0item-3\0item-4\0') }, 'INVALID_ARGUMENT'); // more
  bad({ items: enc('item-1\0item-2\0item-3') }, 'INVALID_ARGUMENT'); // no final 0 byte
  bad({ items: Uint8Array.of(105, 0, 0xff, 0xfe, 0, 105, 0) }, 'INVALID_EVENT'); // not UTF-8
  bad({ items: ['item-1', 'item-2', 'item-3'] }, 'INVALID_ARGUMENT');
  bad({ types: Int8Array.of(0, 0, 0) }, 'INVALID_ARGUMENT');
  bad({ ts: [T0, T0, T0] }, 'INVALID_ARGUMENT');
  bad({ types: undefined }, 'INVALID_ARGUMENT');
  assert.equal(code(() => v.raw.foldIn({}, opts)), 'INVALID_ARGUMENT');
  assert.equal(code(() => v.raw.foldIn('item-1', opts)), 'INVALID_ARGUMENT');
  const trap = new Proxy(packed(ev.slice(0, 3)), { get() { throw new Error('no'); }, getOwnPropertyDescriptor() { throw new Error('no'); } });
  assert.equal(code(() => v.raw.foldIn(trap, opts)), 'INVALID_ARGUMENT');
  // Still usable after every refusal.
  same((e) => v.raw.recommendFor(e, { now, k: 5 }));

  // Candidate ids as bytes (the glue's form for rerank): the same answers,
  // unknown and non-ASCII ids counted alike; malformed bytes are typed errors.
  const idBytes = (ids) => new TextEncoder().encode(ids.map((id) => id + '\0').join(''));
  const mixed = [...cands.slice(0, 50), 'ghost', 'ítem-ü', ...cands.slice(50, 80)];
  for (const o of [{ now, events: ev }, { now, events: p, mmrLambda: 0.6, k: 20 }, { now }]) {
    assert.deepEqual(JSON.parse(JSON.stringify(v.raw.rerank(idBytes(mixed), o))), JSON.parse(JSON.stringify(v.raw.rerank(mixed, o))));
  }
  assert.deepEqual(JSON.parse(JSON.stringify(v.raw.rerank(new Uint8Array(0), { now }))), JSON.parse(JSON.stringify(v.raw.rerank([], { now }))));
  assert.equal(code(() => v.raw.rerank(new TextEncoder().encode('item-1\0item-2'), { now })), 'INVALID_ARGUMENT');
  assert.equal(code(() => v.raw.rerank(Uint8Array.of(105, 0, 0xff, 0), { now })), 'INVALID_ARGUMENT');
  assert.equal(code(() => v.raw.rerank(Int8Array.of(105, 0), { now })), 'INVALID_ARGUMENT');

  // The shopper sends its history packed, and as objects once an id holds a
  // 0 character: the two give the same answers.
  let clock = T0;
  const s = createShopper(v, { storage: 'none', now: () => clock });
  for (const e of ev.slice(0, 30)) {
    clock = e.ts;
    await s.track({ type: e.type, item: e.item });
  }
  const r1 = s.recommend({ k: 10 });
  const x1 = s.rerank(cands, {});
  // A candidate list the glue cannot pack goes as it is: a 0-character id
  // is one more unknown candidate, a number the engine's typed error.
  const x0 = s.rerank([...cands, 'odd\0id'], {});
  assert.equal(x0.unknownCandidates, x1.unknownCandidates + 1);
  assert.deepEqual(x0.items, x1.items);
  assert.equal(code(() => s.rerank([...cands, 7], {})), 'INVALID_ARGUMENT');
  await s.track({ type: 'view', item: 'odd\0id' });
  const r2 = s.recommend({ k: 10 });
  const x2 = s.rerank(cands, {});
  const ids = (r) => r.items.map((x) => [x.id, x.score, x.reason.kind]);
  assert.deepEqual(ids(r2), ids(r1), 'an unknown id with a 0 character changes nothing');
  assert.deepEqual(ids(x2), ids(x1));
  assert.equal(r2.unknownItems, r1.unknownItems + 1);
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
  assert.equal(s.tasteSegment(), null);
  await s.track({ type: 'view', item: 'item-5' });
  const g = s.tasteSegment();
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

// ---- storage that keeps its promises (issue 13, items 2, 3, 7) -------------

const rec = (events) => JSON.stringify({ schema: SCHEMA, version: VERSION, events });
const OLD = [
  { type: 'view', item: 'item-1', ts: T0 },
  { type: 'cart', item: 'item-2', ts: T0 + MIN },
];

/** Runs `f` with `globalThis[name]` replaced (a value, or a getter when `get` is given). */
async function withGlobal(name, desc, f) {
  const had = Object.getOwnPropertyDescriptor(globalThis, name);
  Object.defineProperty(globalThis, name, { configurable: true, enumerable: true, ...desc });
  try {
    return await f();
  } finally {
    if (had) Object.defineProperty(globalThis, name, had);
    else delete globalThis[name];
  }
}

const securityError = () => new DOMException('The operation is insecure.', 'SecurityError');

test('shopper storage: forget() before the stored history was read forgets it', async () => {
  const v = await load(bundle());
  const ls = fakeLocalStorage();
  ls.setItem('k', rec(OLD));
  await withGlobal('localStorage', { value: ls }, async () => {
    const s = createShopper(v, { storage: 'localStorage', key: 'k' });
    await s.forget(); // the read has not run yet
    assert.deepEqual(s.history(), []);
    assert.equal(ls.getItem('k'), null);
    await s.track({ type: 'view', item: 'item-9', ts: T0 + 5 * MIN });
    assert.deepEqual(JSON.parse(ls.getItem('k')).events.map((e) => e.item), ['item-9'], 'the old events were not written back');
    assert.deepEqual(s.history().map((e) => e.item), ['item-9']);
    // A fresh page sees the same.
    const again = createShopper(v, { storage: 'localStorage', key: 'k' });
    await again.ready;
    assert.deepEqual(again.history().map((e) => e.item), ['item-9']);
  });
  v.dispose();
});

test('shopper storage: forget() wins over writes queued before it', async () => {
  const v = await load(bundle());
  const ls = fakeLocalStorage();
  await withGlobal('localStorage', { value: ls }, async () => {
    const s = createShopper(v, { storage: 'localStorage', key: 'k' });
    const writes = [];
    for (let i = 0; i < 20; i++) writes.push(s.track({ type: 'view', item: `item-${i}`, ts: T0 + i }));
    const f = s.forget();
    await Promise.all([...writes, f]);
    assert.equal(ls.getItem('k'), null, 'nothing tracked before forget() reached storage after it');
    assert.deepEqual(s.history(), []);
    // A forget while a write is in flight (the write's promise already taken).
    const w = s.track({ type: 'view', item: 'item-1', ts: T0 });
    await Promise.resolve();
    await s.forget();
    await w;
    assert.equal(ls.getItem('k'), null);
  });
  v.dispose();
});

test('shopper storage: two shoppers on one store (two tabs) lose nothing and share a forget', async () => {
  const v = await load(bundle());
  const ls = fakeLocalStorage();
  await withGlobal('localStorage', { value: ls }, async () => {
    const a = createShopper(v, { storage: 'localStorage', key: 'tabs', cap: 5000 });
    const b = createShopper(v, { storage: 'localStorage', key: 'tabs', cap: 5000 });
    await Promise.all([a.ready, b.ready]);
    const writes = [];
    for (let i = 0; i < 1000; i++) {
      writes.push(a.track({ type: 'view', item: `a-${i}`, ts: T0 + i }));
      writes.push(b.track({ type: 'view', item: `b-${i}`, ts: T0 + i }));
      if (i % 97 === 0) await Promise.resolve();
    }
    await Promise.all(writes);
    const stored = JSON.parse(ls.getItem('tabs')).events;
    assert.equal(stored.length, 2000, 'no event lost');
    assert.equal(new Set(stored.map((e) => e.item)).size, 2000);
    // A forgets; B, which still holds the old events in memory, tracks: the old events stay gone.
    await a.forget();
    await b.track({ type: 'view', item: 'b-new', ts: T0 + 5000 });
    assert.deepEqual(JSON.parse(ls.getItem('tabs')).events.map((e) => e.item), ['b-new']);
    assert.deepEqual(b.history().map((e) => e.item), ['b-new']);
    // B hears of the forget (BroadcastChannel) even without tracking.
    await b.track({ type: 'view', item: 'b-2', ts: T0 + 6000 });
    await new Promise((r) => setTimeout(r, 50));
    await a.ready;
    const c = createShopper(v, { storage: 'localStorage', key: 'tabs', cap: 5000 });
    await c.ready;
    assert.deepEqual(c.history().map((e) => e.item), ['b-new', 'b-2']);
    await c.forget();
    // The forget reaches B as a BroadcastChannel message: wait for it, not for a time.
    await until(() => b.history().length === 0);
    assert.deepEqual(b.history(), [], 'the other shopper dropped its copy on the broadcast forget');
    for (const s of [a, b, c]) s.close();
  });
  v.dispose();
});

test('shopper storage: storage access that throws → STORAGE_UNAVAILABLE warning, memory, no throw', async () => {
  const v = await load(bundle());
  const throwing = { get() { throw securityError(); } };
  // The getter itself throws (sandboxed iframe, blocked cookies), with the default storage and each explicit one.
  for (const [name, storage] of [['localStorage', undefined], ['indexedDB', undefined], ['localStorage', 'localStorage'], ['indexedDB', 'indexeddb']]) {
    await withGlobal(name, throwing, async () => {
      const w = [];
      const s = createShopper(v, { storage, onWarning: (x) => w.push(x.code) });
      await s.ready;
      assert.deepEqual(w, ['STORAGE_UNAVAILABLE'], `${name} ${storage}`);
      assert.equal(s.storage, 'none');
      await s.track({ type: 'view', item: 'item-3' });
      assert.equal(s.history().length, 1);
      assert.equal(s.recommend({ k: 3 }).items.length, 3);
      await s.forget();
    });
  }
  // The object is there but every call throws (Safari with cookies blocked; opaque origins for IndexedDB).
  const deniedLs = { getItem: () => { throw securityError(); }, setItem: () => { throw securityError(); }, removeItem: () => { throw securityError(); } };
  const deniedIdb = { open: () => { throw securityError(); }, deleteDatabase: () => { throw securityError(); }, databases: async () => { throw securityError(); } };
  for (const [name, value, storage] of [['localStorage', deniedLs, 'localStorage'], ['indexedDB', deniedIdb, 'indexeddb']]) {
    await withGlobal(name, { value }, async () => {
      const w = [];
      const s = createShopper(v, { storage, onWarning: (x) => w.push(x.code) });
      await s.track({ type: 'view', item: 'item-3' });
      await s.track({ type: 'cart', item: 'item-4' });
      assert.deepEqual(w, ['STORAGE_UNAVAILABLE'], `${storage}: one warning, then memory`);
      assert.equal(s.storage, 'none');
      assert.deepEqual(s.history().map((e) => e.item), ['item-3', 'item-4']);
      await s.forget();
      assert.deepEqual(s.history(), []);
    });
  }
  v.dispose();
});

test('shopper storage: a refused write keeps the events and a later write stores them all', async () => {
  const v = await load(bundle());
  const ls = fakeLocalStorage(10);
  await withGlobal('localStorage', { value: ls }, async () => {
    const w = [];
    const s = createShopper(v, { storage: 'localStorage', key: 'q', onWarning: (x) => w.push(x.code) });
    await s.track({ type: 'view', item: 'item-3', ts: T0 });
    await s.track({ type: 'view', item: 'item-4', ts: T0 + 1 });
    assert.deepEqual(w, ['QUOTA'], 'one warning for a run of refusals');
    assert.equal(s.history().length, 2);
    const roomy = fakeLocalStorage();
    ls.setItem = roomy.setItem; // space freed
    ls.getItem = roomy.getItem;
    await s.track({ type: 'view', item: 'item-5', ts: T0 + 2 });
    assert.deepEqual(JSON.parse(roomy.getItem('q')).events.map((e) => e.item), ['item-3', 'item-4', 'item-5']);
    assert.ok(w.every((c) => WARNING_CODES.includes(c)));
  });
  v.dispose();
});

// ---- one error type, own properties only (issue 13, items 3, 5, 12) ---------

function thrown(f) {
  try {
    f();
  } catch (e) {
    return e;
  }
  return null;
}

test('shopper errors: every throw is a VitrineError; a wasm trap is INTERNAL, not INVALID_ARGUMENT', async () => {
  const v = await load(bundle());
  const s = createShopper(v, { storage: 'none' });
  await s.track({ type: 'view', item: 'item-3', ts: T0 });
  const revoked = Proxy.revocable({}, {});
  revoked.revoke();
  const cases = [
    ['INVALID_ARGUMENT', () => createShopper(null)],
    ['INVALID_ARGUMENT', () => createShopper({})],
    ['INVALID_ARGUMENT', () => createShopper(v, 'indexeddb')],
    ['INVALID_ARGUMENT', () => createShopper(v, { storage: 'cookies' })],
    ['INVALID_ARGUMENT', () => createShopper(v, { storgae: 'none' })],
    ['INVALID_ARGUMENT', () => createShopper(v, { cap: 0 })],
    ['INVALID_ARGUMENT', () => createShopper(v, { cap: 1e9 })],
    ['INVALID_ARGUMENT', () => createShopper(v, { key: '' })],
    ['INVALID_ARGUMENT', () => createShopper(v, { sessionGapMinutes: NaN })],
    ['INVALID_ARGUMENT', () => createShopper(v, { halfLifeDays: -1 })],
    ['INVALID_ARGUMENT', () => createShopper(v, { onWarning: 'yes' })],
    ['INVALID_ARGUMENT', () => createShopper(v, { weights: { view: -1 } })],
    ['INVALID_ARGUMENT', () => createShopper(v, { weights: { like: 1 } })],
    ['INVALID_ARGUMENT', () => createShopper(v, { weights: [1] })],
    ['INVALID_ARGUMENT', () => createShopper(v, { excludeViewed: 1 })],
    ['INVALID_ARGUMENT', () => createShopper(v, revoked.proxy)],
    ['INVALID_EVENT', () => s.track(null)],
    ['INVALID_EVENT', () => s.track(revoked.proxy)],
    ['INVALID_EVENT', () => s.track({ type: 'wishlist', item: 'item-1' })],
    ['INVALID_EVENT', () => s.track({ type: 'view', item: 'item-1', ts: Infinity })],
    ['INVALID_ARGUMENT', () => s.recommend({ k: -1 })],
    ['INVALID_ARGUMENT', () => s.recommend({ k: 1.5 })],
    ['INVALID_ARGUMENT', () => s.recommend({ priceMax: NaN })],
    ['INVALID_ARGUMENT', () => s.recommend({ mmrLambda: 2 })],
    ['INVALID_ARGUMENT', () => s.recommend({ events: [] })],
    ['INVALID_ARGUMENT', () => s.recommend({ nope: 1 })],
    ['INVALID_ARGUMENT', () => s.recommend({ excludeCart: 'no' })],
    ['INVALID_ARGUMENT', () => s.recommend(42)],
    ['INVALID_ARGUMENT', () => s.recommend(revoked.proxy)],
    ['INVALID_ARGUMENT', () => s.rerank('item-1')],
    ['INVALID_ARGUMENT', () => s.rerank(revoked.proxy)],
    ['INVALID_ARGUMENT', () => s.rerank([1, 2])],
    ['INVALID_ARGUMENT', () => s.rerank(new Array(2 ** 21))],
    ['INVALID_ARGUMENT', () => s.rerank(['item-1'], { pin: { 'item-1': -1 } })],
    ['INVALID_ARGUMENT', () => s.explain(7)],
    ['UNKNOWN_ITEM', () => s.explain('no-such-item')],
  ];
  for (const [want, f] of cases) {
    const e = thrown(f);
    assert.ok(e instanceof VitrineError, `${f}: ${e} is not a VitrineError`);
    assert.equal(e.code, want, `${f}: ${e.message}`);
  }

  // A wasm trap (a real WebAssembly.RuntimeError from an `unreachable`) inside the engine.
  const trapModule = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array([
    0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 7, 8, 1, 4, 116, 114, 97, 112, 0, 0, 10, 5, 1, 3, 0, 0, 11,
  ])));
  const trapping = { raw: { foldIn: () => trapModule.exports.trap(), recommendFor: () => trapModule.exports.trap(), rerank: () => trapModule.exports.trap(), explain: () => trapModule.exports.trap(), segment: () => null } };
  const t = createShopper(trapping, { storage: 'none' });
  await t.track({ type: 'view', item: 'x', ts: T0 });
  for (const f of [() => t.userVector(), () => t.recommend(), () => t.rerank(['x']), () => t.explain('x'), () => t.tasteSegment()]) {
    const e = thrown(f);
    assert.ok(e instanceof VitrineError, String(e));
    assert.equal(e.code, 'INTERNAL', `${f}: ${e.code} ${e.message}`);
    assert.ok(e.cause instanceof WebAssembly.RuntimeError);
  }
  // A plain JS failure without a code is not the caller's fault either.
  const broken = createShopper({ raw: { foldIn: () => { throw new TypeError('boom'); } } }, { storage: 'none' });
  assert.equal(thrown(() => broken.userVector()).code, 'INTERNAL');

  // After dispose(): DISPOSED, still a VitrineError.
  v.dispose();
  for (const f of [() => s.recommend(), () => s.userVector(), () => s.rerank(['item-1']), () => s.explain('item-1'), () => s.segment(), () => createShopper(v)]) {
    const e = thrown(f);
    assert.ok(e instanceof VitrineError, String(e));
    assert.equal(e.code, 'DISPOSED');
  }
});

test('shopper options: a polluted Object.prototype changes nothing; throwing getters are typed errors', async () => {
  const v = await load(bundle());
  let clock = T0 + 10 * MIN;
  const s = createShopper(v, { storage: 'none', now: () => clock });
  for (const [i, id] of ['item-20', 'item-21', 'item-22', 'item-23'].entries()) await s.track({ type: i === 3 ? 'cart' : 'view', item: id, ts: T0 + i * MIN });
  const cands = Array.from({ length: 40 }, (_, i) => `item-${100 + i}`).concat(['item-23']);
  const run = () => ({
    rec: s.recommend({ k: 15 }),
    rr: s.rerank(cands, { k: 20 }),
    u: Array.from(s.userVector()),
    ex: s.explain('item-100'),
    seg: s.tasteSegment(),
  });
  const clean = run();
  const category = v.item(clean.rec.items[0].id).category;
  const pollution = {
    categories: [category === 'c0' ? 'c1' : 'c0', 'nope'],
    exclude: clean.rec.items.map((x) => x.id),
    bury: [clean.rr.items[0].id],
    priceMax: 0,
    priceMin: 1e9,
    mmrLambda: 0,
    pin: { 'item-139': 0 },
    boost: { 'item-139': 100 },
    k: 1,
    ts: 0,
    inStockOnly: true,
    excludePurchased: false,
    excludeCart: false,
    excludeViewed: true,
    weights: { view: 100 },
    blend: { long: 0 },
    halfLifeDays: 0.0001,
    segment: 0,
    storage: 'bogus',
    cap: -1,
  };
  try {
    for (const [k, val] of Object.entries(pollution)) Object.prototype[k] = val;
    const dirty = run();
    await s.track({ type: 'view', item: 'item-30' }); // ts must be now, not the inherited 0
    assert.equal(s.history().at(-1).ts, clock);
    const s2 = createShopper(v, { storage: 'none', now: () => clock }); // inherited storage/cap ignored
    assert.equal(s2.storage, 'none');
    assert.deepEqual(dirty.rec.items, clean.rec.items);
    assert.deepEqual(dirty.rr.items, clean.rr.items);
    assert.deepEqual(dirty.u, clean.u);
    assert.deepEqual(dirty.ex, clean.ex);
    assert.deepEqual(dirty.seg, clean.seg);
  } finally {
    for (const k of Object.keys(pollution)) delete Object.prototype[k];
  }
  // Proxies whose traps throw, and getters that throw, at every level.
  const trap = (what) => new Proxy({}, { get() { throw new Error(`${what} get`); }, ownKeys() { throw new Error(`${what} keys`); }, getOwnPropertyDescriptor() { throw new Error(`${what} desc`); } });
  const getter = { get k() { throw new Error('k getter'); } };
  for (const [want, f] of [
    ['INVALID_ARGUMENT', () => s.recommend(trap('opts'))],
    ['INVALID_ARGUMENT', () => s.recommend(getter)],
    ['INVALID_ARGUMENT', () => s.recommend({ pin: trap('pin') })],
    ['INVALID_ARGUMENT', () => s.rerank(['item-1'], { exclude: new Proxy([], { get() { throw new Error('array'); } }) })],
    ['INVALID_ARGUMENT', () => s.rerank(new Proxy(['item-1'], { get() { throw new Error('ids'); } }))],
    ['INVALID_ARGUMENT', () => createShopper(v, trap('create'))],
    ['INVALID_ARGUMENT', () => createShopper(v, { weights: trap('weights') })],
    ['INVALID_EVENT', () => s.track(trap('event'))],
    ['INVALID_EVENT', () => s.track({ type: 'view', get item() { throw new Error('item getter'); } })],
  ]) {
    const e = thrown(f);
    assert.ok(e instanceof VitrineError, `${f}: ${e}`);
    assert.equal(e.code, want, `${f}: ${e.message}`);
  }
  v.dispose();
});

// ---- defaults a store expects (issue 14, item 6) ----------------------------

test('shopper exclusions: cart and purchased items are not recommended back unless asked; excludeViewed', async () => {
  const v = await load(bundle());
  const s = createShopper(v, { storage: 'none', now: () => T0 + 10 * MIN });
  const viewed = ['item-40', 'item-41', 'item-42'];
  for (const [i, id] of viewed.entries()) await s.track({ type: 'view', item: id, ts: T0 + i * MIN });
  await s.track({ type: 'cart', item: 'item-43', ts: T0 + 4 * MIN });
  const k = 60;
  const ids = (r) => r.items.map((x) => x.id);
  // Without the default the store shows the cart back, ranked near the top (what the issue saw).
  const withCart = s.recommend({ k: 10, excludeCart: false });
  assert.ok(ids(withCart).includes('item-43'), 'the cart item ranks when not excluded');
  assert.equal(withCart.items.find((x) => x.id === 'item-43').reason.kind, 'history');
  const first = ids(s.recommend({ k }));
  assert.ok(!first.includes('item-43'), 'cart item excluded by default');
  assert.ok(viewed.some((id) => first.includes(id)), 'viewed items may come back by default');
  const noViews = ids(s.recommend({ k, excludeViewed: true }));
  assert.ok(!viewed.some((id) => noViews.includes(id)));
  assert.ok(!noViews.includes('item-43'));
  assert.equal(noViews.length, k, 'the list is refilled, not shortened');
  await s.track({ type: 'cart', item: 'item-44', ts: T0 + 5 * MIN });
  await s.track({ type: 'purchase', item: 'item-44', ts: T0 + 6 * MIN });
  assert.ok(ids(s.recommend({ k: 10, excludePurchased: false, excludeCart: false })).includes('item-44'), 'the bought item ranks when not excluded');
  const def = ids(s.recommend({ k }));
  assert.ok(!def.includes('item-43'), 'cart item excluded by default');
  assert.ok(!def.includes('item-44'), 'purchased item excluded by default');
  // rerank: the same defaults; opting out brings them back.
  const cands = ['item-43', 'item-44', 'item-40', 'item-100', 'item-101'];
  assert.deepEqual(new Set(ids(s.rerank(cands))), new Set(['item-40', 'item-100', 'item-101']));
  assert.deepEqual(new Set(ids(s.rerank(cands, { excludeCart: false }))), new Set(['item-43', 'item-40', 'item-100', 'item-101']));
  assert.deepEqual(new Set(ids(s.rerank(cands, { excludeViewed: true, exclude: ['item-101'] }))), new Set(['item-100']));
  // Defaults set once for the shopper, overridden per call.
  const t = createShopper(v, { storage: 'none', now: () => T0 + 10 * MIN, excludeViewed: true, excludeCart: false });
  for (const e of s.history()) await t.track(e);
  assert.deepEqual(new Set(ids(t.rerank(cands))), new Set(['item-43', 'item-100', 'item-101']));
  assert.deepEqual(new Set(ids(t.rerank(cands, { excludeViewed: false }))), new Set(['item-43', 'item-40', 'item-100', 'item-101']));
  v.dispose();
});

test('shopper types: pkg/shopper.d.ts declares every export and every warning code', async () => {
  const { readFileSync } = await import('node:fs');
  const dts = readFileSync(new URL('../../pkg/shopper.d.ts', import.meta.url), 'utf8');
  const mod = await import('../../www/shopper.js');
  for (const name of Object.keys(mod)) {
    assert.match(dts, new RegExp(`export declare (const|function|class) ${name}\\b`), `${name} is not declared`);
  }
  const union = dts.slice(dts.indexOf('export type ShopperWarningCode'), dts.indexOf('export interface ShopperWarning '));
  const declared = [...union.matchAll(/\| '([A-Z_]+)'/g)].map((m) => m[1]);
  assert.deepEqual(declared, [...WARNING_CODES]);
  const types = dts.slice(dts.indexOf('export type EventType'), dts.indexOf(';', dts.indexOf('export type EventType')));
  assert.deepEqual([...types.matchAll(/'([a-z]+)'/g)].map((m) => m[1]), ['view', 'cart', 'purchase', 'search']);
});

test('shopper errors: a walk over every call with hostile values gives results or coded VitrineErrors, nothing else', async () => {
  const v = await load(bundle());
  const s = createShopper(v, { storage: 'none', now: () => T0 + 10 * MIN });
  await s.track({ type: 'view', item: 'item-7', ts: T0 });
  await s.track({ type: 'cart', item: 'item-8', ts: T0 + MIN });
  const F32_MAX = 3.4028234663852886e38;
  const revoked = Proxy.revocable({}, {});
  revoked.revoke();
  const values = [undefined, null, NaN, Infinity, -Infinity, F32_MAX, -F32_MAX, 1e39, -1, 0, 1.5, 2 ** 32, 2 ** 53, '', 'x'.repeat(100_000), 'item-7', 'no-such-item',
    true, [], ['item-7'], [1], {}, { 'item-7': 1 }, () => 1, Symbol('s'), 10n, new Float32Array(2), revoked.proxy, new Proxy({}, { get() { throw new Error('get'); } })];
  const optionKeys = ['k', 'blend', 'mmrLambda', 'diversityDepth', 'pin', 'boost', 'bury', 'exclude', 'categoryCap', 'segment', 'pool', 'reasonDepth',
    'categories', 'priceMin', 'priceMax', 'inStockOnly', 'now', 'excludeCart', 'excludePurchased', 'excludeViewed', 'weights', 'halfLifeDays', 'sessionHalfLife', 'events', 'bogus'];
  const codes = new Set(['INVALID_ARGUMENT', 'INVALID_EVENT', 'UNKNOWN_ITEM', 'DIM_MISMATCH', 'MISSING_CAPABILITY']);
  const seen = new Map();
  let calls = 0;
  const check = (label, f) => {
    calls++;
    try {
      const r = f();
      if (r && typeof r.then === 'function') r.catch(() => assert.fail(`${label}: the promise rejected`));
    } catch (e) {
      assert.ok(e instanceof VitrineError, `${label}: ${e && e.name}: ${e && e.message}`);
      assert.ok(codes.has(e.code), `${label}: code ${e.code}`);
      seen.set(e.code, (seen.get(e.code) ?? 0) + 1);
    }
  };
  for (const [i, x] of values.entries()) {
    check(`recommend(${i})`, () => s.recommend(x));
    check(`rerank(${i})`, () => s.rerank(x));
    check(`rerank ids(${i})`, () => s.rerank(['item-7', x]));
    check(`explain(${i})`, () => s.explain(x));
    check(`track(${i})`, () => s.track(x));
    for (const f of ['type', 'item', 'ts']) check(`track.${f}(${i})`, () => s.track({ type: 'view', item: 'item-9', ts: T0, [f]: x }));
    check(`createShopper(${i})`, () => createShopper(x));
    check(`createShopper opts(${i})`, () => createShopper(v, x));
    for (const key of optionKeys) {
      check(`recommend.${key}(${i})`, () => s.recommend({ [key]: x }));
      check(`rerank.${key}(${i})`, () => s.rerank(['item-7', 'item-9'], { [key]: x }));
    }
    for (const key of ['storage', 'key', 'cap', 'sessionGapMinutes', 'halfLifeDays', 'weights', 'onWarning', 'now', 'excludeCart', 'excludeViewed']) {
      check(`createShopper.${key}(${i})`, () => createShopper(v, { storage: 'none', [key]: x }).recommend({ k: 2 }));
    }
  }
  console.log(`# ${calls} hostile calls: ${[...seen].map(([c, n]) => `${c} ${n}`).join(', ')}, the rest succeeded`);
  assert.ok(seen.get('INVALID_ARGUMENT') > 100);
  v.dispose();
});

/** A tab's copy of localStorage that learns of other tabs' writes only on `sync()` (as Chromium's lags). */
function laggingStorage(shared) {
  const cache = new Map(shared);
  return {
    getItem: (k) => (cache.has(k) ? cache.get(k) : null),
    setItem: (k, v) => {
      cache.set(k, String(v));
      shared.set(k, String(v));
    },
    removeItem: (k) => {
      cache.delete(k);
      shared.delete(k);
    },
    sync: () => {
      cache.clear();
      for (const [k, v] of shared) cache.set(k, v);
    },
  };
}

test('shopper storage (localStorage): a tab whose copy lagged behind a forget takes back what it wrote over it', async () => {
  const v = await load(bundle());
  const shared = new Map();
  const lsA = laggingStorage(shared);
  const lsB = laggingStorage(shared);
  const items = () => JSON.parse(shared.get('lag') ?? '{"events":[]}').events.map((e) => e.item);
  let a;
  let b;
  await withGlobal('localStorage', { value: lsA }, async () => {
    a = createShopper(v, { storage: 'localStorage', key: 'lag' });
    await a.track({ type: 'view', item: 'item-1', ts: T0 });
    await a.track({ type: 'view', item: 'item-2', ts: T0 + 1 });
  });
  lsB.sync();
  await withGlobal('localStorage', { value: lsB }, async () => {
    b = createShopper(v, { storage: 'localStorage', key: 'lag' });
    await b.ready;
  });
  assert.deepEqual(b.history().map((e) => e.item), ['item-1', 'item-2']);
  await a.forget(); // B's copy still shows the old record
  await b.track({ type: 'view', item: 'item-3', ts: T0 + 2 }); // written on the stale copy, before B hears of the forget
  assert.deepEqual(items(), ['item-1', 'item-2', 'item-3'], 'the lagging copy wrote the old events back (what Chromium can do)');
  // The forget's broadcast reaches B, which then rewrites the record: wait for that write, not for a time.
  await until(() => items().length === 1);
  assert.deepEqual(items(), ['item-3'], 'B took out what it knew before the forget, and kept what came after');
  assert.deepEqual(b.history().map((e) => e.item), ['item-3']);
  a.close();
  b.close();
  v.dispose();
});

/**
 * Tabs in one process: each has its own view of one Map (so that a storage
 * event can name its tab's `storageArea`) and an outbox of the writes made
 * through it, which the test hands to the other tab as `storage` events when
 * it chooses (a browser delivers them some time after the write).
 */
function tabStorage(shared) {
  const outbox = [];
  return {
    outbox,
    getItem: (k) => (shared.has(k) ? shared.get(k) : null),
    setItem: (k, v) => {
      if (shared.get(k) === String(v)) return; // no change, no event
      shared.set(k, String(v));
      outbox.push({ key: k, newValue: String(v) });
    },
    removeItem: (k) => {
      if (shared.delete(k)) outbox.push({ key: k, newValue: null });
    },
  };
}

test('shopper storage (localStorage): a tab that tracks after another tab\'s forget but hears of it late keeps that event', async () => {
  const v = await load(bundle());
  const shared = new Map();
  const lsA = tabStorage(shared);
  const lsB = tabStorage(shared);
  const target = new EventTarget();
  const deliver = (from, to) => {
    for (const m of from.outbox.splice(0)) target.dispatchEvent(Object.assign(new Event('storage'), { storageArea: to, ...m }));
  };
  const items = () => JSON.parse(shared.get('late') ?? '{"events":[]}').events.map((e) => e.item);
  // A's Web Lock can be held, so that its forget's queued removal waits.
  let open = Promise.resolve();
  let release = () => {};
  const hold = () => (open = new Promise((r) => (release = r)));
  const locks = { request: (_name, run) => open.then(run) };
  const on = { addEventListener: target.addEventListener.bind(target), removeEventListener: target.removeEventListener.bind(target) };
  await withGlobal('addEventListener', { value: on.addEventListener }, () =>
    withGlobal('removeEventListener', { value: on.removeEventListener }, async () => {
      const a = await withGlobal('navigator', { value: { locks } }, () =>
        withGlobal('localStorage', { value: lsA }, async () => {
          const s = createShopper(v, { storage: 'localStorage', key: 'late' });
          await s.track({ type: 'view', item: 'item-1', ts: T0 });
          await s.track({ type: 'view', item: 'item-2', ts: T0 + 1 });
          return s;
        }),
      );
      await withGlobal('localStorage', { value: lsB }, async () => {
        const b = createShopper(v, { storage: 'localStorage', key: 'late' });
        await b.ready;
        lsA.outbox.length = 0;
        assert.deepEqual(b.history().map((e) => e.item), ['item-1', 'item-2']);

        hold();
        const forgot = a.forget(); // removes the record at once; its second removal waits for the lock
        const t0 = performance.now();
        while (performance.now() === t0); // B's next event is later on the device clock
        const tracked = b.track({ type: 'view', item: 'item-3', ts: T0 + 2 });
        deliver(lsA, lsB); // B hears of the forget only now, with item-3 not yet written
        await tracked;
        await until(() => items().length === 1);
        assert.deepEqual(items(), ['item-3'], 'the event tracked after the forget was written');
        assert.deepEqual(b.history().map((e) => e.item), ['item-3']);

        release(); // A's queued removal runs now and takes item-3 with it
        await forgot;
        assert.deepEqual(items(), [], 'the forgetting tab removed the record again');
        assert.equal(shared.get('vitrine.shopper.forgot/late'), undefined, 'the forget mark is gone once the forget is done');
        deliver(lsA, lsB);
        await until(() => items().length === 1);
        assert.deepEqual(items(), ['item-3'], 'B wrote its event from after the forget again');
        await until(() => a.history().length === 1);
        assert.deepEqual(a.history().map((e) => e.item), ['item-3']);
        a.close();
        b.close();
      });
    }),
  );

  // A forget whose page went before its queued removal: the mark stays, and
  // the next start keeps only what came after it, then removes the mark.
  const left = new Map([
    ['late', rec([{ type: 'view', item: 'old', ts: T0, id: 'x.1', at: 1000 }, { type: 'view', item: 'new', ts: T0 + 1, id: 'x.2', at: 3000 }])],
    ['vitrine.shopper.forgot/late', '2000'],
  ]);
  await withGlobal('localStorage', { value: tabStorage(left) }, async () => {
    const c = createShopper(v, { storage: 'localStorage', key: 'late' });
    await c.ready;
    assert.deepEqual(c.history().map((e) => e.item), ['new']);
    assert.deepEqual(JSON.parse(left.get('late')).events.map((e) => e.item), ['new']);
    assert.equal(left.has('vitrine.shopper.forgot/late'), false);
    c.close();
  });
  v.dispose();
});

/**
 * Web Locks shared by tabs in one process: exclusive, first come first served,
 * with `query()`. `hold(name)` takes a lock for the test (another tab's write)
 * and returns its release.
 */
function lockManager() {
  /** @type {Map<string, {run: () => any, resolve: (v: any) => void, reject: (e: any) => void, started: boolean}[]>} */
  const queues = new Map();
  const next = (name) => {
    const q = queues.get(name);
    if (!q || q.length === 0 || q[0].started) return;
    const head = q[0];
    head.started = true;
    Promise.resolve()
      .then(head.run)
      .then(head.resolve, head.reject)
      .finally(() => {
        q.shift();
        next(name);
      });
  };
  const request = (name, ...args) =>
    new Promise((resolve, reject) => {
      if (!queues.has(name)) queues.set(name, []);
      queues.get(name).push({ run: args[args.length - 1], resolve, reject, started: false });
      next(name);
    });
  return {
    request,
    query: async () => {
      const held = [];
      const pending = [];
      for (const [name, q] of queues) q.forEach((_, i) => (i === 0 ? held : pending).push({ name }));
      return { held, pending };
    },
    hold(name) {
      let release;
      const gate = new Promise((r) => (release = r));
      request(name, () => gate);
      return () => release();
    },
  };
}

test('shopper storage (localStorage): a tab that starts during another tab\'s forget leaves the forget\'s mark to it', async () => {
  const v = await load(bundle());
  const shared = new Map();
  const [lsA, lsB, lsC] = [tabStorage(shared), tabStorage(shared), tabStorage(shared)];
  const target = new EventTarget();
  const deliver = (from, to) => {
    for (const m of from.outbox.splice(0)) target.dispatchEvent(Object.assign(new Event('storage'), { storageArea: to, ...m }));
  };
  const items = () => JSON.parse(shared.get('mid') ?? '{"events":[]}').events.map((e) => e.item);
  const tick = () => new Promise((r) => setTimeout(r, 0));
  const MARK = 'vitrine.shopper.forgot/mid';
  const locks = lockManager();
  await withGlobal('navigator', { value: { locks } }, () =>
    withGlobal('addEventListener', { value: target.addEventListener.bind(target) }, () =>
      withGlobal('removeEventListener', { value: target.removeEventListener.bind(target) }, async () => {
        const a = await withGlobal('localStorage', { value: lsA }, async () => {
          const s = createShopper(v, { storage: 'localStorage', key: 'mid' });
          await s.track({ type: 'view', item: 'item-1', ts: T0 });
          return s;
        });
        const b = await withGlobal('localStorage', { value: lsB }, async () => {
          const s = createShopper(v, { storage: 'localStorage', key: 'mid' });
          await s.ready;
          return s;
        });
        lsA.outbox.length = 0;
        assert.deepEqual(b.history().map((e) => e.item), ['item-1']);

        // Another tab is writing: A's next write waits for the lock, and so
        // does its forget's second removal, queued behind that write.
        const releaseData = locks.hold('vitrine.shopper/mid');
        const { forgot } = await withGlobal('localStorage', { value: lsA }, async () => {
          const w = a.track({ type: 'view', item: 'item-2', ts: T0 + 1 });
          await tick(); // its write now waits for the lock
          return { forgot: Promise.all([w, a.forget()]) }; // not awaited here
        });
        assert.ok(shared.get(MARK), 'the forget put its mark up');

        // C starts now: it finishes the forget from the mark and asks for the
        // lock before A's second removal does.
        const c = await withGlobal('localStorage', { value: lsC }, async () => {
          const s = createShopper(v, { storage: 'localStorage', key: 'mid' });
          await tick(); // its start has read the mark and asked for the lock
          return s;
        });
        const t0 = performance.now();
        while (performance.now() === t0); // B's next event is later on the device clock
        const tracked = b.track({ type: 'view', item: 'item-3', ts: T0 + 2 });
        deliver(lsA, lsB); // B hears of the forget (mark, first removal)

        releaseData();
        await Promise.all([c.ready, tracked, forgot]);
        assert.deepEqual(
          lsC.outbox.filter((m) => m.key === MARK),
          [],
          'C left the mark of a forget still running in A',
        );
        assert.equal(shared.has(MARK), false, 'A removed its mark once its forget was done');
        assert.deepEqual(items(), [], 'A\'s second removal took item-3 with it');
        deliver(lsC, lsB);
        deliver(lsA, lsB);
        await until(() => items().length === 1, 10_000);
        assert.deepEqual(items(), ['item-3'], 'B wrote its event from after the forget again');
        assert.deepEqual(b.history().map((e) => e.item), ['item-3']);
        for (const s of [a, b, c]) s.close();

        // A mark whose tab holds no lock is from a page that went before its
        // forget was done: a start removes it.
        const left = new Map([
          ['mid', rec([{ type: 'view', item: 'old', ts: T0, id: 'x.1', at: 1000 }])],
          [MARK, '2000'],
        ]);
        await withGlobal('localStorage', { value: tabStorage(left) }, async () => {
          const d = createShopper(v, { storage: 'localStorage', key: 'mid' });
          await d.ready;
          assert.deepEqual(d.history(), []);
          assert.equal(left.has(MARK), false);
          assert.equal(left.has('mid'), false);
          d.close();
        });
      }),
    ),
  );
  v.dispose();
});
