// Which engine build this JS engine can run. Detection validates two tiny
// modules instead of sniffing user agents: the answer is exact for every
// engine, including ones that ship a feature later.

import { VitrineError, badArg, describe } from './errors.js';
import { BUILDS, loadWasm, wasmUrlOf, baseHref } from './wasm.js';
// The measuring code is fetched only by a load that must calibrate (the first
// in a browser); the remembered decision is read eagerly (decision.js is ~1 KiB).
import { describeDecision, rememberedDecision } from './decision.js';

/**
 * Smallest module using a v128 type: validates only where SIMD is supported.
 * (func (result v128) i32.const 0 i8x16.splat i8x16.popcnt)
 */
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15,
  253, 98, 11,
]);

/**
 * Relaxed SIMD probe: validates only where `i32x4.relaxed_dot_i8x16_i7x16_add_s`
 * is supported (Chromium-based browsers since 114, Node 22; other engines vary).
 * (func (result v128) 3 × (i32.const 0 i8x16.splat) i32x4.relaxed_dot_i8x16_i7x16_add_s)
 */
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 19, 1, 17, 0, 65, 0, 253, 15,
  65, 0, 253, 15, 65, 0, 253, 15, 253, 147, 2, 11,
]);

/** @param {Uint8Array} probe */
function validates(probe) {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(probe);
  } catch {
    return false;
  }
}

/** @returns {boolean} whether this engine can run the SIMD build */
export function simdSupported() {
  return validates(SIMD_PROBE);
}

/** @returns {boolean} whether this engine can run the relaxed-SIMD build */
export function relaxedSimdSupported() {
  return validates(RELAXED_PROBE);
}

/**
 * Which engine build to run. 'auto' takes the build measured fastest in this
 * browser when a measurement is remembered (`pickVariantWithReason` makes
 * one), else relaxed SIMD where it validates, then SIMD128, then scalar;
 * all three rank identically. When `wasmUrl` lists files per build, 'auto'
 * only picks the relaxed build if it is listed (older bundler setups name
 * just `simd` and `scalar`).
 * @param {'auto' | boolean | 'relaxed' | undefined | null} simd
 * @param {unknown} [wasmUrl]
 * @returns {'relaxed' | 'simd' | 'scalar'}
 */
export function pickVariant(simd, wasmUrl) {
  const perBuild = wasmUrl !== null && typeof wasmUrl === 'object' && !(wasmUrl instanceof URL);
  const listed = (/** @type {string} */ v) => !perBuild || /** @type {any} */ (wasmUrl)[v] != null;
  if (simd === undefined || simd === null || simd === 'auto') {
    if (relaxedSimdSupported() && listed('relaxed')) {
      const key = calibrationKey(wasmUrl);
      const d = key === undefined ? undefined : rememberedDecision(key);
      if (d && listed(d.variant)) return d.variant;
      return 'relaxed';
    }
    return simdSupported() ? 'simd' : 'scalar';
  }
  if (simd === true || simd === 'relaxed') {
    const ok = simd === true ? simdSupported() : relaxedSimdSupported();
    if (!ok) {
      throw new VitrineError(
        'WASM_UNAVAILABLE',
        `simd: ${JSON.stringify(simd)} was requested but this engine does not support WebAssembly ${simd === true ? 'SIMD' : 'relaxed SIMD'}; pass simd: "auto"`,
      );
    }
    return simd === true ? 'simd' : 'relaxed';
  }
  if (simd === false) return 'scalar';
  return badArg(`options.simd must be 'auto', true, false or 'relaxed', got ${describe(simd)}`);
}

/**
 * What a calibration is remembered under: the browser (its version may
 * change the answer) and the two builds' absolute URLs (a new vitrine
 * release usually means new URLs). Undefined when a URL cannot be resolved.
 * @param {unknown} wasmUrl
 */
function calibrationKey(wasmUrl) {
  try {
    const href = (/** @type {'relaxed' | 'simd'} */ v) => {
      const u = wasmUrlOf(v, wasmUrl);
      return u === undefined ? BUILDS[v].wasm().href : new URL(String(u), baseHref()).href;
    };
    const ua = typeof navigator !== 'undefined' && navigator.userAgent ? navigator.userAgent : `node ${typeof process !== 'undefined' ? process.version : ''}`;
    return `${ua}\n${href('relaxed')}\n${href('simd')}`;
  } catch {
    return undefined;
  }
}

/**
 * `pickVariant` with the reason for its choice, for `info().build`. Under
 * 'auto', where both SIMD builds run and no measurement is remembered, both
 * are measured on a small int8 catalogue (calibrate.js) and the faster one
 * is used and remembered; a failed measurement falls back to the rule.
 * @param {'auto' | boolean | 'relaxed' | undefined | null} simd
 * @param {unknown} [wasmUrl]
 * @param {unknown} [wasmIntegrity]
 * @returns {Promise<{variant: 'relaxed' | 'simd' | 'scalar', reason: string, calibration?: {relaxed_ms: number, simd_ms: number, at: string, fresh: boolean}}>}
 */
export async function pickVariantWithReason(simd, wasmUrl, wasmIntegrity) {
  const variant = pickVariant(simd, wasmUrl);
  if (simd !== undefined && simd !== null && simd !== 'auto') return { variant, reason: `simd: ${JSON.stringify(simd)} was requested` };
  const perBuild = wasmUrl !== null && typeof wasmUrl === 'object' && !(wasmUrl instanceof URL);
  const both = relaxedSimdSupported() && (!perBuild || (/** @type {any} */ (wasmUrl).relaxed != null && /** @type {any} */ (wasmUrl).simd != null));
  const key = both ? calibrationKey(wasmUrl) : undefined;
  if (key !== undefined) {
    const asInfo = (/** @type {import('./decision.js').Decision} */ d, /** @type {boolean} */ fresh) => ({
      variant: d.variant,
      reason: describeDecision(d, fresh),
      calibration: { relaxed_ms: d.relaxed_ms, simd_ms: d.simd_ms, at: new Date(d.at).toISOString(), fresh },
    });
    const known = rememberedDecision(key);
    if (known) return asInfo(known, false);
    try {
      const { calibrate } = await import('./calibrate.js');
      const d = await calibrate(key, async () => {
        const [relaxed, simd128] = await Promise.all([loadWasm('relaxed', wasmUrl, wasmIntegrity), loadWasm('simd', wasmUrl, wasmIntegrity)]);
        return { relaxed, simd: simd128 };
      });
      return asInfo(d, true);
    } catch {
      // A build that does not load is reported by the load itself, below.
    }
  }
  const reason =
    variant === 'relaxed'
      ? 'auto: relaxed SIMD validates here (not measured)'
      : variant === 'simd'
        ? relaxedSimdSupported()
          ? 'auto: SIMD128 (options.wasmUrl lists no relaxed build)'
          : 'auto: SIMD128 validates here, relaxed SIMD does not'
        : 'auto: this engine has no WebAssembly SIMD';
  return { variant, reason };
}
