#!/usr/bin/env node
// Learned-ranker benchmark (`make bench-ranker`) in headless Chromium, wasm
// SIMD build, 10k items × d = 64 with a RANKER section:
//   - rerank of 500 candidates with a 20-event session, learned ranker
//   - the same call with `ranker: false` (the blend)
// Both include fold-in and the blend's parts (the ranker's inputs); their
// difference is what the ranker adds (features + logistic scores + reasons),
// target ≤ 0.5 ms. Batches of the two calls alternate, so load that comes
// and goes hits both alike. Median ms → target/bench/ranker.json.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync, statSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT, CLI } from '../node/helpers.mjs';
import { startServer } from '../../scripts/serve.mjs';
import { launch } from '../browser/chromium.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 25);
const CACHE = join(ROOT, '.cache', 'bench', 'ranker');
mkdirSync(CACHE, { recursive: true });
mkdirSync(join(ROOT, 'target', 'bench'), { recursive: true });
const log = (...a) => console.error('[bench-ranker]', ...a);

const N = 10_000;
const D = 64;
const out = join(CACHE, `ranker-${N}x${D}.vtr`);
if (!existsSync(out) || statSync(out).mtimeMs < statSync(CLI).mtimeMs) {
  log(`synth ${N}x${D} with a RANKER section`);
  execFileSync(CLI, ['session', 'synth', '--items', String(N), '--dim', String(D), '--seed', '2', '--ranker', 'trained', '--out', out], {
    stdio: 'inherit',
  });
}

const srv = await startServer({ mounts: { '/b/': CACHE, '/tests/': join(HERE, '..', 'browser') }, quiet: true });
const browser = await launch();
let row;
try {
  const page = await browser.context.newPage();
  await page.goto(`${srv.url}/tests/blank.html`);
  row = await page.evaluate(
    async ({ url, n, samples }) => {
      const { load } = await import('/vitrine.js');
      const { unpackRanked } = await import('/shopper.js');
      const v = await load(url, { simd: true });
      const m = v.raw;
      const info = v.info().ranker;
      const now = Date.UTC(2026, 0, 5);
      let seed = 11;
      const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296;
      const events = Array.from({ length: 20 }, (_, i) => ({ type: 'view', item: `item-${Math.floor(rand() * n)}`, ts: now - (20 - i) * 45_000 }));
      const cands = Array.from({ length: 500 }, () => `item-${Math.floor(rand() * n)}`);
      const learned = { now, events };
      const blend = { now, events, ranker: false };
      let sink = 0;
      const call = (o) => {
        const r = unpackRanked(m.rerank(cands, o));
        if (r.ranker !== (o.ranker === false ? 'blend' : 'learned')) throw new Error(`wrong ranker: ${r.ranker}`);
        return r.items.length;
      };
      for (let w = 0, t0 = performance.now(); performance.now() - t0 < 300 || w < 5; w++) sink += call(learned) + call(blend);
      let batch = 1;
      for (;;) {
        const t0 = performance.now();
        for (let i = 0; i < batch; i++) sink += call(learned);
        if (performance.now() - t0 >= 20) break;
        batch *= 2;
      }
      const a = [];
      const b = [];
      for (let s = 0; s < samples; s++) {
        for (const [o, into] of [
          [learned, a],
          [blend, b],
        ]) {
          const t0 = performance.now();
          for (let i = 0; i < batch; i++) sink += call(o);
          into.push((performance.now() - t0) / batch);
        }
      }
      const med = (x) => x.slice().sort((p, q) => p - q)[x.length >> 1];
      const diffs = a.map((x, i) => x - b[i]);
      v.dispose();
      return {
        n,
        d: v.dim,
        variant: v.variant,
        ranker: info.active,
        candidates: cands.length,
        session_events: events.length,
        rerank_500_learned_ms: med(a),
        rerank_500_blend_ms: med(b),
        ranker_scoring_500_ms: med(diffs),
        sink: sink > 0,
      };
    },
    { url: `/b/ranker-${N}x${D}.vtr`, n: N, samples: SAMPLES },
  );
  log(JSON.stringify(row));
  await page.close();
} finally {
  await browser.close();
  await srv.close();
}
const result = {
  what: 'learned ranker in headless Chromium (wasm SIMD): rerank of 500 candidates with and without it, median ms per call; the paired difference is the ranker cost',
  cpu: cpus()[0]?.model,
  samples: SAMPLES,
  rows: [row],
  target: { ranker_scoring_500_ms: 0.5, met: row.ranker_scoring_500_ms <= 0.5 },
};
writeFileSync(join(ROOT, 'target', 'bench', 'ranker.json'), JSON.stringify(result, null, 2));
log('wrote target/bench/ranker.json');
