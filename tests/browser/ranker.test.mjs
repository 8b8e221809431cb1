// The learned ranker in real Chromium, over the page's model and a
// worker-hosted one: a bundle with a RANKER section ranks with it (reasons
// carry the top feature), `info().ranker` says so, and a refused section
// (NaN weight) ranks exactly as the blend.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { startServer } from '../../scripts/serve.mjs';
import { CLI, tempDir } from '../node/helpers.mjs';
import { launch, newPage } from './chromium.mjs';

let srv;
let browser;
test.before(async () => {
  const dir = tempDir();
  for (const [name, extra] of [
    ['learned.vtr', ['--ranker', 'trained']],
    ['nan.vtr', ['--ranker', 'nan']],
    ['blend.vtr', []],
  ]) {
    execFileSync(CLI, ['session', 'synth', '--items', '600', '--dim', '16', '--seed', '4', '--out', join(dir, name), ...extra], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }
  srv = await startServer({ models: dir, mounts: { '/tests/': import.meta.dirname ?? dirname(new URL(import.meta.url).pathname) }, quiet: true });
  browser = await launch();
});
test.after(async () => {
  await browser?.close();
  await srv?.close();
});

test('ranker in Chromium: page and worker models rank with the RANKER section; a refused one is the blend', async () => {
  const { page, errors } = await newPage(browser.context, `${srv.url}/tests/blank.html`);
  const res = await page.evaluate(async () => {
    const v = await import('/pkg/vitrine.js');
    const { createShopper } = await import('/pkg/shopper.js');
    const t0 = 1.7e12;
    const run = async (m) => {
      const s = createShopper(m, { storage: 'none', now: () => t0 });
      const ids = [];
      for (let i = 0; i < 4; i++) ids.push(await m.itemId(20 + i));
      ids.forEach((item, k) => s.track({ type: 'view', item, ts: t0 - (4 - k) * 60_000 }));
      const r = await s.recommend({ k: 12 });
      return {
        info: (await m.info()).ranker,
        ranker: r.ranker,
        ids: r.items.map((x) => x.id),
        features: r.items.map((x) => x.reason.feature ?? null),
        blend: (await s.recommend({ k: 12, ranker: false })).items.map((x) => x.id),
      };
    };
    return {
      page: await run(await v.load('/models/learned.vtr')),
      worker: await run(await v.loadInWorker('/models/learned.vtr')),
      nan: await run(await v.load('/models/nan.vtr')),
      plain: await run(await v.load('/models/blend.vtr')),
    };
  });
  assert.deepEqual(errors, []);
  assert.deepEqual(res.page.info, { active: 'learned', reason: null });
  assert.equal(res.page.ranker, 'learned');
  assert.equal(res.page.ids.length, 12);
  assert.ok(res.page.features.every((f) => typeof f === 'string'), JSON.stringify(res.page.features));
  assert.notDeepEqual(res.page.ids, res.page.blend);
  // The worker runs the same wasm over the same events: the same answer.
  assert.deepEqual(res.worker, res.page);
  assert.equal(res.nan.info.active, 'fallback');
  assert.equal(res.nan.ranker, 'blend');
  assert.deepEqual(res.nan.ids, res.plain.ids);
  assert.deepEqual(res.page.blend, res.plain.ids);
});
