// Types for `vitrine/shopper` (www/shopper.js). Placeholder written by the
// package side so that the export is typed; the shopper's owner keeps it in
// step with shopper.js and docs/shopper.md.

import type { Vitrine, VitrineErrorConstructor, RecOptions } from './vitrine.js';

export type EventType = 'view' | 'cart' | 'purchase' | 'search';

export interface ShopperEvent {
  type: EventType;
  item: string;
  /** ms since the epoch */
  ts: number;
}

export interface TrackEvent {
  type: EventType;
  item: string;
  /** Defaults to now; more than 5 minutes in the future is clamped (warning FUTURE_TS). */
  ts?: number;
}

export type WarningCode = 'CORRUPT_RECORD' | 'QUOTA' | 'STORAGE_UNAVAILABLE' | 'FUTURE_TS' | (string & {});

export interface ShopperWarning {
  code: WarningCode;
  message: string;
}

export type StorageKind = 'indexeddb' | 'localStorage' | 'none';

export interface ShopperOptions {
  /** Where the history lives; default 'localStorage' when available. */
  storage?: StorageKind;
  /** Storage key (one profile per key), default 'vitrine.history'. */
  key?: string;
  /** Events kept, oldest dropped first (default 500). */
  cap?: number;
  /** Inactivity that ends a session (default 30). */
  sessionGapMinutes?: number;
  /** Older events count less (default: no decay). */
  halfLifeDays?: number;
  weights?: { view?: number; cart?: number; purchase?: number; search?: number };
  onWarning?: (w: ShopperWarning) => void;
  /** Clock (ms), for tests. */
  now?: () => number;
}

export type ReasonKind = 'history' | 'neighbour' | 'popular' | 'segment' | 'pinned';

export interface Reason {
  kind: ReasonKind;
  item?: string;
  weight?: number;
  segment?: number;
}

export interface RankedItem {
  id: string;
  score: number;
  reason: Reason;
}

export interface RankedList {
  items: RankedItem[];
  unknownItems: number;
  clampedEvents: number;
  unknownCandidates: number;
  coldStart: boolean;
}

export interface ShopperRankOptions extends RecOptions {
  blend?: { long?: number; session?: number; popularity?: number; neighbours?: number };
  mmrLambda?: number;
  categoryCap?: number;
  pin?: Record<string, number>;
  boost?: Record<string, number>;
  bury?: string[];
  segment?: number;
  reasonDepth?: number;
}

export interface Segment {
  index: number;
  name: string;
  distance: number;
}

export interface Shopper {
  /** Resolves once the stored history has been read. */
  readonly ready: Promise<void>;
  readonly storage: StorageKind;
  track(ev: TrackEvent): Promise<void>;
  history(): ShopperEvent[];
  sessions(): ShopperEvent[][];
  forget(): Promise<void>;
  userVector(): Float32Array;
  recommend(opts?: ShopperRankOptions): RankedList;
  rerank(ids: string[], opts?: ShopperRankOptions): RankedList;
  segment(): Segment | null;
  explain(id: string): unknown;
}

export declare function createShopper(model: Vitrine, options?: ShopperOptions): Shopper;

/** Shopper errors are VitrineErrors (codes INVALID_EVENT, INVALID_ARGUMENT, …). */
export declare const ShopperError: VitrineErrorConstructor;
export declare const SCHEMA: 'vitrine.history';
export declare const VERSION: number;
export declare const EVENT_TYPES: readonly EventType[];
export declare function parseRecord(rec: unknown): ShopperEvent[] | null;
