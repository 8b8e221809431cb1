// Two-thread scans in real Chromium: a model loaded in two workers, each
// scanning half the rows, must answer exactly as one worker does (items,
// order and scores), on f32, int8 and int8 + RESIDUAL bundles, in every
// engine build, with filters and exclusions. On a cross-origin isolated page
// (the server sends COOP/COEP) bundle bytes are shared between the workers
// ('auto' splits there from 500k items); without isolation 'auto' runs one
// thread and info() says why.

import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { startServer } from '../../scripts/serve.mjs';
import { synth, rng, gaussianVector } from '../node/helpers.mjs';
import { launch, newPage } from './chromium.mjs';

const DIM = 32;
// 5000 rows: 20 blocks of 256, split 2560 / 2440, so each worker scans
// several blocks (and the f32 scan pairs blocks within each part).
const bundles = Object.fromEntries(
  ['f32', 'int8', 'int8+residual'].map((dtype) => [dtype, synth({ items: 5000, dim: DIM, dtype, seed: 31, categories: 5 })]),
);
const users = Array.from({ length: 7 }, (_, q) => Array.from(gaussianVector(rng(100 + q), DIM)));
const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

// A worker script that dies (an uncaught exception) when asked for the
// second half of a split scan: the second worker of a two-thread model.
const x = mkdtempSync(join(tmpdir(), 'vitrine-threads-test-'));
writeFileSync(
  join(x, 'crash-on-second-half.js'),
  `self.addEventListener('message', (e) => {
  if (e.data && e.data.op === 'recommendPart' && e.data.args[3] === 5000) {
    e.stopImmediatePropagation();
    throw new Error('simulated crash');
  }
});
`,
);
writeFileSync(join(x, 'dying.worker.js'), "import './crash-on-second-half.js';\nimport '/pkg/vitrine.worker.js';\n");

let isolated;
let plain;
let browser;
test.before(async () => {
  const mounts = { '/t/': dirname(bundles.f32), '/x/': x, '/tests/': import.meta.dirname ?? dirname(new URL(import.meta.url).pathname) };
  isolated = await startServer({ mounts, quiet: true, headers: ISOLATION });
  plain = await startServer({ mounts, quiet: true });
  browser = await launch();
});
test.after(async () => {
  await browser?.close();
  await isolated?.close();
  await plain?.close();
  rmSync(x, { recursive: true, force: true });
});

/**
 * In the page: one model on one worker and one on two, asked the same
 * questions; returns both answers and the two models' info().threads.
 */
async function compare(page, { url, simd, users, bytes }) {
  return page.evaluate(
    async ({ url, simd, users, bytes }) => {
      const v = await import('/pkg/vitrine.js');
      const source = bytes ? new Uint8Array(await (await fetch(url)).arrayBuffer()) : url;
      const one = await v.loadInWorker(source, { simd, threads: 1 });
      const two = await v.loadInWorker(source, { simd, threads: 2 });
      // 5000 items: 'auto' keeps one worker on this small catalogue, and says so.
      const auto = await v.loadInWorker(source, { simd, threads: 'auto' });
      const autoThreads = auto.threads;
      await auto.dispose();
      const cats = (await one.info()).categories;
      const ask = async (m) => {
        const out = [];
        for (const [q, u] of users.entries()) {
          const opts = [
            { k: 10 },
            { k: 7, exclude: ['item-1', 'item-2600', 'item-4999', 'no-such-item'], categories: [cats[1], cats[3]] },
            { k: 5, priceMax: 40, inStockOnly: true },
            { k: 300 },
            { k: 4, categories: ['not-a-category', cats[0]] },
            { k: 1 },
            // k past half the catalogue: each part's pool is most of its rows.
            { k: 3000, exclude: ['item-10', 'item-4000'] },
          ][q];
          const r = await m.recommend(u, opts);
          out.push({ items: [...r], unknownExcludes: r.unknownExcludes, unknownCategories: r.unknownCategories });
          const fast = await m.recommendIndices(u, q === 6 ? 4000 : 12);
          out.push({ indices: Array.from(fast.indices), scores: Array.from(fast.scores) });
        }
        for (const id of ['item-0', 'item-2559', 'item-2560', 'item-4321']) {
          out.push([...(await m.similar(id, { k: 8, exclude: ['item-7'] }))]);
        }
        out.push(await m.similar('no-such-item').catch((e) => e.code));
        out.push(await m.recommend(users[0].slice(1)).catch((e) => e.code));
        return out;
      };
      const res = { one: await ask(one), two: await ask(two), threads: [one.threads, (await two.info()).threads, autoThreads], variant: two.variant };
      await one.dispose();
      await two.dispose();
      return res;
    },
    { url, simd, users, bytes },
  );
}

test('two threads answer exactly as one, in every build and dtype (cross-origin isolated page)', async () => {
  const { page, errors } = await newPage(browser.context, `${isolated.url}/tests/blank.html`);
  assert.equal(await page.evaluate(() => crossOriginIsolated), true, 'the COOP/COEP headers make the page cross-origin isolated');
  for (const [dtype, path] of Object.entries(bundles)) {
    for (const simd of ['relaxed', true, false]) {
      const url = `/t/${basename(path)}`;
      const r = await compare(page, { url, simd, users, bytes: dtype === 'int8' });
      const label = `${dtype} simd=${simd}`;
      assert.equal(r.threads[0].count, 1, label);
      assert.equal(r.threads[1].count, 2, `${label}: ${r.threads[1].reason}`);
      assert.equal(r.threads[2].count, 1, `${label}: 'auto' on 5000 items`);
      assert.match(r.threads[2].reason, /5000 items: below 500000/, label);
      assert.equal(r.threads[1].sharedBytes, dtype === 'int8', `${label}: bytes shared through a SharedArrayBuffer`);
      assert.ok(r.one[0].items.length === 10 && r.one[6].items.length === 300, label);
      assert.ok(r.one[12].items.length === 3000 && r.one[13].indices.length === 4000, label);
      // Deep equality: same ids, same order, same f32 scores, same counters and errors.
      assert.deepEqual(r.two, r.one, label);
    }
  }
  assert.deepEqual(errors, []);
  await page.close();
});

test('without cross-origin isolation, threads: "auto" runs one thread and says why; threads: 2 still splits', async () => {
  const { page, errors } = await newPage(browser.context, `${plain.url}/tests/blank.html`);
  const url = `/t/${basename(bundles.int8)}`;
  const r = await page.evaluate(
    async ({ url, u }) => {
      const v = await import('/pkg/vitrine.js');
      const auto = await v.loadInWorker(url);
      const two = await v.loadInWorker(url, { threads: 2 });
      const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
      const twoBytes = await v.loadInWorker(bytes, { threads: 2 });
      const bad = await v.loadInWorker(url, { threads: 3 }).catch((e) => ({ code: e.code, message: e.message }));
      const ownWorker = await v.loadInWorker(url, { threads: 2, worker: new Worker('/pkg/vitrine.worker.js', { type: 'module' }) });
      const page = await v.load(url);
      const out = {
        isolated: crossOriginIsolated,
        auto: (await auto.info()).threads,
        two: (await two.info()).threads,
        twoBytes: twoBytes.threads,
        ownWorker: ownWorker.threads,
        pageThreads: page.info().threads,
        bad,
        same: JSON.stringify([...(await auto.recommend(u, { k: 20 }))]) === JSON.stringify([...(await two.recommend(u, { k: 20 }))]),
        sameBytes: JSON.stringify([...(await auto.similar('item-9', { k: 20 }))]) === JSON.stringify([...(await twoBytes.similar('item-9', { k: 20 }))]),
      };
      // Business options re-rank the whole list after the scan: the query runs
      // on one worker, and the answer (with its `promoted` marks) is the same.
      const cats = (await auto.info()).categories;
      const business = { k: 8, price: 'high', preferPrice: 'higher', promotion: { categories: [cats[2]], share: 0.25 } };
      out.sameBusiness = JSON.stringify([...(await auto.recommend(u, business))]) === JSON.stringify([...(await two.recommend(u, business))]);
      out.promoted = [...(await two.recommend(u, business))].filter((x) => x.promoted === true).length;
      // A disposed two-thread model rejects like a one-thread one.
      await two.dispose();
      out.disposed = await two.recommend(u).catch((e) => e.code);
      for (const m of [auto, twoBytes, ownWorker]) await m.dispose();
      page.dispose();
      return out;
    },
    { url, u: users[0] },
  );
  assert.equal(r.isolated, false);
  assert.equal(r.auto.count, 1);
  assert.equal(r.auto.requested, 'auto');
  assert.match(r.auto.reason, /not cross-origin isolated/);
  assert.equal(r.two.count, 2);
  assert.equal(r.twoBytes.count, 2);
  assert.equal(r.twoBytes.sharedBytes, false, 'no SharedArrayBuffer without isolation: each worker gets a copy');
  assert.equal(r.ownWorker.count, 1);
  assert.match(r.ownWorker.reason, /options\.worker/);
  assert.equal(r.pageThreads.count, 1);
  assert.equal(r.bad.code, 'INVALID_ARGUMENT');
  assert.match(r.bad.message, /threads/);
  assert.equal(r.same, true);
  assert.equal(r.sameBytes, true);
  assert.equal(r.sameBusiness, true);
  assert.ok(r.promoted >= 2, `promoted items: ${r.promoted}`);
  assert.equal(r.disposed, 'DISPOSED');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a part outside the catalogue is an INVALID_ARGUMENT from the engine, not a short answer', async () => {
  const { page } = await newPage(browser.context, `${plain.url}/tests/blank.html`);
  const url = `/t/${basename(bundles.f32)}`;
  const r = await page.evaluate(
    async ({ url, u }) => {
      const v = await import('/pkg/vitrine.js');
      const m = await v.load(url);
      const codes = [];
      for (const [from, to] of [[0, 5001], [10, 5], [-1, 10], [0.5, 10], [NaN, 10]]) {
        try {
          m.raw.recommendPart(new Float32Array(u), {}, from, to);
          codes.push('no error');
        } catch (e) {
          codes.push(e.code);
        }
      }
      // recommendIndices' parts (no options object, no ids): the same checks.
      for (const [k, from, to] of [[5, 0, 5001], [5, 10, 5], [0, 0, 10], [2.5, 0, 10], [5, -1, 10]]) {
        try {
          m.raw.recommendFastPart(new Float32Array(u), k, from, to);
          codes.push('no error');
        } catch (e) {
          codes.push(e.code);
        }
      }
      const whole = m.raw.recommendPart(new Float32Array(u), { k: 5 }, 0, m.nItems);
      const fastWhole = m.raw.recommendFastPart(new Float32Array(u), 5, 0, m.nItems);
      const fast = m.recommendIndices(u, 5);
      const ids = [...m.recommend(u, { k: 5 })].map((s) => s.id);
      m.dispose();
      return {
        codes,
        whole: { pool: whole.pool, ids: whole.ids },
        ids,
        fastWhole: { pool: fastWhole.pool, indices: Array.from(fastWhole.indices), scores: Array.from(fastWhole.scores), ids: fastWhole.ids },
        fast: { indices: Array.from(fast.indices), scores: Array.from(fast.scores) },
      };
    },
    { url, u: users[1] },
  );
  assert.deepEqual(r.codes, Array(10).fill('INVALID_ARGUMENT'));
  assert.equal(r.whole.pool, 5);
  assert.deepEqual(r.whole.ids, r.ids, 'one part over every row is the one-thread answer');
  assert.equal(r.fastWhole.pool, 5);
  assert.equal(r.fastWhole.ids, undefined, 'recommendIndices parts carry no ids');
  assert.deepEqual({ indices: r.fastWhole.indices, scores: r.fastWhole.scores }, r.fast, 'one fast part over every row is recommendIndices');
  await page.close();
});

test('the lean relaxed build (through wasmUrl) answers as the full engine, in the page and split across two workers', async () => {
  const { page, errors } = await newPage(browser.context, `${plain.url}/tests/blank.html`);
  for (const dtype of ['int8', 'f32']) {
    const url = `/t/${basename(bundles[dtype])}`;
    const r = await page.evaluate(
      async ({ url, users }) => {
        const v = await import('/pkg/vitrine.js');
        const wasmUrl = { relaxed: '/pkg/wasm/relaxed-lean/vitrine_core_bg.wasm' };
        const lean = await v.load(url, { simd: 'relaxed', wasmUrl });
        const full = await v.load(url, { simd: true });
        const split = await v.loadInWorker(url, { simd: 'relaxed', wasmUrl, threads: 2 });
        const out = { engines: [lean.info().engine, full.info().engine, (await split.info()).engine], threads: split.threads.count, same: [] };
        for (const u of users) {
          const want = JSON.stringify([...full.recommend(u, { k: 15, inStockOnly: true })]);
          out.same.push(JSON.stringify([...lean.recommend(u, { k: 15, inStockOnly: true })]) === want);
          out.same.push(JSON.stringify([...(await split.recommend(u, { k: 15, inStockOnly: true }))]) === want);
        }
        lean.dispose();
        full.dispose();
        await split.dispose();
        return out;
      },
      { url, users },
    );
    assert.deepEqual(r.engines, ['lean', 'full', 'lean'], dtype);
    assert.equal(r.threads, 2);
    assert.deepEqual(r.same, Array(users.length * 2).fill(true), dtype);
  }
  assert.deepEqual(errors, []);
  await page.close();
});

test('a second worker that dies leaves the model on one thread with the same answers, and info() says why', async () => {
  const { page } = await newPage(browser.context, `${plain.url}/tests/blank.html`);
  const url = `/t/${basename(bundles['int8+residual'])}`;
  const r = await page.evaluate(
    async ({ url, users }) => {
      const v = await import('/pkg/vitrine.js');
      const ref = await v.load(url);
      const m = await v.loadInWorker(url, { threads: 2, workerUrl: '/x/dying.worker.js' });
      const before = m.threads.count;
      const same = [];
      for (const u of users) {
        const want = JSON.stringify([...ref.recommend(u, { k: 10 })]);
        same.push(JSON.stringify([...(await m.recommend(u, { k: 10 }))]) === want);
      }
      const after = (await m.info()).threads;
      ref.dispose();
      await m.dispose();
      return { before, same, after };
    },
    { url, users },
  );
  assert.equal(r.before, 2);
  assert.deepEqual(r.same, Array(users.length).fill(true));
  assert.equal(r.after.count, 1);
  assert.match(r.after.reason, /second worker died/);
  await page.close();
});
