// Sharded bundles from Node: `vitrine shard` output served over HTTP and read
// by `loadSharded` (pkg/node.js), checked against the unsharded bundle.
// Cache Storage does not exist in Node, so the cache here is an in-memory
// object with the same three methods; tests/browser/shards.test.mjs runs the
// same paths against Chromium's real Cache Storage.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load, loadSharded, VitrineError } from '../../pkg/node.js';
import { startServer } from '../../scripts/serve.mjs';
import { CLI, synth, tempDir, rng, gaussianVector } from './helpers.mjs';

const D = 16;
const source = synth({ items: 6000, dim: D, dtype: 'f32', seed: 9, categories: 5 });
const sourceI8 = synth({ items: 6000, dim: D, dtype: 'int8+residual', seed: 9, categories: 5 });

/** `vitrine shard` into a fresh directory; returns the directory. */
function shard(bundle, name, by, maxBytes, modelId) {
  const out = join(tempDir(), `shards-${name}`);
  const id = modelId ? ['--model-id', modelId] : [];
  execFileSync(CLI, ['shard', bundle, '--by', by, '--max-shard-bytes', String(maxBytes), '--head-items', '100', ...id, '-o', out], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return out;
}

const dirs = {
  cat: shard(source, 'cat', 'category', 120_000),
  range: shard(source, 'range', 'range', 120_000, 'shop-model-a'),
  // The same catalogue exported as another model: files of the same sizes,
  // so only the model id (and the checksums) tell them apart.
  other: shard(source, 'other', 'range', 120_000, 'shop-model-b'),
  i8: shard(sourceI8, 'i8', 'range', 100_000),
};

let srv;
test.before(async () => {
  srv = await startServer({ mounts: Object.fromEntries(Object.entries(dirs).map(([k, d]) => [`/${k}/`, d])), quiet: true });
});
test.after(() => srv?.close());

/** A fetch that counts shard requests (and can swap bodies). */
function countingFetch(swap = {}) {
  const calls = [];
  const f = async (url, init) => {
    const u = String(url);
    calls.push({ url: u, cache: init?.cache });
    for (const [from, to] of Object.entries(swap)) if (u.endsWith(from)) return fetch(to, init);
    return fetch(u, init);
  };
  f.calls = calls;
  f.shardCalls = () => calls.filter((c) => /shard-\d+\.vtr$/.test(c.url));
  return f;
}

/** Cache Storage's Cache, in memory: `Response`s keyed by URL. */
function memoryCache() {
  const m = new Map();
  const log = { put: 0, delete: 0, match: 0 };
  return {
    log,
    map: m,
    async match(url) {
      log.match++;
      const e = m.get(String(url));
      return e ? new Response(e.slice()) : undefined;
    },
    async put(url, resp) {
      log.put++;
      m.set(String(url), new Uint8Array(await resp.arrayBuffer()));
    },
    async delete(url) {
      log.delete++;
      return m.delete(String(url));
    },
  };
}

async function rejectsCode(p, code) {
  let err;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected ${code}, nothing was thrown`);
  assert.ok(err instanceof VitrineError, `${err?.name}: ${err?.message}`);
  assert.equal(err.code, code, err.message);
  return err;
}

const pairs = (list) => list.map((s) => [s.id, s.score]);

test('the head serves popular items and a first recommendation without fetching a shard', async () => {
  const whole = await load(source);
  const f = countingFetch();
  const m = await loadSharded(`${srv.url}/cat/head.vtr`, { fetch: f, shardCache: false });
  assert.equal(m.nItems, 6000);
  assert.equal(m.by, 'category');
  assert.ok(m.shardCount >= 5, `${m.shardCount} shards`);
  assert.ok(m.head.nItems <= 100 + 5 * 10);
  assert.deepEqual(pairs(m.popular({ k: 20 })), pairs(whole.popular({ k: 20 })));
  const cat = whole.info().categories[2];
  assert.deepEqual(pairs(m.popular({ k: 10, categories: [cat] })), pairs(whole.popular({ k: 10, categories: [cat] })));
  const first = await m.recommend(gaussianVector(rng(1), D), { k: 10, shards: 'loaded' });
  assert.equal(first.length, 10);
  assert.equal(first.complete, false);
  assert.equal(f.shardCalls().length, 0, 'no shard was fetched');
  m.dispose();
  whole.dispose();
});

test("recommend over all shards equals the whole bundle's, with filters; a category query fetches only its shards", async () => {
  for (const [dir, src] of [['cat', source], ['range', source], ['i8', sourceI8]]) {
    const whole = await load(src);
    const f = countingFetch();
    const m = await loadSharded(`${srv.url}/${dir}/head.vtr`, { fetch: f, shardCache: false });
    const cats = whole.info().categories;
    if (dir === 'cat') {
      const r = await m.recommend(gaussianVector(rng(2), D), { k: 10, categories: [cats[1]] });
      const want = m.shards().filter((s) => s.category === cats[1]).length;
      assert.ok(want >= 1);
      assert.equal(f.shardCalls().length, want, 'only the category\'s shards were fetched');
      assert.equal(r.complete, true);
      assert.equal(m.loadedShards, want);
    }
    const g = rng(3);
    for (let q = 0; q < 25; q++) {
      const u = gaussianVector(g, D);
      const opts = { k: 10 };
      if (q % 2) opts.categories = [cats[q % cats.length]];
      if (q % 3 === 0) opts.inStockOnly = true;
      if (q % 4 === 0) opts.priceMax = 40;
      if (q % 5 === 0) opts.exclude = whole.recommend(u, { k: 3 }).map((s) => s.id).concat(['ghost']);
      const got = await m.recommend(u, { ...opts, shards: q === 0 ? 'all' : 'needed' });
      const want = whole.recommend(u, opts);
      assert.deepEqual(got.map((s) => s.id), want.map((s) => s.id), `${dir} query ${q}`);
      for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i].score - want[i].score) <= 1e-6 * Math.max(1, Math.abs(want[i].score)));
      assert.equal(got.complete, true);
      assert.equal(got.unknownExcludes, want.unknownExcludes);
    }
    assert.equal(m.loadedShards, m.shardCount);
    m.dispose();
    whole.dispose();
  }
});

test('items outside the head are found in their one shard by id range', async () => {
  const whole = await load(source);
  const f = countingFetch();
  const m = await loadSharded(`${srv.url}/range/head.vtr`, { fetch: f, shardCache: false });
  const id = Array.from({ length: 6000 }, (_, i) => `item-${i}`).find((x) => !m.head.has(x));
  assert.deepEqual(await m.item(id), whole.item(id));
  assert.deepEqual(Array.from(await m.itemVector(id)), Array.from(whole.itemVector(id)));
  assert.equal(f.shardCalls().length, 1, 'one shard fetched');
  assert.equal(await m.has('no-such-item'), false);
  await rejectsCode(m.item('no-such-item'), 'UNKNOWN_ITEM');
  m.dispose();
  whole.dispose();
});

test('a second visit takes every shard from the cache; a corrupt cached shard is evicted and fetched again', async () => {
  const cache = memoryCache();
  const url = `${srv.url}/range/head.vtr`;
  const a = await loadSharded(url, { shardCache: cache, fetch: countingFetch() });
  await a.loadShards('all');
  assert.equal(cache.log.put, a.shardCount);
  a.dispose();

  const f = countingFetch();
  const b = await loadSharded(url, { shardCache: cache, fetch: f, prefetch: 'all' });
  await b.whenAllLoaded();
  assert.equal(f.shardCalls().length, 0, 'warm visit: no shard from the network');
  b.dispose();

  // Flip one byte of a cached shard (a disk error, a tampered profile).
  const key = `${srv.url}/range/shard-0001.vtr`;
  const bad = cache.map.get(key).slice();
  bad[bad.length - 1] ^= 0xff;
  cache.map.set(key, bad);
  const f2 = countingFetch();
  const c = await loadSharded(url, { shardCache: cache, fetch: f2 });
  const deletes = cache.log.delete;
  await c.loadShards([1]);
  assert.equal(cache.log.delete, deletes + 1, 'the corrupt copy was evicted');
  assert.deepEqual(f2.shardCalls().map((x) => x.cache), ['reload'], 'refetched once, past the HTTP cache');
  assert.deepEqual(cache.map.get(key), new Uint8Array(readFileSync(join(dirs.range, 'shard-0001.vtr'))), 'the good copy is cached again');
  c.dispose();
});

test("a shard of another model is SHARD_MISMATCH, never cached, and a cached one is replaced by the network's", async () => {
  const url = `${srv.url}/range/head.vtr`;
  const cache = memoryCache();
  const f = countingFetch({ '/range/shard-0000.vtr': `${srv.url}/other/shard-0000.vtr` });
  const m = await loadSharded(url, { shardCache: cache, fetch: f });
  const err = await rejectsCode(m.loadShards([0]), 'SHARD_MISMATCH');
  assert.equal(err.details.shard, 0);
  assert.match(err.message, /belongs to model/);
  assert.equal(f.shardCalls().length, 2, 'tried the network twice (default, then reload)');
  assert.equal(cache.map.size, 0, 'nothing cached');
  await rejectsCode(m.recommend(gaussianVector(rng(4), D), { k: 5, shards: 'all' }), 'SHARD_MISMATCH');
  m.dispose();

  // The other model's shard sits in the cache under our URL: evicted, and the right one fetched.
  const shardUrl = `${srv.url}/range/shard-0000.vtr`;
  cache.map.set(shardUrl, new Uint8Array(readFileSync(join(dirs.other, 'shard-0000.vtr'))));
  const f2 = countingFetch();
  const n = await loadSharded(url, { shardCache: cache, fetch: f2 });
  await n.loadShards([0]);
  assert.deepEqual(cache.map.get(shardUrl), new Uint8Array(readFileSync(join(dirs.range, 'shard-0000.vtr'))));
  assert.equal(f2.shardCalls().length, 1);
  n.dispose();
});

test('a cached shard evicted while it is read falls back to the network', async () => {
  const url = `${srv.url}/range/head.vtr`;
  const inner = memoryCache();
  const warm = await loadSharded(url, { shardCache: inner, fetch: countingFetch() });
  await warm.loadShards([2]);
  warm.dispose();
  const shardUrl = `${srv.url}/range/shard-0002.vtr`;
  // The entry's body breaks off after its first chunk, as when the browser
  // evicts the cache (storage pressure) during the read.
  const evicting = {
    ...inner,
    async match(u) {
      const e = inner.map.get(String(u));
      if (!e) return undefined;
      inner.map.delete(String(u));
      const body = new ReadableStream({
        start(c) {
          c.enqueue(e.slice(0, 4096));
          c.error(new Error('entry evicted'));
        },
      });
      return new Response(body);
    },
  };
  const f = countingFetch();
  const m = await loadSharded(url, { shardCache: evicting, fetch: f });
  await m.loadShards([2]);
  assert.equal(m.loadedShards, 1);
  assert.equal(f.shardCalls().length, 1);
  assert.equal(f.shardCalls()[0].cache, 'reload');
  assert.deepEqual(inner.map.get(shardUrl), new Uint8Array(readFileSync(join(dirs.range, 'shard-0002.vtr'))));
  m.dispose();
});

test('a shard download that breaks off is NETWORK, and the next call tries again', async () => {
  let broken = true;
  const f = async (url, init) => {
    if (broken && /shard-0003\.vtr$/.test(String(url))) {
      const body = new ReadableStream({
        start(c) {
          c.enqueue(new Uint8Array(1000));
          c.error(new TypeError('connection reset'));
        },
      });
      return new Response(body, { status: 200 });
    }
    return fetch(String(url), init);
  };
  const m = await loadSharded(`${srv.url}/range/head.vtr`, { shardCache: false, fetch: f });
  const err = await rejectsCode(m.loadShards([3]), 'NETWORK');
  assert.equal(err.details.shard, 3);
  broken = false;
  assert.equal(await m.loadShards([3]), 1);
  m.dispose();
});

test('bad arguments and plain bundles are typed errors', async () => {
  const plainDir = tempDir();
  const s2 = await startServer({ mounts: { '/p/': plainDir }, quiet: true });
  try {
    const name = source.split('/').pop();
    await rejectsCode(loadSharded(`${s2.url}/p/${name}`, { shardCache: false }), 'INVALID_ARGUMENT');
  } finally {
    await s2.close();
  }
  await rejectsCode(loadSharded(42), 'INVALID_ARGUMENT');
  await rejectsCode(loadSharded(`${srv.url}/range/head.vtr`, { prefetch: 'some' }), 'INVALID_ARGUMENT');
  await rejectsCode(loadSharded(`${srv.url}/range/head.vtr`, { shardCache: {} }), 'INVALID_ARGUMENT');
  await rejectsCode(loadSharded(`${srv.url}/range/head.vtr`, { bogus: 1 }), 'INVALID_ARGUMENT');
  await rejectsCode(loadSharded(`${srv.url}/nothing/head.vtr`, { shardCache: false }), 'NETWORK');
  const m = await loadSharded(`${srv.url}/range/head.vtr`, { shardCache: false });
  await rejectsCode(m.recommend(gaussianVector(rng(5), D), { shards: 'some' }), 'INVALID_ARGUMENT');
  await rejectsCode(m.recommend(gaussianVector(rng(5), D + 1)), 'DIM_MISMATCH');
  await rejectsCode(m.loadShards([999]), 'INVALID_ARGUMENT');
  m.dispose();
  await rejectsCode(m.recommend(gaussianVector(rng(5), D)), 'DISPOSED');
});
