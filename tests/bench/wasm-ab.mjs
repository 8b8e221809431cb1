#!/usr/bin/env node
// Two engine .wasm files of the same build kind (e.g. the relaxed build with
// and without a size flag), interleaved A/B in one Chromium page per shape:
// the scan of `recommendIndices(k = 10)` at f32 and int8. Used to check that
// a size cut leaves the scan's speed alone (issue #19 item 7). Both files run
// under the same wasm-bindgen glue (the relaxed and SIMD128 glues are the
// same file), A in the 'relaxed' slot and B in the 'simd' slot, so they
// must both be relaxed builds or both SIMD128 builds. Reports the page
// thread's CPU time per call (steady on a shared host) beside the wall time.
//
//   node tests/bench/wasm-ab.mjs A.wasm B.wasm
// Env: BENCH_QUICK=1 (100k only, else 1M and 100k), BENCH_AB_ROUNDS (default 21),
// BENCH_AB_DTYPES (default 'int8,f32'), BENCH_AB_N (e.g. 10000,100000: the catalogue
// sizes, d = 64).

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

const SHAPES = process.env.BENCH_AB_N
  ? process.env.BENCH_AB_N.split(',').map((n) => ({ n: Number(n), d: 64 }))
  : [...(QUICK ? [] : [{ n: 1_000_000, d: 64 }]), { n: 100_000, d: 64 }];
const srv = await startServer({ mounts: { '/bench/': CACHE, '/ttfr/': HERE, '/ab/': AB }, quiet: true });
const browser = await launch();
const rows = [];
try {
  for (const { n, d } of SHAPES) {
    for (const dtype of (process.env.BENCH_AB_DTYPES ?? 'int8,f32').split(',')) {
      const path = synth({ items: n, dim: d, dtype: /** @type {'f32'} */ (dtype), seed: 1, dir: CACHE });
      const page = await browser.context.newPage();
      await page.goto(`${srv.url}/ttfr/ab.html`);
      // The page's main-thread CPU time around each batch (DevTools
      // Performance.getMetrics `ThreadTime`, as tests/bench/ort-ab.mjs): on a
      // shared host the wall time of a batch includes other processes' time
      // slices, the thread's CPU time does not.
      const cdp = await browser.context.newCDPSession(page);
      await cdp.send('Performance.enable', { timeDomain: 'threadTicks' });
      const threadTime = async () => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'ThreadTime')?.value ?? NaN;
      const setup = await page.evaluate(
        async ({ url, d }) => {
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
          const same = users.every((u) => JSON.stringify(models.a.recommend(u, { k: 10 })) === JSON.stringify(models.b.recommend(u, { k: 10 })));
          const builds = [models.a.info().build?.variant, models.b.info().build?.variant];
          /** @type {any} */ (globalThis).ab = {
            /** @param {string} name */
            timed(name) {
              const s = performance.now();
              if (name) run(models[name], batch);
              return (performance.now() - s) / batch;
            },
            sink: () => sink,
          };
          return { batch, same, builds };
        },
        { url: `/bench/${basename(path)}`, d },
      );
      const empty = [];
      for (let i = 0; i < 9; i++) {
        const c0 = await threadTime();
        await page.evaluate(() => /** @type {any} */ (globalThis).ab.timed(''));
        empty.push((await threadTime()) - c0);
      }
      const overhead = empty.sort((p, q) => p - q)[4];
      /** @type {Record<string, {wall: number[], cpu: number[]}>} */
      const per = { a: { wall: [], cpu: [] }, b: { wall: [], cpu: [] } };
      for (let round = 0; round < ROUNDS; round++) {
        for (const name of round % 2 ? ['b', 'a'] : ['a', 'b']) {
          const c0 = await threadTime();
          const wall = await page.evaluate((x) => /** @type {any} */ (globalThis).ab.timed(x), name);
          per[name].wall.push(wall);
          per[name].cpu.push((((await threadTime()) - c0 - overhead) * 1e3) / setup.batch);
        }
      }
      await page.close();
      const med = (/** @type {number[]} */ xs) => xs.slice().sort((p, q) => p - q)[xs.length >> 1];
      const r = {
        a_ms: med(per.a.wall), b_ms: med(per.b.wall), a_min: Math.min(...per.a.wall), b_min: Math.min(...per.b.wall),
        a_cpu: med(per.a.cpu), b_cpu: med(per.b.cpu), batch: setup.batch, same: setup.same, builds: setup.builds,
      };
      const row = { dtype, n, d, a_ms: r.a_ms, b_ms: r.b_ms, b_over_a: r.b_ms / r.a_ms, a_min_ms: r.a_min, b_min_ms: r.b_min, a_cpu_ms: r.a_cpu, b_cpu_ms: r.b_cpu, b_over_a_cpu: r.b_cpu / r.a_cpu, batch: r.batch, rounds: ROUNDS, same_top10: r.same };
      rows.push(row);
      log(`${dtype} ${n}x${d}: CPU A ${r.a_cpu.toFixed(3)} ms, B ${r.b_cpu.toFixed(3)} ms (B/A ${row.b_over_a_cpu.toFixed(3)}); wall A ${r.a_ms.toFixed(3)} ms, B ${r.b_ms.toFixed(3)} ms (B/A ${row.b_over_a.toFixed(3)}; best ${r.a_min.toFixed(3)} / ${r.b_min.toFixed(3)}; same top-10 ${r.same}; slots ${r.builds})`);
    }
  }
} finally {
  await browser.close();
  await srv.close();
}
console.log(JSON.stringify({ a, b, load_after: loadavg(), rows }, null, 2));
if (rows.some((r) => !r.same_top10)) process.exit(1);
