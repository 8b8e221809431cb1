// Relative URLs under a <base href> on a deep route, as single-page apps
// have them (Angular always writes a <base href>; its router moves the
// address with history.pushState). fetch() and new Worker() resolve a
// relative URL against the document's base, so the glue must too: before,
// it used the page's address, so on /app/products/42 `load('m/x.vtr')`
// fetched /app/m/x.vtr while `loadInWorker('m/x.vtr')` and a relative
// `wasmUrl` or `workerUrl` went to /app/products/….

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { CLI, ROOT, synth, rng, gaussianVector } from '../node/helpers.mjs';
import { load } from '../../pkg/node.js';
import { startServer } from '../../scripts/serve.mjs';
import { launch, newPage } from './chromium.mjs';

const bundle = synth({ items: 300, dim: 8, dtype: 'int8', seed: 31 });
const u = Array.from(gaussianVector(rng(3), 8));
const app = mkdtempSync(join(tmpdir(), 'vitrine-base-href-'));
writeFileSync(join(app, 'index.html'), '<!doctype html><meta charset="utf-8"><base href="/app/"><title>app</title>');
// The same catalogue as a head and factor shards (loadSharded's relative head URL).
const sharded = mkdtempSync(join(tmpdir(), 'vitrine-base-href-shards-'));
execFileSync(CLI, ['shard', bundle, '--by', 'range', '--max-shard-bytes', '4000', '--head-items', '50', '-o', sharded], { stdio: 'ignore' });

let srv;
let browser;
/** Every request the server saw, by path. @type {string[]} */
const seen = [];
test.before(async () => {
  srv = await startServer({
    mounts: { '/app/m/': dirname(bundle), '/app/s/': sharded, '/app/wasm/': join(ROOT, 'pkg', 'wasm'), '/app/w/': join(ROOT, 'pkg'), '/app/': app },
    quiet: true,
    onRequest: (req) => seen.push(new URL(req.url ?? '/', 'http://x').pathname),
  });
  browser = await launch();
});
test.after(async () => {
  await browser?.close();
  await srv?.close();
  rmSync(app, { recursive: true, force: true });
  rmSync(sharded, { recursive: true, force: true });
});

test('relative model, wasm, worker and shard-head URLs resolve against <base href> on a deep route, on the page and in the worker', async () => {
  const node = await load(bundle);
  const expected = [...node.recommend(u, { k: 5 })].map((x) => x.id);
  node.dispose();
  const { page, errors } = await newPage(browser.context, `${srv.url}/app/index.html`);
  await page.evaluate(() => history.pushState(null, '', '/app/products/42'));
  seen.length = 0;
  const got = await page.evaluate(
    async ({ model, u }) => {
      const v = await import('/pkg/vitrine.js');
      const wasmUrl = { simd: 'wasm/simd/vitrine_core_bg.wasm', scalar: 'wasm/scalar/vitrine_core_bg.wasm' };
      const ids = async (m) => [...(await m.recommend(u, { k: 5 }))].map((x) => x.id);
      const onPage = await v.load(model, { wasmUrl, cache: false });
      const inWorker = await v.loadInWorker(model, { wasmUrl, workerUrl: 'w/vitrine.worker.js', cache: false });
      const shards = await v.loadSharded('s/head.vtr', { wasmUrl, shardCache: false });
      try {
        const all = [...(await shards.recommend(u, { k: 5, shards: 'all' }))].map((x) => x.id);
        return { page: await ids(onPage), worker: await ids(inWorker), sharded: all, shardCount: shards.shardCount, at: location.pathname };
      } finally {
        onPage.dispose();
        await inWorker.dispose();
        shards.dispose();
      }
    },
    { model: `m/${basename(bundle)}`, u },
  );
  assert.equal(got.at, '/app/products/42', 'the run happened on the deep route');
  assert.deepEqual(got.page, expected);
  assert.deepEqual(got.worker, expected);
  assert.ok(got.shardCount > 1, `${got.shardCount} shards`);
  assert.deepEqual(got.sharded, expected);
  const stray = seen.filter((p) => p.startsWith('/app/products/'));
  assert.deepEqual(stray, [], 'nothing resolved against the address instead of the base');
  assert.ok(seen.includes(`/app/m/${basename(bundle)}`) && seen.includes('/app/w/vitrine.worker.js'), `requests: ${seen.join(' ')}`);
  assert.deepEqual(errors, []);
});
