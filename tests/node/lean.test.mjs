// The lean engine builds (pkg/wasm/<build>-lean: no shopper, no placements)
// run under the full build's glue through `wasmUrl` and answer exactly as the
// full engine: same ids, order and scores (the SIMD and scalar builds score
// bit-identically, so the lean SIMD build is compared with the full scalar
// one: one build of each name runs per process). Their sizes are checked by
// tests/pkg/size.test.mjs.

import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from '../../pkg/node.js';
import { createShopper } from '../../pkg/shopper.js';
import { boughtTogether } from '../../pkg/placements.js';
import { mergeParts } from '../../pkg/lib/parallel.js';
import { ROOT, synth, rng, gaussianVector } from './helpers.mjs';

const lean = (/** @type {string} */ v) => join(ROOT, 'pkg', 'wasm', `${v}-lean`, 'vitrine_core_bg.wasm');

test('the lean SIMD build answers as the full engine and says it is lean', async () => {
  for (const dtype of ['f32', 'int8', 'int8+residual']) {
    const bytes = readFileSync(synth({ items: 3000, dim: 32, dtype, seed: 41, categories: 4 }));
    const small = await load(bytes, { simd: true, wasmUrl: { simd: lean('simd') } });
    const full = await load(bytes, { simd: false });
    assert.equal(small.info().engine, 'lean', dtype);
    assert.equal(full.info().engine, 'full', dtype);
    assert.equal(small.variant, 'simd');
    const cats = full.info().categories;
    const r = rng(5);
    for (let q = 0; q < 30; q++) {
      const u = gaussianVector(r, 32);
      const opts = [{ k: 10 }, { k: 5, exclude: ['item-3', 'item-2999'], categories: [cats[q % cats.length]] }, { k: 7, priceMax: 30, inStockOnly: true }][q % 3];
      assert.deepEqual([...small.recommend(u, opts)], [...full.recommend(u, opts)], `${dtype} recommend ${q}`);
      const a = small.recommendIndices(u, 20);
      const b = full.recommendIndices(u, 20);
      assert.deepEqual([Array.from(a.indices), Array.from(a.scores)], [Array.from(b.indices), Array.from(b.scores)], `${dtype} indices ${q}`);
      assert.deepEqual([...small.similar(`item-${q * 97}`, { k: 8 })], [...full.similar(`item-${q * 97}`, { k: 8 })], `${dtype} similar ${q}`);
      // The split scan's parts are in the lean build too, and the page's join
      // of two parts (cut anywhere) is the one-thread answer.
      const cut = 1 + ((q * 211) % 2998);
      const parts = [small.raw.recommendPart(u, { k: 20 }, 0, cut), small.raw.recommendPart(u, { k: 20 }, cut, 3000)];
      const joined = mergeParts(parts, 20);
      assert.deepEqual([joined.map((c) => c.index), joined.map((c) => c.score)], [Array.from(b.indices), Array.from(b.scores)], `${dtype} parts cut at ${cut}`);
    }
    assert.deepEqual([...small.popular({ k: 12 })], [...full.popular({ k: 12 })]);
    assert.deepEqual(small.item('item-7'), full.item('item-7'));
    // What the lean build leaves out fails loudly, never with a wrong answer.
    const shopper = createShopper(small, { storage: 'none' });
    await shopper.track({ type: 'view', item: 'item-3' });
    assert.throws(() => shopper.recommend({ k: 5 }), (e) => e.name === 'VitrineError' && e.code === 'INVALID_ARGUMENT' && /lean build/.test(e.message));
    assert.throws(() => boughtTogether(small, 'item-3', { k: 4 }), (e) => e.name === 'VitrineError' && e.code === 'INVALID_ARGUMENT' && /lean build/.test(e.message));
    small.dispose();
    full.dispose();
  }
});
