// Prototype pollution must not reach the engine: the wasm reads option
// objects, event objects and arrays by OWN properties only. Each test
// pollutes a prototype for the span of a few synchronous calls (and always
// cleans up), and compares with the same calls on clean prototypes. The
// public API and the raw wasm model are both checked: the JS glue may copy
// options, the wasm must not depend on it.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { load } from '../../pkg/node.js';
import { CLI, synth, tempDir } from './helpers.mjs';

const T0 = Date.UTC(2026, 0, 5, 12, 0, 0);
const MIN = 60_000;

function sessionBundle() {
  const out = join(tempDir(), 'pollution-session.vtr');
  if (!existsSync(out)) {
    execFileSync(CLI, ['session', 'synth', '--items', '600', '--dim', '16', '--dtype', 'f32', '--seed', '11', '--out', out], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }
  return out;
}

/** Runs `f` with `proto[key] = value`, removing it afterwards whatever happens. */
function polluted(proto, entries, f) {
  const had = Object.keys(entries).map((k) => [k, Object.getOwnPropertyDescriptor(proto, k)]);
  for (const [k, v] of Object.entries(entries)) {
    Object.defineProperty(proto, k, { value: v, configurable: true, writable: true, enumerable: false });
  }
  try {
    return f();
  } finally {
    for (const [k, d] of had) {
      if (d) Object.defineProperty(proto, k, d);
      else delete proto[k];
    }
  }
}

const ids = (r) => (r.items ?? r).map((x) => x.id);
const rawIds = (r) => r.items.map((x) => x.id);

test('Object.prototype options do not change popular / recommend / similar', async (t) => {
  const m = await load(synth({ items: 400, dim: 8, dtype: 'f32', seed: 21, categories: 4 }));
  t.after(() => m.dispose());
  const cat = m.info().categories[0];
  const u = new Float32Array(8).fill(0.2);
  const first = m.popular({ k: 10 })[0].id;
  const calls = {
    popular: () => ids(m.popular({ k: 10 })),
    recommend: () => ids(m.recommend(u, { k: 10 })),
    similar: () => ids(m.similar('item-3', { k: 10 })),
    rawPopular: () => rawIds(m.raw.popular({ k: 10 })),
    rawRecommend: () => rawIds(m.raw.recommend(u, { k: 10 })),
    rawSimilar: () => rawIds(m.raw.similar('item-3', { k: 10 })),
  };
  const clean = Object.fromEntries(Object.entries(calls).map(([k, f]) => [k, f()]));
  const attacks = [
    { categories: [cat] },
    { exclude: [first, ...clean.recommend] },
    { priceMax: 0 },
    { priceMin: 1e9 },
    { inStockOnly: true },
    { k: 1 },
  ];
  for (const attack of attacks) {
    const got = polluted(Object.prototype, attack, () => Object.fromEntries(Object.entries(calls).map(([k, f]) => [k, f()])));
    assert.deepEqual(got, clean, `Object.prototype ${JSON.stringify(attack)}`);
  }
});

test('Object.prototype does not change the shopper (events, mmrLambda, pin, exclude, prices, ts)', async (t) => {
  const m = await load(sessionBundle());
  t.after(() => m.dispose());
  const now = T0 + 10 * MIN;
  const pop = m.popular({ k: 30 }).map((x) => x.id);
  // Events without `ts` (they take `now`): a polluted `ts` must not date them.
  const events = [
    { type: 'view', item: pop[5] },
    { type: 'cart', item: pop[9] },
    { type: 'view', item: pop[12] },
  ];
  const raw = m.raw;
  const calls = {
    recommendFor: () => raw.recommendFor(events, { k: 10, now }),
    rerank: () => raw.rerank(pop, { k: 10, now, events }),
    foldIn: () => Array.from(raw.foldIn(events, { now }).vector),
  };
  const run = () =>
    Object.fromEntries(
      Object.entries(calls).map(([k, f]) => {
        const r = f();
        return [k, r.ids !== undefined ? { ids: r.ids, scores: Array.from(r.scores), kinds: Array.from(r.kinds) } : r];
      }),
    );
  const clean = run();
  const attacks = [
    { ts: 0 },
    { mmrLambda: 0 },
    { pin: { [pop[29]]: 0 } },
    { exclude: pop.slice(0, 20) },
    { priceMax: 0 },
    { categories: ['no-such-category'] },
    { weights: { view: 0, cart: 0, purchase: 0, search: 0 } },
    { blend: { long: 0, session: 0, popularity: 0, neighbours: 0 } },
    { segment: 0 },
    { k: 1 },
    { excludePurchased: false },
    { events: [{ type: 'purchase', item: pop[1], ts: now }] },
  ];
  for (const attack of attacks) {
    const got = polluted(Object.prototype, attack, run);
    assert.deepEqual(got, clean, `Object.prototype ${JSON.stringify(attack)}`);
  }
});

test('array holes never read Array.prototype elements', async (t) => {
  const m = await load(synth({ items: 300, dim: 8, dtype: 'f32', seed: 22 }));
  t.after(() => m.dispose());
  const u = new Float32Array(8).fill(0.3);
  const top = m.raw.recommend(u, { k: 5 }).items[0].id;
  // A hole at index 0: with Array.prototype[0] = top, a prototype read would
  // silently exclude `top`; an own read sees a hole, which is no string.
  const sparse = [];
  sparse[1] = 'item-1';
  const e = polluted(Array.prototype, { 0: top }, () => {
    try {
      m.raw.recommend(u, { k: 5, exclude: sparse });
      return null;
    } catch (err) {
      return err;
    }
  });
  assert.ok(e, 'a hole in exclude must be refused, not filled from Array.prototype');
  assert.equal(e.code, 'INVALID_ARGUMENT');
  assert.match(e.message, /exclude\[0\]/);
  // Events: a hole is not an event, whatever Array.prototype holds.
  const s = await load(sessionBundle());
  t.after(() => s.dispose());
  const holey = [];
  holey[1] = { type: 'view', item: s.popular({ k: 1 })[0].id, ts: T0 };
  const e2 = polluted(Array.prototype, { 0: { type: 'purchase', item: 'item-0', ts: T0 } }, () => {
    try {
      s.raw.foldIn(holey, { now: T0 });
      return null;
    } catch (err) {
      return err;
    }
  });
  assert.ok(e2);
  assert.equal(e2.code, 'INVALID_EVENT');
});

test('throwing getters and Proxy traps are errors, and the model keeps working', async (t) => {
  const m = await load(synth({ items: 300, dim: 8, dtype: 'f32', seed: 23 }));
  t.after(() => m.dispose());
  const u = new Float32Array(8).fill(0.1);
  const before = rawIds(m.raw.recommend(u, { k: 5 }));
  const hostile = [
    new Proxy({}, { ownKeys() { throw new Error('ownKeys boom'); } }),
    new Proxy({ k: 3 }, { getOwnPropertyDescriptor() { throw new Error('descriptor boom'); } }),
    { get k() { throw new Error('getter boom'); } },
  ];
  for (const opts of hostile) {
    let err;
    try {
      m.raw.recommend(u, opts);
    } catch (e) {
      err = e;
    }
    assert.ok(err, 'expected an error');
    assert.equal(err.name, 'VitrineError', String(err));
    assert.equal(err.code, 'INVALID_ARGUMENT');
    assert.match(err.message, /boom/);
    // No exception unwound through the wasm: the model is not left borrowed.
    assert.deepEqual(rawIds(m.raw.recommend(u, { k: 5 })), before);
  }
});
