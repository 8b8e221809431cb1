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

/** @param {any} vitrine */
function raw(vitrine) {
  if (!vitrine || !vitrine.raw) {
    throw new VitrineError('INVALID_ARGUMENT', 'placements need the model returned by load()');
  }
  if (vitrine._wasm?.engineParts?.() === 'lean') {
    throw new VitrineError('INVALID_ARGUMENT', "placements are not in this model's engine build: a lean build (wasmUrl pointing at *-lean) has no shopper or placements; load the model with the full build");
  }
  return vitrine.raw;
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
  if (!shopper || typeof shopper.history !== 'function') {
    throw new VitrineError('INVALID_ARGUMENT', 'this placement needs a shopper from createShopper()');
  }
  return shopper.history();
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
  return call(() => raw(vitrine).boughtTogether(list, options));
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
  return call(() => raw(vitrine).viewedTogether(list, options));
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
  return call(() => raw(vitrine).buyAgain(events(shopper), options));
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
  return call(() => raw(vitrine).recentlyViewed(events(shopper), options));
}

/**
 * Trending (time-decayed popularity at export), overall or in `category`.
 * @param {any} vitrine
 * @param {PlacementOptions & {category?: string}} [options]
 * @returns {Placement}
 */
export function trending(vitrine, options = {}) {
  return call(() => raw(vitrine).trending(options));
}

/**
 * Rising categories: their share of recent purchases over their share of all.
 * @param {any} vitrine
 * @param {{k?: number}} [options]
 * @returns {{category: string, rise: number, recent: number}[]}
 */
export function trendingFacets(vitrine, options = {}) {
  return call(() => raw(vitrine).trendingFacets(options));
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
export function withPlacements(shopper, vitrine, opts = {}) {
  raw(vitrine);
  events(shopper);
  const log = opts.impressions;
  /** @param {any} o */
  const withRotation = (o = {}) =>
    log && o.rotation === undefined
      ? { ...o, rotation: log.rotation({ rate: opts.rotationRate, time: opts.rotationTime }) }
      : o;
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

export const IMPRESSIONS_SCHEMA = 'vitrine.impressions';

/**
 * The local impression log behind rotation: how often each item was shown
 * since it was last clicked. Stored in localStorage (or memory with
 * `storage: 'none'`); never sent anywhere.
 * @param {{storage?: 'localStorage' | 'none', key?: string, cap?: number, now?: () => number}} [options]
 */
export function createImpressionLog(options = {}) {
  const { storage = 'localStorage', key = IMPRESSIONS_SCHEMA, cap = 2000, now = () => Date.now() } = options;
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
      const t = now();
      for (const id of ids) {
        const e = seen.get(id) ?? { shown: 0, last: t };
        seen.set(id, { shown: e.shown + 1, last: t });
      }
      save();
    },
    /** A click resets the item's count: it is wanted, not ignored. @param {string} id */
    clicked(id) {
      seen.delete(id);
      save();
    },
    /**
     * The `rotation` option for a placement call.
     * @param {{rate?: number, time?: number}} [o] rate in [0, 1] (default 0.2), time in ms (default one day)
     */
    rotation(o = {}) {
      return {
        impressions: [...seen.entries()].map(([item, v]) => ({ item, shown: v.shown, lastShown: v.last })),
        rate: o.rate ?? 0.2,
        time: o.time ?? 86_400_000,
      };
    },
    /** @param {string} id */
    count(id) {
      return seen.get(id)?.shown ?? 0;
    },
    clear() {
      seen = new Map();
      if (ls) ls.removeItem(key);
    },
  };
}
