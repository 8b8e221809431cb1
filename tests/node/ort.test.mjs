// The onnxruntime-web bench engine's models (tests/bench/onnx.mjs, hand
// encoded ONNX): every route loads in onnxruntime-web (the version pinned in
// package.json, the same module the Chromium bench page runs) and its top-10
// matches a plain JS top-10 over the same data. The bench page checks this
// again before timing; here a broken encoder or route fails `make test`
// instead of the benchmark.

import test from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-web';
import { ROUTES, buildModel, dequantized, topK, overlap, minOverlap } from '../bench/onnx.mjs';

ort.env.wasm.numThreads = 1;

function lcg(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

const n = 3000;
const d = 64;
const k = 10;
const rand = lcg(5);
const items = Float32Array.from({ length: n * d }, rand);
const bias = Float32Array.from({ length: n }, () => rand() * 0.1);

for (const route of Object.keys(ROUTES)) {
  test(`onnxruntime-web ${route} route: top-${k} matches plain JS`, async () => {
    const session = await ort.InferenceSession.create(buildModel(route, { items, bias, d, k }), { executionProviders: ['wasm'] });
    const ref = ROUTES[route].int8 ? dequantized(items, d) : items;
    const r = lcg(99);
    let worst = k;
    for (let q = 0; q < 20; q++) {
      const user = Float32Array.from({ length: d }, r);
      const out = await session.run({ user: new ort.Tensor('float32', user, [1, d]) });
      const got = Array.from(out.indices.data, Number);
      assert.equal(got.length, k);
      // Scores come out best first.
      const v = Array.from(out.values.data);
      assert.ok(v.every((x, i) => i === 0 || v[i - 1] >= x), `values not sorted: ${v}`);
      worst = Math.min(worst, overlap(got, topK(ref, bias, user, d, k)));
    }
    await session.release();
    assert.ok(worst >= minOverlap(route, k), `${route}: worst overlap ${worst}/${k}`);
  });
}

test('a wrong model is refused by ORT, not silently run', async () => {
  // The K × N initializer of the int8 routes: declared shape no longer matches its bytes.
  const bytes = buildModel('dqmatmul', { items, bias, d, k });
  await assert.rejects(ort.InferenceSession.create(bytes.subarray(0, bytes.length - 100), { executionProviders: ['wasm'] }));
});
