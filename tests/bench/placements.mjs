#!/usr/bin/env node
// Placement latency in headless Chromium (`make bench-placements`): each
// placement over a 100k-item int8 bundle with CO_PURCHASE / CADENCE /
// TRENDING (200k synthetic baskets) and a 100-event history, through the
// glue (www/placements.js); plus the model's recommend and the shopper's
// recommend with the business options (price level, promotion, rotation from
// a 50-item impression log). Median ms per call → target/bench/placements.json.
// A measurement, never a test: nothing fails on a number.

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT, CLI } from '../node/helpers.mjs';
import { startServer } from '../../scripts/serve.mjs';
import { launch } from '../browser/chromium.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 15);
const ITEMS = Number(process.env.BENCH_PLACEMENT_ITEMS ?? 100_000);
const CACHE = join(ROOT, '.cache', 'bench', 'placements');
mkdirSync(CACHE, { recursive: true });
mkdirSync(join(ROOT, 'target', 'bench'), { recursive: true });
const file = `placements-${ITEMS}.vtr`;
execFileSync(CLI, ['placements', 'bench', '--items', String(ITEMS), '--repeats', '20', '--bundle-out', join(CACHE, file),
  '--out', join(ROOT, 'target', 'bench', 'placements_native.json')], { stdio: ['ignore', 'ignore', 'inherit'] });

const srv = await startServer({ mounts: { '/b/': CACHE, '/tests/': join(HERE, '..', 'browser') }, quiet: true });
const browser = await launch();
let rows;
try {
  const page = await browser.context.newPage();
  await page.goto(`${srv.url}/tests/blank.html`);
  rows = await page.evaluate(
    async ({ url, n, samples }) => {
      const { load } = await import('/vitrine.js');
      const P = await import('/placements.js');
      const { createShopper } = await import('/shopper.js');
      const v = await load(url);
      const now = Date.UTC(2026, 0, 5);
      let seed = 9;
      const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296);
      const types = ['purchase', 'cart', 'view', 'view', 'view'];
      const events = Array.from({ length: 100 }, (_, i) => ({
        type: types[i % types.length],
        item: `item-${Math.floor(rand() * n)}`,
        ts: now - (100 - i) * 3_600_000,
      }));
      const shopper = { history: () => events };
      const cart = events.slice(0, 5).map((e) => e.item);
      const cats = v.info().categories;
      const o = { k: 10, now };
      const user = v.itemVector(events[99].item);
      const real = createShopper(v, { storage: 'none', now: () => now });
      for (const e of events) await real.track(e);
      const log = P.createImpressionLog({ storage: 'none', now: () => now - 60_000 });
      for (let i = 0; i < 3; i++) log.shown(Array.from({ length: 50 }, (_, j) => `item-${(j * 7919) % n}`));
      const withLog = P.withPlacements(real, v, { impressions: log });
      const business = { price: 'medium', promotion: { categories: [cats[2]], share: 0.2 } };
      const cases = {
        'boughtTogether (1 item)': () => P.boughtTogether(v, cart[0], o),
        'boughtTogether (cart of 5)': () => P.boughtTogether(v, cart, o),
        viewedTogether: () => P.viewedTogether(v, cart[0], o),
        buyAgain: () => P.buyAgain(v, shopper, o),
        recentlyViewed: () => P.recentlyViewed(v, shopper, o),
        trending: () => P.trending(v, o),
        'trending (category)': () => P.trending(v, { ...o, category: cats[1] }),
        trendingFacets: () => P.trendingFacets(v, { k: 5 }),
        'boughtTogether + promotion + price': () =>
          P.boughtTogether(v, cart, { ...o, price: 'medium', promotion: { categories: [cats[2]], share: 0.2 } }),
        'recommend (model, no options)': () => v.recommend(user, { k: 10 }),
        'recommend (model) + price + promotion': () => v.recommend(user, { k: 10, ...business }),
        'shopper.recommend (100 events)': () => real.recommend({ k: 10 }),
        'shopper.recommend + rotation (50 impressions) + price + promotion': () => withLog.recommend({ k: 10, ...business }),
      };
      let sink = 0;
      const out = [];
      for (const [name, fn] of Object.entries(cases)) {
        for (let w = 0, t0 = performance.now(); performance.now() - t0 < 200 || w < 5; w++) sink += fn().items?.length ?? 1;
        let batch = 1;
        for (;;) {
          const t0 = performance.now();
          for (let i = 0; i < batch; i++) sink += fn().items?.length ?? 1;
          if (performance.now() - t0 >= 20) break;
          batch *= 2;
        }
        const per = [];
        for (let s = 0; s < samples; s++) {
          const t0 = performance.now();
          for (let i = 0; i < batch; i++) sink += fn().items?.length ?? 1;
          per.push((performance.now() - t0) / batch);
        }
        per.sort((a, b) => a - b);
        out.push({ placement: name, median_ms: per[Math.floor(per.length / 2)], variant: v.variant });
      }
      return { rows: out, sink };
    },
    { url: `/b/${file}`, n: ITEMS, samples: SAMPLES },
  );
} finally {
  await browser.close();
  await srv.close();
}
const report = { items: ITEMS, history: 100, k: 10, samples: SAMPLES, rows: rows.rows };
writeFileSync(join(ROOT, 'target', 'bench', 'placements.json'), JSON.stringify(report, null, 2) + '\n');
for (const r of rows.rows) console.log(`${r.placement.padEnd(40)} ${r.median_ms.toFixed(3)} ms (${r.variant})`);
