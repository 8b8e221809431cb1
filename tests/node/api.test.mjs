// The Node entry of the package (pkg/node.js + the copied glue) against
// bundles made by `vitrine synth`, checked against brute-force references.

import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { load, VitrineError, simdSupported, relaxedSimdSupported, toVitrineError } from '../../pkg/node.js';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { startServer } from '../../scripts/serve.mjs';
import { synth, snapshot, referenceTopK, checkAgainstReference, rng, gaussianVector, tempDir, until } from './helpers.mjs';
import { dirname, basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const N = 1500;
const D = 24;
const CATS = 6;
// int8 scores are rescored exactly on the dequantized rows, so the same bound holds.
const TOL = { f32: 1e-4, f16: 1e-4, int8: 1e-4 };

/** @param {Function} f @param {string} code */
function throwsCode(f, code, msgRe) {
  let err;
  try {
    f();
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected ${code}, nothing was thrown`);
  assert.ok(err instanceof VitrineError, `expected a VitrineError, got ${err && err.name}: ${err && err.message}`);
  assert.equal(err.code, code, `code (message: ${err.message})`);
  if (msgRe) assert.match(err.message, msgRe);
  return err;
}

async function rejectsCode(p, code) {
  let err;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected ${code}, the promise resolved`);
  assert.ok(err instanceof VitrineError, `expected a VitrineError, got ${err && err.name}: ${err && err.message}`);
  assert.equal(err.code, code, `code (message: ${err.message})`);
  return err;
}

test('simd is detected in Node 20', () => {
  assert.equal(simdSupported(), true);
});

for (const dtype of ['f32', 'f16', 'int8']) {
  test(`${dtype}: load, info, recommend/similar/popular against references`, async (t) => {
    const path = synth({ items: N, dim: D, dtype, seed: 11, categories: CATS });
    const events = [];
    const m = await load(path, { onProgress: (p) => events.push(p) });
    t.after(() => m.dispose());
    const size = readFileSync(path).byteLength;
    assert.ok(events.length >= 2, 'progress events');
    assert.deepEqual(events.at(-1), { loaded: size, total: size });
    for (let i = 1; i < events.length; i++) assert.ok(events[i].loaded >= events[i - 1].loaded);

    assert.equal(m.nItems, N);
    assert.equal(m.dim, D);
    assert.equal(m.dtype, dtype);
    assert.equal(m.variant, relaxedSimdSupported() ? 'relaxed' : 'simd');
    assert.equal(m.simdEnabled(), true);
    const info = m.info();
    assert.equal(info.nItems, N);
    assert.equal(info.dim, D);
    assert.equal(info.dtype, dtype);
    assert.match(String(info.formatVersion), /^\d+(\.\d+)?$/);
    assert.ok(Array.isArray(info.sections) && info.sections.length > 0);
    for (const s of info.sections) {
      assert.ok(s.offset + s.length <= size, `section ${s.name} inside the file`);
    }
    assert.equal(info.categories.length, CATS);

    const snap = snapshot(m);
    const r = rng(100);
    const tol = TOL[dtype];

    await t.test('recommend matches brute force', () => {
      for (let q = 0; q < 25; q++) {
        const u = gaussianVector(r, D);
        const got = m.recommend(u, { k: 10 });
        assert.equal(got.unknownExcludes, 0);
        checkAgainstReference(assert, got, referenceTopK(snap, u, { k: 10 }), tol, `q${q}`);
      }
      // plain arrays and Float64Array are accepted as well
      const u = gaussianVector(r, D);
      const a = m.recommend(Array.from(u), { k: 5 });
      const b = m.recommend(Float64Array.from(u), { k: 5 });
      assert.deepEqual([...a], [...m.recommend(u, { k: 5 })]);
      assert.deepEqual([...a], [...b]);
      assert.equal(m.recommend(u).length, 10, 'default k is 10');
      assert.equal(m.recommend(u, { k: 1 }).length, 1);
    });

    await t.test('recommendIndices agrees with recommend', () => {
      const u = gaussianVector(r, D);
      const full = m.recommend(u, { k: 10 });
      const fast = m.recommendIndices(u, 10);
      assert.ok(fast.indices instanceof Uint32Array);
      assert.ok(fast.scores instanceof Float32Array);
      assert.deepEqual(Array.from(fast.indices, (i) => m.itemId(i)), full.map((s) => s.id));
      assert.deepEqual(Array.from(fast.scores), full.map((s) => s.score));
    });

    await t.test('filters', () => {
      const cats = info.categories.slice(0, 2);
      const prices = snap.items.map((it) => it.price).filter((p) => typeof p === 'number').sort((a, b) => a - b);
      assert.equal(prices.length, N, 'synth gives every item a price');
      const priceMin = prices[Math.floor(N * 0.25)];
      const priceMax = prices[Math.floor(N * 0.6)];
      const cases = [
        { categories: cats },
        { priceMin },
        { priceMax },
        { priceMin, priceMax },
        { inStockOnly: true },
        { categories: [cats[0]], priceMax, inStockOnly: true },
      ];
      for (const f of cases) {
        for (let q = 0; q < 5; q++) {
          const u = gaussianVector(r, D);
          const opts = { k: 10, ...f };
          const got = m.recommend(u, opts);
          const ref = referenceTopK(snap, u, opts);
          assert.ok(ref.top.length > 0, `filter ${JSON.stringify(f)} leaves candidates`);
          assert.ok(ref.all.length < N, `filter ${JSON.stringify(f)} removes something`);
          checkAgainstReference(assert, got, ref, tol, JSON.stringify(f));
          for (const g of got) {
            const it = m.item(g.id);
            if (f.categories) assert.ok(f.categories.includes(it.category));
            if (f.priceMin !== undefined) assert.ok(it.price >= f.priceMin);
            if (f.priceMax !== undefined) assert.ok(it.price <= f.priceMax);
            if (f.inStockOnly) assert.equal(it.inStock, true);
          }
        }
      }
    });

    await t.test('exclude, with unknown ids counted', () => {
      const u = gaussianVector(r, D);
      const before = m.recommend(u, { k: 10 });
      const exclude = [before[0].id, before[3].id, 'no-such-item', 'another-missing', before[0].id];
      const got = m.recommend(u, { k: 10, exclude });
      assert.equal(got.unknownExcludes, 2);
      assert.ok(!Object.keys(got).includes('unknownExcludes'), 'unknownExcludes is not enumerable');
      for (const g of got) assert.ok(!exclude.includes(g.id));
      checkAgainstReference(assert, got, referenceTopK(snap, u, { k: 10, exclude }), tol, 'exclude');
    });

    await t.test('k larger than the catalogue returns every item once', () => {
      const u = gaussianVector(r, D);
      const all = m.recommend(u, { k: N + 50 });
      assert.equal(all.length, N);
      assert.equal(new Set(all.map((s) => s.id)).size, N);
    });

    await t.test('similar is cosine over item vectors', () => {
      for (const idx of [0, 17, N - 1]) {
        const id = m.itemId(idx);
        const got = m.similar(id, { k: 8 });
        assert.ok(!got.some((s) => s.id === id), 'the item itself is not similar to itself');
        const v = snap.vectors.subarray(idx * D, idx * D + D);
        const nv = Math.hypot(...v);
        const all = [];
        for (let i = 0; i < N; i++) {
          if (i === idx) continue;
          const w = snap.vectors.subarray(i * D, i * D + D);
          let dot = 0;
          for (let j = 0; j < D; j++) dot += v[j] * w[j];
          const nw = Math.hypot(...w);
          all.push({ id: snap.items[i].id, score: nv > 0 && nw > 0 ? dot / (nv * nw) : 0, mag: 1 });
        }
        all.sort((a, b) => b.score - a.score);
        checkAgainstReference(assert, got, { top: all.slice(0, 8), all }, dtype === 'int8' ? 1e-3 : 1e-4, `similar ${id}`);
        const filtered = m.similar(id, { k: 5, categories: [info.categories[1]] });
        for (const s of filtered) assert.equal(m.item(s.id).category, info.categories[1]);
      }
    });

    await t.test('popular is ordered by popularity and honours filters', () => {
      const got = m.popular({ k: 20 });
      assert.equal(got.length, 20);
      const pops = snap.items.map((it) => it.popularity).sort((a, b) => b - a);
      for (let i = 0; i < got.length; i++) {
        assert.ok(Math.abs(m.item(got[i].id).popularity - pops[i]) <= 1e-6 * Math.max(1, pops[i]), `rank ${i}`);
      }
      const inStock = m.popular({ k: 20, inStockOnly: true });
      for (const s of inStock) assert.equal(m.item(s.id).inStock, true);
      const typo = m.popular({ k: 5, categories: [info.categories[0], 'no-such-category', 'no-such-category'] });
      assert.equal(typo.unknownCategories, 1);
      assert.ok(typo.length > 0 && typo.every((s) => m.item(s.id).category === info.categories[0]));
      assert.equal(m.popular({ k: 5, categories: ['nope'] }).length, 0, 'an unknown category matches nothing');
      assert.equal(m.popular({ k: 5 }).unknownCategories, 0);
      const ex = m.popular({ k: 5, exclude: [got[0].id, 'ghost'] });
      assert.equal(ex.unknownExcludes, 1);
      assert.equal(ex[0].id, got[1].id);
    });

    await t.test('item, itemIndex, itemId, itemVector', () => {
      const it = m.item('item-5');
      assert.equal(it.id, 'item-5');
      assert.equal(it.index, m.itemIndex('item-5'));
      assert.equal(m.itemId(it.index), 'item-5');
      assert.equal(typeof it.title, 'string');
      assert.ok(info.categories.includes(it.category));
      assert.equal(typeof it.price, 'number');
      assert.equal(typeof it.inStock, 'boolean');
      assert.equal(m.itemIndex('nope'), undefined);
      assert.equal(m.has('item-5'), true);
      assert.equal(m.has('nope'), false);
      const v = m.itemVector('item-5');
      assert.ok(v instanceof Float32Array);
      assert.equal(v.length, D);
      assert.ok(v.every(Number.isFinite));
    });
  });
}

test('argument errors are VitrineErrors with codes and helpful messages', async (t) => {
  const m = await load(synth({ items: 300, dim: 8, dtype: 'f32', seed: 3, categories: 3 }));
  t.after(() => m.dispose());
  const u = new Float32Array(8).fill(0.1);
  throwsCode(() => m.recommend('nope'), 'INVALID_ARGUMENT', /Float32Array/);
  throwsCode(() => m.recommend(null), 'INVALID_ARGUMENT');
  throwsCode(() => m.recommend(new Int32Array(8)), 'INVALID_ARGUMENT');
  throwsCode(() => m.recommend(new Float32Array(9)), 'DIM_MISMATCH', /length 9.*dim 8/);
  throwsCode(() => m.recommend([]), 'DIM_MISMATCH');
  const nan = u.slice();
  nan[3] = NaN;
  throwsCode(() => m.recommend(nan), 'INVALID_ARGUMENT', /\[3\]/);
  const inf = Array.from(u);
  inf[0] = 1e300; // finite as a double, Infinity as f32
  throwsCode(() => m.recommend(inf), 'INVALID_ARGUMENT', /\[0\]/);
  throwsCode(() => m.recommend([1, 2, 3, 4, 5, 6, 7, '8']), 'INVALID_ARGUMENT');
  for (const k of [0, -1, 2.5, NaN, Infinity, '10', 2 ** 32, -0.5]) {
    throwsCode(() => m.recommend(u, { k }), 'INVALID_ARGUMENT', /k must be a positive integer/);
  }
  throwsCode(() => m.recommend(u, { topK: 3 }), 'INVALID_ARGUMENT', /did you mean "k"/);
  throwsCode(() => m.recommend(u, 10), 'INVALID_ARGUMENT');
  throwsCode(() => m.recommend(u, { exclude: 'item-1' }), 'INVALID_ARGUMENT', /exclude must be an array/);
  throwsCode(() => m.recommend(u, { exclude: ['item-1', 7] }), 'INVALID_ARGUMENT', /exclude\[1\]/);
  throwsCode(() => m.recommend(u, { categories: 'x' }), 'INVALID_ARGUMENT');
  throwsCode(() => m.recommend(u, { priceMin: NaN }), 'INVALID_ARGUMENT');
  throwsCode(() => m.recommend(u, { priceMin: 10, priceMax: 5 }), 'INVALID_ARGUMENT');
  throwsCode(() => m.recommend(u, { inStockOnly: 'yes' }), 'INVALID_ARGUMENT');
  throwsCode(() => m.similar(42), 'INVALID_ARGUMENT');
  throwsCode(() => m.similar('no-such-item'), 'UNKNOWN_ITEM');
  throwsCode(() => m.item('no-such-item'), 'UNKNOWN_ITEM');
  throwsCode(() => m.itemVector('no-such-item'), 'UNKNOWN_ITEM');
  throwsCode(() => m.itemId(300), 'INVALID_ARGUMENT');
  throwsCode(() => m.recommendIndices(u, 0), 'INVALID_ARGUMENT');
  await rejectsCode(m.matchIntent(42), 'INVALID_ARGUMENT');
  await rejectsCode(m.matchIntent('red running shoes'), 'NO_INTENT_MODEL'); // synth bundles carry no intent model
  await rejectsCode(load(12345), 'INVALID_ARGUMENT');
  await rejectsCode(load(new Uint8Array(8), { simd: 'yes' }), 'INVALID_ARGUMENT');
  await rejectsCode(load(new Uint8Array(8), { onprogress() {} }), 'INVALID_ARGUMENT');
  await rejectsCode(load('/definitely/not/here.vtr'), 'NETWORK');
});

test("threads in Node: 2 and 'auto' are accepted and run one thread, saying why; other values are refused", async (t) => {
  const path = synth({ items: 300, dim: 8, dtype: 'f32', seed: 3, categories: 3 });
  for (const threads of [2, 'auto']) {
    const m = await load(path, { threads });
    t.after(() => m.dispose());
    const info = m.info().threads;
    assert.equal(info.count, 1);
    assert.equal(info.requested, threads);
    assert.match(info.reason, /Node: .*browsers only/);
    assert.equal((await m.threadsReady), null);
  }
  const one = await load(path, { threads: 1 });
  t.after(() => one.dispose());
  assert.match(one.info().threads.reason, /calling thread/);
  for (const threads of [3, 0, '2', true]) await rejectsCode(load(path, { threads }), 'INVALID_ARGUMENT');
});

test('errors raised inside the wasm keep their code through the glue', async (t) => {
  const m = await load(synth({ items: 300, dim: 8, dtype: 'f32', seed: 3, categories: 3 }));
  t.after(() => m.dispose());
  // Bypass the JS checks: the wasm itself must reject these.
  let err;
  try {
    m.raw.recommend(new Float32Array(5), {});
  } catch (e) {
    err = e;
  }
  assert.ok(err, 'the wasm accepted a wrong-length vector');
  assert.equal(err.name, 'VitrineError');
  assert.equal(err.code, 'DIM_MISMATCH');
  const nan = new Float32Array(8);
  nan[1] = NaN;
  err = undefined;
  try {
    m.raw.recommendFast(nan, 10);
  } catch (e) {
    err = e;
  }
  assert.ok(err, 'the wasm accepted NaN');
  assert.equal(err.name, 'VitrineError');
  assert.ok(['NON_FINITE', 'INVALID_ARGUMENT'].includes(err.code), err.code);
});

test('corrupted bundles are rejected with the right code', async () => {
  // A Uint8Array copy: Buffer.prototype.slice would alias instead of copying.
  const bytes = new Uint8Array(readFileSync(synth({ items: 400, dim: 16, dtype: 'f32', seed: 5, categories: 3 })));
  const good = await load(bytes);
  const info = good.info();
  good.dispose();

  await rejectsCode(load(bytes.subarray(0, bytes.length >> 1)), 'TRUNCATED');
  await rejectsCode(load(bytes.subarray(0, bytes.length - 1)), 'TRUNCATED');
  await rejectsCode(load(new Uint8Array(0)), 'TRUNCATED');

  const magic = bytes.slice();
  magic[0] ^= 0xff;
  await rejectsCode(load(magic), 'BAD_MAGIC');

  // One flipped bit in the middle of every section's payload.
  for (const s of info.sections) {
    if (s.length === 0) continue;
    const flipped = bytes.slice();
    flipped[s.offset + (s.length >> 1)] ^= 0x10;
    const e = await rejectsCode(load(flipped), 'CHECKSUM_MISMATCH');
    if (e.details.section !== undefined) assert.equal(String(e.details.section), s.name, `section named in the error`);
  }

  // A streamed (BundleBuffer) load reports the same codes.
  const { join } = await import('node:path');
  const { writeFileSync } = await import('node:fs');
  const bad = join(tempDir(), 'flipped.vtr');
  const flipped = bytes.slice();
  flipped[info.sections.at(-1).offset] ^= 0x01;
  writeFileSync(bad, flipped);
  await rejectsCode(load(bad), 'CHECKSUM_MISMATCH');
});

test('loading over HTTP streams into wasm memory, with and without Content-Length', async (t) => {
  const path = synth({ items: 5000, dim: 32, dtype: 'f32', seed: 9 });
  const size = readFileSync(path).byteLength;
  const srv = await startServer({ mounts: { '/t/': dirname(path) }, quiet: true });
  t.after(() => srv.close());
  for (const q of ['', '?chunked=1']) {
    const events = [];
    const m = await load(`${srv.url}/t/${basename(path)}${q}`, { onProgress: (p) => events.push(p) });
    assert.equal(m.nItems, 5000);
    const last = events.at(-1);
    assert.deepEqual(last, { loaded: size, total: size }, `final progress ${q}`);
    if (q) assert.equal(events[0].total, undefined, 'no Content-Length ⇒ total unknown until the end');
    else assert.ok(events.every((e) => e.total === size));
    const direct = await load(path);
    const u = new Float32Array(32).fill(0.3);
    assert.deepEqual([...m.recommend(u)], [...direct.recommend(u)]);
    direct.dispose();
    m.dispose();
  }
  await rejectsCode(load(`${srv.url}/t/missing.vtr`), 'NETWORK');
  const res = await fetch(`${srv.url}/t/${basename(path)}`);
  const fromResponse = await load(res);
  assert.equal(fromResponse.nItems, 5000);
  fromResponse.dispose();
});

test('dispose frees the model; later calls fail with DISPOSED', async () => {
  const m = await load(synth({ items: 300, dim: 8, dtype: 'f32', seed: 3, categories: 3 }));
  m.dispose();
  m.dispose();
  assert.equal(m.disposed, true);
  throwsCode(() => m.recommend(new Float32Array(8)), 'DISPOSED');
  throwsCode(() => m.info(), 'DISPOSED');
});

test('Content-Length that disagrees with the body is reported, not trusted', async () => {
  const bytes = new Uint8Array(readFileSync(synth({ items: 300, dim: 8, dtype: 'f32', seed: 3, categories: 3 })));
  const body = (parts) =>
    new ReadableStream({
      start(c) {
        for (const p of parts) c.enqueue(p);
        c.close();
      },
    });
  const halves = [bytes.subarray(0, 1000), bytes.subarray(1000)];
  const short = new Response(body(halves), { headers: { 'content-length': String(bytes.length - 5) } });
  const e1 = await rejectsCode(load(short), 'LENGTH_MISMATCH');
  assert.equal(e1.details.expected, bytes.length - 5);
  const long = new Response(body(halves), { headers: { 'content-length': String(bytes.length + 5) } });
  const e2 = await rejectsCode(load(long), 'TRUNCATED');
  assert.deepEqual(e2.details, { expected: bytes.length + 5, received: bytes.length });
  // With a content-encoding the header counts encoded bytes: it must be ignored.
  const events = [];
  const encoded = new Response(body(halves), { headers: { 'content-length': '17', 'content-encoding': 'gzip' } });
  const m = await load(encoded, { onProgress: (p) => events.push(p) });
  assert.equal(m.nItems, 300);
  assert.deepEqual(events.at(-1), { loaded: bytes.length, total: bytes.length });
  m.dispose();
  const notFound = new Response('nope', { status: 404, statusText: 'Not Found' });
  const e3 = await rejectsCode(load(notFound), 'NETWORK');
  assert.equal(e3.details.status, 404);
});

test('int8 + RESIDUAL: format 1.1, reported in info(), same top-10 as the f32 bundle', async (t) => {
  const [n, d] = [20_000, 64];
  const f = await load(readFileSync(synth({ items: n, dim: d, dtype: 'f32', seed: 5 })));
  const q = await load(readFileSync(synth({ items: n, dim: d, dtype: 'int8', seed: 5 })));
  const r = await load(readFileSync(synth({ items: n, dim: d, dtype: 'int8+residual', seed: 5 })));
  t.after(() => [f, q, r].forEach((m) => m.dispose()));
  const info = r.info();
  assert.equal(info.dtype, 'int8');
  assert.equal(info.formatVersion, '1.2'); // 1.2: PRICE_F64 (docs/format.md)
  assert.equal(info.hasResidual, true);
  assert.equal(q.info().hasResidual, false);
  assert.ok(info.sections.some((s) => s.name === 'RESIDUAL' && !s.required));
  const g = rng(99);
  let [sameQ, sameR] = [0, 0];
  const QUERIES = 200;
  for (let i = 0; i < QUERIES; i++) {
    const u = gaussianVector(g, d);
    const want = Array.from(f.recommendIndices(u, 10).indices).sort((a, b) => a - b).join();
    const key = (m) => Array.from(m.recommendIndices(u, 10).indices).sort((a, b) => a - b).join();
    sameQ += Number(key(q) === want);
    sameR += Number(key(r) === want);
  }
  t.diagnostic(`same top-10 set as f32: int8 ${sameQ}/${QUERIES}, int8+residual ${sameR}/${QUERIES}`);
  assert.ok(sameR >= 0.99 * QUERIES, `int8+residual ${sameR}/${QUERIES}`);
  // Scores are the refined ones: within 1e-4 of f32's for the same items.
  const u = gaussianVector(g, d);
  const a = f.recommend(u, { k: 5 });
  const b = r.recommend(u, { k: 5 });
  for (const [x, y] of a.map((s, i) => [s, b[i]])) {
    assert.equal(x.id, y.id);
    assert.ok(Math.abs(x.score - y.score) <= 1e-4 * Math.max(1, Math.abs(x.score)), `${x.score} vs ${y.score}`);
  }
});

test('null options mean "not given"; a polluted Object.prototype does not reach the wasm', async (t) => {
  const m = await load(synth({ items: 300, dim: 8, dtype: 'f32', seed: 3, categories: 3 }), { onProgress: null, simd: null, wasmUrl: null, integrity: null, maxBytes: null });
  t.after(() => m.dispose());
  const plain = m.popular({ k: 5 }).map((s) => s.id);
  assert.deepEqual(m.popular({ k: 5, priceMax: null, categories: null, exclude: undefined, inStockOnly: null }).map((s) => s.id), plain);
  assert.deepEqual(m.popular(null).length, 10);
  const cat = m.info().categories[1];
  Object.prototype.categories = [cat];
  Object.prototype.exclude = plain;
  Object.prototype.k = 2;
  try {
    assert.deepEqual(m.popular({ k: 5 }).map((s) => s.id), plain, 'inherited options are ignored');
  } finally {
    delete Object.prototype.categories;
    delete Object.prototype.exclude;
    delete Object.prototype.k;
  }
});

test('an untrusted Content-Length never becomes an allocation: TOO_LARGE up front, or memory as bytes arrive', async () => {
  const bytes = new Uint8Array(readFileSync(synth({ items: 300, dim: 8, dtype: 'f32', seed: 3, categories: 3 })));
  const lying = () => new Response(bytes, { headers: { 'content-length': '2000000000' } });
  const rss0 = process.memoryUsage().rss;
  const e1 = await rejectsCode(load(lying()), 'TOO_LARGE');
  assert.deepEqual(e1.details, { maxBytes: 512 * 1024 * 1024, bytes: 2000000000 });
  // A caller who allows 3 GB still commits only what arrives, then TRUNCATED.
  for (let i = 0; i < 20; i++) await rejectsCode(load(lying(), { maxBytes: 3e9 }), 'TRUNCATED');
  const grown = process.memoryUsage().rss - rss0;
  assert.ok(grown < 200 * 1024 * 1024, `RSS grew by ${(grown / 1048576).toFixed(0)} MB after 21 lying downloads`);
  await rejectsCode(load(bytes, { maxBytes: 100 }), 'TOO_LARGE');
  const chunked = new Response(new ReadableStream({ start(c) { c.enqueue(bytes.slice(0, 500)); c.enqueue(bytes.slice(500)); c.close(); } }));
  await rejectsCode(load(chunked, { maxBytes: 600 }), 'TOO_LARGE');
  await rejectsCode(load(bytes, { maxBytes: 0 }), 'INVALID_ARGUMENT');
  await rejectsCode(load(bytes, { maxBytes: '1e9' }), 'INVALID_ARGUMENT');
  const m = await load(new Response(bytes), { maxBytes: bytes.length });
  assert.equal(m.nItems, 300);
  m.dispose();
});

test('a download that breaks off is a NETWORK error, not a raw TypeError', async () => {
  const bytes = new Uint8Array(readFileSync(synth({ items: 300, dim: 8, dtype: 'f32', seed: 3, categories: 3 })));
  for (const withLength of [true, false]) {
    const broken = new ReadableStream({
      pull(c) {
        if (!this.sent) {
          this.sent = true;
          c.enqueue(bytes.slice(0, 1000));
        } else c.error(new TypeError('terminated'));
      },
    });
    const headers = withLength ? { 'content-length': String(bytes.length) } : {};
    const e = await rejectsCode(load(new Response(broken, { headers })), 'NETWORK');
    assert.equal(e.details.received, 1000);
    assert.match(e.message, /broke off after 1000 bytes/);
  }
});

test('integrity: the bundle and the wasm builds are checked against their SRI hashes', async () => {
  const path = synth({ items: 300, dim: 8, dtype: 'f32', seed: 3, categories: 3 });
  const bytes = new Uint8Array(readFileSync(path));
  const sri = (b, algo = 'sha384') => `${algo}-${createHash(algo).update(b).digest('base64')}`;
  for (const src of [path, bytes, new Response(bytes)]) {
    const m = await load(src, { integrity: sri(bytes) });
    assert.equal(m.nItems, 300);
    m.dispose();
  }
  const m2 = await load(bytes, { integrity: `sha256-AAAA ${sri(bytes, 'sha512')}` }); // the strongest listed counts
  m2.dispose();
  const flipped = bytes.slice();
  flipped[flipped.length - 3] ^= 1;
  const e = await rejectsCode(load(flipped, { integrity: sri(bytes) }), 'INTEGRITY');
  assert.equal(e.details.algorithm, 'sha384');
  await rejectsCode(load(new Response(flipped), { integrity: sri(bytes) }), 'INTEGRITY');
  await rejectsCode(load(bytes, { integrity: 'md5-abc' }), 'INVALID_ARGUMENT');
  await rejectsCode(load(bytes, { integrity: 42 }), 'INVALID_ARGUMENT');
  const wasmSri = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'pkg', 'wasm', 'integrity.json'), 'utf8'));
  const ok = await load(bytes, { simd: false, wasmIntegrity: { scalar: wasmSri.scalar } });
  ok.dispose();
  await rejectsCode(load(bytes, { simd: false, wasmIntegrity: { scalar: wasmSri.simd } }), 'INTEGRITY');
  await rejectsCode(load(bytes, { wasmUrl: { simd: {} } }), 'INVALID_ARGUMENT');
});

test('a value thrown without a code (a wasm trap) is INTERNAL, never INVALID_ARGUMENT', () => {
  const trap = toVitrineError(new WebAssembly.RuntimeError('unreachable executed'));
  assert.ok(trap instanceof VitrineError);
  assert.equal(trap.code, 'INTERNAL');
  assert.match(trap.message, /wasm trap/);
  assert.equal(toVitrineError(new TypeError('x')).code, 'INTERNAL');
  assert.equal(toVitrineError('boom').code, 'INTERNAL');
  const coded = toVitrineError({ name: 'VitrineError', code: 'UNKNOWN_ITEM', message: 'm' });
  assert.equal(coded.code, 'UNKNOWN_ITEM');
});

test('hostile arguments (throwing proxies and getters, a throwing onProgress) are INVALID_ARGUMENT, never raw errors', async (t) => {
  const path = synth({ items: 300, dim: 8, dtype: 'f32', seed: 3, categories: 3 });
  const m = await load(path);
  t.after(() => m.dispose());
  const boom = () => {
    throw new TypeError('trap');
  };
  const throwingProxy = new Proxy({}, { ownKeys: boom });
  const getter = Object.defineProperty({}, 'k', { enumerable: true, get: boom });
  const u = new Float32Array(8);
  throwsCode(() => m.recommend(u, throwingProxy), 'INVALID_ARGUMENT', /options could not be read/);
  throwsCode(() => m.popular(getter), 'INVALID_ARGUMENT', /trap/);
  throwsCode(() => m.recommend(new Proxy(Array.from(u), { get: (o, k) => (k === '3' ? boom() : o[k]) })), 'INVALID_ARGUMENT', /userVector could not be read/);
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  throwsCode(() => m.similar('item-1', proxy), 'INVALID_ARGUMENT');
  await rejectsCode(load(path, throwingProxy), 'INVALID_ARGUMENT');
  await rejectsCode(load(path, { onProgress: boom }), 'INVALID_ARGUMENT');
  await rejectsCode(load(new Uint8Array(readFileSync(path)), { onProgress: boom }), 'INVALID_ARGUMENT');
  await rejectsCode(load(new Response(readFileSync(path)), { onProgress: boom }), 'INVALID_ARGUMENT');
});

test('the demo server on a taken port says so in one line and takes the next free one', async () => {
  const { createServer } = await import('node:net');
  const { spawn } = await import('node:child_process');
  const listen = (srv, port) =>
    new Promise((ok) => {
      srv.once('error', () => ok(false));
      srv.listen(port, '127.0.0.1', () => ok(true));
    });
  // A taken port whose next one is free: on a shared machine another process
  // may hold the next one (the server would then rightly take a third), so
  // look for a pair rather than assume it.
  let blocker;
  let taken;
  for (let tries = 0; ; tries++) {
    blocker = createServer();
    await listen(blocker, 0);
    taken = blocker.address().port;
    const probe = createServer();
    if (await listen(probe, taken + 1)) {
      await new Promise((ok) => probe.close(ok));
      break;
    }
    blocker.close();
    assert.ok(tries < 20, 'no free port next to a free one');
  }
  const serve = fileURLToPath(new URL('../../scripts/serve.mjs', import.meta.url));
  const child = spawn(process.execPath, [serve, '--port', String(taken), '--host', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  let exited = false;
  child.once('exit', () => (exited = true));
  try {
    // Until it serves (or dies): a start-up time is no part of what is tested,
    // and a loaded machine can take seconds to start a Node process.
    await until(() => exited || (/serving on/.test(out) && err.includes('\n')), 120_000);
    assert.match(out, new RegExp(`serving on http://127\\.0\\.0\\.1:${taken + 1}/`));
    assert.equal(err.trim().split('\n').length, 1, `one line on stderr: ${err}`);
    assert.match(err, new RegExp(`port ${taken} .*taken; trying ${taken + 1}`));
    assert.doesNotMatch(err, /EADDRINUSE|at .*\(/, 'no stack trace');
  } finally {
    child.kill();
    blocker.close();
  }
});
