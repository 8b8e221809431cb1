// Fetching and instantiating the wasm builds (browser and worker; Node reads
// them from disk in node.js). A wrong URL, an HTML fallback page served in
// place of a missing file, a Content-Security-Policy without
// 'wasm-unsafe-eval' or a failed integrity check each end in one typed error
// that names what to change.

import { VitrineError, badArg, describe, messageOf } from './errors.js';
import { parseIntegrity, verifyIntegrity } from './integrity.js';

/**
 * Every wasm build: its wasm-bindgen glue and its binary. Literal specifiers
 * and `new URL(literal, import.meta.url)`, the patterns bundlers follow to
 * include and emit both.
 */
export const BUILDS = {
  relaxed: {
    glue: () => import('../wasm/relaxed/vitrine_core.js'),
    wasm: () => new URL('../wasm/relaxed/vitrine_core_bg.wasm', import.meta.url),
  },
  simd: {
    glue: () => import('../wasm/simd/vitrine_core.js'),
    wasm: () => new URL('../wasm/simd/vitrine_core_bg.wasm', import.meta.url),
  },
  scalar: {
    glue: () => import('../wasm/scalar/vitrine_core.js'),
    wasm: () => new URL('../wasm/scalar/vitrine_core_bg.wasm', import.meta.url),
  },
  intent: {
    glue: () => import('../wasm/intent/vitrine_intent.js'),
    wasm: () => new URL('../wasm/intent/vitrine_intent_bg.wasm', import.meta.url),
  },
};

/** @typedef {'relaxed' | 'simd' | 'scalar' | 'intent'} Build */

/**
 * The `wasmUrl` option's URL for one build (undefined: its default place).
 * A single string or URL names the engine's file, never the intent module's.
 * @param {Build} variant
 * @param {unknown} wasmUrl
 * @returns {string | URL | undefined}
 */
export function wasmUrlOf(variant, wasmUrl) {
  let u = wasmUrl;
  if (wasmUrl !== null && typeof wasmUrl === 'object' && !(wasmUrl instanceof URL)) u = /** @type {any} */ (wasmUrl)[variant];
  else if (variant === 'intent') u = undefined;
  if (u === undefined || u === null) return undefined;
  // Keyed by its text: a Request or any other object would all print as
  // "[object …]" and share one cache entry.
  if (typeof u !== 'string' && !(u instanceof URL)) badArg(`options.wasmUrl${u === wasmUrl ? '' : '.' + variant} must be a string or URL, got ${describe(u)}`);
  return u;
}

/**
 * The `wasmIntegrity` option's SRI string for one build.
 * @param {Build} variant @param {unknown} wasmIntegrity
 */
export function wasmIntegrityOf(variant, wasmIntegrity) {
  if (wasmIntegrity === undefined || wasmIntegrity === null) return undefined;
  if (typeof wasmIntegrity !== 'object') badArg(`options.wasmIntegrity must be an object like {simd: "sha384-…"}, got ${describe(wasmIntegrity)}`);
  const v = /** @type {any} */ (wasmIntegrity)[variant];
  return v === undefined || v === null ? undefined : parseIntegrity(v, `options.wasmIntegrity.${variant}`) && String(v);
}

/**
 * Where a relative URL is resolved: the document's base URL, as fetch() and
 * new Worker() resolve it (a <base href> holds on a router's deep route), or
 * in a worker its script.
 */
export function baseHref() {
  return globalThis.document?.baseURI ?? globalThis.location?.href;
}

/** @type {Map<string, Promise<any>>} keyed by build, absolute URL and integrity */
const cache = new Map();

/** @param {Uint8Array} b */
const isWasm = (b) => b.length >= 4 && b[0] === 0 && b[1] === 0x61 && b[2] === 0x73 && b[3] === 0x6d;

/**
 * Import and instantiate one wasm build: the engine (`relaxed`, `simd` or
 * `scalar`) or the intent matcher (`intent`). Cached per build, URL and
 * integrity, so several models share one instance (and one memory) and a
 * later call with another hash is checked again rather than served from the
 * cache.
 * @param {Build} variant
 * @param {unknown} wasmUrl the `wasmUrl` load option
 * @param {unknown} [wasmIntegrity] the `wasmIntegrity` load option
 */
export function loadWasm(variant, wasmUrl, wasmIntegrity) {
  const url = wasmUrlOf(variant, wasmUrl);
  const integrity = wasmIntegrityOf(variant, wasmIntegrity);
  const build = BUILDS[variant];
  let href;
  try {
    href = url === undefined ? build.wasm().href : new URL(String(url), baseHref()).href;
  } catch (e) {
    return Promise.reject(
      new VitrineError('WASM_UNAVAILABLE', `the ${variant} wasm URL ${describe(String(url))} is not a valid URL; fix options.wasmUrl`, { variant }, { cause: e }),
    );
  }
  const key = `${variant}\n${href}\n${integrity ?? ''}`;
  let p = cache.get(key);
  if (!p) {
    p = instantiate(variant, href, integrity).catch((e) => {
      cache.delete(key);
      throw e;
    });
    cache.set(key, p);
  }
  return p;
}

/**
 * @param {Build} variant @param {string} href @param {string | undefined} integrity
 */
async function instantiate(variant, href, integrity) {
  const fail = (/** @type {string} */ msg, /** @type {Record<string, unknown>} */ details = {}, /** @type {unknown} */ cause = undefined) =>
    new VitrineError('WASM_UNAVAILABLE', `could not load the ${variant} wasm build from ${href}: ${msg}`, { variant, url: href, ...details }, { cause });
  // Requested while the glue loads; settled at once (no unhandled rejection).
  const response = fetch(href).then(
    (r) => ({ r, e: undefined }),
    (e) => ({ r: undefined, e }),
  );
  let mod;
  try {
    mod = await BUILDS[variant].glue();
  } catch (e) {
    throw fail(`its JavaScript glue did not load (${messageOf(e)})`, { reason: 'glue' }, e);
  }
  const got = await response;
  if (!got.r) {
    const e = got.e;
    throw fail(`the request failed (${messageOf(e)}); check the URL, the network and the page's Content-Security-Policy (connect-src)`, { reason: 'network' }, e);
  }
  const res = got.r;
  if (!res.ok) {
    throw fail(`HTTP ${res.status}; serve node_modules/vitrine/wasm/ at that place or point options.wasmUrl at the file`, { reason: 'http', status: res.status });
  }
  const type = res.headers.get('content-type') ?? '';
  /** @type {Response | Uint8Array} */
  let source = res;
  if (integrity || !/^application\/wasm\b/i.test(type)) {
    let bytes;
    try {
      bytes = new Uint8Array(await res.arrayBuffer());
    } catch (e) {
      throw fail(`the download broke off (${messageOf(e)})`, { reason: 'network' }, e);
    }
    if (!isWasm(bytes)) {
      const html = /html/i.test(type) || /^\s*</.test(new TextDecoder().decode(bytes.subarray(0, 64)));
      throw fail(
        html
          ? `the server answered with an HTML page (Content-Type: ${type || 'none'}), not the wasm file — usually a missing file answered by the app's fallback page; make the file reachable at that URL (copy node_modules/vitrine/wasm/) or set options.wasmUrl`
          : `the response is not a wasm module (Content-Type: ${type || 'none'}); set options.wasmUrl to the vitrine .wasm file`,
        { reason: html ? 'html' : 'not-wasm', contentType: type },
      );
    }
    if (integrity) {
      const parsed = /** @type {NonNullable<ReturnType<typeof parseIntegrity>>} */ (parseIntegrity(integrity, 'wasmIntegrity'));
      await verifyIntegrity(bytes, parsed, `the ${variant} wasm build ${href}`);
    }
    source = bytes;
  }
  try {
    await mod.default({ module_or_path: source });
  } catch (e) {
    const msg = messageOf(e);
    if (/unsafe-eval|Content.Security.Policy|CSP/i.test(msg)) {
      throw fail(`the page's Content-Security-Policy forbids compiling WebAssembly; add 'wasm-unsafe-eval' to its script-src (${msg})`, { reason: 'csp' }, e);
    }
    throw fail(msg, { reason: 'instantiate' }, e);
  }
  return mod;
}
