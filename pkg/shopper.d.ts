// Types for `vitrine/shopper` (www/shopper.js, copied to pkg/shopper.js):
// the shopper's history kept on this device, folded into the model in the tab
// (or in the worker that hosts it: `AsyncShopper`).

import type { BusinessOptions, Vitrine, VitrineError, VitrineWorker } from './vitrine.js';

/** What a shopper did. Anything else is refused with `INVALID_EVENT`. */
export type EventType = 'view' | 'cart' | 'purchase' | 'search';

/** One stored event; `ts` in ms since the epoch. */
export interface ShopperEvent {
  type: EventType;
  item: string;
  ts: number;
}

/** What `track()` takes: `ts` defaults to now. Read as own properties only. */
export interface TrackEvent {
  type: EventType;
  /** The item's id (a non-empty string). Ids the model does not know are kept, and counted in `unknownItems`. */
  item: string;
  /** ms since the epoch; more than 5 minutes ahead is clamped to now (`FUTURE_TS` warning). */
  ts?: number;
}

/** Where the history lives; `'none'`: this page's memory only (also after a storage fallback). */
export type StorageKind = 'indexeddb' | 'localStorage' | 'none';

/**
 * Codes of `onWarning`; warnings never throw, the shopper goes on (in memory
 * when storage is gone). See docs/shopper.md, "Storage".
 */
export type ShopperWarningCode =
  /** No storage, or access throws (blocked cookies, sandboxed iframe, opaque origin): memory only. */
  | 'STORAGE_UNAVAILABLE'
  /** The browser refused a write for space: kept in memory, retried on the next `track`. */
  | 'QUOTA'
  /** A stored record was unreadable or not ours: discarded and removed. */
  | 'CORRUPT_RECORD'
  /** The IndexedDB database under the shopper's name has another layout: left alone, memory only. */
  | 'FOREIGN_DATABASE'
  /** Any other storage failure: kept in memory, retried on the next `track`. */
  | 'STORAGE_ERROR'
  /** An event time more than 5 minutes ahead was clamped to now. */
  | 'FUTURE_TS';

export interface ShopperWarning {
  code: ShopperWarningCode;
  message: string;
}

/** Weights of each event type in the fold-in (finite, ≥ 0). */
export interface EventWeights {
  view?: number;
  cart?: number;
  purchase?: number;
  search?: number;
}

/** Whether items the shopper already has are left out of `recommend` and `rerank`. */
export interface Exclusions {
  /** Items with a `cart` event in the history. Default true. */
  excludeCart?: boolean;
  /** Purchased items. Default true. */
  excludePurchased?: boolean;
  /** Viewed items. Default false. */
  excludeViewed?: boolean;
}

/** `createShopper` options; own properties only, unknown keys refused (`INVALID_ARGUMENT`). */
export interface ShopperOptions extends Exclusions {
  /** Default `'indexeddb'` where the page has it, else `'localStorage'`, else `'none'`. */
  storage?: StorageKind;
  /** One profile per key (and one IndexedDB database per key); default `'vitrine.history'`. */
  key?: string;
  /** Events kept, the oldest dropped first; 1 to 100 000, default 500. */
  cap?: number;
  /** Inactivity that ends a session; default 30. */
  sessionGapMinutes?: number;
  /** Older events count less (half the weight after this many days); default no decay. */
  halfLifeDays?: number;
  weights?: EventWeights;
  onWarning?: (w: ShopperWarning) => void;
  /** Clock in ms, for tests; default `Date.now`. */
  now?: () => number;
}

/** The blend of `score = long·⟨u,y⟩ + session·cos(s,y) + popularity·… + neighbours·…`. */
export interface Blend {
  long?: number;
  session?: number;
  popularity?: number;
  neighbours?: number;
}

/**
 * Options of `recommend` and `rerank`; own properties only, unknown keys refused.
 * The business options (`price`, `preferPrice`, `rotation`, `promotion`) act
 * after the blend (docs/placements.md); `rerank`'s promotions pick from its
 * candidates only; `rotation`'s impressions without a click also pull the
 * session away from those items.
 */
export interface RankOptions extends Exclusions, BusinessOptions {
  /** How many results; `recommend` default 10, `rerank` default all candidates. */
  k?: number;
  blend?: Blend;
  /** MMR diversity in [0, 1]; 1 (default) = none. */
  mmrLambda?: number;
  /** Positions MMR looks at; default 50. */
  diversityDepth?: number;
  /** `{id: position}`: these items at these positions (reason `pinned`). */
  pin?: Record<string, number>;
  /** `{id: added score}`. */
  boost?: Record<string, number>;
  /** Moved to the end. */
  bury?: string[];
  /** Never returned. */
  exclude?: string[];
  /** At most this many per category in a row; the overflow moves below. */
  categoryCap?: number;
  /** Cold start: rank for this segment's centroid (index into the bundle's segments). */
  segment?: number;
  /** `recommend`: candidates scanned from the catalogue; default 200. */
  pool?: number;
  /** Results that name the history item of a `history` reason; default 20. */
  reasonDepth?: number;
  categories?: string[];
  priceMin?: number;
  priceMax?: number;
  inStockOnly?: boolean;
  /**
   * `false`: rank with the blend even when the bundle has a learned ranker
   * (RANKER section); default true. `info().ranker` says which one is active.
   */
  ranker?: boolean;
  /** Overrides the shopper's clock for this call (ms). */
  now?: number;
  sessionHalfLife?: number;
  halfLifeDays?: number;
  sessionGapMinutes?: number;
  weights?: EventWeights;
}

/** Why an item is there. */
export type Reason = (
  /** "Because you viewed/bought `item`" (`item` and `weight` within `reasonDepth`). */
  | { kind: 'history'; item?: string; weight?: number }
  /** "Often viewed with `item`". */
  | { kind: 'neighbour'; item: string; weight: number }
  | { kind: 'popular' }
  /** Cold start from a segment centroid. */
  | { kind: 'segment'; segment: number }
  | { kind: 'pinned' }
) & {
  /**
   * With the learned ranker: the feature contributing most to the score
   * (`als_long`, `neighbour_last`, `in_session`, ...), which chose `kind`.
   */
  feature?: string;
};

export type ReasonKind = Reason['kind'];

export interface RankedItem {
  id: string;
  score: number;
  reason: Reason;
  /** Holds one of `options.promotion`'s slots (the reason stays the ranking's own). */
  promoted?: true;
}

export interface RankedList {
  items: RankedItem[];
  /** History items the model does not know (kept, not scored). */
  unknownItems: number;
  /** Events whose time was clamped to now. */
  clampedEvents: number;
  /** `rerank`: candidate ids the model does not know (dropped). */
  unknownCandidates: number;
  /** No history: popularity or the segment. */
  coldStart: boolean;
  /** Which model ordered the list: the bundle's learned ranker or the blend. */
  ranker: 'learned' | 'blend';
}

/** Taste segment (k-means over ALS user vectors, the SEGMENTS section). */
export interface SegmentMatch {
  index: number;
  name: string;
  distance: number;
}

/** Behaviour feature names, in the BEHAVIOUR section's order. */
export type BehaviourFeature =
  | 'recency_days'
  | 'frequency'
  | 'monetary'
  | 'basket_size'
  | 'category_breadth'
  | 'cheaper_share'
  | 'repeat_rate';

/**
 * A behaviour segment (BEHAVIOUR section), computed on this device from its
 * own history. Map it to your own offer by `label` or `features`.
 */
export interface BehaviourSegment {
  /** Absent: tells this apart from {@link NoBehaviourSegment} (`seg.segment === null`). */
  segment?: undefined;
  /** Index into the bundle's behaviour segments. */
  id: number;
  /** Plain-language label generated from the centroid at export, e.g. "frequent visitors, big spenders". */
  label: string;
  /**
   * This history's raw features (docs/shopper.md): recency_days, frequency and
   * basket_size as ln(1 + x), monetary as ln(1 + spend per visit). `null` when
   * the data cannot give it (no prices, no categories): it then counts as the
   * population mean.
   */
  features: Record<BehaviourFeature, number | null>;
  /** The features that are null. */
  missing: BehaviourFeature[];
  /** Euclidean distance to the centroid, in standardised units. */
  distance: number;
  /** Tracked events whose item the bundle does not know (left out). */
  unknownItems: number;
}

/** No behaviour segment: no tracked event names an item of this bundle. */
export interface NoBehaviourSegment {
  segment: null;
  reason: 'NO_HISTORY';
  unknownItems: number;
}

export interface Explanation {
  id: string;
  /** ⟨u, y⟩. */
  score: number;
  /** Per history item, largest first; they sum to `score`. */
  contributions: { item: string; weight: number }[];
  unknownItems: number;
  regularized: boolean;
}

/** What a shopper does the same way over either model: history, storage, events. */
export interface ShopperBase {
  /** Resolves once the stored history has been read; never rejects. */
  readonly ready: Promise<void>;
  /** Where the history lives now (always this page's storage, also in worker mode). */
  readonly storage: StorageKind;
  /**
   * Records an event on this device. Throws `INVALID_EVENT` synchronously for
   * a bad event; the promise settles when stored and never rejects (storage
   * failures are warnings).
   */
  track(event: TrackEvent): Promise<void>;
  /** A copy, oldest first (this tab's and other tabs' events). */
  history(): ShopperEvent[];
  /** Events split at gaps longer than `sessionGapMinutes`. */
  sessions(): ShopperEvent[][];
  /** Wipes memory at once, then storage (the IndexedDB database is deleted), here and in other tabs. */
  forget(): Promise<void>;
  /** Stops listening to other tabs and to the page's end, and closes the storage connection; the shopper keeps working (its next `track()` reopens and listens again). */
  close(): void;
}

/** A shopper over a model from `load()`: ranking answers at once. */
export interface Shopper extends ShopperBase {
  /** `false`: the ranking methods return their results directly. */
  readonly async: false;
  /** The folded-in user vector (zeros for an empty history). */
  userVector(): Float32Array;
  recommend(options?: RankOptions): RankedList;
  rerank(ids: readonly string[], options?: RankOptions): RankedList;
  /**
   * Behaviour segment of this device's history, or `{segment: null, reason}`.
   * Throws `NO_SECTION` for a bundle exported without `--behaviour`.
   */
  segment(): BehaviourSegment | NoBehaviourSegment;
  /** Nearest taste segment, or null (no segments, no GRAM section, no history). */
  tasteSegment(): SegmentMatch | null;
  explain(id: string): Explanation;
}

/**
 * A shopper over a model from `loadInWorker()`: the same methods, but the
 * ranking ones return Promises (the model answers from its worker). Errors,
 * bad arguments included, are rejections; a worker that died rejects with
 * `WORKER`, a disposed one with `DISPOSED`. The history stays in this page.
 */
export interface AsyncShopper extends ShopperBase {
  /** `true`: the ranking methods return Promises. */
  readonly async: true;
  userVector(): Promise<Float32Array>;
  recommend(options?: RankOptions): Promise<RankedList>;
  rerank(ids: readonly string[], options?: RankOptions): Promise<RankedList>;
  segment(): Promise<BehaviourSegment | NoBehaviourSegment>;
  tasteSegment(): Promise<SegmentMatch | null>;
  explain(id: string): Promise<Explanation>;
}

/**
 * A shopper over a model from `load()` (main thread). Throws `VitrineError`
 * (`INVALID_ARGUMENT`, `DISPOSED`), never for storage.
 */
export declare function createShopper(model: Vitrine, options?: ShopperOptions): Shopper;
/**
 * A shopper over a model from `loadInWorker()`: history and storage in this
 * page, ranking in the worker (Promise-returning methods).
 */
export declare function createShopper(model: VitrineWorker, options?: ShopperOptions): AsyncShopper;

/** Shopper errors are `VitrineError`s. */
export declare const ShopperError: typeof VitrineError;
export declare const SCHEMA: 'vitrine.history';
export declare const VERSION: 1;
export declare const EVENT_TYPES: readonly EventType[];
export declare const WARNING_CODES: readonly ShopperWarningCode[];
/** IndexedDB databases are named `DB_PREFIX + key`. */
export declare const DB_PREFIX: string;
/** Validates a stored record: its events, or null when it is not exactly ours. */
export declare function parseRecord(record: unknown): ShopperEvent[] | null;
/** Turns the wasm Model's packed ranked list into a `RankedList`. */
export declare function unpackRanked(packed: unknown): RankedList;
