// The SIMD and scalar wasm builds must rank identically: same ids in the same
// order (up to exact ties) and bit-identical scores for every dtype (the f32
// kernels keep the scalar twins' summation order; int8 accumulation is exact;
// the residual re-scoring is the same scalar code in every build).
// The relaxed-SIMD build joins in where this Node validates it (22+); the
// browser tests always compare all three in Chromium.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import zlib from 'node:zlib';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load, relaxedSimdSupported } from '../../pkg/node.js';
import { CLI, synth, rng, gaussianVector } from './helpers.mjs';

const QUERIES = 300;

for (const dtype of ['f32', 'f16', 'int8', 'int8+residual']) {
  for (const [n, d] of [
    [3000, 64],
    [2001, 37], // odd dim and count: exercises the SIMD tails
    [1003, 32], // the unrolled width-32 f32 kernel, with a tail of three rows
  ]) {
    for (const fast of relaxedSimdSupported() ? [true, 'relaxed'] : [true]) {
      test(`${fast === true ? 'simd' : 'relaxed'} vs scalar: ${dtype} ${n}x${d}`, async (t) => {
        const bytes = readFileSync(synth({ items: n, dim: d, dtype, seed: 21, categories: 4 }));
        const simd = await load(bytes, { simd: fast });
        const scalar = await load(bytes, { simd: false });
        t.after(() => {
          simd.dispose();
          scalar.dispose();
        });
        assert.equal(simd.simdEnabled(), true, 'the simd build reports simd128');
        assert.equal(scalar.simdEnabled(), false, 'the scalar build reports no simd128');
        const r = rng(1234 + d);
        let ties = 0;
        for (let q = 0; q < QUERIES; q++) {
          const u = gaussianVector(r, d);
          const k = q % 3 === 0 ? 50 : 10;
          const a = simd.recommendIndices(u, k);
          const b = scalar.recommendIndices(u, k);
          assert.equal(a.indices.length, k);
          assert.equal(b.indices.length, k);
          for (let i = 0; i < k; i++) {
            // The kernels keep the scalar twins' summation order: every
            // score is bit-identical, f32 and f16 included.
            assert.equal(a.scores[i], b.scores[i], `q${q} rank ${i}: scores must be identical`);
            // Equal scores (asserted above) may come in either order.
            if (a.indices[i] !== b.indices[i]) ties++;
          }
        }
        if (ties) t.diagnostic(`${ties} rank swaps between tied scores`);
        // The option path (filters + strings) agrees as well.
        const u = gaussianVector(r, d);
        const cats = simd.info().categories.slice(0, 2);
        const fa = simd.recommend(u, { k: 20, categories: cats, inStockOnly: true });
        const fb = scalar.recommend(u, { k: 20, categories: cats, inStockOnly: true });
        assert.deepEqual(fa.map((s) => s.id), fb.map((s) => s.id));
        const sa = simd.similar('item-3', { k: 20 });
        const sb = scalar.similar('item-3', { k: 20 });
        assert.deepEqual(sa.map((s) => s.id), sb.map((s) => s.id));
      });
    }
  }
}

// The int8 screen of f32 and f16 catalogues (4,096 rows or more, built at
// load): the answers must be the plain scan's bit for bit, in every build,
// with filters and for `similar` (the cosine epilogue).
for (const dtype of ['f32', 'f16']) {
  test(`the int8 screen answers as the plain scan: ${dtype} 6000x64, every build`, async (t) => {
    const bytes = readFileSync(synth({ items: 6000, dim: 64, dtype, seed: 22, categories: 4 }));
    const builds = relaxedSimdSupported() ? ['relaxed', true, false] : [true, false];
    const screened = await Promise.all(builds.map((simd) => load(bytes, { simd })));
    const plain = await load(bytes, { simd: false, screen: false });
    t.after(() => [...screened, plain].forEach((v) => v.dispose()));
    // Built by the first scan, or at once by `screen: true`; never with `screen: false`.
    assert.equal(screened[0].info().screenBytes, 0, 'not built before the first scan');
    assert.equal(plain.info().screenBytes, 0);
    const r = rng(77);
    for (let q = 0; q < 100; q++) {
      const u = gaussianVector(r, 64);
      const k = q % 4 === 0 ? 100 : 10;
      const want = plain.recommendIndices(u, k);
      for (const v of screened) {
        const got = v.recommendIndices(u, k);
        assert.deepEqual([...got.indices], [...want.indices], `q${q}: same items in the same order`);
        assert.deepEqual([...got.scores], [...want.scores], `q${q}: bit-identical scores`);
      }
    }
    for (const v of screened) assert.ok(v.info().screenBytes >= 6000 * 64, 'the first scan built a screen');
    assert.equal(plain.info().screenBytes, 0, 'screen: false never builds one');
    const u = gaussianVector(r, 64);
    const cats = plain.info().categories.slice(0, 2);
    const opts = { k: 20, categories: cats, inStockOnly: true, exclude: ['item-1', 'item-2'] };
    for (const v of screened) {
      assert.deepEqual(v.recommend(u, opts), plain.recommend(u, opts));
      assert.deepEqual(v.similar('item-3', { k: 20 }), plain.similar('item-3', { k: 20 }));
    }
  });
}

// Rows whose every product is −0 (one side +0, the other negative, or +1
// against −0): how the lanes start (at 0, or at the first products, which the
// unrolled widths do) decides whether that dot is +0 or −0, and the kernels
// must agree on +0. Cosine (`similar`) has no bias to hide the sign.
for (const d of [32, 64, 48]) {
  test(`simd vs scalar: a dot of signed zeros is +0 (d=${d})`, async (t) => {
    const n = 9;
    const f = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < d; j++) {
        // even items: +1, +0, +1, ...; odd items: −0, −1, −0, ...
        const on = (j % 2 === 0) === (i % 2 === 0);
        f[i * d + j] = i % 2 === 0 ? (on ? 1 : 0) : on ? -1 : -0;
      }
    }
    const dir = mkdtempSync(join(tmpdir(), 'vitrine-zero-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const raw = join(dir, 'f.bin');
    writeFileSync(raw, new Uint8Array(f.buffer));
    const out = join(dir, 'z.vtr');
    execFileSync(CLI, ['synth', '--items', String(n), '--dim', String(d), '--factors', raw, '--out', out]);
    const bytes = readFileSync(out);
    const simd = await load(bytes, { simd: true });
    const scalar = await load(bytes, { simd: false });
    t.after(() => {
      simd.dispose();
      scalar.dispose();
    });
    const a = simd.similar('item-0', { k: n - 1 });
    const b = scalar.similar('item-0', { k: n - 1 });
    const zeros = a.filter((s) => s.score === 0);
    assert.equal(zeros.length, 4, 'the four odd items are orthogonal to item-0');
    for (const s of zeros) assert.ok(Object.is(s.score, 0), `${s.id}: +0, not −0`);
    const byId = new Map(b.map((s) => [s.id, s.score]));
    for (const s of a) assert.ok(Object.is(s.score, byId.get(s.id)), `${s.id}: ${s.score} vs ${byId.get(s.id)}`);
  });
}

// The folding CRC (format::crc32) runs its XOR step in the kernels module: a
// SIMD twin and a scalar one. Every build must accept an intact bundle whose
// FACTORS section is long enough to fold (> 19 200 bytes) and refuse one
// flipped bit wherever it lands: word 0 (where the running state enters), the
// folded words, across a block boundary, the 4800-byte remainder, the tail.
test('every build checks a folded section checksum bit for bit', async (t) => {
  const bytes = new Uint8Array(readFileSync(synth({ items: 3000, dim: 64, dtype: 'int8', seed: 33 })));
  const builds = [true, false, ...(relaxedSimdSupported() ? ['relaxed'] : [])];
  const probe = await load(bytes, { simd: false });
  t.after(() => probe.dispose());
  const s = probe.info().sections.find((x) => x.name === 'FACTORS');
  assert.ok(s && s.length > 4 * 19_200, `FACTORS is ${s && s.length} bytes: it folds over several blocks`);
  // The native writer folds too: its checksums must be zlib's CRC-32
  // (zlib.crc32 is in Node ≥ 20.15).
  if (typeof zlib.crc32 === 'function') {
    for (const x of probe.info().sections) {
      assert.equal(x.crc32 >>> 0, zlib.crc32(bytes.subarray(x.offset, x.offset + x.length)), `${x.name}: zlib's CRC-32`);
    }
  } else t.diagnostic('this Node has no zlib.crc32: writer checksums not cross-checked');
  const spots = [0, 3, 16, 17 * 16 + 5, 1025 * 16, s.length >> 1, s.length - 4800 - 1, s.length - 4800, s.length - 17, s.length - 1];
  for (const simd of builds) {
    const m = await load(bytes, { simd });
    assert.equal(m.info().nItems, 3000, `simd=${simd}: the intact bundle loads`);
    m.dispose();
    for (const at of spots) {
      const bad = bytes.slice();
      bad[s.offset + at] ^= 0x40;
      await assert.rejects(load(bad, { simd }), (e) => {
        assert.equal(e.code, 'CHECKSUM_MISMATCH', `simd=${simd}, byte ${at}: ${e.message}`);
        assert.equal(String(e.details.section), 'FACTORS');
        return true;
      });
    }
  }
});

test('load option screen: true builds the screen during load(), false never; a wrong type is INVALID_ARGUMENT', async (t) => {
  const bytes = readFileSync(synth({ items: 5000, dim: 32, dtype: 'f32', seed: 3 }));
  const eager = await load(bytes, { screen: true });
  const off = await load(bytes, { screen: false });
  const int8 = await load(readFileSync(synth({ items: 5000, dim: 32, dtype: 'int8', seed: 3 })), { screen: true });
  t.after(() => [eager, off, int8].forEach((v) => v.dispose()));
  assert.ok(eager.info().screenBytes >= 5000 * 32, 'built during load()');
  const u = new Float32Array(32).fill(0.3);
  assert.deepEqual(off.recommend(u, { k: 10 }), eager.recommend(u, { k: 10 }));
  assert.equal(off.info().screenBytes, 0, 'never built');
  assert.equal(int8.info().screenBytes, 0, 'int8 rows are their own screen');
  for (const bad of ['yes', 1, {}]) {
    await assert.rejects(load(bytes, { screen: bad }), (e) => e.code === 'INVALID_ARGUMENT' && /options\.screen/.test(e.message));
  }
});
