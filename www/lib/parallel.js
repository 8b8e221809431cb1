// Two-thread scans: one query's scan split by rows across two workers, each
// holding the model, joined here into the one-thread answer.
//
// Why two instances and not one shared matrix: a wasm memory can be shared
// between threads only if the module was built with atomics, and Rust's
// standard library must then be rebuilt for it (nightly `-Z build-std`),
// which this project's builds do not do. So each worker's wasm instance holds
// its own copy of the bundle; where the page is cross-origin isolated, bundle
// bytes given to `loadInWorker` are put once in a SharedArrayBuffer that both
// workers read from (no copy per worker on the way in).

import { badArg, describe } from './errors.js';

/**
 * Rows per kernel block in the engine (`engine::model::BLOCK`). Splits fall
 * on block boundaries so each part scans whole blocks, as one thread would;
 * the scores do not depend on it (the engine tests split anywhere).
 */
export const BLOCK = 256;

/**
 * The row ranges of `parts` parts over `n` rows: equal halves, rounded to
 * whole blocks.
 * @param {number} n @param {number} parts
 * @returns {[number, number][]}
 */
export function splitRows(n, parts) {
  /** @type {[number, number][]} */
  const out = [];
  const per = Math.ceil(n / parts / BLOCK) * BLOCK;
  for (let p = 0, from = 0; p < parts; p++) {
    const to = p === parts - 1 ? n : Math.min(n, from + per);
    out.push([from, to]);
    from = to;
  }
  return out;
}

/**
 * @typedef {{ pool: number, indices: Uint32Array, scan: Float32Array, scores: Float32Array, ids?: string[], unknownExcludes?: number }} Part
 * (`ids` are left out by the parts of `recommendIndices`, which answers indices)
 */

/**
 * Joins parts into the one-thread answer, by the rules of the engine's
 * `merge_parts` (src/engine/model.rs): the best `pool` candidates of all
 * parts by their scan value, ties to the lower index; then the best `k` of
 * those by final score, ties to the lower index. Each part holds the best
 * `pool` of its own rows (best first), so the union holds the catalogue's.
 * @param {Part[]} parts
 * @param {number} k
 * @returns {{ index: number, id: string, score: number }[]}
 */
export function mergeParts(parts, k) {
  const pool = Math.max(0, ...parts.map((p) => p.pool));
  const at = parts.map(() => 0);
  /** @type {{ index: number, id: string, score: number }[]} */
  const chosen = [];
  while (chosen.length < pool) {
    let best = -1;
    for (let p = 0; p < parts.length; p++) {
      const j = at[p];
      if (j >= parts[p].indices.length) continue;
      if (best < 0) {
        best = p;
        continue;
      }
      const a = parts[p].scan[j];
      const b = parts[best].scan[at[best]];
      if (a > b || (a === b && parts[p].indices[j] < parts[best].indices[at[best]])) best = p;
    }
    if (best < 0) break;
    const j = at[best]++;
    const part = parts[best];
    // NaN final scores never enter the engine's top-k either.
    if (!Number.isNaN(part.scores[j])) chosen.push({ index: part.indices[j], id: part.ids?.[j] ?? '', score: part.scores[j] });
  }
  chosen.sort((a, b) => (a.score > b.score ? -1 : a.score < b.score ? 1 : a.index - b.index));
  return chosen.slice(0, k);
}

/**
 * Below this many items 'auto' keeps one worker: the second worker's message
 * round trip costs more than half a scan saves. One run on the loaded 2-core
 * host (`make bench`, worker rows): at 100k × 64 two workers took 0.55× (int8)
 * and 0.79× (f32) the speed of one; at 1M × 64, 1.1× (int8) and 1.5× (f32).
 * A first guess between the two, to be moved by runs on an idle host.
 */
export const AUTO_MIN_ITEMS = 500_000;

/**
 * How many threads a worker-mode model uses, and why: 1; 2 (two workers,
 * each with the model: twice the wasm memory); or 'auto' (default): 2 on a
 * cross-origin isolated page (COOP/COEP: bytes can be shared, and the page
 * opted in) with two or more logical cores, else 1.
 * @param {unknown} threads the `threads` option
 * @returns {{ count: 1 | 2, requested: 1 | 2 | 'auto', reason: string, isolated: boolean }}
 */
export function resolveThreads(threads) {
  const requested = threads ?? 'auto';
  if (requested !== 1 && requested !== 2 && requested !== 'auto') badArg(`options.threads must be 1, 2 or 'auto', got ${describe(threads)}`);
  const isolated = globalThis.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function';
  const cores = globalThis.navigator?.hardwareConcurrency ?? 1;
  const r = /** @type {1 | 2 | 'auto'} */ (requested);
  /** @param {1 | 2} count @param {string} reason */
  const out = (count, reason) => ({ count, requested: r, reason, isolated });
  if (r === 1) return out(1, 'threads: 1 was requested');
  if (r === 2) return out(2, `threads: 2 was requested: two workers, each with its own copy of the model${isolated ? '' : ' (not cross-origin isolated: bytes are copied to each)'}`);
  if (!isolated) return out(1, 'the page is not cross-origin isolated (no COOP/COEP headers), so scans run on one thread');
  if (cores < 2) return out(1, `this device reports ${cores} logical core(s)`);
  return out(2, `cross-origin isolated with ${cores} logical cores: each scan is split across two workers`);
}

/**
 * Bytes both workers read: a SharedArrayBuffer copy where that is allowed
 * (one copy for both), else `null` (each worker gets its own transferred copy).
 * @param {Uint8Array} bytes @param {boolean} isolated
 * @returns {Uint8Array | null}
 */
export function sharedBytes(bytes, isolated) {
  if (!isolated) return null;
  const view = new Uint8Array(new SharedArrayBuffer(bytes.byteLength));
  view.set(bytes);
  return view;
}
