// vitrine placements: the strips a storefront shows, computed on this device.
//
//   import { load } from './vitrine.js';
//   import { createShopper } from './shopper.js';
//   import { withPlacements, createImpressionLog } from './placements.js';
//   const model = await load('/models/store.vtr');
//   const shopper = withPlacements(createShopper(model), model);
//   shopper.boughtTogether(['sku-1'], { k: 4 });        // product page / "complete your cart"
//   shopper.buyAgain({ k: 8 });                          // from the shopper's own purchases
//   shopper.recentlyViewed({ k: 8 });
//   shopper.trending({ k: 8, category: 'shoes' });
//   shopper.trendingFacets({ k: 3 });                    // rising categories
//
// Every list is `{items: [{id, score, reason, because?}], unknownItems}` with
// exactly k items when the catalogue and filters allow (the fallback chain
// fills personalized → co-purchase / neighbours → category trending →
// popular), each with a reason code a page can render: `bought_together`,
// `viewed_together`, `similar`, `buy_again`, `recently_viewed`, `trending`,
// `popular`, `promoted`, `catalogue`. A bundle exported without the section a
// placement needs throws VitrineError `NO_SECTION` naming the section and the
// `vitrine placements build` flag that adds it.
//
// Nothing here talks to the network; the impression log (rotation) lives in
// localStorage or memory, like the shopper's history.

import { VitrineError, toVitrineError } from './vitrine.js';

/** Reason codes, stable: pages may branch on them. */
export const REASONS = Object.freeze([
  'history',
  'bought_together',
  'viewed_together',
  'similar',
  'trending',
  'popular',
  'promoted',
  'buy_again',
  'recently_viewed',
  'segment',
  'catalogue',
]);

/**
 * @typedef {{id: string, score: number, reason: string, because?: string}} PlacedItem
 * @typedef {{items: PlacedItem[], unknownItems: number}} Placement
 * @typedef {{
 *   k?: number, exclude?: string[], categories?: string[], priceMin?: number, priceMax?: number,
 *   inStockOnly?: boolean, price?: 'none' | 'low' | 'medium' | 'high', preferPrice?: 'higher' | 'lower',
 *   rotation?: {impressions: {item: string, shown: number, lastShown: number}[], rate?: number, time?: number},
 *   promotion?: {items?: string[], categories?: string[], share: number}, fill?: boolean, now?: number,
 * }} PlacementOptions
 */

/** @param {string} msg @param {unknown} [cause] @returns {never} */
function badArg(msg, cause) {
  throw new VitrineError('INVALID_ARGUMENT', msg, {}, cause === undefined ? undefined : { cause });
}

/** The message of anything thrown, never throwing itself. @param {unknown} e */
function errText(e) {
  try {
    return e && typeof e === 'object' && 'message' in e ? String(/** @type {any} */ (e).message) : String(e);
  } catch {
    return 'unprintable error';
  }
}

/**
 * Reads caller data; a getter or Proxy trap that throws is INVALID_ARGUMENT
 * (the caller's object failed), with its error as `cause`.
 * @template T @param {string} what @param {() => T} f @returns {T}
 */
function reading(what, f) {
  try {
    return f();
  } catch (e) {
    if (e instanceof VitrineError) throw e;
    return badArg(`${what} could not be read (${errText(e)}); pass plain data`, e);
  }
}

/** @param {any} vitrine */
function raw(vitrine) {
  return reading('the model', () => {
    if (!vitrine || !vitrine.raw) {
      throw new VitrineError('INVALID_ARGUMENT', 'placements need the model returned by load()');
    }
    if (vitrine._wasm?.engineParts?.() === 'lean') {
      throw new VitrineError('INVALID_ARGUMENT', "placements are not in this model's engine build: a lean build (wasmUrl pointing at *-lean) has no shopper or placements; load the model with the full build");
    }
    return vitrine.raw;
  });
}

/**
 * A placement's options as given, after the one check the engine cannot
 * make: a typed array is an object without keys there, so it would pass as
 * `{}`.
 * @param {unknown} o
 */
function opts(o) {
  if (ArrayBuffer.isView(o)) badArg('options must be an object like {k: 10}, got a typed array');
  return o;
}

/** @template T @param {() => T} f @returns {T} */
function call(f) {
  try {
    return f();
  } catch (e) {
    throw toVitrineError(e);
  }
}

/** @param {any} shopper */
function events(shopper) {
  return reading('the shopper', () => {
    if (!shopper || typeof shopper.history !== 'function') {
      throw new VitrineError('INVALID_ARGUMENT', 'this placement needs a shopper from createShopper()');
    }
    const h = shopper.history();
    if (!Array.isArray(h)) throw new VitrineError('INVALID_ARGUMENT', 'shopper.history() must return an array of events');
    return h;
  });
}

/**
 * Frequently bought together, for one product or a whole cart (whose items
 * are never suggested). `mode: 'strict'` keeps co-purchases only (possibly
 * fewer than k); `'relaxed'` (default) fills through the chain.
 * @param {any} vitrine
 * @param {string | string[]} ids
 * @param {PlacementOptions & {mode?: 'strict' | 'relaxed', minSupport?: number, shrinkage?: number, lift?: number}} [options]
 * @returns {Placement}
 */
export function boughtTogether(vitrine, ids, options = {}) {
  const list = typeof ids === 'string' ? [ids] : ids;
  return call(() => raw(vitrine).boughtTogether(list, opts(options)));
}

/**
 * Viewed together, for a product page: items viewed in the same sessions
 * (NEIGHBOURS), filled with similar items, category trending and popular.
 * @param {any} vitrine
 * @param {string | string[]} ids
 * @param {PlacementOptions} [options]
 * @returns {Placement}
 */
export function viewedTogether(vitrine, ids, options = {}) {
  const list = typeof ids === 'string' ? [ids] : ids;
  return call(() => raw(vitrine).viewedTogether(list, opts(options)));
}

/**
 * Buy it again: the shopper's own purchases, most due first (each item's
 * repurchase cadence from the bundle against the time since they bought it).
 * @param {any} vitrine
 * @param {any} shopper
 * @param {PlacementOptions & {halfLife?: number, cadenceWeight?: number, sigma?: number, repeatPower?: number, basketGapMinutes?: number}} [options]
 * @returns {Placement}
 */
export function buyAgain(vitrine, shopper, options = {}) {
  return call(() => raw(vitrine).buyAgain(events(shopper), opts(options)));
}

/**
 * Recently viewed ("continue shopping"): newest first, each once, without
 * what the shopper bought since. `fill: false` for viewed items only.
 * @param {any} vitrine
 * @param {any} shopper
 * @param {PlacementOptions} [options]
 * @returns {Placement}
 */
export function recentlyViewed(vitrine, shopper, options = {}) {
  return call(() => raw(vitrine).recentlyViewed(events(shopper), opts(options)));
}

/**
 * Trending (time-decayed popularity at export), overall or in `category`.
 * @param {any} vitrine
 * @param {PlacementOptions & {category?: string}} [options]
 * @returns {Placement}
 */
export function trending(vitrine, options = {}) {
  return call(() => raw(vitrine).trending(opts(options)));
}

/**
 * Rising categories: their share of recent purchases over their share of all.
 * @param {any} vitrine
 * @param {{k?: number}} [options]
 * @returns {{category: string, rise: number, recent: number}[]}
 */
export function trendingFacets(vitrine, options = {}) {
  return call(() => raw(vitrine).trendingFacets(opts(options)));
}

/**
 * Adds the placements to a shopper (the same object, returned): the
 * shopper's history feeds buyAgain / recentlyViewed, and an impression log
 * (if given) feeds rotation to every call — the placements and the
 * shopper's own `recommend` / `rerank` — unless the call passes its own.
 * @template S
 * @param {S} shopper from createShopper()
 * @param {any} vitrine the model
 * @param {{impressions?: ReturnType<typeof createImpressionLog>, rotationRate?: number, rotationTime?: number}} [opts]
 * @returns {S & {boughtTogether: Function, viewedTogether: Function, buyAgain: Function, recentlyViewed: Function, trending: Function, trendingFacets: Function}}
 */
export function withPlacements(shopper, vitrine, opts) {
  raw(vitrine);
  events(shopper);
  // Every option is checked before the shopper is touched: a refused call
  // adds nothing to it.
  const { log, rate, time } = reading('withPlacements options', () => {
    if (opts === undefined || opts === null) return { log: undefined, rate: undefined, time: undefined };
    if (typeof opts !== 'object' || Array.isArray(opts) || ArrayBuffer.isView(opts)) {
      badArg('withPlacements options must be an object like {impressions: createImpressionLog()}');
    }
    const o = /** @type {any} */ (opts);
    const log = o.impressions ?? undefined;
    if (log !== undefined && (typeof log !== 'object' || typeof log.rotation !== 'function')) {
      badArg('options.impressions must be a log from createImpressionLog()');
    }
    const rate = o.rotationRate ?? undefined;
    if (rate !== undefined) checkRate(rate, 'options.rotationRate');
    const time = o.rotationTime ?? undefined;
    if (time !== undefined) checkTime(time, 'options.rotationTime');
    return { log, rate, time };
  });
  /**
   * A call's options with the log's rotation added (unless it has its own).
   * Anything but an options object goes through as it is, to be refused by
   * the call with the message for it.
   * @param {any} o
   */
  const withRotation = (o) => {
    if (!log) return o;
    if (o === undefined || o === null) return { rotation: log.rotation({ rate, time }) };
    if (typeof o !== 'object' || Array.isArray(o) || ArrayBuffer.isView(o)) return o;
    return reading('options', () => (o.rotation === undefined ? { ...o, rotation: log.rotation({ rate, time }) } : o));
  };
  /** @type {Record<string, Function>} */
  const ranked = {};
  // The shopper's own rankings take the log's rotation too: there, the
  // impressions without a click also pull the session away from those items.
  const s = /** @type {any} */ (shopper);
  if (log && typeof s.recommend === 'function') {
    const recommend = s.recommend;
    ranked.recommend = (/** @type {any} */ o) => recommend(withRotation(o ?? undefined));
  }
  if (log && typeof s.rerank === 'function') {
    const rerank = s.rerank;
    ranked.rerank = (/** @type {string[]} */ ids, /** @type {any} */ o) => rerank(ids, withRotation(o ?? undefined));
  }
  return Object.assign(/** @type {any} */ (shopper), ranked, {
    /** @param {string | string[]} ids @param {any} [o] */
    boughtTogether: (ids, o) => boughtTogether(vitrine, ids, withRotation(o)),
    /** @param {string | string[]} ids @param {any} [o] */
    viewedTogether: (ids, o) => viewedTogether(vitrine, ids, withRotation(o)),
    /** @param {any} [o] */
    buyAgain: (o) => buyAgain(vitrine, shopper, withRotation(o)),
    /** @param {any} [o] */
    recentlyViewed: (o) => recentlyViewed(vitrine, shopper, o),
    /** @param {any} [o] */
    trending: (o) => trending(vitrine, withRotation(o)),
    /** @param {any} [o] */
    trendingFacets: (o) => trendingFacets(vitrine, o),
  });
}

/** @param {unknown} v @param {string} name */
function checkRate(v, name) {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) badArg(`${name} must be a number in [0, 1]`);
}

/** @param {unknown} v @param {string} name */
function checkTime(v, name) {
  // The engine keeps it as a 32-bit float: larger would be Infinity there.
  if (typeof v !== 'number' || !(v >= 0 && v <= 3.4e38)) badArg(`${name} must be a finite number of ms ≥ 0 (at most 3.4e38)`);
}

/** @param {unknown} id @param {string} name @returns {string} */
function checkItemId(id, name) {
  if (typeof id !== 'string') badArg(`${name} must be an item id (a string)`);
  return /** @type {string} */ (id);
}

const LOG_OPTION_KEYS = ['storage', 'key', 'cap', 'now'];
/** Longest `shown` list accepted at once (the wasm's array limit). */
const MAX_SHOWN = 1 << 20;

export const IMPRESSIONS_SCHEMA = 'vitrine.impressions';

/**
 * The local impression log behind rotation: how often each item was shown
 * since it was last clicked. Stored in localStorage (or memory with
 * `storage: 'none'`); never sent anywhere.
 * @param {{storage?: 'localStorage' | 'none', key?: string, cap?: number, now?: () => number}} [options]
 */
export function createImpressionLog(options) {
  const { storage, key, cap, now } = reading('createImpressionLog options', () => {
    if (options !== undefined && options !== null && (typeof options !== 'object' || Array.isArray(options) || ArrayBuffer.isView(options))) {
      badArg('createImpressionLog options must be an object like {storage: "none"}');
    }
    const o = /** @type {Record<string, any>} */ (options ?? {});
    for (const k of Object.keys(o)) {
      if (!LOG_OPTION_KEYS.includes(k)) badArg(`unknown option "${k}"; expected one of ${LOG_OPTION_KEYS.join(', ')}`);
    }
    const storage = o.storage ?? 'localStorage';
    if (storage !== 'localStorage' && storage !== 'none') badArg("options.storage must be 'localStorage' or 'none'");
    const key = o.key ?? IMPRESSIONS_SCHEMA;
    if (typeof key !== 'string' || key.length === 0 || key.length > 200) badArg('options.key must be a non-empty string of at most 200 characters');
    const cap = o.cap ?? 2000;
    if (!Number.isInteger(cap) || cap < 1 || cap > 1_000_000) badArg('options.cap must be a whole number from 1 to 1000000');
    const now = o.now ?? (() => Date.now());
    if (typeof now !== 'function') badArg('options.now must be a function returning ms since the epoch');
    return { storage, key, cap, now };
  });
  /** The clock, checked: a bad time never reaches the log. */
  const clock = () => {
    const t = now();
    if (typeof t !== 'number' || !Number.isFinite(t)) badArg('the now() option must return a finite number of ms');
    return t;
  };
  const ls = storage === 'localStorage' ? globalThis.localStorage : undefined;
  /** @type {Map<string, {shown: number, last: number}>} */
  let seen = new Map();
  if (ls) {
    try {
      const rec = JSON.parse(ls.getItem(key) ?? 'null');
      if (rec && rec.schema === IMPRESSIONS_SCHEMA && rec.version === 1 && rec.items && typeof rec.items === 'object') {
        for (const [id, v] of Object.entries(rec.items)) {
          const x = /** @type {any} */ (v);
          if (x && Number.isFinite(x.shown) && x.shown >= 0 && Number.isFinite(x.last)) seen.set(id, { shown: x.shown, last: x.last });
        }
      }
    } catch {
      seen = new Map(); // a damaged record is dropped, never mixed in
    }
  }
  const save = () => {
    if (!ls) return;
    if (seen.size > cap) {
      const keep = [...seen.entries()].sort((a, b) => b[1].last - a[1].last).slice(0, cap);
      seen = new Map(keep);
    }
    try {
      ls.setItem(key, JSON.stringify({ schema: IMPRESSIONS_SCHEMA, version: 1, items: Object.fromEntries(seen) }));
    } catch {
      // storage full or blocked: rotation keeps working for this page
    }
  };
  return {
    /** Records that these items were shown. @param {string[]} ids */
    shown(ids) {
      const list = reading('ids', () => {
        if (!Array.isArray(ids)) badArg('shown() needs an array of item ids');
        if (ids.length > MAX_SHOWN) badArg(`shown() takes at most ${MAX_SHOWN} ids at once`);
        const out = [];
        for (let i = 0; i < ids.length; i++) out.push(checkItemId(ids[i], `ids[${i}]`));
        return out;
      });
      const t = clock();
      for (const id of list) {
        const e = seen.get(id) ?? { shown: 0, last: t };
        seen.set(id, { shown: e.shown + 1, last: t });
      }
      save();
    },
    /** A click resets the item's count: it is wanted, not ignored. @param {string} id */
    clicked(id) {
      seen.delete(checkItemId(id, 'id'));
      save();
    },
    /**
     * The `rotation` option for a placement call.
     * @param {{rate?: number, time?: number}} [o] rate in [0, 1] (default 0.2), time in ms (default one day)
     */
    rotation(o) {
      const { rate, time } = reading('rotation options', () => {
        if (o !== undefined && o !== null && (typeof o !== 'object' || Array.isArray(o) || ArrayBuffer.isView(o))) {
          badArg('rotation options must be an object like {rate: 0.2}');
        }
        const x = /** @type {any} */ (o ?? {});
        const rate = x.rate ?? 0.2;
        checkRate(rate, 'rate');
        const time = x.time ?? 86_400_000;
        checkTime(time, 'time');
        return { rate, time };
      });
      return {
        impressions: [...seen.entries()].map(([item, v]) => ({ item, shown: v.shown, lastShown: v.last })),
        rate,
        time,
      };
    },
    /** @param {string} id */
    count(id) {
      return seen.get(checkItemId(id, 'id'))?.shown ?? 0;
    },
    clear() {
      seen = new Map();
      if (ls) ls.removeItem(key);
    },
  };
}
