// Hostile numbers and sizes at the wasm boundary (issue #13, items 1, 4, 11,
// 13 and #14 item 5): each is a typed VitrineError with a stable code, never
// a trap, an Infinity score or a silently wrong answer.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from '../../pkg/node.js';
import { CLI, ROOT, synth, tempDir } from './helpers.mjs';

const T0 = Date.UTC(2026, 0, 5, 12, 0, 0);

function sessionBundle(dim, items = 300) {
  const out = join(tempDir(), `safety-session-${dim}.vtr`);
  if (!existsSync(out)) {
    execFileSync(CLI, ['session', 'synth', '--items', String(items), '--dim', String(dim), '--dtype', 'f32', '--seed', '4', '--sessions', '300', '--out', out], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }
  return out;
}

function errorOf(f) {
  try {
    f();
  } catch (e) {
    return e;
  }
  assert.fail('expected an error');
}

function expectCode(f, code, re) {
  const e = errorOf(f);
  assert.equal(e.name, 'VitrineError', `${e.name}: ${e.message}`);
  assert.equal(e.code, code, e.message);
  if (re) assert.match(e.message, re);
  return e;
}

test('a segment index that would wrap on wasm32 is refused, not centroid 0', async (t) => {
  const m = await load(sessionBundle(512));
  t.after(() => m.dispose());
  // 8388608 × 512 = 2^32: wraps to 0 in a 32-bit usize.
  for (const segment of [8388608, 5, 4294967295]) {
    expectCode(() => m.raw.recommendFor([], { segment, k: 5, now: T0 }), 'INVALID_ARGUMENT', /segment/);
  }
  assert.equal(m.raw.recommendFor([], { segment: 0, k: 5, now: T0 }).coldStart, true);
});

test('huge JS arrays are typed errors, not capacity-overflow traps', async (t) => {
  const m = await load(sessionBundle(16));
  t.after(() => m.dispose());
  expectCode(() => m.raw.foldIn(new Array(2 ** 27), { now: T0 }), 'INVALID_ARGUMENT', /events/);
  expectCode(() => m.raw.rerank(new Array(2 ** 29), { now: T0 }), 'INVALID_ARGUMENT', /candidateIds/);
  expectCode(() => m.raw.recommendFor([], { now: T0, exclude: new Array(2 ** 28) }), 'INVALID_ARGUMENT', /exclude/);
  // A user vector is checked against dim before it is copied.
  expectCode(() => m.raw.recommendFast(new Float32Array(2 ** 26), 10), 'DIM_MISMATCH');
  expectCode(() => m.raw.recommend(new Array(2 ** 30), {}), 'DIM_MISMATCH');
  // Still healthy afterwards.
  assert.equal(m.raw.recommendFor([], { k: 3, now: T0 }).scores.length, 3);
});

test('numbers that overflow f32 name their option', async (t) => {
  const m = await load(sessionBundle(16));
  t.after(() => m.dispose());
  const item = m.popular({ k: 1 })[0].id;
  const events = [{ type: 'view', item, ts: T0 }];
  expectCode(() => m.raw.recommendFor(events, { now: T0, blend: { long: 1e39 } }), 'INVALID_ARGUMENT', /blend\.long/);
  expectCode(() => m.raw.recommendFor(events, { now: T0, weights: { view: 1e39 } }), 'INVALID_ARGUMENT', /weights\.view/);
  expectCode(() => m.raw.recommendFor(events, { now: T0, boost: { [item]: 1e39 } }), 'INVALID_ARGUMENT', /boost/);
  expectCode(() => m.raw.recommendFor(events, { now: T0, sessionHalfLife: 1e39 }), 'INVALID_ARGUMENT', /sessionHalfLife/);
  // A huge pool is bounded, not reserved (≈ 240 MB per call before).
  const r = m.raw.recommendFor(events, { now: T0, k: 5, pool: 1e7 });
  assert.equal(r.scores.length, 5);
});

test('user vectors outside ±1e12 are OUT_OF_RANGE, never Infinity or []', async (t) => {
  for (const dtype of ['f32', 'int8']) {
    const m = await load(synth({ items: 500, dim: 8, dtype, seed: 31 }));
    t.after(() => m.dispose());
    const big = new Float32Array(8).fill(3e38);
    expectCode(() => m.recommend(big, { k: 10 }), 'OUT_OF_RANGE', /1e12/);
    expectCode(() => m.raw.recommendFast(big, 10), 'OUT_OF_RANGE');
    expectCode(() => m.raw.recommend(new Float64Array(8).fill(1e39), {}), 'OUT_OF_RANGE');
    const ok = new Float32Array(8).fill(1e12);
    const r = m.recommend(ok, { k: 10 });
    assert.equal(r.length, 10);
    assert.ok(r.every((x) => Number.isFinite(x.score)), JSON.stringify(r));
  }
});

test('a bundle with a huge but finite int8 scale does not load', async () => {
  const bytes = new Uint8Array(readFileSync(synth({ items: 50, dim: 8, dtype: 'int8', seed: 32 })));
  const dv = new DataView(bytes.buffer);
  const count = dv.getUint32(16, true);
  let scales;
  for (let i = 0; i < count; i++) {
    const e = 64 + 32 * i;
    if (dv.getUint32(e, true) === 6) scales = { e, off: Number(dv.getBigUint64(e + 8, true)), len: Number(dv.getBigUint64(e + 16, true)) };
  }
  dv.setFloat32(scales.off + 4, 1e38, true);
  // Reseal the section checksum and the table checksum: only the value is wrong.
  const { crc32 } = await import('node:zlib');
  if (typeof crc32 !== 'function') return; // Node < 20.15: no zlib.crc32
  dv.setUint32(scales.e + 24, crc32(bytes.subarray(scales.off, scales.off + scales.len)), true);
  const table = new Uint8Array(32 + 32 * count);
  table.set(bytes.subarray(0, 32), 0);
  table.set(bytes.subarray(64, 64 + 32 * count), 32);
  dv.setUint32(32, crc32(table), true);
  const e = await load(bytes).then(
    () => assert.fail('loaded'),
    (err) => err,
  );
  assert.equal(e.code, 'UNSAFE_VALUE', e.message);
  assert.equal(e.details.section, 'SCALES');
});

test('prices come back exactly as exported, from new and old bundles', async (t) => {
  const m = await load(synth({ items: 200, dim: 8, dtype: 'int8', seed: 33 }));
  t.after(() => m.dispose());
  assert.equal(m.info().formatVersion, '1.2');
  let seen = 0;
  for (let i = 0; i < 200; i++) {
    const p = m.item(`item-${i}`).price;
    if (p === undefined) continue;
    seen++;
    // synth prices have two decimals: 24.99, never 24.989999771118164.
    assert.equal(Math.round(p * 100) / 100, p, `item-${i}: ${p}`);
  }
  assert.ok(seen > 100);
  const old = await load(new Uint8Array(readFileSync(join(ROOT, 'tests/fixtures/v1.1-residual.vtr'))));
  t.after(() => old.dispose());
  const p = old.item('item-3').price;
  assert.equal(Math.round(p * 100) / 100, p);
});

test('bundle buffer: a lying Content-Length commits no memory, a maximum size is enforced', async (t) => {
  const m = await load(synth({ items: 300, dim: 8, dtype: 'f32', seed: 34 }));
  t.after(() => m.dispose());
  const bytes = new Uint8Array(readFileSync(synth({ items: 300, dim: 8, dtype: 'f32', seed: 34 })));
  const rss0 = process.memoryUsage().rss;
  // Over the default maximum (512 MiB): refused before anything is reserved.
  const e = await load(new Response(bytes, { headers: { 'content-length': '2000000000' } })).then(
    () => assert.fail('loaded'),
    (err) => err,
  );
  assert.ok(['TOO_LARGE', 'LENGTH_MISMATCH', 'TRUNCATED'].includes(e.code), e.code);
  // Under the maximum but a lie: memory follows the bytes, then TRUNCATED.
  for (let i = 0; i < 20; i++) {
    const e2 = await load(new Response(bytes, { headers: { 'content-length': String(400 << 20) } })).then(
      () => assert.fail('loaded'),
      (err) => err,
    );
    assert.equal(e2.code, 'TRUNCATED');
  }
  const grown = process.memoryUsage().rss - rss0;
  assert.ok(grown < 200 * 2 ** 20, `RSS grew by ${(grown / 2 ** 20).toFixed(0)} MiB`);
});

test('BundleBuffer(length, maxBytes).push: memory follows the bytes, maxBytes is enforced, failures free', async () => {
  const mod = await import('../../pkg/wasm/scalar/vitrine_core.js');
  // Returns the existing instance if the package already started this build.
  const exports = mod.initSync({ module: readFileSync(join(ROOT, 'pkg/wasm/scalar/vitrine_core_bg.wasm')) });
  const bytes = new Uint8Array(readFileSync(synth({ items: 300, dim: 8, dtype: 'f32', seed: 35 })));
  const mem = () => exports.memory.buffer.byteLength;
  // The new API: declared length + maximum, chunks pushed in order.
  const b = new mod.BundleBuffer(bytes.length, 1 << 20);
  for (let i = 0; i < bytes.length; i += 1000) b.push(bytes.subarray(i, Math.min(i + 1000, bytes.length)));
  assert.equal(b.received, bytes.length);
  const m = mod.Model.fromBuffer(b);
  assert.equal(m.nItems, 300);
  m.free();
  // Unknown length: grows with the bytes, TOO_LARGE past the maximum, and
  // the buffer is released on that error.
  const u = new mod.BundleBuffer(undefined, 4096);
  u.push(bytes.subarray(0, 4000));
  expectCode(() => u.push(bytes.subarray(4000, 5000)), 'TOO_LARGE');
  expectCode(() => u.push(bytes.subarray(0, 10)), 'INVALID_ARGUMENT', /failed|already/);
  u.free();
  // A declared length over the maximum: refused before any allocation.
  const before = mem();
  expectCode(() => new mod.BundleBuffer(2_000_000_000), 'TOO_LARGE', /maxBytes/);
  expectCode(() => new mod.BundleBuffer(100, 50), 'TOO_LARGE');
  expectCode(() => mod.Model.fromBytes(bytes, 1000), 'TOO_LARGE');
  // A lying declared length below the maximum reserves little, and
  // finishing early is TRUNCATED, not a model of zeros.
  const lie = new mod.BundleBuffer(400 << 20);
  lie.push(bytes);
  expectCode(() => mod.Model.fromBuffer(lie), 'TRUNCATED');
  lie.free();
  assert.ok(mem() - before < 64 << 20, `wasm memory grew by ${mem() - before}`);
  // The previous API (write at offsets) still works.
  const w = new mod.BundleBuffer(bytes.length);
  w.write(0, bytes.subarray(0, 500));
  w.write(500, bytes.subarray(500));
  const m2 = mod.Model.fromBuffer(w);
  assert.equal(m2.nItems, 300);
  m2.free();
});
