// Which engine build this JS engine can run. Detection validates two tiny
// modules instead of sniffing user agents: the answer is exact for every
// engine, including ones that ship a feature later.

import { VitrineError, badArg, describe } from './errors.js';

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
 * Which engine build to run. 'auto' takes the fastest one this engine
 * validates: relaxed SIMD (a faster int8 kernel), then SIMD128, then scalar;
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
    if (relaxedSimdSupported() && listed('relaxed')) return 'relaxed';
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
 * `pickVariant` with the reason for its choice, for `info().build`.
 * @param {'auto' | boolean | 'relaxed' | undefined | null} simd
 * @param {unknown} [wasmUrl]
 * @returns {Promise<{variant: 'relaxed' | 'simd' | 'scalar', reason: string}>}
 */
export async function pickVariantWithReason(simd, wasmUrl) {
  const variant = pickVariant(simd, wasmUrl);
  if (simd !== undefined && simd !== null && simd !== 'auto') return { variant, reason: `simd: ${JSON.stringify(simd)} was requested` };
  const reason =
    variant === 'relaxed'
      ? 'auto: relaxed SIMD validates here'
      : variant === 'simd'
        ? relaxedSimdSupported()
          ? 'auto: SIMD128 (options.wasmUrl lists no relaxed build)'
          : 'auto: SIMD128 validates here, relaxed SIMD does not'
        : 'auto: this engine has no WebAssembly SIMD';
  return { variant, reason };
}
