// Worker mode, page side: `loadInWorker()` starts (or adopts) a module Worker
// running vitrine.worker.js and returns `VitrineWorker`, an async mirror of
// `Vitrine`. The page resolves every wasm URL itself — where the bundler has
// rewritten them — and hands absolute URLs to the worker, so the worker file
// needs no relative imports and survives any bundler that copies it.

import { VitrineError, badArg, describe, messageOf } from './errors.js';
import { pickVariant } from './detect.js';
import { BUILDS, baseHref, wasmUrlOf, wasmIntegrityOf } from './wasm.js';
import { checkLoadOptions } from './source.js';
import { BUSINESS_OPTION_KEYS, checkId, checkRecOptions, checkThreshold, checkUserVector, intentView, scoredList } from './checks.js';
/**
 * lib/parallel.js (thread choice, the two-worker split and join), fetched by
 * the first worker-mode load: a page that never loads in a worker never
 * downloads it (pkg/README.md, "What a page downloads").
 * @type {typeof import('./parallel.js') | undefined}
 */
let parallel;

/** @typedef {import('../vitrine.js').LoadOptions} LoadOptions */
/** @typedef {import('../vitrine.js').RecOptions} RecOptions */

/** @param {'relaxed' | 'simd' | 'scalar' | 'intent'} v @param {unknown} wasmUrl */
export function absoluteWasmUrl(v, wasmUrl) {
  const u = wasmUrlOf(v, wasmUrl);
  try {
    return u === undefined ? BUILDS[v].wasm().href : new URL(String(u), baseHref()).href;
  } catch (e) {
    throw new VitrineError('WASM_UNAVAILABLE', `the ${v} wasm URL ${describe(String(u))} is not a valid URL; fix options.wasmUrl`, { variant: v }, { cause: e });
  }
}

/**
 * A WORKER error for a Worker constructor that threw (Trusted Types, CSP,
 * a malformed URL).
 * @param {unknown} e @param {string} url
 */
function constructError(e, url) {
  const msg = messageOf(e);
  if (/TrustedScriptURL|Trusted ?Type/i.test(msg)) {
    return new VitrineError(
      'WORKER',
      `the page enforces Trusted Types, so a Worker cannot be started from the plain URL ${url}; create it yourself from a TrustedScriptURL (new Worker(policy.createScriptURL(url), {type: 'module'})) and pass it as options.worker`,
      { url, reason: 'trusted-types' },
      { cause: e },
    );
  }
  if (/Content.Security.Policy|SecurityError/i.test(msg) || /** @type {any} */ (e)?.name === 'SecurityError') {
    return new VitrineError(
      'WORKER',
      `the page may not start a Worker from ${url} (${msg}); allow that URL in the Content-Security-Policy's worker-src (or script-src), or use load() on the main thread`,
      { url, reason: 'csp' },
      { cause: e },
    );
  }
  return new VitrineError('WORKER', `could not start the worker ${url}: ${msg}`, { url, reason: 'construct' }, { cause: e });
}

/** "the worker https://…" for a URL, the label itself otherwise. @param {string} url */
const workerName = (url) => (/^[a-z][a-z0-9+.-]*:/i.test(url) ? `the worker ${url}` : url);

/**
 * Why a worker script did not start, found by asking for it again: a 404, an
 * HTML fallback page where JavaScript was expected, or a script error.
 * @param {string} url @param {string} [eventMessage]
 */
async function diagnoseStart(url, eventMessage) {
  const generic = `${workerName(url)} failed to start${eventMessage ? ` (${eventMessage})` : ''}`;
  if (!/^(https?|blob|data):/i.test(url) || typeof fetch !== 'function') {
    return new VitrineError('WORKER', `${generic}; check that it runs vitrine.worker.js (vitrine/worker) and that the page's Content-Security-Policy allows it`, { url, reason: 'start' });
  }
  try {
    const res = await fetch(url);
    const type = res.headers.get('content-type') ?? '';
    if (!res.ok) {
      return new VitrineError(
        'WORKER',
        `the worker script ${url} could not be loaded: HTTP ${res.status}; make vitrine.worker.js reachable there (see the bundler recipes) or pass options.worker`,
        { url, reason: 'http', status: res.status },
      );
    }
    if (/html/i.test(type)) {
      return new VitrineError(
        'WORKER',
        `the worker script ${url} is served as an HTML page (Content-Type: ${type}), usually the app's fallback for a missing file; make vitrine.worker.js reachable there (see the bundler recipes) or pass options.worker`,
        { url, reason: 'html', contentType: type },
      );
    }
    if (!/javascript|ecmascript/i.test(type)) {
      return new VitrineError(
        'WORKER',
        `the worker script ${url} is served as ${type || 'no Content-Type'}; module workers need a JavaScript MIME type (text/javascript)`,
        { url, reason: 'mime', contentType: type },
      );
    }
  } catch (e) {
    return new VitrineError('WORKER', `${generic}; fetching it again failed too (${messageOf(e)})`, { url, reason: 'network' }, { cause: e });
  }
  return new VitrineError('WORKER', `${generic}; the script loaded but did not start (a Content-Security-Policy worker-src rule, or a script error)`, { url, reason: 'start' });
}

/**
 * Load a model inside a dedicated module Worker and get an async proxy.
 * `source` must be a URL (relative URLs resolve against the page) or bytes
 * (`ArrayBuffer`/`Uint8Array`, copied and transferred).
 * @param {string | URL | ArrayBuffer | ArrayBufferView} source
 * @param {LoadOptions} [options]
 * @returns {Promise<VitrineWorker>}
 */
export async function loadInWorker(source, options) {
  // `threads` is a worker-mode option: taken off before the shared checks.
  /** @type {unknown} */
  let threadsOption;
  /** @type {unknown} */
  let rest = options;
  if (options !== null && typeof options === 'object' && !Array.isArray(options)) {
    try {
      ({ threads: threadsOption, ...rest } = /** @type {any} */ (options));
    } catch (e) {
      badArg(`load options could not be read: ${messageOf(e)}`);
    }
  }
  const opts = checkLoadOptions(rest);
  if (!parallel) parallel = await import('./parallel.js');
  const { AUTO_MIN_ITEMS, resolveThreads, sharedBytes } = parallel;
  const threads = resolveThreads(threadsOption);
  const variant = pickVariant(opts.simd, opts.wasmUrl);
  /** @type {any} */
  let src;
  /** @type {Uint8Array | null} bytes given by the caller, for a second worker */
  let bytes = null;
  /** @type {Transferable[]} */
  const transfer = [];
  if (typeof source === 'string' || source instanceof URL) {
    try {
      src = new URL(String(source), baseHref()).href;
    } catch (e) {
      badArg(`the model URL ${describe(String(source))} is not a valid URL`);
    }
  } else if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    const view =
      source instanceof ArrayBuffer
        ? new Uint8Array(source)
        : new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
    bytes = view;
    src = view.slice();
    transfer.push(src.buffer);
  } else {
    badArg(`loadInWorker source must be a URL or bytes, got ${describe(source)}`);
  }
  const wasmUrl = { [variant]: absoluteWasmUrl(variant, opts.wasmUrl), intent: absoluteWasmUrl('intent', opts.wasmUrl) };
  const wasmIntegrity = {
    [variant]: wasmIntegrityOf(variant, opts.wasmIntegrity),
    intent: wasmIntegrityOf('intent', opts.wasmIntegrity),
  };
  if (opts.worker !== undefined && opts.workerUrl !== undefined) badArg('pass options.worker or options.workerUrl, not both');
  // The worker runs its own model cache; a store object of the page's cannot
  // be cloned into it, so only the named stores cross.
  if (opts.cache !== null && typeof opts.cache === 'object') {
    badArg("options.cache in worker mode must be true, false, null, 'cache-storage' or 'indexeddb' (a store object cannot be passed to a worker)");
  }
  if (threads.count === 2 && opts.worker !== undefined) {
    // The second worker is started from a URL; a Worker object names none.
    Object.assign(threads, { count: 1, reason: 'options.worker was given, so no second worker can be started (pass options.workerUrl instead)' });
  }
  // Bytes both workers read from one SharedArrayBuffer (cross-origin
  // isolated pages; SubtleCrypto refuses shared memory, so not with integrity).
  const shared = threads.count === 2 && bytes ? sharedBytes(bytes, threads.isolated && opts.integrity === undefined) : null;
  if (shared) {
    src = shared;
    transfer.length = 0;
  }
  const { worker, url } = startWorker(opts);
  const proxy = new VitrineWorker(worker, url);
  proxy._onWarning = opts.onWarning;
  const loadArgs = (/** @type {boolean} */ progress) => ({
    variant,
    wasmUrl,
    wasmIntegrity,
    integrity: opts.integrity,
    maxBytes: opts.maxBytes,
    cache: opts.cache,
    screen: opts.screen,
    progress: progress && typeof opts.onProgress === 'function',
    warnings: progress && typeof opts.onWarning === 'function',
  });
  /** @type {VitrineWorker | null} */
  let peer = null;
  /** @type {Promise<unknown> | null} */
  let peerLoad = null;
  if (threads.count === 2) {
    try {
      const second = startWorker(opts);
      peer = new VitrineWorker(second.worker, second.url);
      /** @type {Transferable[]} */
      const t = [];
      let src2 = src;
      if (bytes && !shared) {
        src2 = bytes.slice();
        t.push(src2.buffer);
      }
      peerLoad = peer._request('load', [src2, loadArgs(false)], t);
    } catch (e) {
      Object.assign(threads, { count: 1, reason: `a second worker could not be started (${messageOf(e)})` });
      peer = null;
    }
  }
  try {
    const meta = await proxy._request('load', [src, loadArgs(true)], transfer, opts.onProgress);
    Object.assign(proxy, meta);
  } catch (e) {
    worker.terminate();
    proxy._worker = null;
    peerLoad?.catch(() => {});
    peer?._worker?.terminate();
    throw e;
  }
  if (peer && peerLoad) {
    try {
      await peerLoad;
      proxy._peer = peer;
      if (threads.requested === 'auto' && proxy.nItems < AUTO_MIN_ITEMS) {
        proxy._peer = null;
        Object.assign(threads, { count: 1, reason: `${proxy.nItems} items: below ${AUTO_MIN_ITEMS} 'auto' scans on one worker (a second one's message round trip costs more than it saves; threads: 2 forces it)` });
        peer.dispose().catch(() => {});
      }
    } catch (e) {
      // The model works on one thread; say why in info().
      Object.assign(threads, { count: 1, reason: `the second worker failed to load the model (${messageOf(e)})` });
      peer._worker?.terminate();
      peer._worker = null;
    }
  }
  proxy.threads = { count: threads.count, requested: threads.requested, reason: threads.reason, sharedBytes: shared !== null };
  return proxy;
}

/**
 * Start one module Worker running vitrine.worker.js (or adopt options.worker).
 * @param {LoadOptions} opts
 * @returns {{ worker: Worker, url: string }}
 */
export function startWorker(opts) {
  /** @type {Worker} */
  let worker;
  /** @type {string} */
  let url;
  if (opts.worker !== undefined) {
    if (typeof Worker === 'undefined' || !(opts.worker instanceof Worker)) {
      badArg(`options.worker must be a Worker running vitrine.worker.js, got ${describe(opts.worker)}`);
    }
    worker = opts.worker;
    url = 'the Worker passed as options.worker';
  } else if (typeof Worker === 'undefined') {
    throw new VitrineError('WORKER', 'this environment has no Worker; use load() instead', { reason: 'unsupported' });
  } else if (opts.workerUrl !== undefined) {
    try {
      url = new URL(String(opts.workerUrl), baseHref()).href;
    } catch {
      url = String(opts.workerUrl);
    }
    try {
      worker = new Worker(/** @type {any} */ (opts.workerUrl), { type: 'module' });
    } catch (e) {
      throw constructError(e, url);
    }
  } else {
    // Written as one expression: Vite, webpack 5 and Next.js recognise
    // `new Worker(new URL(literal, import.meta.url))` and bundle the worker.
    url = '';
    try {
      worker = new Worker(new URL('../vitrine.worker.js', import.meta.url), { type: 'module' });
    } catch (e) {
      throw constructError(e, defaultWorkerHref());
    }
    url = defaultWorkerHref();
  }
  return { worker, url };
}

function defaultWorkerHref() {
  try {
    return new URL('../vitrine.worker.js', import.meta.url).href;
  } catch {
    return 'vitrine.worker.js';
  }
}

/** How long `dispose()` waits for the worker to free its model before terminating it. */
const DISPOSE_WAIT_MS = 5000;

/** Async proxy to a model living in a Worker; mirrors `Vitrine`. */
export class VitrineWorker {
  /**
   * @param {Worker} worker
   * @param {string} [url] the worker script, for error messages
   */
  constructor(worker, url = 'the worker') {
    /** @type {Worker | null} */
    this._worker = worker;
    this._url = url;
    this._next = 1;
    /** @type {Map<number, {resolve: Function, reject: Function, onProgress?: Function}>} */
    this._pending = new Map();
    /** @type {((code: string, message: string) => void) | undefined} for the worker's CACHE_* warnings */
    this._onWarning = undefined;
    /** Whether the worker's script has run (it posts `{ready}` first). */
    this._started = false;
    /** @type {VitrineError | null} set once the worker died */
    this._dead = null;
    /** @type {number} */
    this.nItems = 0;
    /** @type {number} */
    this.dim = 0;
    /** @type {'f32' | 'f16' | 'int8'} */
    this.dtype = /** @type {any} */ ('');
    /** @type {'relaxed' | 'simd' | 'scalar'} */
    this.variant = /** @type {any} */ ('');
    /** @type {VitrineWorker | null} the second worker of a two-thread model */
    this._peer = null;
    /** @type {{ count: 1 | 2, requested: 1 | 2 | 'auto', reason: string, sharedBytes: boolean }} what scans run on, and why */
    this.threads = { count: 1, requested: 1, reason: 'one worker', sharedBytes: false };
    /** @type {string[] | null} a CSP violation seen while the worker started */
    this._csp = null;
    /** @type {any} what `loadIntent()` resolves to, once it has */
    this._intentView = null;
    const onCsp = (/** @type {any} */ ev) => {
      if (!this._started && /worker-src|script-src|child-src/.test(String(ev.effectiveDirective ?? ev.violatedDirective))) {
        this._csp = [String(ev.effectiveDirective ?? ev.violatedDirective), String(ev.blockedURI ?? '')];
      }
    };
    if (typeof document !== 'undefined' && document.addEventListener) {
      document.addEventListener('securitypolicyviolation', onCsp);
      this._offCsp = () => document.removeEventListener('securitypolicyviolation', onCsp);
    } else {
      this._offCsp = () => {};
    }
    worker.addEventListener('message', (ev) => this._onMessage(ev.data));
    worker.addEventListener('error', (ev) => {
      ev.preventDefault?.();
      this._onError(ev.message);
    });
    worker.addEventListener('messageerror', () => {
      this._fail(new VitrineError('WORKER', `a message from ${this._url} could not be deserialized`, { url: this._url, reason: 'messageerror' }));
    });
  }

  /** @param {string | undefined} message */
  async _onError(message) {
    if (this._dead || !this._worker) return;
    let err;
    if (!this._started) {
      // Let a securitypolicyviolation event, dispatched with the error, arrive.
      await new Promise((r) => setTimeout(r, 0));
      if (this._csp) {
        const [directive, blocked] = this._csp;
        err = new VitrineError(
          'WORKER',
          `the page's Content-Security-Policy (${directive}) blocks ${blocked ? `the worker ${blocked}` : workerName(this._url)}; allow it in worker-src, or use load() on the main thread`,
          { url: this._url, reason: 'csp', directive },
        );
      } else {
        err = await diagnoseStart(this._url, message);
      }
    } else {
      err = new VitrineError('WORKER', `${workerName(this._url)} died${message ? ` (${message})` : ''}; load the model again`, { url: this._url, reason: 'died' });
    }
    this._fail(err);
  }

  /** The worker is unusable: every pending and later call rejects with `err`. @param {VitrineError} err */
  _fail(err) {
    this._dead = err;
    this._offCsp();
    this._failAll(err);
    try {
      this._worker?.terminate();
    } catch {
      // already gone
    }
  }

  /** @param {VitrineError} err */
  _failAll(err) {
    for (const p of this._pending.values()) p.reject(err);
    this._pending.clear();
  }

  /** @param {any} msg */
  _onMessage(msg) {
    if (!msg || typeof msg !== 'object') return;
    if (!this._started) {
      // `ready` may have been missed by a Worker the caller built earlier:
      // any message proves the script runs.
      this._started = true;
      this._offCsp();
    }
    if (msg.ready) return;
    const p = this._pending.get(msg.id);
    if (msg.warning) {
      // Also after the load (the store comes after the first answer).
      try {
        this._onWarning?.(String(msg.warning.code), String(msg.warning.message));
      } catch (e) {
        if (!p) return;
        this._pending.delete(msg.id);
        p.reject(new VitrineError('INVALID_ARGUMENT', `options.onWarning threw: ${messageOf(e)}`, {}, { cause: e }));
      }
      return;
    }
    if (!p) return;
    if (msg.progress) {
      try {
        p.onProgress?.(msg.progress);
      } catch (e) {
        // The caller's callback failed: reject its load like the page path does.
        this._pending.delete(msg.id);
        p.reject(new VitrineError('INVALID_ARGUMENT', `options.onProgress threw: ${messageOf(e)}`, {}, { cause: e }));
      }
      return;
    }
    this._pending.delete(msg.id);
    if (msg.error) {
      const e = msg.error;
      p.reject(new VitrineError(String(e.code), String(e.message), e.details || {}));
    } else {
      p.resolve(msg.result);
    }
  }

  /**
   * @param {string} op
   * @param {unknown[]} args
   * @param {Transferable[]} [transfer]
   * @param {Function} [onProgress]
   * @returns {Promise<any>}
   */
  _request(op, args, transfer = [], onProgress = undefined) {
    if (this._dead) return Promise.reject(this._dead);
    if (!this._worker) {
      return Promise.reject(new VitrineError('DISPOSED', 'this model was disposed; load it again to use it'));
    }
    const id = this._next++;
    return new Promise((resolve, reject) => {
      this._pending.set(id, { resolve, reject, onProgress });
      try {
        /** @type {Worker} */ (this._worker).postMessage({ id, op, args }, transfer);
      } catch (e) {
        this._pending.delete(id);
        reject(new VitrineError('INVALID_ARGUMENT', `an argument could not be sent to the worker: ${messageOf(e)}`, {}, { cause: e }));
      }
    });
  }

  /** @param {unknown} v */
  _vector(v) {
    const u = checkUserVector(v, this.dim);
    return new Float32Array(u); // the caller keeps its array; the copy is transferred
  }

  /** Bundle metadata, plus `threads`: how many workers split each scan, and why. */
  async info() {
    const info = await this._request('info', []);
    return { ...info, threads: { ...this.threads } };
  }

  /**
   * Both workers' parts of one scan, joined (lib/parallel.js): the answer of
   * the one-thread scan, with the rows read by two threads at once. `null`
   * when there is no second worker, or it died (the model then goes on with
   * one, and `info().threads` says why): the caller scans on one worker.
   * @param {'recommendPart' | 'similarPart' | 'recommendFastPart'} op
   * @param {unknown} query user vector (Float32Array, left intact) or item id
   * @param {RecOptions} opts
   * @param {unknown} [after] the op's argument after the query: `opts` (a
   *   copy) unless given (`recommendFastPart` takes `k`)
   */
  async _split(op, query, opts, after = undefined) {
    const peer = this._peer;
    if (!peer) return null;
    // A peer exists only after loadInWorker, which imported parallel.js.
    const { mergeParts, splitRows } = /** @type {typeof import('./parallel.js')} */ (parallel);
    const [a, b] = splitRows(this.nItems, 2);
    /** @returns {[unknown, Transferable[]]} a copy to transfer, so the caller keeps its vector */
    const arg = () => {
      if (!(query instanceof Float32Array)) return [query, []];
      const c = new Float32Array(query);
      return [c, [c.buffer]];
    };
    const [q0, t0] = arg();
    const [q1, t1] = arg();
    const second = () => (after === undefined ? { ...opts } : after);
    const mine = this._request(op, [q0, second(), ...a], t0);
    try {
      const parts = await Promise.all([mine, peer._request(op, [q1, second(), ...b], t1)]);
      return { parts, merged: mergeParts(parts, opts.k ?? 10) };
    } catch (e) {
      if (!peer._dead || this._dead) throw e;
      mine.catch(() => {});
      if (this._peer === peer) {
        this._peer = null;
        this.threads = { ...this.threads, count: 1, reason: `the second worker died (${peer._dead.message}); scans run on one worker` };
        peer.dispose().catch(() => {});
      }
      return null;
    }
  }


  simdEnabled() {
    return this._request('simdEnabled', []);
  }

  /** @param {Float32Array | Float64Array | number[]} userVector @param {RecOptions} [options] */
  async recommend(userVector, options) {
    const opts = checkRecOptions(options, BUSINESS_OPTION_KEYS);
    const u = this._vector(userVector);
    // The business stage (price level, rotation, promotions) runs after the
    // scan on the whole list: with its options the query stays on one worker.
    const business = BUSINESS_OPTION_KEYS.some((key) => /** @type {any} */ (opts)[key] !== undefined);
    const split = business ? null : await this._split('recommendPart', u, opts);
    if (split) {
      const { parts, merged } = split;
      return scoredList(merged.map(({ id, score }) => ({ id, score })), parts[0].unknownExcludes, parts[0].unknownCategories);
    }
    const r = await this._request('recommend', [u, { ...opts }], [u.buffer]);
    return scoredList(r.items, r.unknownExcludes, r.unknownCategories);
  }

  /** @param {Float32Array | Float64Array | number[]} userVector @param {number} [k] */
  async recommendIndices(userVector, k = 10) {
    checkRecOptions({ k });
    const u = this._vector(userVector);
    const split = await this._split('recommendFastPart', u, { k }, k);
    if (split) {
      const { merged } = split;
      return { indices: Uint32Array.from(merged, (c) => c.index), scores: Float32Array.from(merged, (c) => c.score) };
    }
    return this._request('recommendIndices', [u, k], [u.buffer]);
  }

  /** @param {string} id @param {RecOptions} [options] */
  async similar(id, options) {
    checkId(id);
    const opts = checkRecOptions(options);
    const split = await this._split('similarPart', id, opts);
    if (split) {
      const { parts, merged } = split;
      return scoredList(merged.map(({ id, score }) => ({ id, score })), parts[0].unknownExcludes, parts[0].unknownCategories);
    }
    const r = await this._request('similar', [id, { ...opts }]);
    return scoredList(r.items, r.unknownExcludes, r.unknownCategories);
  }

  /** @param {RecOptions} [options] */
  async popular(options) {
    const r = await this._request('popular', [{ ...checkRecOptions(options) }]);
    return scoredList(r.items, r.unknownExcludes, r.unknownCategories);
  }

  /** @param {string} id */
  async item(id) {
    checkId(id);
    return this._request('item', [id]);
  }

  /** @param {string} id @returns {Promise<boolean>} */
  async has(id) {
    checkId(id);
    return (await this._request('itemIndex', [id])) !== undefined;
  }

  /** @param {string} id @returns {Promise<Float32Array>} */
  async itemVector(id) {
    checkId(id);
    return this._request('itemVector', [id]);
  }

  /** @param {string} id @returns {Promise<number | undefined>} */
  async itemIndex(id) {
    checkId(id);
    return this._request('itemIndex', [id]);
  }

  /** @param {number} index @returns {Promise<string>} */
  async itemId(index) {
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= this.nItems) {
      badArg(`index must be an integer in [0, ${this.nItems}), got ${describe(index)}`);
    }
    return this._request('itemId', [index]);
  }

  /** @param {string} text */
  async matchIntent(text) {
    if (typeof text !== 'string') badArg(`text must be a string, got ${describe(text)}`);
    return this._request('matchIntent', [text]);
  }

  /** @param {string} text @returns {Promise<string>} */
  async redact(text) {
    if (typeof text !== 'string') badArg(`text must be a string, got ${describe(text)}`);
    return this._request('redact', [text]);
  }

  /** @returns {Promise<void>} */
  async resetConversation() {
    await this._request('resetConversation', []);
  }

  /**
   * Fetch and start the intent matcher in the worker ahead of the first
   * question. Resolves to the page's `IntentModel`, whose `setThreshold` and
   * `resetConversation` here cross to the worker (Promises).
   * @returns {Promise<any>}
   */
  async loadIntent() {
    /** @type {Record<string, any>} */
    const r = await this._request('loadIntent', []);
    return (this._intentView ??= intentView(
      (k) => {
        if (!this._worker) throw new VitrineError('DISPOSED', 'this model was disposed');
        return r[k];
      },
      async (t) => {
        r.threshold = await this._request('setThreshold', [checkThreshold(t)]);
      },
      () => this.resetConversation(),
    ));
  }

  /**
   * One of the shopper's wasm entry points (`foldIn`, `recommendFor`,
   * `rerank`, `segment`, `explain`) run in the worker, for a shopper whose
   * history stays in the page while the model lives in the worker. The
   * arguments are those of the page-side `model.raw[method]`.
   * @param {'foldIn' | 'recommendFor' | 'rerank' | 'segment' | 'explain' | 'behaviourSegment'} method
   * @param {...unknown} args
   * @returns {Promise<any>}
   */
  async shopperCall(method, ...args) {
    return this._request('shopper', [method, args]);
  }

  /** @returns {boolean} */
  get disposed() {
    return this._worker === null;
  }

  /**
   * Free the model and terminate the worker. Safe to call twice; rejects
   * with WORKER if the worker had died (the model is gone either way).
   */
  async dispose() {
    if (!this._worker) return;
    const peer = this._peer;
    this._peer = null;
    await peer?.dispose().catch(() => {});
    const dead = this._dead;
    try {
      // A worker that went away silently (closed, killed) never answers:
      // after DISPOSE_WAIT_MS it is terminated all the same.
      if (!dead) {
        /** @type {ReturnType<typeof setTimeout> | undefined} */
        let timer;
        await Promise.race([
          this._request('dispose', []),
          new Promise((ok) => {
            timer = setTimeout(ok, DISPOSE_WAIT_MS);
          }),
        ]).finally(() => clearTimeout(timer));
      }
    } finally {
      try {
        this._worker?.terminate();
      } catch {
        // already gone
      }
      this._worker = null;
      this._offCsp();
      this._failAll(new VitrineError('DISPOSED', 'this model was disposed'));
    }
    if (dead) throw dead;
  }
}
