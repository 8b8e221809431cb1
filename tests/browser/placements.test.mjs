// The business options (price level, rotation, promotion) of the model's
// recommend and the shopper's recommend / rerank, and impressions without a
// click as a negative signal, in headless Chromium through the glue
// (www/vitrine.js, www/shopper.js, www/placements.js), on the page's model
// and on a worker-hosted one.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../../scripts/serve.mjs';
import { CLI, tempDir } from '../node/helpers.mjs';
import { launch, newPage } from './chromium.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
let srv;
let browser;

test.before(async () => {
  const dir = tempDir();
  const run = (args) => execFileSync(CLI, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  run(['session', 'synth', '--items', '500', '--dim', '16', '--seed', '4', '--out', join(dir, 'bp-base.vtr')]);
  run(['placements', 'build', '--bundle', join(dir, 'bp-base.vtr'), '--synthetic-baskets', '5000', '--out', join(dir, 'bp-store.vtr')]);
  srv = await startServer({ mounts: { '/b/': dir, '/tests/': HERE }, quiet: true });
  browser = await launch();
});

test.after(async () => {
  await browser?.close();
  await srv?.close();
});

test('Chromium: business options on recommend and rerank, impressions as a negative signal', async () => {
  const { page, errors } = await newPage(browser.context);
  await page.goto(`${srv.url}/tests/blank.html`);
  const r = await page.evaluate(async () => {
    const { load, loadInWorker } = await import('/vitrine.js');
    const { createShopper } = await import('/shopper.js');
    const { withPlacements, createImpressionLog } = await import('/placements.js');
    const v = await load('/b/bp-store.vtr');
    const out = {};
    const err = (f) => {
      try {
        f();
        return 'no error';
      } catch (e) {
        return `${e.code}: ${e.message}`;
      }
    };
    const mean = (a) => a.reduce((s, x) => s + x, 0) / a.length;
    const cats = v.info().categories;
    const user = v.itemVector('item-11');
    const plainTop = v.recommend(user, { k: 8 }).map((x) => x.id);
    const count = (list, c) => list.filter((id) => v.item(id).category === c).length;
    const promo = [...cats].sort((a, b) => count(plainTop, a) - count(plainTop, b))[0];
    const rec = v.recommend(user, { k: 8, promotion: { categories: [promo], share: 0.25 } });
    out.modelPromoted = rec.filter((x) => x.promoted).map((x) => v.item(x.id).category === promo);
    out.modelLen = rec.length;
    const price = (p) => mean(v.recommend(user, { k: 8, price: 'high', preferPrice: p }).map((x) => v.item(x.id).price));
    out.modelPrice = [price('higher'), price('lower')];
    out.modelBad = err(() => v.recommend(user, { price: 'cheap' }));
    // The worker-hosted model takes the same options.
    const w = await loadInWorker('/b/bp-store.vtr');
    const wr = await w.recommend(user, { k: 8, promotion: { categories: [promo], share: 0.25 } });
    out.workerSame = JSON.stringify(wr.map((x) => [x.id, !!x.promoted])) === JSON.stringify(rec.map((x) => [x.id, !!x.promoted]));
    out.workerBad = await w.recommend(user, { promotion: { share: 3 } }).then(
      () => 'no error',
      (e) => `${e.code}: ${e.message}`,
    );
    await w.dispose();

    let clock = Date.UTC(2026, 0, 5, 12);
    const log = createImpressionLog({ storage: 'none', now: () => clock });
    const s = withPlacements(createShopper(v, { storage: 'none', now: () => clock }), v, { impressions: log });
    for (const [i, id] of ['item-3', 'item-9', 'item-12'].entries()) await s.track({ type: 'view', item: id, ts: clock - (3 - i) * 60_000 });
    const sr = s.recommend({ k: 8, promotion: { categories: [promo], share: 0.25 } }).items;
    out.shopperPromoted = sr.filter((x) => v.item(x.id).category === promo).map((x) => x.promoted === true);
    const cands = Array.from({ length: 40 }, (_, i) => `item-${100 + i}`);
    out.rerankBad = err(() => s.rerank(cands, { rotation: { impressions: [], rate: 7 } }));
    const base = s.recommend({ k: 8 }).items.map((x) => x.id);
    const x = base[0];
    for (let i = 0; i < 4; i++) log.shown([x]);
    clock += 1000;
    out.pushedAt = s.recommend({ k: 8 }).items.map((y) => y.id).indexOf(x);
    out.rerankPushedAt = s.rerank(base).items.map((y) => y.id).indexOf(x);
    log.clicked(x);
    out.afterClick = JSON.stringify(s.recommend({ k: 8 }).items.map((y) => y.id)) === JSON.stringify(base);
    v.dispose();
    return out;
  });
  assert.equal(r.modelLen, 8);
  assert.ok(r.modelPromoted.length >= 2 && r.modelPromoted.every(Boolean), JSON.stringify(r.modelPromoted));
  assert.ok(r.modelPrice[0] > r.modelPrice[1], JSON.stringify(r.modelPrice));
  assert.match(r.modelBad, /^INVALID_ARGUMENT: .*price/);
  assert.equal(r.workerSame, true);
  assert.match(r.workerBad, /^INVALID_ARGUMENT: .*promotion\.share/);
  assert.ok(r.shopperPromoted.length >= 2 && r.shopperPromoted.every(Boolean), JSON.stringify(r.shopperPromoted));
  assert.match(r.rerankBad, /^INVALID_ARGUMENT: .*rotation\.rate/);
  assert.ok(r.pushedAt === -1 || r.pushedAt > 0, `recommend: still at ${r.pushedAt}`);
  assert.ok(r.rerankPushedAt > 0, `rerank: still at ${r.rerankPushedAt}`);
  assert.equal(r.afterClick, true, 'a click restores the ranking');
  assert.deepEqual(errors, []);
});
