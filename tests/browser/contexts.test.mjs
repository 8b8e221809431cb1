// The package on the page contexts storefronts really run in, in real
// Chromium (no stubbed APIs):
// - an INSECURE origin: a staging site over plain http on a LAN hostname
//   (`http://shop.test:<port>/`, mapped to 127.0.0.1 by the resolver; only
//   localhost / 127.0.0.1 count as secure). No Cache Storage, no
//   crypto.subtle, no SharedArrayBuffer, no Web Locks; IndexedDB and
//   localStorage exist.
// - a NON-PERSISTENT context (`browser.newContext()`, incognito-like) whose
//   origin quota is made smaller than the model (CDP
//   Storage.overrideQuotaForOrigin: Chromium's own quota manager refuses the
//   write, nothing in the page is faked).
// What works, degrades and fails there is listed in docs/web.md
// ("Insecure origins and private windows").

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join, dirname, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { statSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve.mjs';
import { CLI, synth, synthWithIntent, rng, gaussianVector, tempDir } from '../node/helpers.mjs';
import { CHROMIUM, launch, newPage } from './chromium.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const HOST = 'shop.test';
const RESOLVE = `--host-resolver-rules=MAP ${HOST} 127.0.0.1`;

const plain = synth({ items: 5000, dim: 32, dtype: 'int8', seed: 41 });
const { withIntent } = synthWithIntent({ items: 400, dim: 16, dtype: 'int8', seed: 42 });
// Ten times the quota given to the private windows below (~41 MB).
const big = synth({ items: 300000, dim: 64, dtype: 'int8', seed: 43 });
const u = Array.from(gaussianVector(rng(5), 32));
const shardSource = synth({ items: 3000, dim: 16, dtype: 'int8', seed: 44 });

/** @type {any} */
let srv;
/** @type {any} */
let browser;
/** @type {string} */
let base;
/** @type {{url: string}[]} */
const requests = [];

test.before(async () => {
  const dir = tempDir();
  execFileSync(CLI, ['session', 'synth', '--items', '800', '--dim', '16', '--seed', '5', '--out', join(dir, 'session.vtr')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const shards = join(dir, 'shards');
  execFileSync(CLI, ['shard', shardSource, '--by', 'range', '--max-shard-bytes', '40000', '--head-items', '100', '--model-id', 'ctx-model', '-o', shards], { stdio: 'ignore' });
  srv = await startServer({
    mounts: { '/sh/': shards, '/t/': dirname(plain), '/i/': dirname(withIntent), '/s/': dir, '/tests/': HERE },
    quiet: true,
    onRequest: (req) => requests.push({ url: req.url ?? '' }),
  });
  base = `http://${HOST}:${srv.port}`;
  browser = await launch({ args: [RESOLVE] });
});

test.after(async () => {
  await browser?.close();
  await srv?.close();
});

/** A fresh page of the insecure origin. */
async function insecurePage() {
  const r = await newPage(browser.context, `${base}/tests/blank.html`);
  return r;
}

test('insecure origin: really insecure (no caches, no crypto.subtle, no SharedArrayBuffer, no Web Locks), storage present', async () => {
  const { page, errors } = await insecurePage();
  const env = await page.evaluate(() => ({
    origin: location.origin,
    secure: isSecureContext,
    caches: typeof caches,
    subtle: typeof globalThis.crypto?.subtle,
    sab: typeof SharedArrayBuffer,
    locks: typeof (/** @type {any} */ (navigator).locks),
    indexedDB: typeof indexedDB,
    localStorage: typeof localStorage,
  }));
  await page.close();
  assert.equal(env.origin, base);
  assert.deepEqual(
    { ...env, origin: undefined },
    { origin: undefined, secure: false, caches: 'undefined', subtle: 'undefined', sab: 'undefined', locks: 'undefined', indexedDB: 'object', localStorage: 'object' },
  );
  assert.deepEqual(errors, []);
});

/** One visit of the insecure origin: load(url, opts), one query, the cache's background work awaited. */
async function visit(/** @type {Record<string, unknown>} */ opts = {}) {
  const { page, errors } = await insecurePage();
  try {
    const r = await page.evaluate(
      async ({ url, u, opts }) => {
        const v = await import('/vitrine.js');
        const warnings = [];
        const messages = [];
        const m = await v.load(url, { ...opts, onWarning: (code, message) => (warnings.push(code), messages.push(message)) });
        const rec = m.recommend(new Float32Array(u), { k: 10 }).map((s) => s.id);
        const info = m.info();
        await m.cacheSettled;
        const after = m.info().load.cache;
        m.dispose();
        return { rec, load: info.load, build: info.build, after, warnings, messages };
      },
      { url: `/t/${basename(plain)}`, u, opts },
    );
    return { ...r, errors };
  } finally {
    await page.close();
  }
}

test('insecure origin: load(url) with default caching answers; the model is kept in IndexedDB and served from there on the next visit', async () => {
  await (async () => {
    const { page } = await insecurePage();
    await page.evaluate(
      () =>
        new Promise((ok) => {
          const r = indexedDB.deleteDatabase('vitrine-models');
          r.onsuccess = r.onerror = r.onblocked = () => ok(undefined);
        }),
    );
    await page.close();
  })();
  const cold = await visit();
  assert.deepEqual(cold.errors, []);
  assert.equal(cold.rec.length, 10);
  assert.deepEqual(cold.warnings, [], 'no Cache Storage is not a warning: IndexedDB is the store here');
  assert.equal(cold.load.cache.store, 'indexeddb', 'info().load.cache.store names the store used (Cache Storage is absent)');
  assert.equal(cold.load.cache.status, 'miss');
  assert.equal(cold.load.validation, 'full');
  assert.equal(cold.after.status, 'stored');
  requests.length = 0;
  const warm = await visit();
  assert.deepEqual(warm.errors, []);
  assert.deepEqual(warm.warnings, []);
  assert.equal(warm.load.cache.store, 'indexeddb');
  assert.equal(warm.load.cache.status, 'hit');
  assert.equal(warm.load.validation, 'cached');
  assert.equal(warm.after.revalidation, 'unchanged');
  assert.deepEqual(warm.rec, cold.rec);
  assert.equal(requests.filter((r) => r.url.startsWith('/t/')).length, 1, 'the warm visit asks the server once (the conditional revalidation)');
  const off = await visit({ cache: false });
  assert.equal(off.load.cache.status, 'off');
  assert.deepEqual(off.rec, cold.rec);
  // cache: 'cache-storage' asks for a store this origin does not have: said once, loads without a cache.
  const cs = await visit({ cache: 'cache-storage' });
  assert.deepEqual(cs.errors, []);
  assert.deepEqual(cs.warnings, ['CACHE_UNAVAILABLE']);
  assert.match(cs.messages[0], /'cache-storage' is not available here \(Cache Storage needs https or localhost\)/);
  assert.equal(cs.load.cache.status, 'none', 'no Cache Storage here: the load says it used no cache');
  assert.deepEqual(cs.load.cache.warnings, ['CACHE_UNAVAILABLE']);
  assert.deepEqual(cs.rec, cold.rec);
});

test('insecure origin: load(url, {integrity}) fails with INTEGRITY naming the fix, before the download', async () => {
  const { page, errors } = await insecurePage();
  requests.length = 0;
  const r = await page.evaluate(async (url) => {
    const v = await import('/vitrine.js');
    const out = {};
    try {
      await v.load(url, { integrity: 'sha384-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
      out.model = 'no error';
    } catch (e) {
      out.model = { isVitrine: e instanceof v.VitrineError, code: e.code, message: e.message, details: e.details };
    }
    out.modelRequests = performance.getEntriesByType('resource').filter((e) => e.name.includes('/t/')).length;
    try {
      await v.load(url, { wasmIntegrity: { simd: 'sha384-AAAA', 'simd-lean': 'sha384-AAAA', relaxed: 'sha384-AAAA', 'relaxed-lean': 'sha384-AAAA', scalar: 'sha384-AAAA', 'scalar-lean': 'sha384-AAAA' } });
      out.wasm = 'no error';
    } catch (e) {
      out.wasm = { isVitrine: e instanceof v.VitrineError, code: e.code, message: e.message };
    }
    out.modelRequestsAfterWasm = performance.getEntriesByType('resource').filter((e) => e.name.includes('/t/')).length;
    // The page goes on: the same model without the option loads.
    const m = await v.load(url, { cache: false });
    out.after = m.info().nItems;
    m.dispose();
    return out;
  }, `/t/${basename(plain)}`);
  await page.close();
  assert.deepEqual(errors, []);
  assert.equal(r.model.isVitrine, true);
  assert.equal(r.model.code, 'INTEGRITY');
  assert.match(r.model.message, /crypto\.subtle/);
  assert.match(r.model.message, /not a secure context/);
  assert.match(r.model.message, /serve the page over https or localhost, or leave out the integrity options/, 'the message names the fixes');
  assert.equal(r.model.details?.reason, 'no-subtle-crypto');
  assert.equal(r.modelRequests, 0, 'refused before the bundle is downloaded');
  assert.equal(r.wasm.code, 'INTEGRITY');
  assert.match(r.wasm.message, /secure context/);
  assert.equal(r.modelRequestsAfterWasm, 0, 'a pinned wasm build is refused before the bundle is downloaded too');
  assert.equal(r.after, 5000);
});

test('insecure origin: loadInWorker(url) and load(url, {threads: 2}) run on one thread and say why', async () => {
  const { page, errors } = await insecurePage();
  const r = await page.evaluate(
    async ({ url, u }) => {
      const v = await import('/vitrine.js');
      const out = {};
      const w = await v.loadInWorker(url);
      out.worker = { threads: (await w.info()).threads, rec: [...(await w.recommend(new Float32Array(u), { k: 10 }))].map((s) => s.id) };
      await w.dispose();
      const w2 = await v.loadInWorker(url, { threads: 2 });
      out.worker2 = (await w2.info()).threads;
      await w2.dispose();
      const p = await v.load(url, { threads: 2 });
      out.page = await p.threadsReady;
      out.pageRec = p.recommend(new Float32Array(u), { k: 10 }).map((s) => s.id);
      p.dispose();
      return out;
    },
    { url: `/t/${basename(plain)}`, u },
  );
  await page.close();
  assert.deepEqual(errors, []);
  assert.equal(r.worker.threads.count, 1);
  assert.equal(r.worker.threads.requested, 'auto');
  assert.match(r.worker.threads.reason, /not cross-origin isolated/);
  assert.equal(r.worker.rec.length, 10);
  assert.equal(r.worker2.count, 2, `two workers without isolation (a copy each): ${r.worker2.reason}`);
  assert.equal(r.worker2.sharedBytes, false, 'no SharedArrayBuffer: each worker has its own copy');
  assert.equal(r.page.count, 1);
  assert.match(r.page.reason, /not cross-origin isolated/);
  assert.deepEqual(r.pageRec, r.worker.rec);
});

test('insecure origin: the shopper keeps its history across a reload (IndexedDB and localStorage), impressions persist, matchIntent works', async () => {
  const { page, errors } = await insecurePage();
  const setup = () =>
    page.evaluate(async () => {
      const { load } = await import('/vitrine.js');
      const sh = await import('/shopper.js');
      const pl = await import('/placements.js');
      const model = await load('/s/session.vtr');
      const w = /** @type {any} */ (window);
      w.warnings = [];
      w.mk = (storage) => sh.createShopper(model, { key: `ctx-${storage}`, ...(storage ? { storage } : {}), onWarning: (x) => w.warnings.push(x.code) });
      w.pl = pl;
      w.model = model;
    });
  await setup();
  const first = await page.evaluate(async () => {
    const w = /** @type {any} */ (window);
    const out = {};
    for (const storage of [undefined, 'localStorage']) {
      const s = w.mk(storage);
      await s.ready;
      await s.track({ type: 'view', item: 'item-3' });
      await s.track({ type: 'cart', item: 'item-7' });
      out[storage ?? 'default'] = { storage: s.storage, recs: s.recommend({ k: 5 }).items.length, history: s.history().length };
    }
    const log = w.pl.createImpressionLog();
    log.shown(['item-1', 'item-2']);
    log.shown(['item-1']);
    out.impressions = log.count('item-1');
    out.warnings = w.warnings;
    return out;
  });
  await page.reload();
  await setup();
  const second = await page.evaluate(async () => {
    const w = /** @type {any} */ (window);
    const out = {};
    for (const storage of [undefined, 'localStorage']) {
      const s = w.mk(storage);
      await s.ready;
      out[storage ?? 'default'] = { storage: s.storage, history: s.history().map((e) => e.item) };
      s.forget();
    }
    out.impressions = w.pl.createImpressionLog().count('item-1');
    out.warnings = w.warnings;
    return out;
  });
  const intent = await page.evaluate(async (url) => {
    const v = await import('/vitrine.js');
    const m = await v.load(url);
    const r = await m.matchIntent('where is my order 12345');
    m.dispose();
    return r;
  }, `/i/${basename(withIntent)}`);
  await page.close();
  assert.deepEqual(errors, []);
  assert.deepEqual(first.default, { storage: 'indexeddb', recs: 5, history: 2 });
  assert.deepEqual(first.localStorage, { storage: 'localStorage', recs: 5, history: 2 });
  assert.equal(first.impressions, 2);
  assert.deepEqual(first.warnings, []);
  assert.deepEqual(second.default, { storage: 'indexeddb', history: ['item-3', 'item-7'] });
  assert.deepEqual(second.localStorage, { storage: 'localStorage', history: ['item-3', 'item-7'] });
  assert.equal(second.impressions, 2, 'the impression log survived the reload');
  assert.deepEqual(second.warnings, []);
  assert.equal(intent.intent, 'order_status');
  assert.deepEqual(intent.slots.orderNumbers, ['12345']);
});

test('insecure origin: a sharded bundle answers from all shards; without Cache Storage they are fetched on every visit', async () => {
  const uu = Array.from(gaussianVector(rng(6), 16));
  const visitSharded = async () => {
    const { page, errors } = await insecurePage();
    const net = [];
    page.on('request', (r) => {
      if (/\/shard-\d+\.vtr$/.test(r.url())) net.push(r.url());
    });
    const r = await page.evaluate(async (uu) => {
      const { loadSharded } = await import('/vitrine.js');
      const m = await loadSharded('/sh/head.vtr');
      const rec = (await m.recommend(uu, { k: 10, shards: 'all' })).map((s) => s.id);
      const shardCount = m.shardCount;
      m.dispose();
      return { rec, shardCount };
    }, uu);
    await page.close();
    return { ...r, fetched: net.length, errors };
  };
  const a = await visitSharded();
  const b = await visitSharded();
  // The whole bundle's answer, computed in the same origin.
  const { page } = await insecurePage();
  const whole = await page.evaluate(async ({ url, uu }) => {
    const { load } = await import('/vitrine.js');
    const m = await load(url, { cache: false });
    const rec = m.recommend(new Float32Array(uu), { k: 10 }).map((s) => s.id);
    m.dispose();
    return rec;
  }, { url: `/t/${basename(shardSource)}`, uu });
  await page.close();
  assert.deepEqual(a.errors, []);
  assert.ok(a.shardCount >= 2, `${a.shardCount} shards`);
  assert.deepEqual(a.rec, whole);
  assert.deepEqual(b.rec, whole);
  assert.equal(a.fetched, a.shardCount);
  assert.equal(b.fetched, b.shardCount, 'the second visit fetches every shard again');
});

// Without Web Locks (secure contexts only) the localStorage backend's
// read-merge-write is atomic within a tab, not across tabs: the tabs' repair
// of each other's writes (docs/shopper.md) must still lose nothing.
for (const storage of ['indexeddb', 'localStorage']) {
  test(`insecure origin: shopper (${storage}) in two tabs x 500 events, no Web Locks -> none lost`, async () => {
    const key = `ctx-two-tabs-${storage}`;
    const tab = async () => {
      const t = await insecurePage();
      await t.page.evaluate(async () => {
        const { load } = await import('/vitrine.js');
        const sh = await import('/shopper.js');
        const model = await load('/s/session.vtr');
        const w = /** @type {any} */ (window);
        w.warnings = [];
        w.mk = (o) => sh.createShopper(model, { onWarning: (x) => w.warnings.push(x.code), ...o });
      });
      return t;
    };
    const track = (/** @type {any} */ page, /** @type {string} */ prefix) =>
      page.evaluate(
        async ({ key, storage, prefix }) => {
          const w = /** @type {any} */ (window);
          const s = w.mk({ key, storage, cap: 5000 });
          w.shopper = s;
          await s.ready;
          let last;
          for (let i = 0; i < 500; i++) {
            last = s.track({ type: 'view', item: `${prefix}-${i}`, ts: 1.7e12 + i });
            if (i % 3 === 0) await last;
          }
          await last;
        },
        { key, storage, prefix },
      );
    const a = await tab();
    const b = await tab();
    await Promise.all([track(a.page, 'a'), track(b.page, 'b')]);
    const c = await tab();
    const read = () =>
      c.page.evaluate(
        async ({ key, storage }) => {
          const s = /** @type {any} */ (window).mk({ key, storage, cap: 5000 });
          await s.ready;
          s.close();
          return s.history().map((e) => e.item);
        },
        { key, storage },
      );
    let seen = await read();
    const t0 = Date.now();
    const trail = [seen.length];
    // localStorage: a tab whose copy lagged may have written over the other's
    // events until that one writes them again (docs/shopper.md): wait for it.
    // The bound only ends a wait that will not succeed; each read is a new
    // shopper in tab c, slow on a loaded machine, so it is not tight.
    while (new Set(seen).size < 1000 && Date.now() - t0 < 60_000) {
      await new Promise((r) => setTimeout(r, 250));
      seen = await read();
      trail.push(seen.length);
    }
    const lost = 1000 - new Set(seen).size;
    console.log(`# insecure origin, ${storage}: two tabs x 500 events: ${seen.length} stored, ${lost} lost (after ${Date.now() - t0} ms: ${trail.join(' ')})`);
    assert.equal(new Set(seen).size, seen.length, 'no event duplicated');
    assert.equal(lost, 0, 'no event lost');
    for (const t of [a, b, c]) {
      assert.deepEqual(await t.page.evaluate(() => /** @type {any} */ (window).warnings), []);
      assert.deepEqual(t.errors, []);
    }
    await a.page.evaluate(() => /** @type {any} */ (window).shopper.forget());
    for (const t of [a, b, c]) await t.page.close();
  });
}

for (const [where, store] of [['localhost', 'cache-storage'], ['insecure origin', 'indexeddb']]) {
test(`private window (${where}, ${store}) with a quota smaller than the model: the load answers, CACHE_UNAVAILABLE says the store failed, the next load refetches`, async () => {
  const origin = where === 'localhost' ? srv.url : base;
  const size = statSync(big).size;
  const quota = 4 * 1024 * 1024;
  assert.ok(size > 5 * quota, `the bundle (${size} bytes) is far above the quota`);
  const b = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [RESOLVE, '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const context = await b.newContext(); // incognito-like: nothing written to disk, dropped at close
    const { page, errors } = await newPage(context);
    await page.goto(`${origin}/tests/blank.html`);
    const cdp = await context.newCDPSession(page);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: quota });
    const one = () =>
      page.evaluate(
        async ({ url, u }) => {
          const v = await import('/vitrine.js');
          const warnings = [];
          const m = await v.load(url, { onWarning: (code, message) => warnings.push([code, message]) });
          const rec = m.recommend(new Float32Array(u), { k: 5 }).map((s) => s.id);
          const load = m.info().load;
          await m.cacheSettled;
          const after = m.info().load.cache;
          // Used after the failed store: still answers.
          const again = m.recommend(new Float32Array(u), { k: 5 }).map((s) => s.id);
          m.dispose();
          return { rec, again, load, after, warnings };
        },
        { url: `/t/${basename(big)}`, u: Array.from({ length: 64 }, (_, i) => Math.sin(i)) },
      );
    // navigator.storage.estimate() keeps reporting the profile's quota; the
    // quota manager, which refuses the writes, reports the override.
    const q = await cdp.send('Storage.getUsageAndQuota', { origin });
    const first = await one();
    requests.length = 0;
    const second = await one();
    const refetched = requests.filter((r) => r.url.startsWith(`/t/${basename(big)}`)).length;
    await context.close();
    assert.equal(q.overrideActive, true);
    assert.equal(q.quota, quota, 'the quota override is in force');
    assert.equal(first.rec.length, 5);
    assert.deepEqual(first.again, first.rec);
    assert.equal(first.load.cache.status, 'miss');
    assert.equal(first.load.cache.store, store);
    assert.deepEqual(first.warnings.map((w) => w[0]), ['CACHE_UNAVAILABLE']);
    assert.match(first.warnings[0][1], /could not be stored/);
    assert.notEqual(first.after.status, 'stored');
    assert.deepEqual(first.after.warnings, ['CACHE_UNAVAILABLE']);
    assert.equal(second.load.cache.status, 'miss', 'nothing half-stored is read back');
    assert.deepEqual(second.rec, first.rec);
    assert.equal(refetched, 1, 'the next load downloads the model again');
    assert.deepEqual(errors, []);
  } finally {
    await b.close();
  }
});
}
