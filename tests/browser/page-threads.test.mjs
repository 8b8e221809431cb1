// Page-mode two-thread scans in real Chromium: `load(src, {threads: 2})`
// keeps the model in the page, which scans part of each query itself while a
// helper worker, holding the model too and reached through a
// SharedArrayBuffer doorbell, scans the rest. Every answer must be the
// one-thread answer (items, order, f32 scores, counters, errors), with the
// helper doing its part, with the page taking the helper's part back, and
// with a helper that dies in the middle of a query.
//
// No test depends on time: `split.patience` (ms the page may wait for the
// helper) is set high where a test needs the helper's path to run, and the
// assertions count which path ran.

import test from 'node:test';
import assert from 'node:assert/strict';
import { basename, dirname } from 'node:path';
import { startServer } from '../../scripts/serve.mjs';
import { synth, rng, gaussianVector } from '../node/helpers.mjs';
import { launch, newPage } from './chromium.mjs';

const DIM = 32;
// 5000 rows: 20 blocks of 256; the page scans [0, 2560), the helper the rest.
const bundles = Object.fromEntries(
  ['f32', 'int8', 'int8+residual'].map((dtype) => [dtype, synth({ items: 5000, dim: DIM, dtype, seed: 31, categories: 5 })]),
);
// 300 rows: less than two blocks, nothing to split (every query runs alone).
const tiny = synth({ items: 300, dim: DIM, dtype: 'f32', seed: 32 });
// 20,000 × 64 f32: 5.12 MB of factors a query scans, over the 4 MiB from
// which 'auto' starts a helper (the int8 bundle above scans 160 KB).
const medium = synth({ items: 20000, dim: 64, dtype: 'f32', seed: 33 });
const users = Array.from({ length: 7 }, (_, q) => Array.from(gaussianVector(rng(100 + q), DIM)));
const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

let isolated;
let plain;
let browser;
test.before(async () => {
  const mounts = { '/t/': dirname(bundles.f32), '/tests/': import.meta.dirname ?? dirname(new URL(import.meta.url).pathname) };
  isolated = await startServer({ mounts, quiet: true, headers: ISOLATION });
  plain = await startServer({ mounts, quiet: true });
  browser = await launch();
});
test.after(async () => {
  await browser?.close();
  await isolated?.close();
  await plain?.close();
});

/** In the page: the questions both models are asked (synchronous page API). */
function askSource() {
  return `(m, users, cats) => {
    const out = [];
    const opts = [
      { k: 10 },
      { k: 7, exclude: ['item-1', 'item-2600', 'item-4999', 'no-such-item'], categories: [cats[1], cats[3]] },
      { k: 5, priceMax: 40, inStockOnly: true },
      { k: 300 },
      { k: 4, categories: ['not-a-category', cats[0]] },
      { k: 1 },
      { k: 3000, exclude: ['item-10', 'item-4000'] },
    ];
    for (const [q, u] of users.entries()) {
      const r = m.recommend(u, opts[q]);
      out.push({ items: [...r], unknownExcludes: r.unknownExcludes, unknownCategories: r.unknownCategories });
      const fast = m.recommendIndices(u, q === 6 ? 4000 : 12);
      out.push({ indices: Array.from(fast.indices), scores: Array.from(fast.scores) });
    }
    for (const id of ['item-0', 'item-2559', 'item-2560', 'item-4321']) out.push([...m.similar(id, { k: 8, exclude: ['item-7'] })]);
    for (const f of [() => m.similar('no-such-item'), () => m.recommend(users[0].slice(1)), () => m.recommend(users[0], { k: 0 })]) {
      try { f(); out.push('no error'); } catch (e) { out.push(e.code); }
    }
    return out;
  }`;
}

test('load(src, {threads: 2}): the page and a helper worker answer exactly as one thread (f32, int8, int8 + RESIDUAL; URL and bytes)', async () => {
  const { page, errors } = await newPage(browser.context, `${isolated.url}/tests/blank.html`);
  assert.equal(await page.evaluate(() => crossOriginIsolated), true);
  for (const [dtype, path] of Object.entries(bundles)) {
    for (const simd of ['relaxed', true]) {
      const r = await page.evaluate(
        async ({ url, simd, users, ask, bytes }) => {
          const v = await import('/pkg/vitrine.js');
          const q = (0, eval)(ask);
          const source = bytes ? new Uint8Array(await (await fetch(url)).arrayBuffer()) : url;
          const one = await v.load(source, { simd });
          const two = await v.load(source, { simd, threads: 2 });
          const early = two.info().threads;
          const ready = await two.threadsReady;
          // The helper's path on every query: the page waits for it (no timing in the test).
          two._split.patience = { claim: 60_000, done: 60_000 };
          two._split.adaptive = false; // every query split
          const cats = one.info().categories;
          const a = q(one, users, cats);
          const b = q(two, users, cats);
          // Then as a page would run: no patience, the split adapting to
          // what it gains (some queries alone, some parts taken back).
          const stats1 = { ...two._split.stats };
          two._split.patience = { claim: 0, done: 0 };
          two._split.adaptive = true;
          const c = q(two, users, cats);
          // Splits timed as not paying: the next queries run alone (one in
          // 8 tries a split again), with the same answers.
          const sp = two._split;
          sp.perf[1] = { split: Array(8).fill(100), alone: Array(8).fill(1), good: [], count: 1, every: 8, paying: false };
          sp.busy = false;
          const aloneBefore = sp.stats.alone;
          const again = users.map((u) => Array.from(two.recommendIndices(u, 12).indices));
          const want = users.map((u) => Array.from(one.recommendIndices(u, 12).indices));
          const alone = { ran: sp.stats.alone - aloneBefore, same: JSON.stringify(again) === JSON.stringify(want), spin: Atomics.load(sp.ctl, 2) };
          // 300 more queries back to back, as a page would send them: every
          // path (helped, late, unclaimed, alone, the cut moving) gives the
          // one-thread answer.
          let differ = 0;
          for (let q = 0; q < 300; q++) {
            const u = users[q % users.length].map((x, i) => x + Math.sin(q * 7 + i) * 0.5);
            const a1 = one.recommendIndices(u, 10);
            const a2 = two.recommendIndices(u, 10);
            if (JSON.stringify([Array.from(a1.indices), Array.from(a1.scores)]) !== JSON.stringify([Array.from(a2.indices), Array.from(a2.scores)])) differ++;
          }
          alone.differ = differ;
          const info = two.info().threads;
          one.dispose();
          two.dispose();
          return { a, b, c, early, ready, stats1, info, alone, variant: two.variant };
        },
        { url: `/t/${basename(path)}`, simd, users, ask: askSource(), bytes: dtype === 'int8' },
      );
      const label = `${dtype} simd=${simd}`;
      assert.equal(r.early.count, 1, `${label}: one thread until the helper is ready`);
      assert.match(r.early.reason, /helper worker is loading/);
      assert.equal(r.ready.count, 2, `${label}: ${r.ready.reason}`);
      assert.equal(r.ready.requested, 2);
      assert.equal(r.ready.sharedBytes, dtype === 'int8', `${label}: bytes reach the helper through a SharedArrayBuffer`);
      assert.equal(r.info.count, 2);
      // 7 queries, counts 2..8: all but the 8th run alone, the helper not spinning.
      assert.deepEqual(r.alone, { ran: 6, same: true, spin: 0, differ: 0 }, label);
      assert.ok(r.a[12].items.length === 3000 && r.a[13].indices.length === 4000, label);
      assert.deepEqual(r.b, r.a, `${label}: helper path`);
      assert.deepEqual(r.c, r.a, `${label}: adaptive, parts taken back`);
      // 7 recommend + 7 recommendIndices + 4 similar split; the failing calls
      // fail in the page's own part.
      assert.ok(r.stats1.splits >= 18, JSON.stringify(r.stats1));
      // Every part went to the helper; none was taken back or late.
      assert.equal(r.stats1.helped, r.stats1.splits - r.stats1.refused, `${label}: ${JSON.stringify(r.stats1)}`);
      assert.equal(r.stats1.pageTookOver + r.stats1.late, 0, `${label}: ${JSON.stringify(r.stats1)}`);
    }
  }
  assert.deepEqual(errors, []);
  await page.close();
});

test('a helper that dies in the middle of a query: the page finishes it alone, same answers, info() says why', async () => {
  const { page, errors } = await newPage(browser.context, `${isolated.url}/tests/blank.html`);
  const url = `/t/${basename(bundles['int8+residual'])}`;
  const r = await page.evaluate(
    async ({ url, users }) => {
      const v = await import('/pkg/vitrine.js');
      const ref = await v.load(url);
      const m = await v.load(url, { threads: 2 });
      const ready = await m.threadsReady;
      const split = m._split;
      split.patience = { claim: 60_000, done: 60_000 };
      split.adaptive = false;
      const want = users.map((u) => JSON.stringify([...ref.recommend(u, { k: 10 })]));
      const same = [JSON.stringify([...m.recommend(users[0], { k: 10 })]) === want[0]];
      // The helper claims the next query (the page waits for the claim),
      // then throws out of its loop (CTL.DIE_ON_CLAIM = 11) without an
      // answer: the page waits no longer than its own part took, then scans
      // the helper's rows itself.
      Atomics.store(split.ctl, 11, 1);
      split.patience = { claim: 60_000, done: 0 };
      same.push(JSON.stringify([...m.recommend(users[1], { k: 10 })]) === want[1]);
      const during = { ...split.stats };
      // Its failure reaches the page as a message: the split turns off.
      while (m._split) await new Promise((ok) => setTimeout(ok, 5));
      for (let q = 2; q < users.length; q++) same.push(JSON.stringify([...m.recommend(users[q], { k: 10 })]) === want[q]);
      const after = m.info().threads;
      ref.dispose();
      m.dispose();
      return { ready, same, during, after };
    },
    { url, users },
  );
  assert.equal(r.ready.count, 2);
  assert.deepEqual(r.same, Array(users.length).fill(true));
  assert.deepEqual([r.during.late, r.during.helped], [1, 1], JSON.stringify(r.during));
  assert.equal(r.after.count, 1);
  assert.match(r.after.reason, /helper worker failed .*died on purpose/);
  assert.deepEqual(errors, []);
  await page.close();
});

test("'auto': parts the helper answers too late move the cut towards the page (a cut that drifted low cannot stay stuck there)", async () => {
  const { page, errors } = await newPage(browser.context, `${isolated.url}/tests/blank.html`);
  const url = `/t/${basename(bundles.f32)}`;
  const r = await page.evaluate(
    async ({ url, users }) => {
      const v = await import('/pkg/vitrine.js');
      const ref = await v.load(url);
      const m = await v.load(url, { threads: 2 });
      const ready = await m.threadsReady;
      const split = m._split;
      split.adaptive = true;
      // The page's share as a long stretch of early helper answers leaves
      // it: the helper's part is now 70% of the rows.
      split.ratio = 0.3;
      // The helper claims each part (the page waits for the claim), then
      // sleeps 30 ms (test hook CTL.NAP_ON_CLAIM_MS = 12): every claimed part
      // is late, the page scans its rows itself.
      Atomics.store(split.ctl, 12, 30);
      split.patience = { claim: 60_000, done: 0 };
      let same = 0;
      for (let q = 0; q < 12; q++) {
        const u = users[q % users.length];
        if (JSON.stringify([...m.recommend(u, { k: 10 })]) === JSON.stringify([...ref.recommend(u, { k: 10 })])) same++;
      }
      const stats = { ...split.stats };
      const ratio = split.ratio;
      Atomics.store(split.ctl, 12, 0);
      ref.dispose();
      m.dispose();
      return { ready, same, stats, ratio };
    },
    { url, users },
  );
  assert.equal(r.ready.count, 2);
  assert.equal(r.same, 12, 'late parts are scanned by the page: same answers');
  assert.ok(r.stats.late >= 2, JSON.stringify(r.stats));
  assert.equal(r.stats.helped, 0, JSON.stringify(r.stats));
  // 1% towards the page per late part, from 0.30.
  assert.ok(Math.abs(r.ratio - (0.3 + 0.01 * r.stats.late)) < 1e-9, `ratio ${r.ratio} after ${JSON.stringify(r.stats)}`);
  assert.deepEqual(errors, []);
  await page.close();
});

test("'auto', bad values and pages without isolation: one thread where two cannot or do not pay, and info() says why", async () => {
  const one = async (server) => {
    const { page } = await newPage(browser.context, `${server.url}/tests/blank.html`);
    const r = await page.evaluate(
      async ({ url, tinyUrl, mediumUrl, u }) => {
        const v = await import('/pkg/vitrine.js');
        const out = { isolated: crossOriginIsolated };
        const auto = await v.load(url, { threads: 'auto' });
        out.auto = await auto.threadsReady;
        out.autoInfo = auto.info().threads;
        const mediumOne = await v.load(mediumUrl);
        const mediumAuto = await v.load(mediumUrl, { threads: 'auto' });
        out.mediumAuto = await mediumAuto.threadsReady;
        out.mediumAdaptive = mediumAuto._split?.adaptive;
        const mu = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i + 1));
        out.mediumSame = [0, 1, 2, 3, 4, 5, 6, 7].every((q) => {
          const uq = mu.map((x, i) => x + Math.cos(q * 3 + i));
          return JSON.stringify([...mediumAuto.recommend(uq, { k: 20 })]) === JSON.stringify([...mediumOne.recommend(uq, { k: 20 })]);
        });
        mediumOne.dispose();
        mediumAuto.dispose();
        const two = await v.load(url, { threads: 2 });
        out.two = await two.threadsReady;
        const plain = await v.load(url);
        out.plain = plain.info().threads;
        out.same = JSON.stringify([...two.recommend(u, { k: 20 })]) === JSON.stringify([...plain.recommend(u, { k: 20 })]);
        out.bad = await v.load(url, { threads: 3 }).catch((e) => ({ code: e.code, message: e.message }));
        const res = await fetch(url);
        const fromResponse = await v.load(res, { threads: 2 });
        out.response = await fromResponse.threadsReady;
        for (const m of [auto, two, plain, fromResponse]) m.dispose();
        const tinyOne = await v.load(tinyUrl);
        const tinyTwo = await v.load(tinyUrl, { threads: 2 });
        out.tinyThreads = (await tinyTwo.threadsReady).count;
        out.tinySame = JSON.stringify([...tinyTwo.recommend(u, { k: 250 })]) === JSON.stringify([...tinyOne.recommend(u, { k: 250 })]);
        tinyOne.dispose();
        tinyTwo.dispose();
        out.disposedReady = await (async () => {
          const m = await v.load(url, { threads: 2 });
          m.dispose();
          const t = await m.threadsReady;
          return t.count;
        })();
        return out;
      },
      { url: `/t/${basename(bundles.int8)}`, tinyUrl: `/t/${basename(tiny)}`, mediumUrl: `/t/${basename(medium)}`, u: users[0] },
    );
    await page.close();
    return r;
  };
  const iso = await one(isolated);
  assert.equal(iso.isolated, true);
  assert.equal(iso.auto.count, 1);
  assert.match(iso.auto.reason, /5000 items × 32 int8: 160000 bytes of factors a query scans, below the 4194304/);
  assert.deepEqual(iso.autoInfo, iso.auto);
  assert.equal(iso.mediumAuto.count, 2, iso.mediumAuto.reason);
  assert.equal(iso.mediumAuto.requested, 'auto');
  assert.match(iso.mediumAuto.reason, /queries are split only while splits pay/);
  assert.equal(iso.mediumAdaptive, true);
  assert.equal(iso.mediumSame, true, "'auto' on two threads answers as one");
  assert.equal(iso.two.count, 2, iso.two.reason);
  assert.equal(iso.plain.count, 1);
  assert.equal(iso.plain.requested, 1);
  assert.equal(iso.same, true);
  assert.equal(iso.bad.code, 'INVALID_ARGUMENT');
  assert.match(iso.bad.message, /threads/);
  assert.equal(iso.response.count, 1);
  assert.match(iso.response.reason, /Request or Response/);
  assert.equal(iso.tinyThreads, 2);
  assert.equal(iso.tinySame, true, 'a catalogue under two blocks runs alone, same answer');
  assert.equal(iso.disposedReady, 1, 'a model disposed before its helper was ready stays on one thread');

  const no = await one(plain);
  assert.equal(no.isolated, false);
  for (const t of [no.auto, no.two, no.mediumAuto]) {
    assert.equal(t.count, 1);
    assert.match(t.reason, /not cross-origin isolated/);
  }
  assert.equal(no.same, true);
  assert.equal(no.mediumSame, true);
});
