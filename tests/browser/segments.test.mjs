// Behaviour segments in real Chromium: shopper.segment() over the page's
// model and over a worker-hosted one answer the same for the same history,
// an empty history is {segment: null, reason: 'NO_HISTORY'}, and a bundle
// without BEHAVIOUR is a NO_SECTION error (a rejection in worker mode) on
// every engine build.

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
  const run = (args) => execFileSync(CLI, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  run(['session', 'synth', '--items', '500', '--dim', '16', '--seed', '9', '--out', join(dir, 'plain.vtr')]);
  run(['session', 'segments', '--synthetic-users', '1000', '--k', '4', '--bundle', join(dir, 'plain.vtr'),
    '--bundle-out', join(dir, 'behaviour.vtr')]);
  srv = await startServer({ models: dir, mounts: { '/tests/': import.meta.dirname ?? dirname(new URL(import.meta.url).pathname) }, quiet: true });
  browser = await launch();
});
test.after(async () => {
  await browser?.close();
  await srv?.close();
});

test('segment(): page and worker agree; NO_HISTORY; NO_SECTION without the section', async () => {
  const { page, errors } = await newPage(browser.context, `${srv.url}/tests/blank.html`);
  const res = await page.evaluate(async () => {
    const v = await import('/pkg/vitrine.js');
    const { createShopper } = await import('/pkg/shopper.js');
    const t0 = 1.7e12;
    const DAY = 86_400_000;
    const now = () => t0;
    const out = {};
    for (const [name, simd] of [['relaxed', 'relaxed'], ['simd', true], ['scalar', false]]) {
      const main = await v.load('/models/behaviour.vtr', { simd });
      const remote = await v.loadInWorker('/models/behaviour.vtr', { simd });
      const inPage = createShopper(main, { storage: 'none', now });
      const inWorker = createShopper(remote, { storage: 'none', now });
      const r = { empty: [inPage.segment(), await inWorker.segment()] };
      for (let i = 0; i < 12; i++) {
        const e = { type: i % 3 === 2 ? 'view' : 'purchase', item: main.itemId((i * 37) % 500), ts: t0 - (40 - 3 * i) * DAY };
        await inPage.track(e);
        await inWorker.track(e);
      }
      r.page = inPage.segment();
      r.worker = await inWorker.segment();
      r.promise = inWorker.segment() instanceof Promise;
      r.variant = main.variant ?? null;
      out[name] = r;
      await remote.dispose();
      main.dispose();
    }
    const plain = await v.load('/models/plain.vtr');
    const plainRemote = await v.loadInWorker('/models/plain.vtr');
    const a = createShopper(plain, { storage: 'none', now });
    const b = createShopper(plainRemote, { storage: 'none', now });
    await a.track({ type: 'view', item: plain.itemId(1), ts: t0 - DAY });
    await b.track({ type: 'view', item: plain.itemId(1), ts: t0 - DAY });
    try {
      a.segment();
    } catch (e) {
      out.pageErr = { code: e.code, message: e.message, isVitrine: e instanceof v.VitrineError };
    }
    out.workerErr = await b.segment().then(
      () => null,
      (e) => ({ code: e.code, message: e.message }),
    );
    // The ALS-taste segment is still there under its own name.
    out.taste = a.tasteSegment();
    await plainRemote.dispose();
    plain.dispose();
    return JSON.parse(JSON.stringify(out));
  });
  for (const simd of ['relaxed', 'simd', 'scalar']) {
    const r = res[simd];
    for (const e of r.empty) assert.deepEqual(e, { segment: null, reason: 'NO_HISTORY', unknownItems: 0 }, simd);
    assert.ok(Number.isInteger(r.page.id) && typeof r.page.label === 'string' && r.page.label.length > 0, JSON.stringify(r.page));
    assert.ok(r.page.distance >= 0);
    assert.deepEqual(r.page.missing, []);
    assert.deepEqual(r.worker, r.page, `${simd}: worker vs page`);
    assert.deepEqual(r.page, res.scalar.page, `${simd} vs scalar`);
    assert.equal(r.promise, true);
  }
  assert.deepEqual(res.pageErr && { code: res.pageErr.code, isVitrine: res.pageErr.isVitrine }, { code: 'NO_SECTION', isVitrine: true });
  assert.match(res.pageErr.message, /vitrine export --behaviour/);
  assert.equal(res.workerErr?.code, 'NO_SECTION');
  assert.match(res.workerErr.message, /BEHAVIOUR/);
  assert.ok(res.taste && typeof res.taste.name === 'string', JSON.stringify(res.taste));
  assert.deepEqual(errors, []);
});
