// Types for `vitrine/placements`: the strips a storefront shows (bought
// together, viewed together, buy it again, recently viewed, trending),
// computed on this device from the bundle's placement sections and the
// shopper's own history. See docs/placements.md.

import type { Vitrine, RotationOption, PromotionOption } from './vitrine.js';
import type { Shopper } from './shopper.js';

/** Stable reason codes a page may branch on. */
export type PlacementReason =
  | 'history'
  | 'bought_together'
  | 'viewed_together'
  | 'similar'
  | 'trending'
  | 'popular'
  | 'promoted'
  | 'buy_again'
  | 'recently_viewed'
  | 'segment'
  | 'catalogue';

export declare const REASONS: readonly PlacementReason[];

export interface PlacedItem {
  id: string;
  score: number;
  reason: PlacementReason;
  /** The item that earned this one its place ("bought with X"). */
  because?: string;
}

export interface Placement {
  items: PlacedItem[];
  /** Ids given to the call that the bundle does not know (counted, skipped). */
  unknownItems: number;
}

export type { Impression, RotationOption, PromotionOption, BusinessOptions } from './vitrine.js';

export interface PlacementOptions {
  k?: number;
  exclude?: string[];
  categories?: string[];
  priceMin?: number;
  priceMax?: number;
  inStockOnly?: boolean;
  price?: 'none' | 'low' | 'medium' | 'high';
  preferPrice?: 'higher' | 'lower';
  rotation?: RotationOption;
  promotion?: PromotionOption;
  /** `false`: only the placement's own signal, no fallback chain. */
  fill?: boolean;
  /** Milliseconds since the epoch; defaults to now. */
  now?: number;
}

export interface BoughtTogetherOptions extends PlacementOptions {
  mode?: 'strict' | 'relaxed';
  minSupport?: number;
  shrinkage?: number;
  lift?: number;
}

export interface BuyAgainOptions extends PlacementOptions {
  halfLife?: number;
  cadenceWeight?: number;
  sigma?: number;
  repeatPower?: number;
  basketGapMinutes?: number;
}

export interface TrendingOptions extends PlacementOptions {
  category?: string;
}

export interface TrendingFacet {
  category: string;
  rise: number;
  recent: number;
}

export declare function boughtTogether(vitrine: Vitrine, ids: string | string[], options?: BoughtTogetherOptions): Placement;
export declare function viewedTogether(vitrine: Vitrine, ids: string | string[], options?: PlacementOptions): Placement;
export declare function buyAgain(vitrine: Vitrine, shopper: Shopper, options?: BuyAgainOptions): Placement;
export declare function recentlyViewed(vitrine: Vitrine, shopper: Shopper, options?: PlacementOptions): Placement;
export declare function trending(vitrine: Vitrine, options?: TrendingOptions): Placement;
export declare function trendingFacets(vitrine: Vitrine, options?: { k?: number }): TrendingFacet[];

export interface ImpressionLog {
  shown(ids: string[]): void;
  clicked(id: string): void;
  rotation(o?: { rate?: number; time?: number }): RotationOption;
  count(id: string): number;
  clear(): void;
}

export declare const IMPRESSIONS_SCHEMA: 'vitrine.impressions';
export declare function createImpressionLog(options?: {
  storage?: 'localStorage' | 'none';
  key?: string;
  cap?: number;
  now?: () => number;
}): ImpressionLog;

export interface ShopperPlacements {
  boughtTogether(ids: string | string[], options?: BoughtTogetherOptions): Placement;
  viewedTogether(ids: string | string[], options?: PlacementOptions): Placement;
  buyAgain(options?: BuyAgainOptions): Placement;
  recentlyViewed(options?: PlacementOptions): Placement;
  trending(options?: TrendingOptions): Placement;
  trendingFacets(options?: { k?: number }): TrendingFacet[];
}

/**
 * Adds the placements to a shopper; with an impression log, every placement
 * and the shopper's own `recommend` / `rerank` get its `rotation` (unless a
 * call passes one), which is also a negative signal for the session there.
 */
export declare function withPlacements<S extends Shopper>(
  shopper: S,
  vitrine: Vitrine,
  opts?: { impressions?: ImpressionLog; rotationRate?: number; rotationTime?: number },
): S & ShopperPlacements;
