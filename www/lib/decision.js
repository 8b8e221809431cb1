// What `simd: 'auto'` decided before in this browser: the remembered
// measurement of calibrate.js and its wording for `info().build`. Split from
// calibrate.js so that the page imports only this (about 1 KiB) eagerly: the
// measuring code (a bundle generator and the timed rounds) is fetched by
// detect.js with `import()` only when a load must calibrate, which is the
// first load in a browser (pkg/README.md, "What a page downloads").

/** Size of the calibration catalogue: a 1 MiB int8 matrix, in L2 on most CPUs. */
export const CAL_ITEMS = 16384;
export const CAL_DIM = 64;
const STORAGE_KEY = 'vitrine.simd-auto.v1';
/** A remembered decision is measured again after this long (browsers update). */
const MAX_AGE_MS = 30 * 24 * 3600 * 1000;

function storage() {
  try {
    return typeof localStorage !== 'undefined' ? localStorage : undefined;
  } catch {
    return undefined; // opaque origins throw on access
  }
}

/** Decisions measured in this JS realm (Node, workers: no localStorage). */
const memo = new Map();

/**
 * @typedef {{ variant: 'relaxed' | 'simd', relaxed_ms: number, simd_ms: number, at: number, key: string }} Decision
 */

/**
 * The remembered decision for these builds in this browser, if any.
 * @param {string} key
 * @returns {Decision | undefined}
 */
export function rememberedDecision(key) {
  if (memo.has(key)) return memo.get(key);
  const ls = storage();
  if (!ls) return undefined;
  try {
    const all = JSON.parse(ls.getItem(STORAGE_KEY) ?? '{}');
    const d = all && typeof all === 'object' ? all[key] : undefined;
    if (!d || (d.variant !== 'relaxed' && d.variant !== 'simd') || !(Date.now() - d.at < MAX_AGE_MS)) return undefined;
    if (!Number.isFinite(d.relaxed_ms) || !Number.isFinite(d.simd_ms)) return undefined;
    return { ...d, key };
  } catch {
    return undefined;
  }
}

/** @param {Decision} d */
export function remember(d) {
  memo.set(d.key, d);
  const ls = storage();
  if (!ls) return;
  try {
    const all = JSON.parse(ls.getItem(STORAGE_KEY) ?? '{}') ?? {};
    all[d.key] = { variant: d.variant, relaxed_ms: d.relaxed_ms, simd_ms: d.simd_ms, at: d.at };
    ls.setItem(STORAGE_KEY, JSON.stringify(all));
  } catch {
    // storage full or denied: measured again next time
  }
}

/** Forget every remembered decision (tests; a page that wants a new measurement). */
export function forgetDecisions() {
  memo.clear();
  try {
    storage()?.removeItem(STORAGE_KEY);
  } catch {
    // nothing stored
  }
}

/** @param {Decision} d @param {boolean} fresh */
export function describeDecision(d, fresh) {
  const f = (/** @type {number} */ x) => `${(x * 1000).toFixed(0)} µs`;
  return `auto: ${d.variant === 'relaxed' ? 'relaxed SIMD' : 'SIMD128'} scanned ${CAL_ITEMS / 1024}k × ${CAL_DIM} int8 faster here (relaxed ${f(d.relaxed_ms)} vs SIMD128 ${f(d.simd_ms)} per top-10)${fresh ? ', measured during this load' : `, measured ${new Date(d.at).toISOString().slice(0, 10)} and remembered`}`;
}
