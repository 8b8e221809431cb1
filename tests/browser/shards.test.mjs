// Sharded bundles in real Chromium with its real Cache Storage: cold and
// warm visits, a corrupt cached shard, a shard of another model, a cache
// entry evicted while it is read, and caches of older models dropped.
// Node computes the expected rankings from the unsharded bundle.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load } from '../../pkg/node.js';
import { startServer } from '../../scripts/serve.mjs';
import { CLI, synth, tempDir, rng, gaussianVector } from '../node/helpers.mjs';
import { launch, newPage } from './chromium.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const D = 16;
const source = synth({ items: 8000, dim: D, dtype: 'int8', seed: 21, categories: 6 });

function shard(bundle, name, modelId) {
  const out = join(tempDir(), `browser-shards-${name}`);
  execFileSync(CLI, ['shard', bundle, '--by', 'range', '--max-shard-bytes', '80000', '--head-items', '100', '--model-id', modelId, '-o', out], { stdio: 'ignore' });
  return out;
}
const dir = shard(source, 'main', 'shop-model-a');
// The same catalogue exported as another model: same file sizes, another model id.
const otherDir = shard(source, 'other', 'shop-model-b');

let srv;
let browser;
test.before(async () => {
  srv = await startServer({ mounts: { '/s/': dir, '/o/': otherDir, '/tests/': HERE }, quiet: true });
  browser = await launch();
});
test.after(async () => {
  await browser?.close();
  await srv?.close();
});

/** Shard requests that reached the network (Cache Storage hits make none). */
function shardRequests(page) {
  const seen = [];
  page.on('request', (r) => {
    if (/\/shard-\d+\.vtr$/.test(r.url())) seen.push(r.url());
  });
  return seen;
}

const sha = (b) => Buffer.from(b).toString('base64').length + ':' + b.reduce((h, x) => (h * 31 + x) >>> 0, 7);

test('cold visit fetches and caches shards; warm visit reads them from Cache Storage; scores equal the whole bundle', async () => {
  const whole = await load(source);
  const users = Array.from({ length: 5 }, (_, i) => Array.from(gaussianVector(rng(40 + i), D)));
  const want = users.map((u) => whole.recommend(u, { k: 10 }).map((s) => s.id));
  const popular = whole.popular({ k: 10 }).map((s) => s.id);
  whole.dispose();

  const { page, errors } = await newPage(browser.context, `${srv.url}/tests/blank.html`);
  const net = shardRequests(page);
  const cold = await page.evaluate(
    async ({ users }) => {
      await caches.open('vitrine-shards:some-older-model');
      const { loadSharded } = await import('/vitrine.js');
      const m = await loadSharded('/s/head.vtr');
      const out = { popular: m.popular({ k: 10 }).map((s) => s.id), loadedAtStart: m.loadedShards, shardCount: m.shardCount, modelId: m.modelId };
      out.first = (await m.recommend(users[0], { k: 10, shards: 'loaded' })).length;
      out.recs = [];
      for (const u of users) out.recs.push((await m.recommend(u, { k: 10, shards: 'all' })).map((s) => s.id));
      out.caches = await caches.keys();
      out.cached = (await (await caches.open(`vitrine-shards:${m.modelId}`)).keys()).length;
      m.dispose();
      return out;
    },
    { users },
  );
  assert.deepEqual(errors, []);
  assert.equal(cold.loadedAtStart, 0);
  assert.deepEqual(cold.popular, popular);
  assert.equal(cold.first, 10);
  assert.deepEqual(cold.recs, want);
  assert.equal(net.length, cold.shardCount, 'each shard fetched once');
  assert.deepEqual(cold.caches, [`vitrine-shards:${cold.modelId}`], "the older model's cache was dropped");
  assert.equal(cold.cached, cold.shardCount);
  await page.close();

  const warmPage = await newPage(browser.context, `${srv.url}/tests/blank.html`);
  const net2 = shardRequests(warmPage.page);
  const warm = await warmPage.page.evaluate(async ({ users }) => {
    const { loadSharded } = await import('/vitrine.js');
    const m = await loadSharded('/s/head.vtr', { prefetch: 'all' });
    await m.whenAllLoaded();
    const recs = [];
    for (const u of users) recs.push((await m.recommend(u, { k: 10 })).map((s) => s.id));
    m.dispose();
    return recs;
  }, { users });
  assert.deepEqual(warmPage.errors, []);
  assert.deepEqual(warm, want);
  assert.deepEqual(net2, [], 'warm visit: no shard from the network');
  await warmPage.page.close();
});

test('a corrupt cached shard is evicted and fetched again; a shard of another model is SHARD_MISMATCH and never cached', async () => {
  const good = readFileSync(join(dir, 'shard-0001.vtr'));
  const { page, errors } = await newPage(browser.context, `${srv.url}/tests/blank.html`);
  // Shard 0 answers with the other model's shard 0 (a stale CDN, a wrong deploy).
  const wrong = readFileSync(join(otherDir, 'shard-0000.vtr'));
  await page.route('**/s/shard-0000.vtr', (route) => route.fulfill({ status: 200, body: wrong, contentType: 'application/octet-stream' }));
  const net = shardRequests(page);
  const r = await page.evaluate(async () => {
    for (const k of await caches.keys()) await caches.delete(k); // a cold start
    const { loadSharded } = await import('/vitrine.js');
    const m0 = await loadSharded('/s/head.vtr');
    const cache = await caches.open(`vitrine-shards:${m0.modelId}`);
    const url = new URL('/s/shard-0001.vtr', location.href).href;
    await m0.loadShards([1]);
    const bytes = new Uint8Array(await (await cache.match(url)).arrayBuffer());
    bytes[bytes.length - 100] ^= 0xff;
    await cache.put(url, new Response(bytes));
    m0.dispose();

    const m = await loadSharded('/s/head.vtr');
    await m.loadShards([1]);
    const after = new Uint8Array(await (await cache.match(url)).arrayBuffer());
    let err;
    try {
      await m.loadShards([0]);
    } catch (e) {
      err = { code: e.code, shard: e.details.shard, message: e.message };
    }
    const cachedWrong = await cache.match(new URL('/s/shard-0000.vtr', location.href).href);
    m.dispose();
    return { after: Array.from(after), err, cachedWrong: cachedWrong !== undefined };
  });
  assert.deepEqual(errors.filter((e) => !/Failed to load resource/.test(e)), []);
  assert.equal(sha(Uint8Array.from(r.after)), sha(new Uint8Array(good)), 'the good copy replaced the corrupt one');
  assert.equal(r.err?.code, 'SHARD_MISMATCH');
  assert.equal(r.err.shard, 0);
  assert.match(r.err.message, /belongs to model/);
  assert.equal(r.cachedWrong, false);
  // shard 1 once (cold), once more after the corrupt copy; shard 0 twice (default, then reload).
  assert.equal(net.filter((u) => u.endsWith('shard-0001.vtr')).length, 2);
  assert.equal(net.filter((u) => u.endsWith('shard-0000.vtr')).length, 2);
  await page.close();
});

test('a cache entry evicted in the middle of its read is fetched from the network', async () => {
  const { page, errors } = await newPage(browser.context, `${srv.url}/tests/blank.html`);
  const net = shardRequests(page);
  const r = await page.evaluate(async () => {
    for (const k of await caches.keys()) await caches.delete(k); // a cold start
    const { loadSharded } = await import('/vitrine.js');
    const m0 = await loadSharded('/s/head.vtr');
    await m0.loadShards([2]);
    const real = await caches.open(`vitrine-shards:${m0.modelId}`);
    m0.dispose();
    // The body breaks off after 4 KiB and the entry is gone: what the page
    // sees when the browser evicts the origin's storage during the read.
    const evicting = {
      match: async (u) => {
        const hit = await real.match(u);
        if (!hit) return hit;
        const bytes = new Uint8Array(await hit.arrayBuffer());
        await real.delete(u);
        return new Response(
          new ReadableStream({
            start(c) {
              c.enqueue(bytes.slice(0, 4096));
              c.error(new TypeError('cache entry evicted'));
            },
          }),
        );
      },
      put: (u, resp) => real.put(u, resp),
      delete: (u) => real.delete(u),
    };
    const m = await loadSharded('/s/head.vtr', { shardCache: evicting });
    await m.loadShards([2]);
    const back = await real.match(new URL('/s/shard-0002.vtr', location.href).href);
    const n = m.loadedShards;
    m.dispose();
    return { n, back: back !== undefined };
  });
  assert.deepEqual(errors, []);
  assert.equal(r.n, 1);
  assert.equal(r.back, true, 'cached again after the network copy checked out');
  assert.equal(net.filter((u) => u.endsWith('shard-0002.vtr')).length, 2, 'cold fetch, then the refetch');
  await page.close();
});
