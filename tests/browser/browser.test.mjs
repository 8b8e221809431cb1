// The glue in real headless Chromium: streaming load with progress, SIMD
// detection, recommend/similar/filters, error codes, worker mode and the
// demo page. Node computes the expected answers with the same wasm.

import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load } from '../../pkg/node.js';
import { startServer } from '../../scripts/serve.mjs';
import { synth, synthWithIntent, rng, gaussianVector } from '../node/helpers.mjs';
import { launch, newPage } from './chromium.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));

const bundle = synth({ items: 20000, dim: 32, dtype: 'int8', seed: 4, categories: 5 });
const bundleF32 = synth({ items: 3000, dim: 16, dtype: 'f32', seed: 4, categories: 5 });
const size = readFileSync(bundle).byteLength;
const dir = dirname(bundle);
const name = basename(bundle);

let srv;
let browser;

test.before(async () => {
  srv = await startServer({ mounts: { '/t/': dir, '/tests/': HERE }, quiet: true });
  browser = await launch();
});
test.after(async () => {
  await browser?.close();
  await srv?.close();
});

async function page() {
  const p = await newPage(browser.context, `${srv.url}/tests/blank.html`);
  return p;
}

for (const glue of ['/vitrine.js', '/pkg/vitrine.js']) {
  test(`load with progress, recommend, similar, filters (${glue})`, async () => {
    const { page: pg, errors } = await page();
    const u = Array.from(gaussianVector(rng(5), 32));
    const res = await pg.evaluate(
      async ({ glue, url, u }) => {
        const v = await import(glue);
        const out = {};
        for (const q of ['?slow=1', '?chunked=1&slow=1']) {
          const events = [];
          // One URL per glue: the second glue's load would otherwise revalidate
          // the first's response and read it from the HTTP cache in one chunk.
          const m = await v.load(`${url}${q}&glue=${encodeURIComponent(glue)}`, { onProgress: (p) => events.push(p), cache: false });
          out[q.includes('chunked') ? 'chunked' : 'length'] = { events, variant: m.variant, simd: m.simdEnabled(), n: m.nItems, dim: m.dim, dtype: m.dtype };
          if (q.includes('chunked')) {
            m.dispose();
            continue;
          }
          const info = m.info();
          out.info = { nItems: info.nItems, categories: info.categories };
          const rec = m.recommend(new Float32Array(u), { k: 10 });
          out.rec = rec.map((s) => [s.id, s.score]);
          const cats = info.categories.slice(0, 1);
          const f = m.recommend(u, { k: 10, categories: cats, inStockOnly: true, priceMax: 50, exclude: [rec[0].id, 'ghost'] });
          out.filtered = f.map((s) => [s.id, s.score]);
          out.filteredUnknown = f.unknownExcludes;
          out.filteredItems = f.map((s) => m.item(s.id));
          out.cats = cats;
          out.similar = m.similar('item-42', { k: 5 }).map((s) => [s.id, s.score]);
          out.popular = m.popular({ k: 3 }).map((s) => s.id);
          out.simdSupported = v.simdSupported();
          m.dispose();
        }
        return out;
      },
      { glue, url: `/t/${name}`, u },
    );
    assert.deepEqual(errors, []);
    for (const key of ['length', 'chunked']) {
      const r = res[key];
      assert.ok(r.events.length >= 3, `${key}: progress per chunk (${r.events.length} events for ${size} bytes)`);
      assert.deepEqual(r.events.at(-1), { loaded: size, total: size }, `${key}: progress reached the total`);
      assert.equal(r.n, 20000);
      assert.equal(r.dtype, 'int8');
      // Chromium runs both SIMD builds: 'auto' takes the one measured faster here (calibrate.js).
      assert.ok(['relaxed', 'simd'].includes(r.variant), r.variant);
      assert.equal(r.simd, true);
    }
    assert.ok(res['length'].events.every((e) => e.total === size), 'Content-Length known from the start');
    assert.equal(res['chunked'].events[0].total, undefined);
    assert.equal(res.simdSupported, true);

    // Every build ranks alike (int8: the same integers), so Node's SIMD128
    // build must give the very same answers.
    const m = await load(bundle, { simd: true });
    try {
      assert.deepEqual(res.rec, [...m.recommend(new Float32Array(u), { k: 10 })].map((s) => [s.id, s.score]));
      const opts = { k: 10, categories: res.cats, inStockOnly: true, priceMax: 50, exclude: [res.rec[0][0], 'ghost'] };
      assert.deepEqual(res.filtered, [...m.recommend(u, opts)].map((s) => [s.id, s.score]));
      assert.ok(res.filtered.length > 0);
      assert.equal(res.filteredUnknown, 1);
      for (const it of res.filteredItems) {
        assert.equal(it.category, res.cats[0]);
        assert.equal(it.inStock, true);
        assert.ok(it.price <= 50);
        assert.notEqual(it.id, res.rec[0][0]);
      }
      assert.deepEqual(res.similar, [...m.similar('item-42', { k: 5 })].map((s) => [s.id, s.score]));
      assert.deepEqual(res.popular, [...m.popular({ k: 3 })].map((s) => s.id));
    } finally {
      m.dispose();
    }
  });
}

test('relaxed, SIMD128 and scalar builds on request; all agree in the browser', async () => {
  const { page: pg, errors } = await page();
  const odd = synth({ items: 2001, dim: 37, dtype: 'int8', seed: 21, categories: 4 });
  // f32 and f16 catalogues big enough for the int8 screen: the SIMD builds
  // scan through it (the relaxed one with its own int8 kernel), the scalar
  // build without it (`screen: false`): the answers must still be identical.
  const screened = ['f32', 'f16'].map((dtype) => synth({ items: 6000, dim: 64, dtype, seed: 9, categories: 4 }));
  const res = await pg.evaluate(
    async ({ urls }) => {
      const v = await import('/vitrine.js');
      const out = { relaxedSupported: v.relaxedSimdSupported(), queries: 0, same: 0, screenBytes: [] };
      for (const url of urls) {
        const [r, a, b] = [await v.load(url, { simd: 'relaxed' }), await v.load(url, { simd: true }), await v.load(url, { simd: false, screen: false })];
        out.variants = [r.variant, a.variant, b.variant];
        out.simd = [r.simdEnabled(), a.simdEnabled(), b.simdEnabled()];
        let s = 1;
        const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
        for (let q = 0; q < 100; q++) {
          const u = new Float32Array(a.dim).map(rand);
          const k = q % 4 === 0 ? 50 : 10;
          const [x, y, z] = [r, a, b].map((m) => m.recommendIndices(u, k));
          const eq = (p, q2) => p.indices.every((i, j) => i === q2.indices[j]) && p.scores.every((sc, j) => sc === q2.scores[j]);
          out.queries++;
          if (eq(x, z) && eq(y, z)) out.same++;
        }
        out.screenBytes.push([r, a, b].map((m) => m.info().screenBytes));
        r.dispose();
        a.dispose();
        b.dispose();
      }
      return out;
    },
    { urls: [`/t/${name}`, `/t/${basename(odd)}`, ...screened.map((f) => `/t/${basename(f)}`)] },
  );
  assert.deepEqual(errors, []);
  assert.equal(res.relaxedSupported, true);
  assert.deepEqual(res.variants, ['relaxed', 'simd', 'scalar']);
  assert.deepEqual(res.simd, [true, true, false]);
  assert.equal(res.same, res.queries, 'top-k identical (ids and scores) across the three builds, screened or not');
  assert.deepEqual(res.screenBytes.slice(0, 2), [[0, 0, 0], [0, 0, 0]], 'int8 bundles have no screen');
  for (const [r, a, b] of res.screenBytes.slice(2)) {
    assert.ok(r > 0 && a > 0, 'the f32 / f16 scans built their screen');
    assert.equal(b, 0, 'screen: false');
  }
});

test('errors carry codes in the browser', async () => {
  const { page: pg } = await page();
  const res = await pg.evaluate(
    async ({ url }) => {
      const v = await import('/vitrine.js');
      const codeOf = async (f) => {
        try {
          await f();
          return 'no error';
        } catch (e) {
          return `${e instanceof v.VitrineError ? 'VE' : e.name}:${e.code}`;
        }
      };
      const m = await v.load(url);
      const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
      const info = m.info();
      const flipped = bytes.slice();
      const sec = info.sections[info.sections.length - 1];
      flipped[sec.offset + (sec.length >> 1)] ^= 0x40;
      const badMagic = bytes.slice();
      badMagic[1] ^= 0xff;
      const out = {
        dim: await codeOf(() => m.recommend(new Float32Array(m.dim + 1))),
        nan: await codeOf(() => m.recommend(new Float32Array(m.dim).fill(NaN))),
        k0: await codeOf(() => m.recommend(new Float32Array(m.dim), { k: 0 })),
        kfrac: await codeOf(() => m.recommend(new Float32Array(m.dim), { k: 1.5 })),
        exclude: await codeOf(() => m.recommend(new Float32Array(m.dim), { exclude: 'a' })),
        unknown: await codeOf(() => m.similar('not-an-item')),
        wasmDim: await codeOf(() => m.raw.recommend(new Float32Array(3), {})),
        truncated: await codeOf(() => v.load(bytes.subarray(0, 1000))),
        checksum: await codeOf(() => v.load(flipped)),
        magic: await codeOf(() => v.load(badMagic)),
        missing: await codeOf(() => v.load('/t/not-there.vtr')),
        badSource: await codeOf(() => v.load({})),
      };
      m.dispose();
      out.disposed = await codeOf(() => m.popular());
      return out;
    },
    { url: `/t/${name}` },
  );
  assert.deepEqual(res, {
    dim: 'VE:DIM_MISMATCH',
    nan: 'VE:INVALID_ARGUMENT',
    k0: 'VE:INVALID_ARGUMENT',
    kfrac: 'VE:INVALID_ARGUMENT',
    exclude: 'VE:INVALID_ARGUMENT',
    unknown: 'VE:UNKNOWN_ITEM',
    wasmDim: 'VitrineError:DIM_MISMATCH',
    truncated: 'VE:TRUNCATED',
    checksum: 'VE:CHECKSUM_MISMATCH',
    magic: 'VE:BAD_MAGIC',
    missing: 'VE:NETWORK',
    badSource: 'VE:INVALID_ARGUMENT',
    disposed: 'VE:DISPOSED',
  });
});

test('worker mode proxies the same API', async () => {
  const { page: pg, errors } = await page();
  const u = Array.from(gaussianVector(rng(8), 32));
  const res = await pg.evaluate(
    async ({ url, u }) => {
      const v = await import('/vitrine.js');
      const events = [];
      const w = await v.loadInWorker(url, { onProgress: (p) => events.push(p) });
      const direct = await v.load(url);
      const user = new Float32Array(u);
      const out = {
        events,
        meta: [w.nItems, w.dim, w.dtype, w.variant],
        rec: (await w.recommend(user, { k: 7 })).map((s) => [s.id, s.score]),
        direct: direct.recommend(user, { k: 7 }).map((s) => [s.id, s.score]),
        userIntact: user.length === 32 && user[0] === u[0],
        unknownExcludes: (await w.recommend(user, { exclude: ['ghost'] })).unknownExcludes,
        unknownCategories: (await w.popular({ categories: ['no-such-category'] })).unknownCategories,
        similar: (await w.similar('item-1', { k: 3 })).map((s) => s.id),
        similarDirect: direct.similar('item-1', { k: 3 }).map((s) => s.id),
        item: await w.item('item-1'),
        vecType: (await w.itemVector('item-1')).constructor.name,
        fast: await w.recommendIndices(user, 7),
      };
      out.fastIsTyped = out.fast.indices instanceof Uint32Array;
      out.fast = Array.from(out.fast.indices);
      try {
        await w.similar('not-an-item');
        out.err = 'no error';
      } catch (e) {
        out.err = `${e instanceof v.VitrineError}:${e.code}`;
      }
      try {
        await w.recommend(new Float32Array(3));
        out.err2 = 'no error';
      } catch (e) {
        out.err2 = `${e instanceof v.VitrineError}:${e.code}`;
      }
      const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
      const fromBytes = await v.loadInWorker(bytes);
      out.fromBytes = [fromBytes.nItems, bytes.byteLength];
      await fromBytes.dispose();
      await w.dispose();
      try {
        await w.popular();
        out.err3 = 'no error';
      } catch (e) {
        out.err3 = e.code;
      }
      direct.dispose();
      return out;
    },
    { url: `/t/${name}`, u },
  );
  assert.deepEqual(errors, []);
  assert.deepEqual(res.events.at(-1), { loaded: size, total: size });
  assert.deepEqual(res.meta.slice(0, 3), [20000, 32, 'int8']);
  assert.ok(['relaxed', 'simd'].includes(res.meta[3]), "'auto': the SIMD build measured fastest (calibrate.js)");
  assert.deepEqual(res.rec, res.direct);
  assert.equal(res.rec.length, 7);
  assert.equal(res.userIntact, true, "the caller's vector is not detached");
  assert.equal(res.unknownExcludes, 1);
  assert.equal(res.unknownCategories, 1);
  assert.deepEqual(res.similar, res.similarDirect);
  assert.equal(res.item.id, 'item-1');
  assert.equal(res.vecType, 'Float32Array');
  assert.equal(res.fastIsTyped, true);
  assert.deepEqual(res.fast.map((i) => `item-${i}`), res.rec.map((r) => r[0]).map((id) => id), 'synth ids follow indices');
  assert.equal(res.err, 'true:UNKNOWN_ITEM');
  assert.equal(res.err2, 'true:DIM_MISMATCH');
  assert.equal(res.err3, 'DISPOSED');
  assert.deepEqual(res.fromBytes, [20000, size], 'bytes are copied to the worker, the caller keeps its array');
});

test('intent matcher: its own wasm, fetched on the first question, in the page and in a worker', async () => {
  const { withIntent, plain } = synthWithIntent({ items: 400, dim: 16, dtype: 'int8', seed: 11 });
  const { page: pg, errors } = await page();
  const fetched = [];
  pg.on('request', (r) => fetched.push(new URL(r.url()).pathname));
  const intentWasm = () => fetched.filter((p) => p.endsWith('/vitrine_intent_bg.wasm')).length;
  const res = await pg.evaluate(
    async ({ withIntent, plain }) => {
      const v = await import('/vitrine.js');
      const m = await v.load(`/t/${withIntent}`);
      const afterLoad = performance.getEntriesByType('resource').filter((e) => e.name.includes('vitrine_intent')).length;
      const order = await m.matchIntent('where is my order 12345');
      const zh = await m.matchIntent('运费多少');
      const title = m.item('item-42').title;
      const similar = await m.matchIntent(`something like ${title} but cheaper`);
      const w = await v.loadInWorker(`/t/${withIntent}`);
      const viaWorker = await w.matchIntent('where is my order 12345');
      const none = await v.load(`/t/${plain}`);
      let noIntent;
      try {
        await none.matchIntent('hello');
        noIntent = 'no error';
      } catch (e) {
        noIntent = `${e instanceof v.VitrineError}:${e.code}`;
      }
      await w.dispose();
      m.dispose();
      none.dispose();
      return { afterLoad, order, zh: zh.intent, similar, viaWorker, noIntent };
    },
    { withIntent: basename(withIntent), plain: basename(plain) },
  );
  assert.deepEqual(errors, []);
  assert.equal(res.afterLoad, 0, 'loading a model does not fetch the intent module');
  assert.equal(res.order.intent, 'order_status');
  assert.deepEqual(res.order.slots.orderNumbers, ['12345']);
  assert.equal(res.zh, 'shipping');
  assert.equal(res.similar.slots.price.cheaper, true);
  assert.equal(res.similar.slots.products[0]?.id, `item-${res.similar.slots.products[0]?.item}`);
  assert.deepEqual(res.viaWorker, res.order, 'the worker answers the same');
  assert.equal(res.noIntent, 'true:NO_INTENT_MODEL');
  assert.ok(intentWasm() >= 1 && intentWasm() <= 2, `intent wasm fetched once per realm: ${fetched.join(' ')}`);
});

test('demo page: model info, items, similar, "you" recommendations with filters', async () => {
  const { page: pg, errors } = await page();
  await pg.goto(`${srv.url}/demo/?model=/t/${basename(bundleF32)}`);
  // A cold wasm compile and model load: seconds on a loaded 2-core machine.
  await pg.waitForSelector('#items li', { timeout: 60_000 });
  const info = await pg.textContent('#info');
  assert.match(info, /3,?000/);
  assert.match(info, /f32/);
  assert.equal(await pg.getAttribute('#progress', 'value'), await pg.getAttribute('#progress', 'max'));
  const itemCount = await pg.locator('#items li').count();
  assert.ok(itemCount >= 10, `items listed: ${itemCount}`);
  await pg.locator('#items li').nth(2).click();
  await pg.waitForSelector('#similar li');
  assert.ok((await pg.locator('#similar li').count()) > 0);
  await pg.locator('#items li').nth(5).click();
  await pg.waitForSelector('#recs li');
  const before = await pg.locator('#recs li').allTextContents();
  assert.ok(before.length > 0);
  const cats = await pg.locator('#category option').allTextContents();
  assert.ok(cats.length >= 2, 'category select filled from info().categories');
  await pg.selectOption('#category', { index: 1 });
  await pg.fill('#max-price', '60');
  await pg.check('#in-stock');
  await pg.waitForFunction(() => document.querySelector('#recs').dataset.filters !== '');
  const after = await pg.locator('#recs li').allTextContents();
  assert.notDeepEqual(after, before);
  assert.deepEqual(errors, []);
});

// Engines without relaxed SIMD (the 40-byte probe fails) get the SIMD128
// build; without SIMD at all (both probes fail), the scalar one.
for (const [missing, failing, expected] of [
  ['relaxed SIMD', [40], 'simd'],
  ['SIMD', [31, 40], 'scalar'],
]) {
  test(`simd: 'auto' falls back to the ${expected} build where ${missing} does not validate`, async () => {
    const { page: pg, errors } = await page();
    // Pretend to be such an engine before the glue loads.
    await pg.evaluate((failing) => {
      const validate = WebAssembly.validate.bind(WebAssembly);
      WebAssembly.validate = (bytes) => (failing.includes(bytes.length) ? false : validate(bytes));
    }, failing);
    const res = await pg.evaluate(
      async ({ url, forceWith }) => {
        const v = await import('/vitrine.js');
        const m = await v.load(url);
        const out = { supported: [v.simdSupported(), v.relaxedSimdSupported()], variant: m.variant, simd: m.simdEnabled(), n: m.nItems };
        m.dispose();
        try {
          await v.load(url, { simd: forceWith });
          out.forced = 'no error';
        } catch (e) {
          out.forced = e.code;
        }
        return out;
      },
      { url: `/t/${name}`, forceWith: expected === 'simd' ? 'relaxed' : true },
    );
    assert.deepEqual(errors, []);
    assert.deepEqual(res, {
      supported: [expected === 'simd', false],
      variant: expected,
      simd: expected === 'simd',
      n: 20000,
      forced: 'WASM_UNAVAILABLE',
    });
  });
}
