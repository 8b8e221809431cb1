// vitrine — JavaScript glue around the vitrine WebAssembly core.
//
// Plain ES module, no build step: the same file is served from `www/` during
// development and copied verbatim into the npm package (`pkg/vitrine.js`).
// It resolves the wasm builds relative to its own URL (`./wasm/relaxed/…`,
// `./wasm/simd/…`, `./wasm/scalar/…`, and `./wasm/intent/…` for the intent matcher, fetched
// only on the first `matchIntent`/`loadIntent`), which is why the dev server mounts `pkg/wasm/` at
// `/wasm/` next to it.
//
// Everything the wasm throws is rethrown as a `VitrineError` with the same
// stable `code`; arguments are checked here first so that a wrong call fails
// with a message saying what to fix rather than a generic conversion error
// from deep inside the bindings.

/**
 * @typedef {{
 *   k?: number,
 *   exclude?: string[],
 *   categories?: string[],
 *   priceMin?: number,
 *   priceMax?: number,
 *   inStockOnly?: boolean,
 * }} RecOptions
 *
 * @typedef {{ id: string, score: number }} Scored
 * @typedef {Scored[] & { readonly unknownExcludes: number, readonly unknownCategories: number }} ScoredList
 *
 * @typedef {{
 *   onProgress?: (p: { loaded: number, total: number | undefined }) => void,
 *   simd?: 'auto' | boolean | 'relaxed',
 *   wasmUrl?: string | URL | { relaxed?: string | URL, simd?: string | URL, scalar?: string | URL, intent?: string | URL },
 * }} LoadOptions
 */

/** JS-side error codes (the wasm core's codes are passed through unchanged). */
export const JS_ERROR_CODES = Object.freeze([
  'INVALID_ARGUMENT', // a JS argument has the wrong type or value
  'DIM_MISMATCH', // user vector length differs from the model's dim
  'NETWORK', // fetch failed or answered a non-2xx status
  'LENGTH_MISMATCH', // body longer than its Content-Length
  'TRUNCATED', // body shorter than its Content-Length
  'DISPOSED', // the model was disposed
  'WASM_UNAVAILABLE', // the wasm build could not be fetched or instantiated
  'WORKER', // the worker died or could not start
  'INTERNAL', // anything else (a trap in the wasm, a bug)
]);

export class VitrineError extends Error {
  /**
   * @param {string} code stable machine-readable code
   * @param {string} message what went wrong and how to fix it
   * @param {Record<string, unknown>} [details] e.g. `{section, offset}` for bundle errors
   * @param {{cause?: unknown}} [opts]
   */
  constructor(code, message, details = {}, opts = undefined) {
    super(message, opts);
    this.name = 'VitrineError';
    /** @type {string} */
    this.code = code;
    /** @type {Record<string, unknown>} */
    this.details = details;
  }
}

/**
 * Turn anything thrown by the wasm (or the platform) into a VitrineError.
 * @param {unknown} e
 * @returns {VitrineError}
 */
export function toVitrineError(e) {
  if (e instanceof VitrineError) return e;
  if (e && typeof e === 'object') {
    const anyE = /** @type {any} */ (e);
    if (anyE.name === 'VitrineError' && typeof anyE.code === 'string') {
      const details = {};
      for (const key of ['section', 'offset']) {
        if (anyE[key] !== undefined) details[key] = anyE[key];
      }
      return new VitrineError(anyE.code, String(anyE.message), details, { cause: e });
    }
    if (typeof WebAssembly !== 'undefined' && e instanceof WebAssembly.RuntimeError) {
      return new VitrineError('INTERNAL', `wasm trap: ${anyE.message}`, {}, { cause: e });
    }
    if (typeof anyE.message === 'string') {
      return new VitrineError('INTERNAL', anyE.message, {}, { cause: e });
    }
  }
  return new VitrineError('INTERNAL', String(e), {}, { cause: e });
}

/** @param {string} msg @returns {never} */
function badArg(msg) {
  throw new VitrineError('INVALID_ARGUMENT', msg);
}

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
 * @param {'auto' | boolean | 'relaxed' | undefined} simd
 * @param {LoadOptions['wasmUrl']} [wasmUrl]
 * @returns {'relaxed' | 'simd' | 'scalar'}
 */
export function pickVariant(simd, wasmUrl) {
  const listed = (v) => !(wasmUrl && typeof wasmUrl === 'object' && !(wasmUrl instanceof URL)) || v in wasmUrl;
  if (simd === undefined || simd === 'auto') {
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

/** @param {unknown} v */
function describe(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (ArrayBuffer.isView(v)) return v.constructor.name;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (typeof v === 'number') return String(v);
  return typeof v;
}

// ---------------------------------------------------------------------------
// Loading the wasm core (browser path; Node uses node.js with initSync).

/** @type {Map<string, Promise<any>>} */
const wasmCache = new Map();

/**
 * Every wasm build: its wasm-bindgen glue and its binary. Literal specifiers
 * and `new URL(literal, import.meta.url)`, the patterns bundlers follow to
 * include and emit both.
 */
export const BUILDS = {
  relaxed: {
    glue: () => import('./wasm/relaxed/vitrine_core.js'),
    wasm: () => new URL('./wasm/relaxed/vitrine_core_bg.wasm', import.meta.url),
  },
  simd: {
    glue: () => import('./wasm/simd/vitrine_core.js'),
    wasm: () => new URL('./wasm/simd/vitrine_core_bg.wasm', import.meta.url),
  },
  scalar: {
    glue: () => import('./wasm/scalar/vitrine_core.js'),
    wasm: () => new URL('./wasm/scalar/vitrine_core_bg.wasm', import.meta.url),
  },
  intent: {
    glue: () => import('./wasm/intent/vitrine_intent.js'),
    wasm: () => new URL('./wasm/intent/vitrine_intent_bg.wasm', import.meta.url),
  },
};

/**
 * The `wasmUrl` option's URL for one build (undefined: its default place).
 * A single string or URL names the engine's file, never the intent module's.
 * @param {'relaxed' | 'simd' | 'scalar' | 'intent'} variant
 * @param {LoadOptions['wasmUrl']} wasmUrl
 * @returns {string | URL | undefined}
 */
export function wasmUrlOf(variant, wasmUrl) {
  if (wasmUrl && typeof wasmUrl === 'object' && !(wasmUrl instanceof URL)) return /** @type {any} */ (wasmUrl)[variant];
  return variant === 'intent' ? undefined : wasmUrl;
}

/**
 * Import and instantiate one wasm build: the engine (`relaxed`, `simd` or
 * `scalar`) or the intent matcher (`intent`). Cached per variant and URL so
 * that several models share one instance (and one memory).
 * @param {'relaxed' | 'simd' | 'scalar' | 'intent'} variant
 * @param {LoadOptions['wasmUrl']} wasmUrl
 */
export function loadWasm(variant, wasmUrl) {
  const url = wasmUrlOf(variant, wasmUrl);
  const key = `${variant} ${url ? String(url) : ''}`;
  let p = wasmCache.get(key);
  if (!p) {
    p = (async () => {
      const build = BUILDS[variant];
      const mod = await build.glue();
      const wasmPath = url ?? build.wasm();
      await mod.default({ module_or_path: wasmPath });
      return mod;
    })().catch((e) => {
      wasmCache.delete(key);
      throw new VitrineError(
        'WASM_UNAVAILABLE',
        `could not load the ${variant} wasm build: ${e && e.message ? e.message : e}`,
        { variant },
        { cause: e },
      );
    });
    wasmCache.set(key, p);
  }
  return p;
}

// ---------------------------------------------------------------------------
// Bundle bytes → Model

const LOAD_OPTION_KEYS = new Set(['onProgress', 'simd', 'wasmUrl', 'workerUrl']);

/** @param {unknown} opts */
export function checkLoadOptions(opts) {
  if (opts === undefined) return {};
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) {
    badArg(`load options must be an object, got ${describe(opts)}`);
  }
  for (const key of Object.keys(opts)) {
    if (!LOAD_OPTION_KEYS.has(key)) {
      badArg(`unknown load option "${key}" (known: ${[...LOAD_OPTION_KEYS].join(', ')})`);
    }
  }
  const o = /** @type {LoadOptions} */ (opts);
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') {
    badArg(`options.onProgress must be a function, got ${describe(o.onProgress)}`);
  }
  return o;
}

/**
 * Build a Model from a stream of chunks. A known total lets the bytes go
 * straight into their final, aligned place in wasm memory (no second copy of
 * a possibly large bundle); an unknown total collects the chunks first.
 * @param {any} wasm the wasm glue module namespace
 * @param {AsyncIterable<Uint8Array>} chunks
 * @param {number | undefined} total
 * @param {LoadOptions['onProgress']} onProgress
 */
export async function modelFromChunks(wasm, chunks, total, onProgress) {
  const report = (loaded, t) => {
    if (onProgress) onProgress({ loaded, total: t });
  };
  if (total !== undefined && Number.isSafeInteger(total) && total > 0) {
    let buf;
    try {
      buf = new wasm.BundleBuffer(total);
    } catch (e) {
      throw toVitrineError(e);
    }
    let loaded = 0;
    try {
      report(0, total);
      for await (const chunk of chunks) {
        if (chunk.byteLength === 0) continue;
        if (loaded + chunk.byteLength > total) {
          throw new VitrineError(
            'LENGTH_MISMATCH',
            `the response is longer than its Content-Length (${total} bytes); is it compressed or changing while served?`,
            { expected: total, received: loaded + chunk.byteLength },
          );
        }
        try {
          buf.write(loaded, chunk);
        } catch (e) {
          throw toVitrineError(e);
        }
        loaded += chunk.byteLength;
        report(loaded, total);
      }
      if (loaded !== total) {
        throw new VitrineError(
          'TRUNCATED',
          `the download ended after ${loaded} of ${total} bytes; retry the request`,
          { expected: total, received: loaded },
        );
      }
    } catch (e) {
      buf.free();
      throw e;
    }
    return modelFromBuffer(wasm, buf);
  }
  /** @type {Uint8Array[]} */
  const parts = [];
  let loaded = 0;
  report(0, undefined);
  for await (const chunk of chunks) {
    if (chunk.byteLength === 0) continue;
    parts.push(chunk);
    loaded += chunk.byteLength;
    report(loaded, undefined);
  }
  report(loaded, loaded);
  if (parts.length === 1) return modelFromBytes(wasm, parts[0]);
  let buf;
  try {
    buf = new wasm.BundleBuffer(loaded);
    let off = 0;
    for (const p of parts) {
      buf.write(off, p);
      off += p.byteLength;
    }
  } catch (e) {
    if (buf) buf.free();
    throw toVitrineError(e);
  }
  return modelFromBuffer(wasm, buf);
}

/**
 * The Model takes the buffer's memory; the emptied JS handle is freed here
 * whether or not validation succeeded.
 * @param {any} wasm @param {any} buf
 */
function modelFromBuffer(wasm, buf) {
  try {
    return wasm.Model.fromBuffer(buf);
  } catch (e) {
    throw toVitrineError(e);
  } finally {
    try {
      buf.free();
    } catch {
      // already consumed by a build whose fromBuffer takes ownership
    }
  }
}

/** @param {any} wasm @param {Uint8Array} bytes */
export function modelFromBytes(wasm, bytes) {
  try {
    return wasm.Model.fromBytes(bytes);
  } catch (e) {
    throw toVitrineError(e);
  }
}

/** @param {ReadableStream<Uint8Array>} body */
async function* readerChunks(body) {
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

/**
 * @param {any} wasm
 * @param {Response} response
 * @param {LoadOptions['onProgress']} onProgress
 */
export async function modelFromResponse(wasm, response, onProgress) {
  if (!response.ok) {
    throw new VitrineError(
      'NETWORK',
      `fetching the model failed: HTTP ${response.status} ${response.statusText} for ${response.url || 'the request'}`,
      { status: response.status, url: response.url },
    );
  }
  // Content-Length counts encoded bytes: with gzip/br it is not the body size.
  const encoding = response.headers.get('content-encoding');
  const lenHeader = response.headers.get('content-length');
  let total;
  if (lenHeader !== null && (!encoding || encoding === 'identity')) {
    const n = Number(lenHeader);
    if (Number.isSafeInteger(n) && n >= 0) total = n;
  }
  if (!response.body) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (onProgress) onProgress({ loaded: bytes.byteLength, total: bytes.byteLength });
    return modelFromBytes(wasm, bytes);
  }
  return modelFromChunks(wasm, readerChunks(response.body), total, onProgress);
}

/**
 * Fetch-or-copy a model source into a wasm Model.
 * @param {any} wasm
 * @param {unknown} source
 * @param {LoadOptions} opts
 */
export async function openSource(wasm, source, opts) {
  const onProgress = opts.onProgress;
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    const bytes =
      source instanceof Uint8Array
        ? source
        : source instanceof ArrayBuffer
          ? new Uint8Array(source)
          : new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
    if (onProgress) onProgress({ loaded: bytes.byteLength, total: bytes.byteLength });
    return modelFromBytes(wasm, bytes);
  }
  if (typeof Response !== 'undefined' && source instanceof Response) {
    return modelFromResponse(wasm, source, onProgress);
  }
  if (
    typeof source === 'string' ||
    source instanceof URL ||
    (typeof Request !== 'undefined' && source instanceof Request)
  ) {
    let response;
    try {
      response = await fetch(/** @type {any} */ (source));
    } catch (e) {
      throw new VitrineError(
        'NETWORK',
        `fetching the model failed: ${e && e.message ? e.message : e}`,
        { url: String(source instanceof Request ? source.url : source) },
        { cause: e },
      );
    }
    return modelFromResponse(wasm, response, onProgress);
  }
  return badArg(
    `source must be a URL string, URL, Request, Response, ArrayBuffer or Uint8Array, got ${describe(source)}`,
  );
}

/**
 * Load a model bundle (`.vtr`) and the matching wasm build.
 *
 * `source` may be a URL (string or `URL`), a `Request`, a `Response`, an
 * `ArrayBuffer` or a `Uint8Array`. Fetched bodies are streamed into wasm
 * memory chunk by chunk, calling `onProgress({loaded, total})` after each
 * chunk (`total` is undefined until the end when the server sends no
 * Content-Length). `simd: 'auto'` (default) uses the fastest build the
 * engine validates (relaxed SIMD, SIMD128, scalar; see `pickVariant`).
 *
 * @param {string | URL | Request | Response | ArrayBuffer | ArrayBufferView} source
 * @param {LoadOptions} [options]
 * @returns {Promise<Vitrine>}
 */
export async function load(source, options) {
  const opts = checkLoadOptions(options);
  const variant = pickVariant(opts.simd, opts.wasmUrl);
  const wasm = await loadWasm(variant, opts.wasmUrl);
  const model = await openSource(wasm, source, opts);
  return new Vitrine(model, variant, wasm, () => loadWasm('intent', opts.wasmUrl));
}

// ---------------------------------------------------------------------------
// Argument checks shared by the direct API and the worker proxy.

const REC_OPTION_KEYS = new Set(['k', 'exclude', 'categories', 'priceMin', 'priceMax', 'inStockOnly']);

/**
 * @param {unknown} opts
 * @returns {RecOptions}
 */
export function checkRecOptions(opts) {
  if (opts === undefined || opts === null) return {};
  if (typeof opts !== 'object' || Array.isArray(opts)) {
    badArg(`options must be an object like {k: 10}, got ${describe(opts)}`);
  }
  const o = /** @type {Record<string, unknown>} */ (opts);
  /** @type {RecOptions} */
  const out = {};
  for (const key of Object.keys(o)) {
    if (!REC_OPTION_KEYS.has(key)) {
      const hint = /^(top_?k|topK|limit|n|count)$/i.test(key) ? ' (did you mean "k"?)' : '';
      badArg(`unknown option "${key}"${hint}; known options: ${[...REC_OPTION_KEYS].join(', ')}`);
    }
    if (o[key] === undefined) continue;
    /** @type {any} */ (out)[key] = o[key];
  }
  if (out.k !== undefined) {
    const k = out.k;
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > 0xffffffff) {
      badArg(`options.k must be a positive integer (e.g. 10), got ${describe(k)}`);
    }
  }
  for (const key of /** @type {const} */ (['exclude', 'categories'])) {
    const v = out[key];
    if (v === undefined) continue;
    if (!Array.isArray(v)) {
      badArg(`options.${key} must be an array of strings, got ${describe(v)}`);
    }
    for (let i = 0; i < v.length; i++) {
      if (typeof v[i] !== 'string') {
        badArg(`options.${key}[${i}] must be a string, got ${describe(v[i])}`);
      }
    }
  }
  for (const key of /** @type {const} */ (['priceMin', 'priceMax'])) {
    const v = out[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      badArg(`options.${key} must be a finite number, got ${describe(v)}`);
    }
  }
  if (out.priceMin !== undefined && out.priceMax !== undefined && out.priceMin > out.priceMax) {
    badArg(`options.priceMin (${out.priceMin}) is greater than options.priceMax (${out.priceMax})`);
  }
  if (out.inStockOnly !== undefined && typeof out.inStockOnly !== 'boolean') {
    badArg(`options.inStockOnly must be true or false, got ${describe(out.inStockOnly)}`);
  }
  return out;
}

/**
 * @param {unknown} v
 * @param {number} dim
 * @param {string} [name]
 * @returns {Float32Array}
 */
export function checkUserVector(v, dim, name = 'userVector') {
  let len;
  if (v instanceof Float32Array || v instanceof Float64Array || Array.isArray(v)) {
    len = v.length;
  } else {
    return badArg(`${name} must be a Float32Array, Float64Array or array of numbers, got ${describe(v)}`);
  }
  if (len !== dim) {
    throw new VitrineError(
      'DIM_MISMATCH',
      `${name} has length ${len} but the model has dim ${dim}; build the vector from this model's factors`,
      { expected: dim, actual: len },
    );
  }
  const out = v instanceof Float32Array ? v : new Float32Array(len);
  for (let i = 0; i < len; i++) {
    const x = v[i];
    if (typeof x !== 'number') badArg(`${name}[${i}] must be a number, got ${describe(x)}`);
    if (out !== v) out[i] = x;
    // Checked after the f32 conversion: a huge finite double becomes Infinity.
    if (!Number.isFinite(out[i])) {
      badArg(`${name}[${i}] is ${x} (after conversion to f32: ${out[i]}); every entry must be finite`);
    }
  }
  return out;
}

/** @param {unknown} id @param {string} [name] @returns {string} */
export function checkId(id, name = 'id') {
  if (typeof id !== 'string') badArg(`${name} must be a string item id, got ${describe(id)}`);
  return /** @type {string} */ (id);
}

/**
 * Attach the exclude statistics without changing what the array looks like
 * when printed or serialized.
 * @param {Scored[]} items
 * @param {number} unknownExcludes
 * @returns {ScoredList}
 */
export function scoredList(items, unknownExcludes, unknownCategories = 0) {
  Object.defineProperty(items, 'unknownExcludes', { value: unknownExcludes, enumerable: false });
  Object.defineProperty(items, 'unknownCategories', { value: unknownCategories, enumerable: false });
  return /** @type {ScoredList} */ (items);
}

// ---------------------------------------------------------------------------

/** A loaded model. Create with `load()`; call `dispose()` to free wasm memory. */
export class Vitrine {
  /**
   * @param {any} model wasm `Model`
   * @param {'relaxed' | 'simd' | 'scalar'} variant
   * @param {any} wasm the wasm glue module namespace
   * @param {() => Promise<any>} [loadIntentWasm] imports the intent module
   */
  constructor(model, variant, wasm, loadIntentWasm) {
    /** @type {any} */
    this._model = model;
    /** @type {'relaxed' | 'simd' | 'scalar'} which wasm build runs this model */
    this.variant = variant;
    /** @type {any} */
    this._wasm = wasm;
    this._loadIntentWasm = loadIntentWasm;
    /** @type {Promise<any> | null} the wasm `IntentModel`, once asked for */
    this._intent = null;
    const m = this._call(() => ({ n: model.nItems, d: model.dim, t: model.dtype }));
    /** @type {number} */
    this.nItems = m.n;
    /** @type {number} */
    this.dim = m.d;
    /** @type {'f32' | 'f16' | 'int8'} */
    this.dtype = m.t;
  }

  /** @template T @param {() => T} f @returns {T} */
  _call(f) {
    if (!this._model) {
      throw new VitrineError('DISPOSED', 'this model was disposed; load it again to use it');
    }
    try {
      return f();
    } catch (e) {
      throw toVitrineError(e);
    }
  }

  /**
   * How many of the requested category names the bundle does not know. The
   * core filters them out silently (a category may simply have no items in
   * this model), so a typo would otherwise look like "no results".
   * @param {RecOptions} opts
   */
  _unknownCategories(opts) {
    if (!opts.categories || opts.categories.length === 0) return 0;
    if (!this._categoryNames) this._categoryNames = new Set(this._call(() => this._model.info().categories));
    const known = /** @type {Set<string>} */ (this._categoryNames);
    return new Set(opts.categories.filter((c) => !known.has(c))).size;
  }

  /** @returns {boolean} whether the wasm build in use was compiled with SIMD */
  simdEnabled() {
    return this._call(() => this._wasm.simdEnabled());
  }

  /**
   * Bundle metadata: format version, sizes, dtype, meta strings, sections,
   * category names and which optional parts are present.
   */
  info() {
    return this._call(() => this._model.info());
  }

  /**
   * Top-k items for a user vector: score = ⟨user, item⟩ + item bias, best first.
   * The returned array has non-enumerable `unknownExcludes` (how many
   * `exclude` ids were not in the model, usually stale ids from a cart) and
   * `unknownCategories` (requested category names the bundle does not know).
   * @param {Float32Array | Float64Array | number[]} userVector
   * @param {RecOptions} [options]
   * @returns {ScoredList}
   */
  recommend(userVector, options) {
    const opts = checkRecOptions(options);
    const user = this._call(() => checkUserVector(userVector, this.dim));
    const r = this._call(() => this._model.recommend(user, opts));
    return scoredList(r.items, r.unknownExcludes, this._unknownCategories(opts));
  }

  /**
   * Hot path without options or strings: item indices and scores only.
   * @param {Float32Array | Float64Array | number[]} userVector
   * @param {number} [k]
   * @returns {{ indices: Uint32Array, scores: Float32Array }}
   */
  recommendIndices(userVector, k = 10) {
    checkRecOptions({ k });
    const user = this._call(() => checkUserVector(userVector, this.dim));
    return this._call(() => this._model.recommendFast(user, k));
  }

  /**
   * Items most similar to `id` (cosine of the item factors), excluding `id`.
   * @param {string} id
   * @param {RecOptions} [options]
   * @returns {ScoredList}
   */
  similar(id, options) {
    checkId(id);
    const opts = checkRecOptions(options);
    const r = this._call(() => this._model.similar(id, opts));
    return scoredList(r.items, r.unknownExcludes, this._unknownCategories(opts));
  }

  /**
   * Most popular items (interaction weight in the training data), filtered.
   * @param {RecOptions} [options]
   * @returns {ScoredList}
   */
  popular(options) {
    const opts = checkRecOptions(options);
    const r = this._call(() => this._model.popular(opts));
    return scoredList(r.items, r.unknownExcludes, this._unknownCategories(opts));
  }

  /**
   * Catalogue attributes of one item; throws UNKNOWN_ITEM for an unknown id.
   * @param {string} id
   */
  item(id) {
    checkId(id);
    return this._call(() => this._model.item(id));
  }

  /** @param {string} id @returns {boolean} */
  has(id) {
    checkId(id);
    return this._call(() => this._model.itemIndex(id) !== undefined);
  }

  /** @param {string} id @returns {number | undefined} */
  itemIndex(id) {
    checkId(id);
    return this._call(() => this._model.itemIndex(id));
  }

  /** @param {number} index @returns {string} */
  itemId(index) {
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= this.nItems) {
      badArg(`index must be an integer in [0, ${this.nItems}), got ${describe(index)}`);
    }
    return this._call(() => this._model.itemId(index));
  }

  /**
   * The item's factor vector as f32 (dequantized for f16 / int8 bundles).
   * @param {string} id
   * @returns {Float32Array}
   */
  itemVector(id) {
    checkId(id);
    return this._call(() => this._model.itemVector(id));
  }

  /**
   * Classify a shopper's text (search box, chat) with the bundle's intent
   * model. The matcher is its own small wasm module, fetched on the first
   * call (or by `loadIntent()`), so pages that never ask pay nothing for it.
   * Rejects with NO_INTENT_MODEL for bundles exported without one. Product
   * mentions carry the item's `id` as well as its catalogue `item` index.
   * @param {string} text
   * @returns {Promise<any>} shaped as `IntentMatch` in vitrine.d.ts
   */
  async matchIntent(text) {
    if (typeof text !== 'string') badArg(`text must be a string, got ${describe(text)}`);
    const intent = await this.loadIntent();
    return this._call(() => {
      const r = intent.matchIntent(text);
      for (const p of r.slots.products) p.id = this._model.itemId(p.item);
      return r;
    });
  }

  /**
   * Fetch and start the intent matcher now, e.g. when the help box gets
   * focus, so the first question answers without the download. Resolves to
   * the wasm `IntentModel` (intents, threshold, setThreshold).
   * @returns {Promise<any>}
   */
  async loadIntent() {
    if (!this._intent) {
      const bytes = this._call(() => this._model.intentSection());
      if (!bytes) {
        throw new VitrineError('NO_INTENT_MODEL', 'this bundle has no intent model; export it with `vitrine export --intent FILE`');
      }
      if (!this._loadIntentWasm) {
        throw new VitrineError('WASM_UNAVAILABLE', 'no intent module loader was given to this model');
      }
      const p = this._loadIntentWasm().then((w) => {
        try {
          return w.IntentModel.fromBytes(bytes);
        } catch (e) {
          throw toVitrineError(e);
        }
      });
      // A failed download may be retried by the next call.
      p.catch(() => {
        if (this._intent === p) this._intent = null;
      });
      this._intent = p;
    }
    return this._intent;
  }

  /** Free the wasm memory held by this model. Safe to call twice. */
  dispose() {
    if (this._model) {
      const m = this._model;
      this._model = null;
      const intent = this._intent;
      this._intent = null;
      intent?.then((im) => im.free()).catch(() => {});
      try {
        m.free();
      } catch (e) {
        throw toVitrineError(e);
      }
    }
  }

  /** @returns {boolean} */
  get disposed() {
    return this._model === null;
  }

  /** The underlying wasm `Model`, for advanced use (no argument checks). */
  get raw() {
    return this._call(() => this._model);
  }
}

// ---------------------------------------------------------------------------
// Web Worker mode: the same async API, with the model living in a worker.

/**
 * Load a model inside a dedicated module Worker and get an async proxy.
 * `source` must be a URL (relative URLs resolve against the page) or bytes
 * (`ArrayBuffer`/`Uint8Array`, copied and transferred).
 * @param {string | URL | ArrayBuffer | ArrayBufferView} source
 * @param {LoadOptions & { workerUrl?: string | URL }} [options]
 * @returns {Promise<VitrineWorker>}
 */
export async function loadInWorker(source, options) {
  const opts = checkLoadOptions(options);
  if (opts.simd !== undefined) pickVariant(opts.simd, opts.wasmUrl);
  /** @type {any} */
  let src;
  /** @type {Transferable[]} */
  const transfer = [];
  if (typeof source === 'string' || source instanceof URL) {
    const base = typeof location !== 'undefined' ? location.href : undefined;
    src = new URL(String(source), base).href;
  } else if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    const view =
      source instanceof ArrayBuffer
        ? new Uint8Array(source)
        : new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
    src = view.slice();
    transfer.push(src.buffer);
  } else {
    badArg(`loadInWorker source must be a URL or bytes, got ${describe(source)}`);
  }
  let wasmUrl = opts.wasmUrl;
  if (wasmUrl !== undefined) {
    const base = typeof location !== 'undefined' ? location.href : undefined;
    const abs = (u) => (u === undefined ? undefined : new URL(String(u), base).href);
    wasmUrl =
      typeof wasmUrl === 'object' && !(wasmUrl instanceof URL)
        ? Object.fromEntries(Object.entries(wasmUrl).map(([k, u]) => [k, abs(u)]))
        : abs(wasmUrl);
  }
  const workerUrl = opts.workerUrl ?? new URL('./worker.js', import.meta.url);
  const worker = new Worker(workerUrl, { type: 'module' });
  const proxy = new VitrineWorker(worker);
  try {
    const meta = await proxy._request(
      'load',
      [src, { simd: opts.simd, wasmUrl, progress: typeof opts.onProgress === 'function' }],
      transfer,
      opts.onProgress,
    );
    Object.assign(proxy, meta);
  } catch (e) {
    worker.terminate();
    throw e;
  }
  return proxy;
}

/** Async proxy to a model living in a Worker; mirrors `Vitrine`. */
export class VitrineWorker {
  /** @param {Worker} worker */
  constructor(worker) {
    /** @type {Worker | null} */
    this._worker = worker;
    this._next = 1;
    /** @type {Map<number, {resolve: Function, reject: Function, onProgress?: Function}>} */
    this._pending = new Map();
    /** @type {number} */
    this.nItems = 0;
    /** @type {number} */
    this.dim = 0;
    /** @type {string} */
    this.dtype = '';
    /** @type {'relaxed' | 'simd' | 'scalar' | ''} */
    this.variant = '';
    worker.onmessage = (ev) => this._onMessage(ev.data);
    worker.onerror = (ev) => {
      ev.preventDefault?.();
      this._failAll(new VitrineError('WORKER', `the worker failed: ${ev.message || 'unknown error'}`));
    };
    worker.onmessageerror = () => {
      this._failAll(new VitrineError('WORKER', 'a message from the worker could not be deserialized'));
    };
  }

  /** @param {VitrineError} err */
  _failAll(err) {
    for (const p of this._pending.values()) p.reject(err);
    this._pending.clear();
  }

  /** @param {any} msg */
  _onMessage(msg) {
    const p = this._pending.get(msg.id);
    if (!p) return;
    if (msg.progress) {
      p.onProgress?.(msg.progress);
      return;
    }
    this._pending.delete(msg.id);
    if (msg.error) {
      const e = msg.error;
      p.reject(new VitrineError(e.code, e.message, e.details || {}));
    } else {
      p.resolve(msg.result);
    }
  }

  /**
   * @param {string} op
   * @param {unknown[]} args
   * @param {Transferable[]} [transfer]
   * @param {Function} [onProgress]
   */
  _request(op, args, transfer = [], onProgress = undefined) {
    if (!this._worker) {
      return Promise.reject(new VitrineError('DISPOSED', 'this model was disposed; load it again to use it'));
    }
    const id = this._next++;
    return new Promise((resolve, reject) => {
      this._pending.set(id, { resolve, reject, onProgress });
      /** @type {Worker} */ (this._worker).postMessage({ id, op, args }, transfer);
    });
  }

  /** @param {unknown} v */
  _vector(v) {
    const u = checkUserVector(v, this.dim);
    const copy = new Float32Array(u); // the caller keeps its array; the copy is transferred
    return copy;
  }

  info() {
    return this._request('info', []);
  }

  simdEnabled() {
    return this._request('simdEnabled', []);
  }

  /** @param {Float32Array | Float64Array | number[]} userVector @param {RecOptions} [options] */
  async recommend(userVector, options) {
    const opts = checkRecOptions(options);
    const u = this._vector(userVector);
    const r = await this._request('recommend', [u, opts], [u.buffer]);
    return scoredList(r.items, r.unknownExcludes, r.unknownCategories);
  }

  /** @param {Float32Array | Float64Array | number[]} userVector @param {number} [k] */
  recommendIndices(userVector, k = 10) {
    checkRecOptions({ k });
    const u = this._vector(userVector);
    return this._request('recommendIndices', [u, k], [u.buffer]);
  }

  /** @param {string} id @param {RecOptions} [options] */
  async similar(id, options) {
    checkId(id);
    const r = await this._request('similar', [id, checkRecOptions(options)]);
    return scoredList(r.items, r.unknownExcludes, r.unknownCategories);
  }

  /** @param {RecOptions} [options] */
  async popular(options) {
    const r = await this._request('popular', [checkRecOptions(options)]);
    return scoredList(r.items, r.unknownExcludes, r.unknownCategories);
  }

  /** @param {string} id */
  item(id) {
    checkId(id);
    return this._request('item', [id]);
  }

  /** @param {string} id @returns {Promise<Float32Array>} */
  itemVector(id) {
    checkId(id);
    return this._request('itemVector', [id]);
  }

  /** @param {string} id @returns {Promise<number | undefined>} */
  itemIndex(id) {
    checkId(id);
    return this._request('itemIndex', [id]);
  }

  /** @param {string} text */
  matchIntent(text) {
    if (typeof text !== 'string') badArg(`text must be a string, got ${describe(text)}`);
    return this._request('matchIntent', [text]);
  }

  /** Free the model and terminate the worker. */
  async dispose() {
    if (!this._worker) return;
    try {
      await this._request('dispose', []);
    } finally {
      this._worker?.terminate();
      this._worker = null;
      this._failAll(new VitrineError('DISPOSED', 'this model was disposed'));
    }
  }
}
