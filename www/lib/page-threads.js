// Page mode, `load(src, {threads: 2 | 'auto'})` (fetched by such a load
// only): the page keeps its model and scans one part of each query itself;
// a helper worker, holding the model too, scans the other part. The query
// reaches the helper through a SharedArrayBuffer (no message): the page
// writes the inputs, bumps a state word and rings `Atomics.notify`. The
// helper, blocked in `Atomics.wait` (or spinning for a bounded time after
// its last query, on large catalogues only), claims the job with a
// compare-and-swap, scans, writes its candidates and marks the job done.
// When the page has finished its own part and the helper has not claimed
// the job, the page takes it back (one CAS) and scans those rows too; a
// claimed job is waited for at most half as long as the page's own part
// took, then taken back the same way. So a slow, sleeping or dead helper never
// makes a query wait longer than that, and every answer is the one-thread
// answer (the join rules of the worker split, lib/parallel.js).

import { badArg, describe, messageOf } from './errors.js';
import { baseHref, wasmIntegrityOf } from './wasm.js';
import { BUSINESS_OPTION_KEYS, scoredList } from './checks.js';
import { CTL, OP, PHASE, sharedDataBytes, sharedViews } from './helper.js';
import { BLOCK, mergeParts, sharedBytes } from './parallel.js';
import { VitrineWorker, absoluteWasmUrl, startWorker } from './worker-client.js';

/** @typedef {import('./parallel.js').Part} Part */

/** @param {number[]} xs */
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/**
 * Below this many bytes of item factors (items × dim × bytes per value, what
 * one query scans) `'auto'` keeps `load()` on one thread: the helper's copy
 * of the model is not worth the few µs a split saves. Measured on the idle
 * 2-core host (`make bench-threads`, the `'auto'` rule, medians of 7 rounds):
 * 1.26–1.38× the one-thread scan at 100k × 64 int8 (6.4 MB), 1.3× at 20k × 64
 * f32 (5.1 MB), 1.15× at 50k × 64 int8 (3.2 MB), 0.95× at 20k × 64 int8
 * (1.3 MB, 0.05 ms a query: a wake-up costs more than half of that). It was
 * 500,000 items, from a prototype whose helper spun after every query at
 * any size; the helper now spins only from `SPIN_MIN_ITEMS`, and the rule
 * splits only while splits pay.
 */
export const PAGE_AUTO_MIN_BYTES = 4 * 1024 * 1024;

/** Bytes per factor value of a bundle's dtype: what a scan reads per value. */
const VALUE_BYTES = { f32: 4, f16: 2, int8: 1 };

/**
 * From this many items the helper spins (for `SPIN_MS`) after each query
 * before it goes to sleep in `Atomics.wait`: back-to-back queries then skip
 * the OS wake-up (0.2–0.7 ms a query on the 2-core host), which is worth a
 * core's time only when half a scan is much longer than that.
 */
export const SPIN_MIN_ITEMS = 500_000;

/** How long the helper spins after a query (ms) before it sleeps. */
export const SPIN_MS = 2;

/**
 * How many threads a page-mode model uses, and why, before the catalogue
 * size is known (`'auto'` looks at it once loaded: `PAGE_AUTO_MIN_BYTES`).
 * Two threads need a cross-origin isolated page (the query crosses through
 * shared memory: `recommend()` in the page stays synchronous, so it cannot
 * wait for a message) and a Worker.
 * @param {unknown} threads
 * @returns {{ count: 1 | 2, requested: 1 | 2 | 'auto', reason: string }}
 */
export function resolvePageThreads(threads) {
  const requested = threads ?? 1;
  if (requested !== 1 && requested !== 2 && requested !== 'auto') badArg(`options.threads must be 1, 2 or 'auto', got ${describe(threads)}`);
  const r = /** @type {1 | 2 | 'auto'} */ (requested);
  const out = (/** @type {1 | 2} */ count, /** @type {string} */ reason) => ({ count, requested: r, reason });
  if (r === 1) return out(1, "load() scans on the calling thread (threads: 2 or 'auto' adds a helper worker)");
  if (typeof Worker === 'undefined') return out(1, 'this environment has no Worker, so scans run on the calling thread');
  if (!(globalThis.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function' && typeof Atomics === 'object')) {
    return out(1, 'the page is not cross-origin isolated (no COOP/COEP headers): load() can hand a query to a helper only through shared memory, so scans run on the calling thread (loadInWorker splits by messages)');
  }
  const cores = globalThis.navigator?.hardwareConcurrency ?? 1;
  if (r === 'auto' && cores < 2) return out(1, `this device reports ${cores} logical core(s)`);
  return out(2, r === 2 ? 'threads: 2 was requested' : `cross-origin isolated with ${cores} logical cores`);
}

/**
 * The page's next share of the rows after a part the helper was given:
 * towards the page (+1%) when the page waited for the helper more than 5%
 * of its own part's time (`wait` is `Infinity` for a part the page took back
 * late), towards the helper (−1%) otherwise; between 25% and 75%. The
 * answers never depend on it (the join is exact for any cut).
 * @param {number} ratio the page's share @param {number} wait ms the page waited @param {number} own ms of the page's part
 */
function nextRatio(ratio, wait, own) {
  return Math.min(0.75, Math.max(0.25, ratio + (wait > own * 0.05 ? 0.01 : -0.01)));
}

/**
 * The page's side of a page + helper split. Built once the helper worker has
 * loaded the model; `scan()` runs one query split in two, or returns `null`
 * when the split is off (the caller then scans alone).
 */
export class PageSplit {
  /**
   * @param {any} model the page's wasm `Model`
   * @param {import('./worker-client.js').VitrineWorker} helper a worker holding the same model
   * @param {{ nItems: number, dim: number }} shape
   * @param {(reason: string) => void} onStop called once when the helper is given up
   */
  constructor(model, helper, shape, onStop) {
    this.model = model;
    this.helper = helper;
    this.n = shape.nItems;
    this.ctl = new Int32Array(new SharedArrayBuffer(CTL.WORDS * 4));
    this.data = new SharedArrayBuffer(sharedDataBytes(shape.dim));
    this.v = sharedViews(this.data, shape.dim);
    this.seq = 0;
    /**
     * The page's share of the rows. The page also posts and joins, the
     * helper pays its wake-up: `make bench-threads` tries other ratios.
     */
    this.ratio = 0.5;
    /** splits: queries split; helped: parts the helper answered; the others the page scanned itself. */
    this.stats = { splits: 0, helped: 0, pageTookOver: 0, late: 0, refused: 0, alone: 0 };
    /** Whether `decide` and `learn` adapt the split, the spin and the cut: `'auto'` only (`attachThreads`). */
    this.adaptive = true;
    /** Per kind of query (OP): the last 8 split and alone times (ms), and a query count. */
    this.perf = Object.fromEntries(Object.values(OP).map((op) => [op, { split: /** @type {number[]} */ ([]), alone: /** @type {number[]} */ ([]), good: /** @type {number[]} */ ([]), count: 0, every: 8, paying: true, warming: false }]));
    /** Whether the helper may still be scanning a part the page took back. */
    this.busy = false;
    /** Whether the current alone query's time is left out (`busy` when it started). */
    this.untimed = false;
    /**
     * Extra ms the page may wait for the helper to claim a query, and to
     * finish a claimed one (0: take the rest back as soon as the page's own
     * part is done and the helper has not claimed it; wait for a claimed
     * part at most half as long as the page's own part took). Tests raise them so
     * that the path they check runs whatever the host's timing.
     */
    this.patience = { claim: 0, done: 0 };
    this.onStop = onStop;
    /** @type {string | null} */
    this.stopped = null;
    this.encoder = new TextEncoder();
    Atomics.store(this.ctl, CTL.SPIN_US, this.n >= SPIN_MIN_ITEMS ? SPIN_MS * 1000 : 0);
  }

  /**
   * `recommend` split, or `null` (business options re-rank the whole list
   * after the scan: not split).
   * @param {import('./model.js').Vitrine} m @param {Float32Array} user @param {any} opts
   */
  recommend(m, user, opts) {
    if (BUSINESS_OPTION_KEYS.some((key) => opts[key] !== undefined)) return null;
    const q = { user, json: JSON.stringify(opts), k: opts.k ?? 10 };
    const s = this.run(m, OP.RECOMMEND, q, (from, to) => this.model.recommendPart(user, opts, from, to), () => this.model.recommend(user, opts));
    if (!s || !s.merged) return s && scoredList(s.alone.items, s.alone.unknownExcludes, m._unknownCategories(opts));
    return scoredList(this.named(m, s.merged), s.parts[0].unknownExcludes ?? 0, m._unknownCategories(opts));
  }

  /** @param {import('./model.js').Vitrine} m @param {Float32Array} user @param {number} k */
  recommendIndices(m, user, k) {
    const s = this.run(m, OP.FAST, { user, k }, (from, to) => this.model.recommendFastPart(user, k, from, to), () => this.model.recommendFast(user, k));
    if (!s || !s.merged) return s && s.alone;
    return { indices: Uint32Array.from(s.merged, (c) => c.index), scores: Float32Array.from(s.merged, (c) => c.score) };
  }

  /** @param {import('./model.js').Vitrine} m @param {string} id @param {any} opts */
  similar(m, id, opts) {
    const q = { json: JSON.stringify({ id, opts }), k: opts.k ?? 10 };
    const s = this.run(m, OP.SIMILAR, q, (from, to) => this.model.similarPart(id, opts, from, to), () => this.model.similar(id, opts));
    if (!s || !s.merged) return s && scoredList(s.alone.items, s.alone.unknownExcludes, m._unknownCategories(opts));
    return scoredList(this.named(m, s.merged), s.parts[0].unknownExcludes ?? 0, m._unknownCategories(opts));
  }

  /**
   * One query, split or alone (`decide`), timed for the next decisions;
   * `null` once the split has stopped (the caller scans alone).
   * @param {import('./model.js').Vitrine} m @param {number} op
   * @param {{ user?: Float32Array, json?: string, k: number }} q
   * @param {(from: number, to: number) => Part} part @param {() => any} whole the one-thread call
   * @returns {{ parts: Part[], merged: { index: number, id: string, score: number }[] } | { alone: any, merged?: undefined } | null}
   */
  run(m, op, q, part, whole) {
    if (this.stopped) return null;
    const e = this.perf[op];
    const split = this.decide(e);
    const t0 = performance.now();
    // A try (or one of the first splits) waits for a claimed part as long as
    // the page's own part took, not half: the helper, asleep while splits did
    // not pay, pays a wake-up on it, and cut short it would never look paying.
    const patient = split && (!e.paying || e.split.length < 2);
    const r = split ? m._call(() => this.scan(op, q, part, patient)) : { alone: m._call(whole) };
    if (!r) return null;
    if (!this.adaptive) return r;
    const ms = performance.now() - t0;
    /** @param {number[]} xs */
    const keep = (xs) => {
      xs.push(ms);
      if (xs.length > 8) xs.shift();
    };
    if (split && !e.paying && e.alone.length >= 2) {
      // The first split of a try wakes the helper from its sleep: not judged
      // (judged, every try paid a wake-up that back-to-back splits do not).
      if (e.warming) return r;
      // A try while splits did not pay. Two in a row that pay replace the
      // older split times (a busier host, a helper still compiling), so
      // splits resume; one lucky try on a noisy host does not.
      if (ms < median(e.alone) * 0.95) {
        e.good.push(ms);
        if (e.good.length >= 2) {
          e.split = e.good;
          e.good = [];
          e.every = 8;
        }
      } else {
        e.good = [];
        e.every = Math.min(32, e.every * 2);
        keep(e.split);
      }
    } else if (split) keep(e.split);
    else if (!this.untimed) keep(e.alone);
    if (!split) this.stats.alone++;
    return r;
  }

  /**
   * Split this query or run it alone: a split must pay. From the timings
   * of this kind of query (medians of the last 8 of each: a loaded host's
   * outliers do not move them): splits start when they are 5% faster than
   * the one-thread scan and go on until they are 2% slower, with one query in 32 run alone to keep that figure
   * fresh; otherwise queries run alone, with one split in 8 to see whether
   * it pays again (the host's other load comes and goes), then one in 16
   * and 32 while it still does not (a host where splits never pay loses
   * little to the tries); two tries in a row that pay replace the older
   * split times (`run`), so splits resume soon after the host frees up. The helper spins
   * between queries only while splits pay, and after a try's splits (else
   * its spin would take the page's core).
   * @param {{ split: number[], alone: number[], good: number[], count: number, every: number, paying: boolean, warming: boolean }} e
   */
  decide(e) {
    if (!this.adaptive) {
      const spin = this.n >= SPIN_MIN_ITEMS ? SPIN_MS * 1000 : 0;
      if (this.ctl[CTL.SPIN_US] !== spin) Atomics.store(this.ctl, CTL.SPIN_US, spin);
      return true;
    }
    e.count++;
    // Hysteresis: splits start when 5% faster, stop when 2% slower, so the
    // noise of a busy host does not flip the choice back and forth.
    const pays = !e.split.length || !e.alone.length || median(e.split) < median(e.alone) * (e.paying ? 1.02 : 0.95);
    e.paying = pays;
    let split;
    if (e.split.length < 2) split = true;
    else if (e.alone.length < 2) split = e.count % 4 !== 0;
    else if (pays) {
      e.every = 8;
      split = e.count % 32 !== 0;
    } else if (e.warming) {
      // The second split of a try, with the helper awake: the judged one.
      e.warming = false;
      split = true;
    } else {
      split = e.count % e.every === 0;
      e.warming = split;
    }
    // An alone query while the helper may still scan a part taken back is
    // not a fair one-thread time: run it, do not keep its time.
    this.untimed = !split && this.busy;
    if (!split) this.busy = false;
    // While splits pay the helper spins through the odd query run alone too
    // (stopping it there would make the next split pay a wake-up).
    // So do a try's splits: the judged second must find the helper awake.
    const spin = (pays || split) && this.n >= SPIN_MIN_ITEMS ? SPIN_MS * 1000 : 0;
    if (this.ctl[CTL.SPIN_US] !== spin) Atomics.store(this.ctl, CTL.SPIN_US, spin);
    return split;
  }

  /**
   * Ids for joined candidates: the helper's parts carry indices only.
   * @param {import('./model.js').Vitrine} m @param {{ index: number, id: string, score: number }[]} merged
   */
  named(m, merged) {
    return merged.map((c) => ({ id: c.id || m._call(() => this.model.itemId(c.index)), score: c.score }));
  }

  /**
   * Moves the cut after a part the helper answered: towards the page when
   * the page had to wait for it, towards the helper when it was done first.
   * The answers never depend on it (the join is exact for any cut).
   * @param {number} wait ms the page waited @param {number} own ms of the page's part
   */
  learn(wait, own) {
    if (this.adaptive) this.ratio = nextRatio(this.ratio, wait, own);
  }

  /** Starts the helper's loop; a helper that fails or dies turns the split off. */
  start() {
    this.helper
      ._request('helper', [this.ctl.buffer, this.data])
      .then(
        () => this.stop('the helper worker stopped'),
        (/** @type {any} */ e) => this.stop(`the helper worker failed (${e?.message ?? e}); scans run on the calling thread`),
      );
  }

  /** @param {string} reason */
  stop(reason) {
    if (this.stopped) return;
    this.stopped = reason;
    Atomics.store(this.ctl, CTL.STOP, 1);
    Atomics.add(this.ctl, CTL.STATE, 8);
    Atomics.notify(this.ctl, CTL.STATE);
    this.helper.dispose().catch(() => {});
    this.onStop(reason);
  }

  /** @returns {[number, number, number]} the page's rows [0, cut), the helper's [cut, n) */
  cut() {
    const c = Math.min(this.n, Math.max(0, Math.round((this.n * this.ratio) / BLOCK) * BLOCK));
    return [0, c, this.n];
  }

  /**
   * One query split between the page and the helper.
   * @param {number} op OP.*
   * @param {{ user?: Float32Array, json?: string, k: number }} q the helper's inputs
   * @param {(from: number, to: number) => Part} part the page's scan of rows [from, to)
   * @param {boolean} [patient] wait for a claimed part as long as the page's own part took (else half)
   * @returns {{ parts: Part[], merged: { index: number, id: string, score: number }[] } | null}
   */
  scan(op, q, part, patient = false) {
    if (this.stopped) return null;
    if (this.helper._dead) {
      this.stop(`the helper worker died (${this.helper._dead.message}); scans run on the calling thread`);
      return null;
    }
    const ctl = this.ctl;
    const [, cut, n] = this.cut();
    if (cut === 0 || cut === n) return null; // a catalogue of a block or two: nothing to split
    let len = 0;
    if (q.json !== undefined) {
      // TextEncoder writes only to unshared memory: encoded, then copied.
      const bytes = this.encoder.encode(q.json);
      if (bytes.length > this.v.opts.length) return null; // options too large to hand over
      this.v.opts.set(bytes);
      len = bytes.length;
    }
    if (q.user) this.v.user.set(q.user);
    ctl[CTL.OP] = op;
    ctl[CTL.FROM] = cut;
    ctl[CTL.TO] = n;
    ctl[CTL.K] = q.k;
    ctl[CTL.LEN] = len;
    this.seq = (this.seq + 1) & 0xffffff;
    const base = this.seq * 8;
    Atomics.store(ctl, CTL.STATE, base + PHASE.POSTED);
    Atomics.notify(ctl, CTL.STATE);
    const t0 = performance.now();
    let mine;
    try {
      mine = part(0, cut);
    } catch (e) {
      Atomics.compareExchange(ctl, CTL.STATE, base + PHASE.POSTED, base + PHASE.TAKEN);
      throw e;
    }
    const t1 = performance.now();
    this.stats.splits++;
    /** @type {Part} */
    let theirs;
    if (this.patience.claim > 0) while (Atomics.load(ctl, CTL.STATE) === base + PHASE.POSTED && performance.now() - t1 < this.patience.claim);
    if (Atomics.compareExchange(ctl, CTL.STATE, base + PHASE.POSTED, base + PHASE.TAKEN) === base + PHASE.POSTED) {
      // Not claimed while the page scanned its part: the page scans the rest.
      this.stats.pageTookOver++;
      theirs = part(cut, n);
    } else {
      // A claimed part is waited for at most half the page's own part: a
      // helper that late shares its core, and the page is better off alone.
      const limit = performance.now() + Math.max((t1 - t0) * (patient ? 1 : 0.5) + 0.05, this.patience.done);
      let s;
      while ((s = Atomics.load(ctl, CTL.STATE)) === base + PHASE.CLAIMED && performance.now() < limit);
      if (s === base + PHASE.CLAIMED) s = Atomics.compareExchange(ctl, CTL.STATE, base + PHASE.CLAIMED, base + PHASE.TAKEN);
      if (s === base + PHASE.DONE) {
        const count = ctl[CTL.COUNT];
        theirs = { pool: ctl[CTL.POOL], indices: this.v.indices.subarray(0, count), scan: this.v.scan.subarray(0, count), scores: this.v.scores.subarray(0, count) };
        this.stats.helped++;
        this.busy = false;
        this.learn(performance.now() - t1, t1 - t0);
      } else {
        // Late (claimed, not done in time), refused (too many candidates,
        // an error) or gone: the page scans the rest.
        if (s === base + PHASE.CLAIMED) {
          this.stats.late++;
          // The helper's part was too long for the wait: the cut moves
          // towards the page here too, or a cut that drifted low (a page
          // slowed for a while, the helper done first each time) would
          // leave every later part late, never answered, never learnt from.
          this.learn(Infinity, t1 - t0);
        }
        else if (s === base + PHASE.REFUSED) this.stats.refused++;
        else this.stats.pageTookOver++;
        this.busy = s === base + PHASE.CLAIMED;
        theirs = part(cut, n);
      }
    }
    const parts = [mine, theirs];
    return { parts, merged: mergeParts(parts, q.k) };
  }
}

/**
 * The helper worker of a page-mode two-thread model (`load(src, {threads})`,
 * lib/parallel.js `PageSplit`): a worker holding the same model in the same
 * engine build as the page (so both halves score alike), loaded from `src`
 * (an absolute URL, or bytes: a SharedArrayBuffer view is read in place).
 * @param {string | Uint8Array} src
 * @param {'relaxed' | 'simd' | 'scalar'} variant the page's build
 * @param {LoadOptions} opts the page's load options
 * @returns {Promise<VitrineWorker>}
 */
export async function loadHelperWorker(src, variant, opts) {
  const { worker, url } = startWorker({ workerUrl: opts.workerUrl });
  const w = new VitrineWorker(worker, url);
  try {
    const meta = await w._request('load', [
      src,
      {
        variant,
        wasmUrl: { [variant]: absoluteWasmUrl(variant, opts.wasmUrl) },
        wasmIntegrity: { [variant]: wasmIntegrityOf(variant, opts.wasmIntegrity) },
        integrity: opts.integrity,
        maxBytes: opts.maxBytes,
        // Built while the helper loads, off the page's path: a first split
        // that built it would look late to decide().
        screen: opts.screen ?? true,
        // A store object of the page's cannot cross; the named stores can.
        cache: opts.cache !== null && typeof opts.cache === 'object' ? false : opts.cache,
        progress: false,
        warnings: false,
      },
    ]);
    Object.assign(w, meta);
  } catch (e) {
    w._worker?.terminate();
    w._worker = null;
    throw e;
  }
  return w;
}

/**
 * What the helper loads: the page's source as an absolute URL, or its bytes
 * in a SharedArrayBuffer (read in place by the worker; a plain copy where an
 * integrity check needs them, since SubtleCrypto refuses shared memory).
 * `null` for sources that can be read only once (Request, Response).
 * @param {unknown} source @param {boolean} integrity
 * @returns {string | Uint8Array | null}
 */
function helperSource(source, integrity) {
  if (typeof source === 'string' || source instanceof URL) {
    try {
      return new URL(String(source), baseHref()).href;
    } catch {
      return null;
    }
  }
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    const view = source instanceof ArrayBuffer ? new Uint8Array(source) : new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
    return integrity ? view.slice() : /** @type {Uint8Array} */ (sharedBytes(view, true));
  }
  return null;
}

/**
 * `load()`'s `threads` option, once the page's model is loaded: decides, and
 * where two threads run, starts the helper worker in the background. The
 * model answers on the calling thread until the helper is ready;
 * `model.threadsReady` resolves (never rejects) with `info().threads` then.
 * @param {import('./model.js').Vitrine} model
 * @param {unknown} source what `load()` was given
 * @param {unknown} threads the option
 * @param {import('../vitrine.js').LoadOptions} opts the checked load options
 */
export function attachThreads(model, source, threads, opts) {
  const t = resolvePageThreads(threads);
  const info = { count: /** @type {1 | 2} */ (1), requested: t.requested, reason: t.reason, sharedBytes: false };
  model._threadsInfo = info;
  const done = () => Promise.resolve({ ...info });
  if (t.count === 1) return (model.threadsReady = done());
  const scanned = model.nItems * model.dim * (VALUE_BYTES[model.dtype] ?? 4);
  if (t.requested === 'auto' && scanned < PAGE_AUTO_MIN_BYTES) {
    info.reason = `${model.nItems} items × ${model.dim} ${model.dtype}: ${scanned} bytes of factors a query scans, below the ${PAGE_AUTO_MIN_BYTES} from which 'auto' splits: one thread (a helper's wake-up costs about what half such a scan saves; threads: 2 forces it)`;
    return (model.threadsReady = done());
  }
  const src = helperSource(source, opts.integrity !== undefined);
  if (src === null) {
    info.reason = 'a Request or Response source is read once, so no helper worker can load it: pass a URL or bytes for two threads';
    return (model.threadsReady = done());
  }
  info.sharedBytes = typeof src !== 'string' && src.buffer instanceof SharedArrayBuffer;
  info.reason = 'the helper worker is loading the model; until then scans run on the calling thread (model.threadsReady)';
  return (model.threadsReady = (async () => {
    try {
      const helper = await loadHelperWorker(src, model.variant, opts);
      if (model.disposed) {
        await helper.dispose().catch(() => {});
        info.reason = 'the model was disposed before its helper worker was ready';
        return { ...info };
      }
      const split = new PageSplit(model._model, helper, model, (reason) => {
        Object.assign(info, { count: 1, reason });
        if (model._split === split) model._split = null;
      });
      model._split = split;
      // threads: 2 splits every query, as asked; 'auto' only while splits pay.
      split.adaptive = t.requested === 'auto';
      split.start();
      Object.assign(info, {
        count: 2,
        reason: `${t.reason}: the page scans ${Math.round(split.ratio * 100)}% of the rows, a helper worker (its own copy of the model) the rest, woken through shared memory${model.nItems >= SPIN_MIN_ITEMS ? ` and spinning ${SPIN_MS} ms after each query` : ''}; ${split.adaptive ? 'queries are split only while splits pay' : 'every query is split'}`,
      });
    } catch (e) {
      Object.assign(info, { count: 1, reason: `the helper worker could not load the model (${messageOf(e)}); scans run on the calling thread` });
    }
    return { ...info };
  })());
}
