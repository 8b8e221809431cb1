// The shared-memory protocol of a page-mode two-thread model (`load(src,
// {threads: 2})`), used on both sides: the page's `PageSplit`
// (lib/page-threads.js) and the helper worker's loop (worker-host.js). Kept out
// of page-threads.js so the worker bundle does not take the page's side.

/** Largest candidate list the helper hands back; longer ones (huge k) the page scans itself. */
export const CAP = 16384;
/** Bytes for the JSON of a query's options (exclusions, categories). */
export const OPTS_BYTES = 65536;

/** Control words (Int32Array over a SharedArrayBuffer). */
export const CTL = Object.freeze({ STATE: 0, STOP: 1, SPIN_US: 2, OP: 3, FROM: 4, TO: 5, K: 6, LEN: 7, COUNT: 8, POOL: 9, READY: 10, DIE_ON_CLAIM: 11, NAP_ON_CLAIM_MS: 12, NAP: 13, WORDS: 16 });
/** The low 3 bits of STATE; the high bits are the query's sequence number. */
export const PHASE = Object.freeze({ IDLE: 0, POSTED: 1, CLAIMED: 2, DONE: 3, TAKEN: 4, REFUSED: 5 });
/** What the helper scans. */
export const OP = Object.freeze({ FAST: 1, RECOMMEND: 2, SIMILAR: 3 });

/**
 * Where the shared data lives: the user vector, the options' JSON, then the
 * helper's candidates (indices, scan values, final scores).
 * @param {SharedArrayBuffer} data @param {number} dim
 */
export function sharedViews(data, dim) {
  const u = dim * 4;
  const r = u + OPTS_BYTES;
  return {
    user: new Float32Array(data, 0, dim),
    opts: new Uint8Array(data, u, OPTS_BYTES),
    indices: new Uint32Array(data, r, CAP),
    scan: new Float32Array(data, r + CAP * 4, CAP),
    scores: new Float32Array(data, r + CAP * 8, CAP),
    cap: CAP,
  };
}

/** Bytes of the shared data area for `dim`. @param {number} dim */
export const sharedDataBytes = (dim) => dim * 4 + OPTS_BYTES + CAP * 12;

/**
 * The helper's loop (in the worker, `worker-host.js`): wait for a posted
 * query, claim it, scan, hand the candidates back. Returns when the page
 * sets STOP. `scanners` run the wasm parts.
 * @param {Int32Array} ctl
 * @param {ReturnType<typeof sharedViews>} v
 * @param {{ [op: number]: (from: number, to: number, k: number, user: Float32Array, json: string) => any }} scanners
 */
export function helperLoop(ctl, v, scanners) {
  const decoder = new TextDecoder();
  const user = new Float32Array(v.user.length);
  Atomics.store(ctl, CTL.READY, 1);
  // A query posted before the loop started is new too.
  let seen = -1;
  for (;;) {
    let s = Atomics.load(ctl, CTL.STATE);
    // Spin while the page allows it (it may turn the spin off at any time).
    const t0 = performance.now();
    while (s === seen && performance.now() - t0 < Atomics.load(ctl, CTL.SPIN_US) / 1000) s = Atomics.load(ctl, CTL.STATE);
    if (s === seen) {
      Atomics.wait(ctl, CTL.STATE, seen);
      s = Atomics.load(ctl, CTL.STATE);
    }
    if (Atomics.load(ctl, CTL.STOP)) return;
    seen = s;
    if ((s & 7) !== PHASE.POSTED) continue;
    const claimed = s - PHASE.POSTED + PHASE.CLAIMED;
    if (Atomics.compareExchange(ctl, CTL.STATE, s, claimed) !== s) {
      seen = Atomics.load(ctl, CTL.STATE);
      continue;
    }
    seen = claimed;
    // Copy the inputs, then check the job is still ours: the page writes the
    // next query's inputs only after taking this one back.
    const op = ctl[CTL.OP];
    const from = ctl[CTL.FROM];
    const to = ctl[CTL.TO];
    const k = ctl[CTL.K];
    const len = ctl[CTL.LEN];
    user.set(v.user);
    const json = len > 0 ? decoder.decode(v.opts.slice(0, len)) : '';
    if (Atomics.load(ctl, CTL.STATE) !== claimed) continue;
    if (Atomics.load(ctl, CTL.DIE_ON_CLAIM)) throw new Error('the helper died on purpose (test hook DIE_ON_CLAIM)');
    // Test hook: a helper that claims, then is slow (descheduled, a busy core).
    const nap = Atomics.load(ctl, CTL.NAP_ON_CLAIM_MS);
    if (nap > 0) Atomics.wait(ctl, CTL.NAP, 0, nap);
    let p;
    try {
      p = scanners[op](from, to, k, user, json);
    } catch {
      // The page scans these rows itself and meets the error there.
      Atomics.compareExchange(ctl, CTL.STATE, claimed, claimed - PHASE.CLAIMED + PHASE.REFUSED);
      continue;
    }
    const count = p.indices.length;
    if (count > v.cap) {
      Atomics.compareExchange(ctl, CTL.STATE, claimed, claimed - PHASE.CLAIMED + PHASE.REFUSED);
      continue;
    }
    if (Atomics.load(ctl, CTL.STATE) !== claimed) continue; // taken back: the page no longer reads
    v.indices.set(p.indices);
    v.scan.set(p.scan);
    v.scores.set(p.scores);
    ctl[CTL.COUNT] = count;
    ctl[CTL.POOL] = p.pool;
    Atomics.compareExchange(ctl, CTL.STATE, claimed, claimed - PHASE.CLAIMED + PHASE.DONE);
  }
}

