#!/usr/bin/env node
// Relaxed-SIMD vs SIMD128 build, interleaved A/B in one Chromium page per
// shape (`make bench-simd-ab`, part of `make bench`): both builds load the
// same bundle bytes, warm up, then alternate timed batches, so drift of the
// host (other guests, memory bandwidth) hits both alike. f32 and int8 at
// 100k × 64 and 1M × 64. Also records what `simd: 'auto'` measures and picks
// in this browser (www/lib/calibrate.js). Writes target/bench/simd_ab.json.
//
// Env: BENCH_QUICK=1 (100k only), BENCH_AB_ROUNDS (default 15).

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT, synth } from '../node/helpers.mjs';
import { startServer } from '../../scripts/serve.mjs';
import { launch } from '../browser/chromium.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const QUICK = process.env.BENCH_QUICK === '1';
const ROUNDS = Number(process.env.BENCH_AB_ROUNDS ?? 15);
const CACHE = join(ROOT, '.cache', 'bench');
const OUT_DIR = join(ROOT, 'target', 'bench');
mkdirSync(OUT_DIR, { recursive: true });
const log = (...a) => console.error('[simd-ab]', ...a);
const load0 = loadavg();

const SHAPES = [...(QUICK ? [] : [{ n: 1_000_000, d: 64 }]), { n: 100_000, d: 64 }];
const srv = await startServer({ mounts: { '/bench/': CACHE, '/ttfr/': HERE }, quiet: true });
const browser = await launch();
const chromium = browser.context.browser()?.version() ?? 'unknown';

/** @param {(arg: any) => any} f @param {any} arg */
async function inFreshPage(f, arg) {
  const page = await browser.context.newPage();
  try {
    await page.goto(`${srv.url}/ttfr/ab.html`);
    return await page.evaluate(f, arg);
  } finally {
    await page.close();
  }
}

const rows = [];
for (const { n, d } of SHAPES) {
  for (const dtype of ['f32', 'int8']) {
    const path = synth({ items: n, dim: d, dtype: /** @type {'f32'} */ (dtype), seed: 1, dir: CACHE });
    const t0 = Date.now();
    const r = await inFreshPage(
      async ({ url, d, rounds }) => {
        const v = await import('/vitrine.js');
        const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
        const models = { relaxed: await v.load(bytes, { simd: 'relaxed' }), simd: await v.load(bytes, { simd: true }) };
        const users = Array.from({ length: 16 }, (_, q) => Float32Array.from({ length: d }, (_, i) => Math.sin(q * 13 + i)));
        let sink = 0;
        const run = (m, calls) => {
          for (let c = 0; c < calls; c++) sink += m.recommendIndices(users[c & 15], 10).indices[0];
        };
        for (const m of Object.values(models)) {
          const s = performance.now();
          while (performance.now() - s < 300) run(m, 1);
        }
        let batch = 1;
        for (;;) {
          const s = performance.now();
          run(models.simd, batch);
          if (performance.now() - s >= 20) break;
          batch *= 2;
        }
        const per = { relaxed: [], simd: [] };
        for (let r = 0; r < rounds; r++) {
          for (const name of r % 2 ? ['simd', 'relaxed'] : ['relaxed', 'simd']) {
            const s = performance.now();
            run(models[name], batch);
            per[name].push((performance.now() - s) / batch);
            await new Promise((ok) => setTimeout(ok, 0));
          }
        }
        const med = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
        const same = JSON.stringify(models.relaxed.recommend(users[0], { k: 10 })) === JSON.stringify(models.simd.recommend(users[0], { k: 10 }));
        for (const m of Object.values(models)) m.dispose();
        return { relaxed_ms: med(per.relaxed), simd_ms: med(per.simd), relaxed_min_ms: Math.min(...per.relaxed), simd_min_ms: Math.min(...per.simd), batch, same, sink };
      },
      { url: `/bench/${basename(path)}`, d, rounds: ROUNDS },
    );
    const row = { dtype, n, d, k: 10, relaxed_ms: r.relaxed_ms, simd_ms: r.simd_ms, simd_over_relaxed: r.simd_ms / r.relaxed_ms, relaxed_min_ms: r.relaxed_min_ms, simd_min_ms: r.simd_min_ms, batch: r.batch, rounds: ROUNDS, same_top10: r.same };
    rows.push(row);
    log(`${dtype} ${n}x${d}: relaxed ${r.relaxed_ms.toFixed(3)} ms, SIMD128 ${r.simd_ms.toFixed(3)} ms (SIMD128/relaxed ${row.simd_over_relaxed.toFixed(2)}; best rounds ${r.relaxed_min_ms.toFixed(3)} / ${r.simd_min_ms.toFixed(3)} ms; ${Date.now() - t0} ms wall)`);
  }
}

// What 'auto' measures and picks here, from a clean slate.
const auto = await inFreshPage(async ({ url }) => {
  localStorage.removeItem('vitrine.simd-auto.v1');
  const v = await import('/vitrine.js');
  const m = await v.load(url, { cache: false });
  const b = m.info().build;
  m.dispose();
  return b;
}, { url: `/bench/${basename(synth({ items: 100_000, dim: 64, dtype: 'int8', seed: 1, dir: CACHE }))}` });
log(`auto: ${auto.variant} (${auto.reason})`);
await browser.close();
await srv.close();

const out = {
  run: { date: new Date().toISOString(), host: hostname(), cpu_model: cpus()[0]?.model ?? 'unknown', cpus: cpus().length, chromium, load_average: [load0, loadavg()] },
  rounds: ROUNDS,
  rows,
  auto: { variant: auto.variant, reason: auto.reason, relaxed_ms: auto.calibration?.relaxed_ms ?? null, simd_ms: auto.calibration?.simd_ms ?? null },
};
writeFileSync(join(OUT_DIR, 'simd_ab.json'), JSON.stringify(out, null, 2) + '\n');
console.log(JSON.stringify(out, null, 2));
