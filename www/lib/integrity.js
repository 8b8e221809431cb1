// Subresource Integrity for bytes the glue reads itself (the model bundle and
// the wasm builds). Checked here rather than by `fetch(…, {integrity})` so the
// same option works for a Response, an ArrayBuffer or a file in Node, and so a
// mismatch is an `INTEGRITY` error instead of a bare "Failed to fetch".

import { VitrineError, badArg, describe } from './errors.js';

const ALGOS = /** @type {const} */ ({ sha256: 'SHA-256', sha384: 'SHA-384', sha512: 'SHA-512' });

/**
 * Parse an SRI string (`"sha384-… sha512-…"`). Only the strongest algorithm
 * listed counts, as in browsers.
 * @param {unknown} integrity
 * @param {string} name option name, for messages
 * @returns {{algo: 'sha256' | 'sha384' | 'sha512', digests: string[]} | undefined}
 */
export function parseIntegrity(integrity, name) {
  if (integrity === undefined || integrity === null) return undefined;
  if (typeof integrity !== 'string') badArg(`${name} must be an SRI string like "sha384-…", got ${describe(integrity)}`);
  /** @type {Record<string, string[]>} */
  const by = {};
  for (const tok of integrity.trim().split(/\s+/)) {
    const m = /^(sha256|sha384|sha512)-([A-Za-z0-9+/]+={0,2})(\?.*)?$/.exec(tok);
    if (m) (by[m[1]] ??= []).push(m[2]);
  }
  for (const algo of /** @type {const} */ (['sha512', 'sha384', 'sha256'])) {
    if (by[algo]) return { algo, digests: by[algo] };
  }
  return badArg(`${name} must name a sha256, sha384 or sha512 digest ("sha384-<base64>"), got ${describe(integrity)}`);
}

/** @param {ArrayBuffer} buf */
function base64(buf) {
  const bytes = new Uint8Array(buf);
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return btoa(s);
}

/** crypto.subtle, else INTEGRITY: plain-http pages have none. @param {string} what */
export function requireSubtle(what) {
  const subtle = globalThis.crypto?.subtle;
  if (subtle) return subtle;
  throw new VitrineError(
    'INTEGRITY',
    `cannot check the integrity of ${what}: crypto.subtle is missing (not a secure context); serve the page over https or localhost, or leave out the integrity options`,
    { reason: 'no-subtle-crypto' },
  );
}

/**
 * Throws INTEGRITY unless `bytes` match `integrity`.
 * @param {Uint8Array} bytes
 * @param {{algo: 'sha256' | 'sha384' | 'sha512', digests: string[]}} integrity
 * @param {string} what e.g. "the model https://…/shop.vtr"
 */
export async function verifyIntegrity(bytes, integrity, what) {
  const subtle = requireSubtle(what);
  const got = base64(await subtle.digest(ALGOS[integrity.algo], bytes));
  if (!integrity.digests.includes(got)) {
    throw new VitrineError(
      'INTEGRITY',
      `${what} does not match its integrity hash (${integrity.algo}-${got} is not listed); the file changed or was corrupted on the way — re-export it or update the hash`,
      { algorithm: integrity.algo, actual: `${integrity.algo}-${got}` },
    );
  }
}
