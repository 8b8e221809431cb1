// Warm visits through the browser glue (pkg/vitrine.js, the path pages take),
// run in Node against the demo server: the download starts while the wasm
// compiles, the model is stored on the device after a full validation,
// served from there on the next load and revalidated with If-None-Match;
// a corrupt, foreign or vanishing entry is evicted with a warning and the
// model downloaded again. Node has no Cache Storage: the store here is the
// `cache` option's custom-store form, in memory (Chromium runs the real
// Cache Storage and IndexedDB stores: tests/browser/cache.test.mjs).

import test from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { load } from '../../pkg/vitrine.js';
import { matchesEtag, startServer } from '../../scripts/serve.mjs';
import { gaussianVector, rng, synth } from './helpers.mjs';

const DIM = 32;
const dir = mkdtempSync(join(tmpdir(), 'vitrine-cache-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const A = synth({ items: 3000, dim: DIM, dtype: 'int8', seed: 21 });
const B = synth({ items: 2000, dim: DIM, dtype: 'int8', seed: 22 });
copyFileSync(A, join(dir, 'shop.vtr'));

/** @type {{url: string, inm?: string, readonly status: number}[]} */
const requests = [];
const srv = await startServer({
  mounts: { '/m/': dir },
  quiet: true,
  onRequest: (req, res) =>
    requests.push({
      url: req.url ?? '',
      inm: /** @type {string} */ (req.headers['if-none-match']),
      get status() {
        return res.statusCode;
      },
    }),
});
test.after(() => srv.close());
const MODEL = `${srv.url}/m/shop.vtr`;
// The engine build over HTTP, as a page fetches it (a query makes each test's
// wasm URL its own, so no instance is shared between tests).
const wasmUrl = (/** @type {string} */ tag) => ({ relaxed: `${srv.url}/wasm/relaxed/vitrine_core_bg.wasm?${tag}`, simd: `${srv.url}/wasm/simd/vitrine_core_bg.wasm?${tag}` });

/** An in-memory store with the interface of the `cache` option. */
function memoryStore() {
  /** @type {Map<string, {record: any, bytes: Uint8Array}>} */
  const entries = new Map();
  const calls = { get: 0, put: 0, delete: 0 };
  return {
    kind: 'memory',
    entries,
    calls,
    /** @type {((key: string) => any) | undefined} replaces what get returns */
    override: undefined,
    async get(/** @type {string} */ key) {
      calls.get++;
      if (this.override) return this.override(key);
      const e = entries.get(key);
      return e && { record: structuredClone(e.record), body: e.bytes.slice() };
    },
    async put(/** @type {string} */ key, /** @type {any} */ record, /** @type {Uint8Array[]} */ chunks) {
      calls.put++;
      const n = chunks.reduce((s, c) => s + c.byteLength, 0);
      const bytes = new Uint8Array(n);
      let off = 0;
      for (const c of chunks) {
        bytes.set(c, off);
        off += c.byteLength;
      }
      entries.set(key, { record: structuredClone(record), bytes });
    },
    async delete(/** @type {string} */ key) {
      calls.delete++;
      entries.delete(key);
    },
  };
}

const user = gaussianVector(rng(5), DIM);
const top = (/** @type {any} */ m) => JSON.stringify(m.recommend(user, { k: 10 }));
const reference = async (/** @type {string} */ path) => {
  const m = await load(new Uint8Array(readFileSync(path)), { wasmUrl: wasmUrl('ref') });
  const r = top(m);
  m.dispose();
  return r;
};
const TOP_A = await reference(A);
const TOP_B = await reference(B);

test('serve.mjs sends an ETag and answers a matching If-None-Match with 304', async () => {
  const r1 = await fetch(MODEL);
  const etag = r1.headers.get('etag');
  assert.match(etag ?? '', /^"[0-9a-f]+-[0-9a-f]+"$/);
  assert.equal(r1.headers.get('cache-control'), 'no-cache');
  await r1.arrayBuffer();
  const r2 = await fetch(MODEL, { headers: { 'If-None-Match': `"other", W/${etag}` } });
  assert.equal(r2.status, 304);
  assert.equal((await r2.arrayBuffer()).byteLength, 0);
  const r3 = await fetch(MODEL, { headers: { 'If-None-Match': '"other"' } });
  assert.equal(r3.status, 200);
  await r3.arrayBuffer();
  const r4 = await fetch(`${MODEL}?noetag=1`);
  assert.equal(r4.headers.get('etag'), null);
  await r4.arrayBuffer();
  assert.ok(matchesEtag('*', '"x"') && matchesEtag(['"a"', '"x"'], '"x"') && !matchesEtag(undefined, '"x"'));
});

test('the bundle downloads while the wasm compiles', async () => {
  const m = await load(MODEL, { wasmUrl: wasmUrl('parallel'), cache: false });
  const l = m.info().load;
  assert.ok(l.fetchStart < l.compileEnd, `the download started (${l.fetchStart}) after the compile ended (${l.compileEnd})`);
  assert.ok(l.validateStart >= l.downloadEnd && l.validateEnd >= l.validateStart);
  assert.equal(l.validation, 'full');
  assert.equal(l.cache.status, 'off');
  assert.equal(top(m), TOP_A);
  m.dispose();
});

test('a warm load comes from the store, is revalidated by a 304 and answers as the network copy', async () => {
  const store = memoryStore();
  const warnings = [];
  const opts = { wasmUrl: wasmUrl('warm'), cache: store, onWarning: (/** @type {string} */ c) => warnings.push(c) };
  const cold = await load(MODEL, opts);
  assert.equal(cold.info().load.cache.status, 'miss');
  await cold.cacheSettled;
  assert.equal(cold.info().load.cache.status, 'stored');
  assert.equal(store.entries.size, 1);
  const [[key, entry]] = [...store.entries];
  assert.equal(key, `${MODEL}\n`);
  assert.deepEqual(entry.bytes, new Uint8Array(readFileSync(A)));
  assert.equal(entry.record.bytes, entry.bytes.byteLength);
  assert.match(entry.record.etag, /^"/);
  assert.equal(top(cold), TOP_A);
  cold.dispose();

  requests.length = 0;
  const warm = await load(MODEL, opts);
  const l = warm.info().load;
  assert.equal(l.cache.status, 'hit');
  assert.equal(l.validation, typeof warm.raw.constructor.fromBufferCached === 'function' ? 'cached' : 'full');
  assert.equal(top(warm), TOP_A);
  await warm.cacheSettled;
  assert.equal(warm.info().load.cache.revalidation, 'unchanged');
  const modelRequests = requests.filter((r) => r.url.startsWith('/m/'));
  assert.deepEqual(modelRequests.map((r) => [r.status, r.inm]), [[304, entry.record.etag]], 'one conditional request, answered 304');
  assert.deepEqual(warnings, []);
  warm.dispose();
});

test('a changed bundle on the server: the cached copy serves this visit, the next one downloads the new bytes', async () => {
  const store = memoryStore();
  const opts = { wasmUrl: wasmUrl('changed'), cache: store };
  const path = join(dir, 'changing.vtr');
  copyFileSync(A, path);
  const url = `${srv.url}/m/changing.vtr`;
  const first = await load(url, opts);
  await first.cacheSettled;
  first.dispose();
  copyFileSync(B, path);
  utimesSync(path, new Date(), new Date(Date.now() + 5000));
  const stale = await load(url, opts);
  assert.equal(stale.info().load.cache.status, 'hit');
  assert.equal(top(stale), TOP_A);
  await stale.cacheSettled;
  assert.equal(stale.info().load.cache.revalidation, 'changed');
  assert.equal(store.entries.size, 0, 'the stale entry is evicted');
  stale.dispose();
  const fresh = await load(url, opts);
  assert.equal(fresh.info().load.cache.status, 'miss');
  assert.equal(top(fresh), TOP_B);
  fresh.dispose();
});

/**
 * Store the model, spoil the entry with `spoil`, load again: the spoiled
 * entry must be reported with `code`, evicted, and the model downloaded.
 * @param {string} tag @param {(store: any, key: string) => void} spoil @param {string} code
 */
async function spoiled(tag, spoil, code) {
  const store = memoryStore();
  /** @type {[string, string][]} */
  const warnings = [];
  const opts = { wasmUrl: wasmUrl(tag), cache: store, onWarning: (/** @type {string} */ c, /** @type {string} */ m) => warnings.push([c, m]) };
  const cold = await load(MODEL, opts);
  await cold.cacheSettled;
  cold.dispose();
  const [key] = store.entries.keys();
  spoil(store, key);
  requests.length = 0;
  const m = await load(MODEL, opts);
  assert.deepEqual(warnings.map((w) => w[0]), [code], JSON.stringify(warnings));
  assert.match(warnings[0][1], /evicted, downloading it again/);
  const l = m.info().load;
  assert.deepEqual(l.cache.warnings, [code]);
  assert.equal(l.cache.status, 'miss');
  assert.equal(l.validation, 'full');
  assert.equal(top(m), TOP_A);
  assert.ok(requests.some((r) => r.url === '/m/shop.vtr' && r.inm === undefined), `downloaded again: ${JSON.stringify(requests)}`);
  await m.cacheSettled;
  assert.equal(store.entries.size, 1, 'stored again after the download');
  assert.deepEqual(store.entries.get(key)?.bytes, new Uint8Array(readFileSync(A)));
  m.dispose();
}

test('a corrupt cache entry (a flipped bit in the factors) is detected, evicted and fetched again', async () => {
  await spoiled('corrupt', (store, key) => {
    const e = store.entries.get(key);
    e.bytes[e.bytes.byteLength - 100] ^= 0x10;
  }, 'CACHE_CORRUPT');
});

test('a truncated cache entry is detected, evicted and fetched again', async () => {
  await spoiled('truncated', (store, key) => {
    const e = store.entries.get(key);
    e.bytes = e.bytes.slice(0, 20);
  }, 'CACHE_EVICTED');
});

test("a cache entry holding another model's bytes is detected, evicted and fetched again", async () => {
  await spoiled('foreign', (store, key) => {
    store.entries.get(key).bytes = new Uint8Array(readFileSync(B));
  }, 'CACHE_FOREIGN');
});

for (const form of ['stream', 'Response (as Cache Storage gives it)']) {
  test(`a cache entry that vanishes mid-read (${form}) is detected, evicted and fetched again`, async () => {
    await spoiled(`evicted-${form.length}`, (store, key) => {
      const { record, bytes } = store.entries.get(key);
      store.override = (/** @type {string} */ k) => {
        store.override = undefined;
        let sent = false;
        const stream = new ReadableStream({
          pull(c) {
            if (!sent) {
              sent = true;
              c.enqueue(bytes.slice(0, 4096));
            } else c.error(new Error('entry evicted'));
          },
        });
        return k === key ? { record, body: form === 'stream' ? stream : new Response(stream) } : undefined;
      };
    }, 'CACHE_EVICTED');
  });
}

test('cache: false neither reads nor writes the store; a server without validators is not cached', async () => {
  const store = memoryStore();
  const off = await load(MODEL, { wasmUrl: wasmUrl('off'), cache: false });
  assert.equal(off.info().load.cache.status, 'off');
  off.dispose();
  const noValidator = await load(`${MODEL}?noetag=1`, { wasmUrl: wasmUrl('off'), cache: store });
  await noValidator.cacheSettled;
  assert.equal(store.calls.put, 0);
  assert.equal(noValidator.info().load.cache.status, 'miss');
  noValidator.dispose();
});

test('with an integrity hash the cached copy is used without asking the server', async () => {
  const store = memoryStore();
  const integrity = `sha384-${createHash('sha384').update(readFileSync(A)).digest('base64')}`;
  const opts = { wasmUrl: wasmUrl('pinned'), cache: store, integrity };
  const cold = await load(MODEL, opts);
  await cold.cacheSettled;
  cold.dispose();
  assert.equal([...store.entries.keys()][0], `${MODEL}\n${integrity}`);
  requests.length = 0;
  const warm = await load(MODEL, opts);
  await warm.cacheSettled;
  assert.equal(warm.info().load.cache.status, 'hit');
  assert.equal(warm.info().load.cache.revalidation, 'pinned');
  assert.deepEqual(requests.filter((r) => r.url.startsWith('/m/')), []);
  assert.equal(top(warm), TOP_A);
  warm.dispose();
});

test('bad cache options are INVALID_ARGUMENT', async () => {
  for (const cache of ['yes', 1, { get() {} }]) {
    await assert.rejects(load(MODEL, { cache }), (e) => /** @type {any} */ (e).code === 'INVALID_ARGUMENT');
  }
  await assert.rejects(load(MODEL, { onWarning: 'log' }), (e) => /** @type {any} */ (e).code === 'INVALID_ARGUMENT');
});

// Priming (`prime` in www/lib/source.js): the load path's exports run once
// on a tiny catalogue while the bytes arrive, so their compile is not on the path.
const { prime } = await import('../../pkg/lib/source.js');

/** A fresh instance of one engine build (its own wasm memory and module state). */
async function instance(/** @type {string} */ variant) {
  const w = await import(`../../pkg/wasm/${variant}/vitrine_core.js?prime-${Math.random()}`);
  w.initSync({ module: readFileSync(new URL(`../../pkg/wasm/${variant}/vitrine_core_bg.wasm`, import.meta.url)) });
  return w;
}

test('prime() runs once per instance, in both validation paths, never after the bytes are in, and never throws', async () => {
  const stats = () => ({ ms: /** @type {number | null} */ (null) });
  const w = await instance('simd');
  const skipped = stats();
  await prime(w, true, () => true, skipped);
  assert.equal(skipped.ms, null, 'bytes already in: nothing to overlap');
  const ran = stats();
  await prime(w, true, () => false, ran);
  assert.equal(typeof ran.ms, 'number');
  const again = stats();
  await prime(w, false, () => false, again);
  assert.equal(again.ms, null, 'this instance is primed already');
  const full = stats();
  await prime(await instance('scalar'), false, () => false, full);
  assert.equal(typeof full.ms, 'number', 'the full-validation path primes too');
  // Bytes in between the two steps: the query step is skipped.
  let done = false;
  const half = stats();
  const p = prime(await instance('simd'), true, () => done, half);
  await new Promise((ok) => setTimeout(ok, 0));
  await new Promise((ok) => setTimeout(ok, 0));
  done = true;
  await p;
  assert.equal(typeof half.ms, 'number');
  // The catalogue's module arriving after the last byte: nothing runs then.
  let calls = 0;
  const late = stats();
  await prime(await instance('simd'), true, () => calls++ >= 1, late);
  assert.equal(calls, 2, 'asked again once the module is in');
  assert.equal(late.ms, null, 'no priming after the last byte');
  // A glue without the exports, or one whose exports throw: skipped quietly.
  await prime({}, true, () => false, stats());
  await prime(null, true, () => false, stats());
  const throwing = { BundleBuffer: class { constructor() { throw new Error('no memory'); } }, Model: {} };
  const t = stats();
  await prime(throwing, true, () => false, t);
  assert.equal(t.ms, null);
});

test('a warm load reports its priming in info().load.prime and answers as the network copy', async () => {
  const store = memoryStore();
  const opts = { wasmUrl: wasmUrl('primed'), cache: store };
  const cold = await load(MODEL, opts);
  await cold.cacheSettled;
  cold.dispose();
  const warm = await load(MODEL, opts);
  const l = warm.info().load;
  assert.equal(l.cache.status, 'hit');
  assert.ok(l.prime && (l.prime.ms === null || typeof l.prime.ms === 'number'), JSON.stringify(l.prime));
  assert.equal(top(warm), TOP_A);
  warm.dispose();
});
