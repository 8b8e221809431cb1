#!/usr/bin/env node
// Two engine .wasm files of the same build kind (e.g. the relaxed build with
// and without a size flag), interleaved A/B in one Chromium page per shape:
// the scan of `recommendIndices(k = 10)` at f32 and int8. Used to check that
// a size cut leaves the scan's speed alone (issue #19 item 7). Both files run
// under the same wasm-bindgen glue (the relaxed and SIMD128 glues are the
// same file), A in the 'relaxed' slot and B in the 'simd' slot, so they
// must both be relaxed builds or both SIMD128 builds.
//
//   node tests/bench/wasm-ab.mjs A.wasm B.wasm
// Env: BENCH_QUICK=1 (100k only, else 1M and 100k), BENCH_AB_ROUNDS (default 21),
// BENCH_AB_DTYPES (default 'int8,f32').

import { basename, dirname, resolve } from 'node:path';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import { ROOT, synth } from '../node/helpers.mjs';
import { startServer } from '../../scripts/serve.mjs';
import { launch } from '../browser/chromium.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const [a, b] = process.argv.slice(2);
if (!a || !b) {
  console.error('usage: node tests/bench/wasm-ab.mjs A.wasm B.wasm');
  process.exit(2);
}
const QUICK = process.env.BENCH_QUICK === '1';
const ROUNDS = Number(process.env.BENCH_AB_ROUNDS ?? 21);
const CACHE = join(ROOT, '.cache', 'bench');
const AB = join(ROOT, 'target', 'wasm-ab');
mkdirSync(AB, { recursive: true });
copyFileSync(resolve(a), join(AB, 'a.wasm'));
copyFileSync(resolve(b), join(AB, 'b.wasm'));
const log = (...x) => console.error('[wasm-ab]', ...x);
log(`A = ${a}, B = ${b}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);

const SHAPES = [...(QUICK ? [] : [{ n: 1_000_000, d: 64 }]), { n: 100_000, d: 64 }];
const srv = await startServer({ mounts: { '/bench/': CACHE, '/ttfr/': HERE, '/ab/': AB }, quiet: true });
const browser = await launch();
const rows = [];
try {
  for (const { n, d } of SHAPES) {
    for (const dtype of (process.env.BENCH_AB_DTYPES ?? 'int8,f32').split(',')) {
      const path = synth({ items: n, dim: d, dtype: /** @type {'f32'} */ (dtype), seed: 1, dir: CACHE });
      const page = await browser.context.newPage();
      await page.goto(`${srv.url}/ttfr/ab.html`);
      const r = await page.evaluate(
        async ({ url, d, rounds }) => {
          const v = await import('/vitrine.js');
          const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
          const wasmUrl = { relaxed: '/ab/a.wasm', simd: '/ab/b.wasm' };
          /** @type {Record<string, any>} */
          const models = { a: await v.load(bytes, { simd: 'relaxed', wasmUrl }), b: await v.load(bytes, { simd: true, wasmUrl }) };
          const users = Array.from({ length: 16 }, (_, q) => Float32Array.from({ length: d }, (_, i) => Math.sin(q * 13 + i)));
          let sink = 0;
          const run = (/** @type {any} */ m, /** @type {number} */ calls) => {
            for (let c = 0; c < calls; c++) sink += m.recommendIndices(users[c & 15], 10).indices[0];
          };
          for (const m of Object.values(models)) {
            const s = performance.now();
            while (performance.now() - s < 300) run(m, 1);
          }
          let batch = 1;
          for (;;) {
            const s = performance.now();
            run(models.a, batch);
            if (performance.now() - s >= 20) break;
            batch *= 2;
          }
          /** @type {Record<string, number[]>} */
          const per = { a: [], b: [] };
          for (let r = 0; r < rounds; r++) {
            for (const name of r % 2 ? ['b', 'a'] : ['a', 'b']) {
              const s = performance.now();
              run(models[name], batch);
              per[name].push((performance.now() - s) / batch);
              await new Promise((ok) => setTimeout(ok, 0));
            }
          }
          const med = (/** @type {number[]} */ xs) => xs.slice().sort((p, q) => p - q)[xs.length >> 1];
          const same = users.every((u) => JSON.stringify(models.a.recommend(u, { k: 10 })) === JSON.stringify(models.b.recommend(u, { k: 10 })));
          const builds = [models.a.info().build?.variant, models.b.info().build?.variant];
          for (const m of Object.values(models)) m.dispose();
          return { a_ms: med(per.a), b_ms: med(per.b), a_min: Math.min(...per.a), b_min: Math.min(...per.b), batch, same, builds, sink };
        },
        { url: `/bench/${basename(path)}`, d, rounds: ROUNDS },
      );
      await page.close();
      const row = { dtype, n, d, a_ms: r.a_ms, b_ms: r.b_ms, b_over_a: r.b_ms / r.a_ms, a_min_ms: r.a_min, b_min_ms: r.b_min, batch: r.batch, rounds: ROUNDS, same_top10: r.same };
      rows.push(row);
      log(`${dtype} ${n}x${d}: A ${r.a_ms.toFixed(3)} ms, B ${r.b_ms.toFixed(3)} ms (B/A ${row.b_over_a.toFixed(3)}; best ${r.a_min.toFixed(3)} / ${r.b_min.toFixed(3)}; same top-10 ${r.same}; slots ${r.builds})`);
    }
  }
} finally {
  await browser.close();
  await srv.close();
}
console.log(JSON.stringify({ a, b, load_after: loadavg(), rows }, null, 2));
if (rows.some((r) => !r.same_top10)) process.exit(1);
