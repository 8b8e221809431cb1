// Shared by the JS tests and the benchmark: synthesize bundles with the
// native CLI and compute brute-force reference rankings.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const CLI = process.env.VITRINE_CLI ?? join(ROOT, 'target', 'release', 'vitrine');

let tmp;
/** One temp dir per test process, removed at exit. */
export function tempDir() {
  if (!tmp) {
    tmp = mkdtempSync(join(tmpdir(), 'vitrine-js-'));
    process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
  }
  return tmp;
}

/**
 * Synthesize a bundle (cached per parameters within this process or in `dir`).
 * @param {{items: number, dim: number, dtype: 'f32'|'f16'|'int8', seed?: number, categories?: number, dir?: string}} p
 */
export function synth({ items, dim, dtype, seed = 7, categories, dir }) {
  const out = join(dir ?? tempDir(), `synth-${items}x${dim}-${dtype}-s${seed}${categories ? `-c${categories}` : ''}.vtr`);
  if (!existsSync(CLI)) throw new Error(`the native CLI is missing at ${CLI}: run make cli`);
  // A cached bundle older than the CLI may be in an outdated format.
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(CLI).mtimeMs) return out;
  // 'int8+residual': int8 rows plus the RESIDUAL section (`--residual`).
  const [base, residual] = dtype.split('+');
  const args = ['synth', '--items', String(items), '--dim', String(dim), '--dtype', base, '--seed', String(seed)];
  if (residual) args.push('--residual');
  if (categories) args.push('--categories', String(categories));
  args.push('--out', out);
  try {
    execFileSync(CLI, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`${CLI} ${args.join(' ')} failed: ${e.stderr?.toString() || e.message}`);
  }
  return out;
}

/**
 * A synth bundle whose INTENT section is the default intent set, trained with
 * a title index over that bundle's own catalogue (so product mentions resolve).
 * @param {{items: number, dim: number, dtype: 'f32'|'f16'|'int8', seed: number}} p
 * @returns {{ plain: string, withIntent: string }}
 */
export function synthWithIntent({ items, dim, dtype, seed }) {
  const dir = tempDir();
  const plain = synth({ items, dim, dtype, seed, dir });
  const withIntent = join(dir, `intent-${items}x${dim}-${dtype}-s${seed}.vtr`);
  if (!existsSync(withIntent)) {
    const data = join(ROOT, 'src', 'intent', 'data');
    const vti = join(dir, `intent-s${seed}.vti`);
    execFileSync(CLI, ['intent', 'train', '--data', join(data, 'default_train.csv'), '--oos', join(data, 'default_oos.csv'),
      '--config', join(data, 'default_intents.csv'), '--c', '30', '--titles-from', plain, '--out', vti], { stdio: 'ignore' });
    execFileSync(CLI, ['synth', '--items', String(items), '--dim', String(dim), '--dtype', dtype, '--seed', String(seed),
      '--intent', vti, '--out', withIntent], { stdio: 'ignore' });
  }
  return { plain, withIntent };
}

/**
 * Waits until `cond()` (sync or async) is true and says whether it became so.
 * Tests wait for the state they need (a message delivered, a write landed),
 * never for a fixed time: on a loaded machine this process can be off the CPU
 * for longer than any sleep, and Node runs an expired timer before the
 * message or I/O that arrived meanwhile. `ms` only turns a state that never
 * comes into a failing assertion after it instead of a hang; callers assert
 * the state themselves, so the failure shows what was there.
 * @param {() => unknown} cond
 * @param {number} [ms]
 * @returns {Promise<boolean>}
 */
export async function until(cond, ms = 60_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Deterministic PRNG (mulberry32) so failures reproduce. */
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const gauss = () => {
    let u = 0;
    while (u === 0) u = next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
  };
  return { next, gauss };
}

export function gaussianVector(r, dim) {
  const v = new Float32Array(dim);
  for (let i = 0; i < dim; i++) v[i] = r.gauss();
  return v;
}

/**
 * Everything needed for brute-force reference scoring, read back through the
 * public API: dequantized vectors, catalogue attributes, and the bias (the
 * scores of a zero user vector over the whole catalogue are exactly the biases).
 * @param {import('../../pkg/vitrine.js').Vitrine} m
 */
export function snapshot(m) {
  const n = m.nItems;
  const d = m.dim;
  const vectors = new Float32Array(n * d);
  const items = [];
  for (let i = 0; i < n; i++) {
    const id = m.itemId(i);
    vectors.set(m.itemVector(id), i * d);
    items.push(m.item(id));
  }
  const bias = new Float64Array(n);
  for (const { id, score } of m.recommend(new Float32Array(d), { k: n })) bias[m.itemIndex(id)] = score;
  return { n, d, vectors, items, bias };
}

/**
 * Reference top-k (f64 arithmetic) with the same filters as RecOptions.
 * Returns every candidate's score too, so that callers can reason about ties.
 */
export function referenceTopK(snap, user, opts = {}) {
  const { n, d, vectors, items, bias } = snap;
  const k = opts.k ?? 10;
  const exclude = new Set(opts.exclude ?? []);
  const cats = opts.categories ? new Set(opts.categories) : null;
  const scored = [];
  for (let i = 0; i < n; i++) {
    const it = items[i];
    if (exclude.has(it.id)) continue;
    if (cats && !cats.has(it.category)) continue;
    if (opts.priceMin !== undefined && !(it.price >= opts.priceMin)) continue;
    if (opts.priceMax !== undefined && !(it.price <= opts.priceMax)) continue;
    if (opts.inStockOnly && it.inStock !== true) continue;
    let s = 0;
    let mag = 0;
    for (let j = 0; j < d; j++) {
      const p = user[j] * vectors[i * d + j];
      s += p;
      mag += Math.abs(p);
    }
    scored.push({ id: it.id, index: i, score: s + bias[i], mag: mag + Math.abs(bias[i]) });
  }
  scored.sort((a, b) => b.score - a.score);
  return { top: scored.slice(0, k), all: scored };
}

/**
 * Assert that `got` is the reference top-k: scores within `tol` × magnitude
 * and the same id set, where an item may only be swapped with one whose
 * reference score is within tolerance of the k-th (a genuine near-tie).
 */
export function checkAgainstReference(assert, got, ref, tol, label = '') {
  const { top, all } = ref;
  assert.equal(got.length, top.length, `${label} length`);
  const byId = new Map(all.map((s) => [s.id, s]));
  for (let i = 0; i < got.length; i++) {
    const r = byId.get(got[i].id);
    assert.ok(r, `${label} returned ${got[i].id}, which the filters exclude`);
    const err = Math.abs(got[i].score - r.score);
    assert.ok(err <= tol * Math.max(r.mag, 1e-6), `${label} score of ${got[i].id}: got ${got[i].score}, reference ${r.score}`);
    if (i > 0) assert.ok(got[i].score <= got[i - 1].score, `${label} not sorted at ${i}`);
  }
  if (top.length === 0) return;
  const kth = top[top.length - 1];
  const margin = tol * Math.max(kth.mag, 1e-6) * 2;
  const gotIds = new Set(got.map((g) => g.id));
  for (const t of top) {
    if (!gotIds.has(t.id)) {
      assert.ok(t.score <= kth.score + margin, `${label} missing ${t.id} (ref score ${t.score}, k-th ${kth.score})`);
    }
  }
  for (const g of got) {
    const r = byId.get(g.id);
    assert.ok(r.score >= kth.score - margin, `${label} ${g.id} (ref ${r.score}) is not in the reference top-k (k-th ${kth.score})`);
  }
}
