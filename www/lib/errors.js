// One error type for the whole public API. Everything the wasm, the platform
// (fetch, Worker, WebAssembly) or the glue throws reaches the caller as a
// `VitrineError` with a stable `code`, so callers branch on codes, never on
// message text or on which layer failed.

/** JS-side error codes (the wasm core's codes are passed through unchanged). */
export const JS_ERROR_CODES = Object.freeze([
  'INVALID_ARGUMENT', // a JS argument has the wrong type or value
  'DIM_MISMATCH', // user vector length differs from the model's dim
  'NETWORK', // fetch failed, broke off, or answered a non-2xx status
  'LENGTH_MISMATCH', // body longer than its Content-Length
  'TRUNCATED', // body shorter than its Content-Length
  'TOO_LARGE', // the bundle is larger than options.maxBytes
  'INTEGRITY', // the bytes do not match options.integrity / wasmIntegrity
  'DISPOSED', // the model was disposed
  'WASM_UNAVAILABLE', // the wasm build could not be fetched, compiled or instantiated
  'WORKER', // the worker could not start, or died
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
 * A value without a code is never blamed on the caller: a wasm trap or an
 * unexpected exception is `INTERNAL`, so a test expecting INVALID_ARGUMENT
 * can tell validation from a bug.
 * @param {unknown} e
 * @returns {VitrineError}
 */
export function toVitrineError(e) {
  try {
    return convert(e);
  } catch {
    // A thrown Proxy or object whose getters throw: reading it threw too.
    return new VitrineError('INTERNAL', 'an unreadable value was thrown', {}, { cause: e });
  }
}

/** @param {unknown} e @returns {VitrineError} */
function convert(e) {
  if (e instanceof VitrineError) return e;
  if (e && typeof e === 'object') {
    const anyE = /** @type {any} */ (e);
    if (anyE.name === 'VitrineError' && typeof anyE.code === 'string') {
      /** @type {Record<string, unknown>} */
      const details = {};
      const src = anyE.details && typeof anyE.details === 'object' ? anyE.details : anyE;
      for (const key of ['section', 'offset', 'expected', 'actual']) {
        if (src[key] !== undefined) details[key] = src[key];
      }
      return new VitrineError(anyE.code, String(anyE.message), details, { cause: e });
    }
    if (typeof WebAssembly !== 'undefined' && e instanceof WebAssembly.RuntimeError) {
      return new VitrineError('INTERNAL', `wasm trap (a bug in vitrine; please report it): ${anyE.message}`, {}, { cause: e });
    }
    if (typeof anyE.message === 'string') {
      return new VitrineError('INTERNAL', anyE.message, {}, { cause: e });
    }
  }
  return new VitrineError('INTERNAL', String(e), {}, { cause: e });
}

/** @param {string} msg @returns {never} */
export function badArg(msg) {
  throw new VitrineError('INVALID_ARGUMENT', msg);
}

/**
 * Whether `v` can be an options object: an array's or a typed array's
 * indices would read as option names, and null is no object to read.
 * @param {unknown} v @returns {v is Record<string, unknown>}
 */
export function isOptionsObject(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

/** A short, safe description of a value for error messages. @param {unknown} v */
export function describe(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (ArrayBuffer.isView(v)) return v.constructor.name;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (typeof v === 'number') return String(v);
  return typeof v;
}

/** The message of anything thrown. @param {unknown} e */
export function messageOf(e) {
  try {
    return e && typeof e === 'object' && typeof (/** @type {any} */ (e).message) === 'string'
      ? /** @type {any} */ (e).message
      : String(e);
  } catch {
    return 'an unreadable value';
  }
}

/**
 * Run an argument check; anything it throws that is not already a
 * VitrineError (a Proxy whose trap throws, a getter that throws, a
 * revoked proxy) becomes INVALID_ARGUMENT naming the argument.
 * @template T @param {string} what @param {() => T} f @returns {T}
 */
export function readingArgument(what, f) {
  try {
    return f();
  } catch (e) {
    if (e instanceof VitrineError) throw e;
    throw new VitrineError('INVALID_ARGUMENT', `${what} could not be read (${messageOf(e)}); pass plain data`, {}, { cause: e });
  }
}

/**
 * Call a caller-supplied callback; what it throws becomes INVALID_ARGUMENT
 * (the caller's code failed, not vitrine).
 * @param {string} what @param {Function} f @param {...unknown} args
 */
export function callCallback(what, f, ...args) {
  try {
    f(...args);
  } catch (e) {
    throw new VitrineError('INVALID_ARGUMENT', `${what} threw: ${messageOf(e)}`, {}, { cause: e });
  }
}
