// The split-or-alone rule of a page-mode two-thread model (`load(src,
// {threads: 'auto'})`, lib/page-threads.js `PageSplit.decide`), without a
// browser: which queries split, and when the helper is told to spin after
// its part instead of sleeping. The shared-memory protocol itself runs in
// Chromium (tests/browser/page-threads.test.mjs).

import test from 'node:test';
import assert from 'node:assert/strict';
import { PageSplit, SPIN_MIN_ITEMS, SPIN_MS } from '../../pkg/lib/page-threads.js';
import { CTL } from '../../pkg/lib/helper.js';

/** A kind of query's timings: splits paying (split 5 ms, alone 10 ms) or not (the reverse). @param {boolean} paying */
const timings = (paying) => ({ split: Array(8).fill(paying ? 5 : 10), alone: Array(8).fill(paying ? 10 : 5), good: [], count: 0, every: 8, paying, warming: false });

/** `decide` for queries 1..n: [split?, the helper's spin in µs] per query. @param {number} nItems @param {number} n */
function run(nItems, n, e = timings(false)) {
  const split = new PageSplit({}, /** @type {any} */ ({}), { nItems, dim: 8 }, () => {});
  const out = [];
  for (let q = 0; q < n; q++) out.push([split.decide(e), Atomics.load(split.ctl, CTL.SPIN_US)]);
  return out;
}

test("'auto' tries after splits stopped paying: two splits in a row every 8 queries, the helper spinning through both", () => {
  const spin = SPIN_MS * 1000;
  const got = run(SPIN_MIN_ITEMS, 17);
  const want = Array.from({ length: 17 }, (_, q) => {
    const count = q + 1;
    // Count 8 and 16 wake the helper (not judged), 9 and 17 are the judged
    // splits: the helper must still be awake for them, so it spins after
    // the first and the second; every query run alone lets it sleep.
    const tries = count % 8 === 0 || (count > 8 && count % 8 === 1);
    return [tries, tries ? spin : 0];
  });
  assert.deepEqual(got, want);
});

test('while splits pay the helper spins after every query; below SPIN_MIN_ITEMS never', () => {
  const big = run(SPIN_MIN_ITEMS, 40, timings(true));
  assert.ok(big.every(([, s]) => s === SPIN_MS * 1000), JSON.stringify(big));
  // One query in 32 runs alone to keep the one-thread time fresh.
  assert.deepEqual(big.map(([split], q) => (split ? '' : q + 1)).filter(Boolean), [32]);
  const small = run(SPIN_MIN_ITEMS - 1, 17);
  assert.ok(small.every(([, s]) => s === 0), JSON.stringify(small));
});
