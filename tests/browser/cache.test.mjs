// Warm visits in real Chromium: the model stored in Cache Storage (and in
// IndexedDB), a later page load served from there with the reduced
// validation and revalidated by a 304, a corrupt stored copy evicted with
// CACHE_CORRUPT and downloaded again, `cache: false`; and `simd: 'auto'`
// measuring both SIMD builds once and remembering the faster.

import test from 'node:test';
import assert from 'node:assert/strict';
import { dirname, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../../scripts/serve.mjs';
import { synth, rng, gaussianVector } from '../node/helpers.mjs';
import { launch, newPage } from './chromium.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const bundle = synth({ items: 20000, dim: 32, dtype: 'int8', seed: 31 });
const MODEL = `/t/${basename(bundle)}`;
// Another model's bytes, for an entry that holds the wrong bundle.
const OTHER = `/t/${basename(synth({ items: 20000, dim: 32, dtype: 'int8', seed: 32 }))}`;
const u = Array.from(gaussianVector(rng(3), 32));

/** @type {any} */
let srv;
/** @type {any} */
let browser;
/** @type {{url: string, inm?: string, res: any}[]} */
const requests = [];

test.before(async () => {
  srv = await startServer({
    mounts: { '/t/': dirname(bundle), '/tests/': HERE },
    quiet: true,
    onRequest: (req, res) => requests.push({ url: req.url ?? '', inm: /** @type {string} */ (req.headers['if-none-match']), res }),
  });
  browser = await launch();
});
test.after(async () => {
  await browser?.close();
  await srv?.close();
});

/**
 * One visit: a fresh page loads the model with `opts`, answers one query and
 * waits for the cache's background work.
 * @param {Record<string, unknown>} opts
 */
async function visit(opts, { refuseCaches = false, refuseWrites = false } = {}) {
  const { page, errors } = await newPage(browser.context, `${srv.url}/tests/blank.html`);
  try {
    const r = await page.evaluate(
      async ({ url, u, opts, refuseCaches, refuseWrites }) => {
        if (refuseCaches) {
          // As in an opaque origin or a private mode that refuses Cache Storage.
          const refuse = () => Promise.reject(new DOMException('Cache Storage is refused here', 'SecurityError'));
          caches.match = refuse;
          caches.open = refuse;
        }
        // As on a full disk: lookups work, writes fail.
        if (refuseWrites) caches.open = () => Promise.reject(new DOMException('the quota is exceeded', 'QuotaExceededError'));
        const v = await import('/vitrine.js');
        const warnings = [];
        const m = await v.load(url, { ...opts, onWarning: (code) => warnings.push(code) });
        const rec = m.recommend(new Float32Array(u), { k: 10 }).map((s) => [s.id, s.score]);
        const atLoad = m.info();
        await m.cacheSettled;
        const after = m.info().load.cache;
        m.dispose();
        return { rec, load: atLoad.load, build: atLoad.build, after, warnings };
      },
      { url: MODEL, u, opts, refuseCaches, refuseWrites },
    );
    return { ...r, errors };
  } finally {
    await page.close();
  }
}

/** Runs `f` in a page of the test origin (e.g. to spoil the stored copy). */
async function inPage(/** @type {(arg: any) => any} */ f, /** @type {any} */ arg) {
  const { page } = await newPage(browser.context, `${srv.url}/tests/blank.html`);
  try {
    return await page.evaluate(f, arg);
  } finally {
    await page.close();
  }
}

const clearStores = () =>
  inPage(async () => {
    await caches.delete('vitrine-models-v1');
    await new Promise((ok) => {
      const r = indexedDB.deleteDatabase('vitrine-models');
      r.onsuccess = r.onerror = r.onblocked = () => ok(undefined);
    });
  });

for (const store of ['cache-storage', 'indexeddb']) {
  test(`${store}: stored after a full validation, served on the next visit with the reduced validation, revalidated by a 304`, async () => {
    await clearStores();
    const cold = await visit({ cache: store });
    assert.deepEqual(cold.errors, []);
    assert.equal(cold.load.cache.status, 'miss');
    assert.equal(cold.load.cache.store, store);
    assert.equal(cold.load.validation, 'full');
    assert.equal(cold.after.status, 'stored');
    requests.length = 0;
    const warm = await visit({ cache: store });
    assert.deepEqual(warm.errors, []);
    assert.equal(warm.load.cache.status, 'hit');
    assert.equal(warm.load.validation, 'cached');
    assert.deepEqual(warm.rec, cold.rec);
    assert.equal(warm.after.revalidation, 'unchanged');
    const model = requests.filter((r) => r.url.startsWith('/t/'));
    assert.deepEqual(model.map((r) => [r.res.statusCode, typeof r.inm]), [[304, 'string']], 'one conditional request for the model, answered 304');
    assert.deepEqual(warm.warnings, []);
  });
}

test('where Cache Storage refuses, IndexedDB takes over without a warning; cache-storage alone warns once and loads', async () => {
  await clearStores();
  const cold = await visit({}, { refuseCaches: true });
  assert.deepEqual(cold.errors, []);
  assert.deepEqual(cold.warnings, []);
  assert.equal(cold.load.cache.status, 'miss');
  assert.equal(cold.load.cache.store, 'indexeddb');
  assert.equal(cold.after.status, 'stored');
  const warm = await visit({}, { refuseCaches: true });
  assert.equal(warm.load.cache.status, 'hit');
  assert.equal(warm.load.cache.store, 'indexeddb');
  assert.equal(warm.load.validation, 'cached');
  assert.deepEqual(warm.rec, cold.rec);
  assert.deepEqual(warm.warnings, []);
  const only = await visit({ cache: 'cache-storage' }, { refuseCaches: true });
  assert.deepEqual(only.warnings, ['CACHE_UNAVAILABLE'], 'the refused lookup is reported, and no store is tried after it');
  assert.equal(only.load.validation, 'full');
  assert.notEqual(only.after.status, 'stored');
  assert.deepEqual(only.rec, cold.rec);
});

test('a Cache Storage write that fails is CACHE_UNAVAILABLE, not a silent copy in IndexedDB', async () => {
  await clearStores();
  const r = await visit({}, { refuseWrites: true });
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.warnings, ['CACHE_UNAVAILABLE']);
  assert.equal(r.load.cache.store, 'cache-storage');
  assert.notEqual(r.after.status, 'stored');
  const inIdb = await inPage(
    () =>
      new Promise((ok) => {
        const q = indexedDB.open('vitrine-models');
        q.onsuccess = () => {
          const db = q.result;
          const n = db.objectStoreNames.contains('bundles') ? db.transaction('bundles').objectStore('bundles').count() : null;
          if (!n) return ok(0);
          n.onsuccess = () => ok(n.result);
        };
        q.onerror = () => ok(0);
      }),
  );
  assert.equal(inIdb, 0);
});

test('a cold visit does not create the model cache before its download', async () => {
  await clearStores();
  const r = await inPage(async ({ url }) => {
    const v = await import('/vitrine.js');
    const had = await caches.has('vitrine-models-v1');
    const m = await v.load(url, {});
    const atLoad = await caches.has('vitrine-models-v1');
    await m.cacheSettled;
    const after = await caches.has('vitrine-models-v1');
    m.dispose();
    return { had, atLoad, after };
  }, { url: MODEL });
  assert.deepEqual(r, { had: false, atLoad: false, after: true });
});

test('a corrupt copy in Cache Storage is evicted with CACHE_CORRUPT and downloaded again', async () => {
  await clearStores();
  const cold = await visit({});
  assert.equal(cold.after.status, 'stored');
  const spoiled = await inPage(async () => {
    const c = await caches.open('vitrine-models-v1');
    const [req] = await c.keys();
    const res = await c.match(req);
    const bytes = new Uint8Array(await res.arrayBuffer());
    bytes[bytes.length - 300] ^= 0x20;
    await c.put(req, new Response(bytes, { headers: res.headers }));
    return bytes.length;
  });
  assert.ok(spoiled > 0);
  const again = await visit({});
  assert.deepEqual(again.warnings, ['CACHE_CORRUPT']);
  assert.equal(again.load.cache.status, 'miss');
  assert.equal(again.load.validation, 'full');
  assert.deepEqual(again.rec, cold.rec);
  assert.equal(again.after.status, 'stored', 'the good bytes are stored again');
  const healed = await visit({});
  assert.equal(healed.load.cache.status, 'hit');
  assert.deepEqual(healed.warnings, []);
});

test('cache: false stores nothing', async () => {
  await clearStores();
  const r = await visit({ cache: false });
  assert.equal(r.load.cache.status, 'off');
  const stored = await inPage(async () => (await (await caches.open('vitrine-models-v1')).keys()).length);
  assert.equal(stored, 0);
});

test("simd: 'auto' measures both SIMD builds once, uses the faster and remembers it", async () => {
  await inPage(() => localStorage.removeItem('vitrine.simd-auto.v1'));
  const first = await visit({ cache: false });
  const c = first.build.calibration;
  assert.ok(c, `a calibration: ${JSON.stringify(first.build)}`);
  assert.equal(c.fresh, true);
  assert.ok(c.relaxed_ms > 0 && c.simd_ms > 0);
  assert.equal(first.build.variant, c.relaxed_ms <= c.simd_ms ? 'relaxed' : 'simd');
  assert.match(first.build.reason, /measured during this load/);
  const second = await visit({ cache: false });
  assert.equal(second.build.variant, first.build.variant);
  assert.equal(second.build.calibration.fresh, false);
  assert.match(second.build.reason, /remembered/);
  assert.deepEqual(second.rec, first.rec);
  const forced = await visit({ cache: false, simd: 'relaxed' });
  assert.equal(forced.build.variant, 'relaxed');
  assert.equal(forced.build.calibration, undefined);
});

test('worker mode: the worker keeps the cache by the same option (false stores nothing); a store object is refused', async () => {
  await clearStores();
  const r = await inPage(async (url) => {
    const v = await import('/vitrine.js');
    const off = await v.loadInWorker(url, { cache: false });
    const offStatus = (await off.info()).load?.cache?.status;
    off.dispose();
    const stored = (await (await caches.open('vitrine-models-v1')).keys()).length;
    const on = await v.loadInWorker(url, { cache: 'cache-storage' });
    const onStatus = (await on.info()).load?.cache?.status;
    on.dispose();
    let refused = null;
    try {
      await v.loadInWorker(url, { cache: { get() {}, put() {}, delete() {} } });
    } catch (e) {
      refused = /** @type {any} */ (e).code;
    }
    return { offStatus, stored, onStatus, refused };
  }, MODEL);
  assert.equal(r.offStatus, 'off');
  assert.equal(r.stored, 0);
  assert.equal(r.onStatus, 'miss');
  assert.equal(r.refused, 'INVALID_ARGUMENT');
});

/**
 * Replace the body of the one stored Cache Storage entry (its record header
 * kept) with `how`: 'foreign' (another model's bytes), 'truncated' (the first
 * half: an entry cut off as by an eviction mid-write or mid-read).
 */
const spoil = (/** @type {'foreign' | 'truncated'} */ how) =>
  inPage(
    async ({ how, other }) => {
      const c = await caches.open('vitrine-models-v1');
      const [req] = await c.keys();
      const res = await c.match(req);
      let bytes = new Uint8Array(await res.arrayBuffer());
      if (how === 'foreign') bytes = new Uint8Array(await (await fetch(other, { cache: 'no-store' })).arrayBuffer());
      else bytes = bytes.slice(0, bytes.length >> 1);
      const headers = new Headers(res.headers);
      headers.set('content-length', String(bytes.length));
      await c.put(req, new Response(bytes, { headers }));
      return bytes.length;
    },
    { how, other: OTHER },
  );

for (const [how, code] of /** @type {const} */ ([['foreign', 'CACHE_FOREIGN'], ['truncated', 'CACHE_EVICTED']])) {
  test(`a ${how} copy in Cache Storage is evicted with ${code} and downloaded again`, async () => {
    await clearStores();
    const cold = await visit({});
    assert.equal(cold.after.status, 'stored');
    assert.ok((await spoil(how)) > 0);
    const again = await visit({});
    assert.deepEqual(again.warnings, [code]);
    assert.equal(again.load.cache.status, 'miss');
    assert.equal(again.load.validation, 'full');
    assert.deepEqual(again.rec, cold.rec, 'the answer comes from the downloaded bundle, not the stored bytes');
    assert.equal(again.after.status, 'stored');
    const healed = await visit({});
    assert.equal(healed.load.cache.status, 'hit');
    assert.deepEqual(healed.warnings, []);
    assert.deepEqual(healed.rec, cold.rec);
  });
}

test("worker mode: the worker's cache warnings reach the page's onWarning", async () => {
  await clearStores();
  const cold = await inPage(async (url) => {
    const v = await import('/vitrine.js');
    const m = await v.loadInWorker(url, { cache: 'cache-storage' });
    // The worker stores its copy after the first answer (a worker model has
    // no cacheSettled): wait until it is there. The bound is no timing claim,
    // only a failure instead of a hang (5 s before: a loaded machine can take that).
    const deadline = Date.now() + 60_000;
    while ((await (await caches.open('vitrine-models-v1')).keys()).length === 0 && Date.now() < deadline) await new Promise((ok) => setTimeout(ok, 25));
    const stored = (await (await caches.open('vitrine-models-v1')).keys()).length;
    m.dispose();
    return { stored };
  }, MODEL);
  assert.equal(cold.stored, 1);
  assert.ok((await spoil('foreign')) > 0);
  const r = await inPage(async (url) => {
    const v = await import('/vitrine.js');
    const warnings = [];
    const m = await v.loadInWorker(url, { cache: 'cache-storage', onWarning: (code, message) => warnings.push([code, typeof message]) });
    const info = await m.info();
    m.dispose();
    return { warnings, status: info.load.cache.status, infoWarnings: info.load.cache.warnings };
  }, MODEL);
  assert.deepEqual(r.warnings, [['CACHE_FOREIGN', 'string']]);
  assert.equal(r.status, 'miss');
  assert.deepEqual(r.infoWarnings, ['CACHE_FOREIGN']);
});

test('priming runs in Chromium (relaxed-SIMD build), and a warm visit reports it', async () => {
  const r = await inPage(async () => {
    const { prime } = await import('/lib/source.js');
    const w = await import('/wasm/relaxed/vitrine_core.js');
    await w.default({ module_or_path: '/wasm/relaxed/vitrine_core_bg.wasm' });
    const s = { ms: null };
    await prime(w, true, () => false, s);
    return { ms: typeof s.ms };
  });
  assert.deepEqual(r, { ms: 'number' });
  await clearStores();
  const cold = await visit({});
  assert.equal(cold.after.status, 'stored');
  const warm = await visit({});
  assert.equal(warm.load.cache.status, 'hit');
  assert.ok(warm.load.prime, 'info().load.prime is reported');
  assert.deepEqual(warm.rec, cold.rec);
});
