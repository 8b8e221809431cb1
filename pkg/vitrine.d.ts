// Types for the vitrine JavaScript API (browser entry `vitrine.js` and the
// Node entry `node.js`, which share one API).

/** Filters and size of a ranking. Unknown keys are rejected (typo guard). */
export interface RecOptions {
  /** How many items to return; a positive integer, default 10. */
  k?: number;
  /** Item ids never to return (e.g. the cart). Ids not in the model are counted in `unknownExcludes`. */
  exclude?: string[];
  /** Keep only items in one of these category names (see `info().categories`). */
  categories?: string[];
  /** Keep only items with a price ≥ priceMin. */
  priceMin?: number;
  /** Keep only items with a price ≤ priceMax. */
  priceMax?: number;
  /** Keep only items flagged in stock. */
  inStockOnly?: boolean;
}

export interface Scored {
  id: string;
  score: number;
}

/**
 * Best first. Non-enumerable extras: `unknownExcludes` (exclude ids not in the
 * model) and `unknownCategories` (category names the bundle does not know;
 * they match nothing).
 */
export type ScoredList = Scored[] & { readonly unknownExcludes: number; readonly unknownCategories: number };

export interface Progress {
  loaded: number;
  /** Undefined while the size is unknown (no Content-Length); equals `loaded` on the last event. */
  total: number | undefined;
}

export interface LoadOptions {
  onProgress?: (p: Progress) => void;
  /**
   * 'auto' (default): the fastest build this engine validates (relaxed SIMD,
   * then SIMD128, then scalar; they rank identically). true: the SIMD128
   * build; 'relaxed': the relaxed-SIMD build; false: the scalar build.
   */
  simd?: 'auto' | boolean | 'relaxed';
  /**
   * Where the wasm binaries live, for bundlers that do not emit them next to
   * the glue. A single URL names the engine build only and must match the
   * selected one (pass simd with it); an object gives one URL per build, and
   * 'auto' then only picks builds it lists (intent: the intent module).
   */
  wasmUrl?: string | URL | { relaxed?: string | URL; simd?: string | URL; scalar?: string | URL; intent?: string | URL };
}

export interface WorkerLoadOptions extends LoadOptions {
  /** URL of the package's worker.js when a bundler moved it. */
  workerUrl?: string | URL;
}

export interface ItemInfo {
  id: string;
  index: number;
  title?: string;
  category?: string;
  price?: number;
  inStock?: boolean;
  popularity?: number;
}

export interface SectionInfo {
  kind: number;
  name: string;
  offset: number;
  length: number;
  crc32: number;
  required: boolean;
}

export interface ModelInfo {
  /** "major.minor" */
  formatVersion: string;
  nItems: number;
  dim: number;
  /** Bundle size in bytes. */
  bytes: number;
  /** Whether the wasm build running this model uses SIMD128. */
  simd: boolean;
  dtype: 'f32' | 'f16' | 'int8';
  meta: Record<string, string>;
  sections: SectionInfo[];
  categories: string[];
  hasGram: boolean;
  hasNeighbours: boolean;
  hasSegments: boolean;
  hasIntent: boolean;
  /**
   * int8 rows come with a RESIDUAL section (`vitrine export --residual`): the
   * top candidates are re-scored at ~15-bit precision, so results match the
   * f32 model's almost always at int8 scan speed.
   */
  hasResidual: boolean;
}

/** A shopper's text classified by `matchIntent`. */
export interface IntentMatch {
  /** null: out of scope (best confidence under the model's threshold) or nothing to match. */
  intent: string | null;
  /** Softmax probability of the best class (also when `intent` is null). */
  confidence: number;
  /** Up to three next-best guesses, best first. */
  alternatives: { intent: string; confidence: number }[];
  slots: {
    orderNumbers: string[];
    quantities: { value: number; unit: string }[];
    price: {
      min: number | null;
      max: number | null;
      amount: number | null;
      currency: string | null;
      cheaper: boolean;
      moreExpensive: boolean;
    } | null;
    /** Catalogue items the text names (bundles exported with a title index). */
    products: { item: number; id: string; score: number }[];
  };
  /** The text was longer than the matcher reads and only its start was used. */
  truncated: boolean;
  /** The matched intent's configured action and response, if any. */
  action: string | null;
  response: string | null;
}

/** The intent module's model object (see `Vitrine.loadIntent`). */
export interface IntentModel {
  readonly intents: string[];
  readonly threshold: number;
  setThreshold(t: number): void;
}

export type UserVector = Float32Array | Float64Array | number[];

/**
 * Error codes: the wasm core's (BAD_MAGIC, UNSUPPORTED_VERSION, TRUNCATED,
 * CHECKSUM_MISMATCH, SECTION_OUT_OF_BOUNDS, MISALIGNED_SECTION,
 * OVERLAPPING_SECTIONS, SECTION_GAP, MISSING_SECTION, UNKNOWN_REQUIRED_SECTION,
 * SIZE_OVERFLOW, NON_FINITE, DUPLICATE_ID, BAD_SECTION, INVALID_ARGUMENT,
 * DIM_MISMATCH, UNKNOWN_ITEM, NO_INTENT_MODEL, MISSING_CAPABILITY, DUPLICATE_SECTION,
 * INVALID_EVENT) plus the glue's (NETWORK,
 * LENGTH_MISMATCH, DISPOSED, WASM_UNAVAILABLE, WORKER, INTERNAL).
 */
export type VitrineErrorCode =
  | 'BAD_MAGIC'
  | 'UNSUPPORTED_VERSION'
  | 'TRUNCATED'
  | 'CHECKSUM_MISMATCH'
  | 'SECTION_OUT_OF_BOUNDS'
  | 'MISALIGNED_SECTION'
  | 'OVERLAPPING_SECTIONS'
  | 'SECTION_GAP'
  | 'MISSING_SECTION'
  | 'UNKNOWN_REQUIRED_SECTION'
  | 'SIZE_OVERFLOW'
  | 'NON_FINITE'
  | 'DUPLICATE_ID'
  | 'BAD_SECTION'
  | 'INVALID_ARGUMENT'
  | 'DIM_MISMATCH'
  | 'UNKNOWN_ITEM'
  | 'NO_INTENT_MODEL'
  | 'MISSING_CAPABILITY'
  | 'DUPLICATE_SECTION'
  | 'INVALID_EVENT'
  | 'NETWORK'
  | 'LENGTH_MISMATCH'
  | 'DISPOSED'
  | 'WASM_UNAVAILABLE'
  | 'WORKER'
  | 'INTERNAL'
  | (string & {});

export declare class VitrineError extends Error {
  constructor(code: string, message: string, details?: Record<string, unknown>, opts?: { cause?: unknown });
  readonly name: 'VitrineError';
  /** Stable machine-readable code. */
  code: VitrineErrorCode;
  /** e.g. `{section, offset}` for bundle errors, `{expected, actual}` for DIM_MISMATCH. */
  details: Record<string, unknown>;
}

export declare const JS_ERROR_CODES: readonly string[];

/** A loaded model. Synchronous methods; call `dispose()` to free its wasm memory. */
export declare class Vitrine {
  private constructor();
  readonly nItems: number;
  readonly dim: number;
  readonly dtype: 'f32' | 'f16' | 'int8';
  /** Which wasm build runs this model. */
  readonly variant: 'relaxed' | 'simd' | 'scalar';
  readonly disposed: boolean;
  /** The underlying wasm Model (no argument checks). */
  readonly raw: unknown;
  simdEnabled(): boolean;
  info(): ModelInfo;
  /** score = ⟨user, item⟩ + item bias, best first. */
  recommend(userVector: UserVector, options?: RecOptions): ScoredList;
  /** Hot path: indices into the catalogue and scores, no filters, no strings. */
  recommendIndices(userVector: UserVector, k?: number): { indices: Uint32Array; scores: Float32Array };
  /** Cosine similarity of item factors; the item itself is left out. */
  similar(id: string, options?: RecOptions): ScoredList;
  popular(options?: RecOptions): ScoredList;
  item(id: string): ItemInfo;
  has(id: string): boolean;
  itemIndex(id: string): number | undefined;
  itemId(index: number): string;
  /** Dequantized factor vector. */
  itemVector(id: string): Float32Array;
  /**
   * Intent of a shopper's text, from the bundle's intent model (rejects with
   * NO_INTENT_MODEL without one). The matcher is a separate small wasm module
   * fetched on the first call.
   */
  matchIntent(text: string): Promise<IntentMatch>;
  /** Fetches and starts the intent matcher ahead of the first question. */
  loadIntent(): Promise<IntentModel>;
  dispose(): void;
}

/** Async proxy to a model living in a module Worker. */
export declare class VitrineWorker {
  private constructor();
  readonly nItems: number;
  readonly dim: number;
  readonly dtype: 'f32' | 'f16' | 'int8';
  readonly variant: 'relaxed' | 'simd' | 'scalar';
  simdEnabled(): Promise<boolean>;
  info(): Promise<ModelInfo>;
  recommend(userVector: UserVector, options?: RecOptions): Promise<ScoredList>;
  recommendIndices(userVector: UserVector, k?: number): Promise<{ indices: Uint32Array; scores: Float32Array }>;
  similar(id: string, options?: RecOptions): Promise<ScoredList>;
  popular(options?: RecOptions): Promise<ScoredList>;
  item(id: string): Promise<ItemInfo>;
  itemIndex(id: string): Promise<number | undefined>;
  itemVector(id: string): Promise<Float32Array>;
  matchIntent(text: string): Promise<IntentMatch>;
  /** Frees the model and terminates the worker. */
  dispose(): Promise<void>;
}

/**
 * Load a `.vtr` bundle. Fetched bodies stream into wasm memory chunk by chunk.
 * In Node, `source` may also be a file path or a `file:` URL.
 */
export declare function load(
  source: string | URL | Request | Response | ArrayBuffer | ArrayBufferView,
  options?: LoadOptions,
): Promise<Vitrine>;

/** Browser only: load the model inside a module Worker. */
export declare function loadInWorker(
  source: string | URL | ArrayBuffer | ArrayBufferView,
  options?: WorkerLoadOptions,
): Promise<VitrineWorker>;

/** Whether this engine validates WebAssembly SIMD. */
export declare function simdSupported(): boolean;
/** Whether this engine validates relaxed SIMD (simd: 'auto' then runs the relaxed build). */
export declare function relaxedSimdSupported(): boolean;
