// Types for the vitrine JavaScript API (browser entry `vitrine.js` and the
// Node entry `node.js`, which share one API). `vitrine/shopper` is typed in
// shopper.d.ts.

/** Filters and size of a ranking. Unknown keys are rejected (typo guard); `null` means "not given". */
export interface RecOptions {
  /** How many items to return; a positive integer, default 10. */
  k?: number | null;
  /** Item ids never to return (e.g. the cart). Ids not in the model are counted in `unknownExcludes`. */
  exclude?: string[] | null;
  /** Keep only items in one of these category names (see `info().categories`). */
  categories?: string[] | null;
  /** Keep only items with a price ≥ priceMin. */
  priceMin?: number | null;
  /** Keep only items with a price ≤ priceMax. */
  priceMax?: number | null;
  /** Keep only items flagged in stock. */
  inStockOnly?: boolean | null;
}

/** An impression-log entry: shown `shown` times since its last click, last at `lastShown` (ms). */
export interface Impression {
  item: string;
  shown: number;
  lastShown: number;
}

/** Rotation: items shown often without a click are damped by (1 − rate)^shown, fading over `time` ms. */
export interface RotationOption {
  impressions: Impression[];
  /** Damping per unclicked showing, in [0, 1]; default 0.2. */
  rate?: number;
  /** Milliseconds after the last impression over which the damping fades; default one day. */
  time?: number;
}

/** A share of the k slots reserved for items matching `items` or `categories`, filled by score. */
export interface PromotionOption {
  items?: string[];
  categories?: string[];
  /** Share of the k slots, in [0, 1]; default 0.2. */
  share?: number;
}

/**
 * The business options shared by `recommend`, the shopper's `recommend` /
 * `rerank` and every placement (docs/placements.md). A bad value throws
 * `INVALID_ARGUMENT` naming the option.
 */
export interface BusinessOptions {
  /** Among items of close score, price decides: how strongly. Default 'none'. */
  price?: 'none' | 'low' | 'medium' | 'high';
  /** With `price`: prefer higher (default) or lower prices. */
  preferPrice?: 'higher' | 'lower';
  rotation?: RotationOption;
  promotion?: PromotionOption;
}

/** `recommend`'s options: the filters plus the business options (k ≤ 1000 with any of them). */
export interface RecommendOptions extends RecOptions, BusinessOptions {
  /** Milliseconds since the epoch for the rotation's fade; defaults to now. */
  now?: number;
}

export interface Scored {
  id: string;
  score: number;
  /** `recommend` with a promotion: this item holds one of the promotion's slots. */
  promoted?: true;
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

export type Build = 'relaxed' | 'simd' | 'scalar';

export interface LoadOptions {
  /** Called after every chunk; `null`/`undefined`: no reports. */
  onProgress?: ((p: Progress) => void) | null;
  /**
   * `load()`: 1 (default) scans on the calling thread; 2 adds a helper
   * worker (its own copy of the model, woken through shared memory) that
   * scans part of each `recommend`, `recommendIndices` and `similar` while
   * the page scans the rest (results identical to one thread; the methods
   * stay synchronous); 'auto': 2 from 4 MiB of item factors (items × dim ×
   * bytes per value: 100k × 64 int8, 20k × 64 f32) on a cross-origin
   * isolated page with two or more cores, each query split only while
   * splits pay. Needs cross-origin isolation.
   * `threadsReady` resolves once the helper is ready; `info().threads` says
   * what runs and why.
   */
  threads?: 1 | 2 | 'auto' | null;
  /**
   * 'auto' (default): the fastest build this engine validates (relaxed SIMD,
   * then SIMD128, then scalar; they rank identically). true: the SIMD128
   * build; 'relaxed': the relaxed-SIMD build; false: the scalar build.
   */
  simd?: 'auto' | boolean | 'relaxed' | null;
  /**
   * Where the wasm binaries live, for bundlers that do not emit them next to
   * the glue. A single URL names the engine build only and must match the
   * selected one (pass simd with it); an object gives one URL per build, and
   * 'auto' then only picks builds it lists (intent: the intent module).
   */
  wasmUrl?: string | URL | { relaxed?: string | URL; simd?: string | URL; scalar?: string | URL; intent?: string | URL } | null;
  /** Subresource Integrity of the model bundle (`"sha384-…"`, as printed by `vitrine export`); a mismatch rejects with INTEGRITY. */
  integrity?: string | null;
  /** Subresource Integrity of the wasm builds (`pkg/wasm/integrity.json` lists them). */
  wasmIntegrity?: { relaxed?: string; simd?: string; scalar?: string; intent?: string } | null;
  /** Largest bundle accepted, in bytes (default 512 MiB); larger → TOO_LARGE before anything is allocated. */
  maxBytes?: number | null;
  /**
   * The int8 screen of an f32 or f16 catalogue of 4,096 rows or more (full
   * engine builds): each scan reads int8 copies of the rows and scores
   * exactly only the rows that can still enter the top-k, so answers are the
   * f32 scan's, bit for bit, 1.4–4× sooner. It costs `n × stride` bytes plus
   * 12–16 per row (a quarter of the f32 rows' memory) and is built by the first
   * scan (~17 ms at 100k × 64 in Node); `true` builds it
   * during `load()` instead, `false` never builds it. See docs/web.md, "The
   * int8 screen of f32 rows".
   */
  screen?: boolean | null;
  /**
   * The device's model cache for warm visits (URL sources): true (default:
   * Cache Storage, else IndexedDB, else none), false (off), one store by
   * name, or a store of your own. See docs/web.md, "Warm visits". In worker
   * mode the worker keeps the cache, so a store object is refused
   * (INVALID_ARGUMENT), and warnings go to the worker's console.
   */
  cache?: boolean | 'cache-storage' | 'indexeddb' | ModelStore | null;
  /** Cache warnings (CACHE_CORRUPT, CACHE_FOREIGN, CACHE_EVICTED, CACHE_UNAVAILABLE); default: console.warn. */
  onWarning?: ((code: CacheWarningCode, message: string) => void) | null;
}

export type CacheWarningCode = 'CACHE_CORRUPT' | 'CACHE_FOREIGN' | 'CACHE_EVICTED' | 'CACHE_UNAVAILABLE';

/** What the model cache keeps beside the bytes of one bundle. */
export interface CacheRecord {
  v: number;
  url: string;
  integrity: string;
  etag: string | null;
  lastModified: string | null;
  bytes: number;
  tableCrc: number;
  modelId: string | null;
  storedAt: number;
}

/** A model store of your own for the `cache` option (keys are strings). */
export interface ModelStore {
  kind?: string;
  get(key: string): Promise<{ record: CacheRecord; body: ReadableStream<Uint8Array> | Blob | Uint8Array | ArrayBuffer } | undefined>;
  put(key: string, record: CacheRecord, chunks: Uint8Array[]): Promise<void>;
  delete(key: string): Promise<void>;
}

/** How `load()` made a model: phases on the page's clock (ms, navigation start = 0) and the cache's part. */
export interface LoadReport {
  start: number;
  fetchStart?: number;
  firstByte?: number;
  downloadEnd?: number;
  compileStart?: number;
  compileEnd?: number;
  validateStart?: number;
  validateEnd?: number;
  /** 'cached': a cache hit, checked by structure and checksums (docs/web.md, "Warm visits"). */
  validation?: 'full' | 'cached';
  cache: {
    status: 'off' | 'none' | 'miss' | 'hit' | 'stored';
    store?: string;
    warnings: CacheWarningCode[];
    revalidation?: 'pending' | 'unchanged' | 'changed' | 'offline' | 'pinned';
  };
}

export interface WorkerLoadOptions extends LoadOptions {
  /** URL of the package's `vitrine.worker.js` when a bundler moved it (see the bundler recipes). */
  workerUrl?: string | URL | null;
  /**
   * A Worker you constructed, running `vitrine/worker`, e.g.
   * `new Worker(new URL('vitrine/worker', import.meta.url), {type: 'module'})`.
   */
  worker?: Worker | null;
  /**
   * Threads per scan: 1, 2 (two workers, each holding the model, each
   * scanning half the rows; results identical to one thread), or 'auto'
   * (default): 2 where the page is cross-origin isolated, the device has
   * two or more cores and the catalogue 500,000 items or more, else 1.
   * `info().threads` says what runs and why.
   */
  threads?: 1 | 2 | 'auto' | null;
}

/** What scans run on (`info().threads`), and why. */
export interface ThreadsInfo {
  count: 1 | 2;
  requested: 1 | 2 | 'auto';
  reason: string;
  /** Bundle bytes were shared with the second thread (SharedArrayBuffer). */
  sharedBytes: boolean;
  /** `load()` with a helper: queries split, parts the helper answered, parts the page took back (not claimed in time, late, refused), queries run alone while splits did not pay. */
  stats?: { splits: number; helped: number; pageTookOver: number; late: number; refused: number; alone: number };
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
  /**
   * Bytes of the int8 screen an f32 or f16 catalogue of 4,096 rows or more
   * gets at load (0: none). The scan reads the screen and scores exactly only
   * the rows that can still enter the top-k, so the answers are the f32
   * scan's, bit for bit, at close to int8 speed (docs/web.md, "The int8
   * screen of f32 rows").
   */
  screenBytes: number;
  /** Which engine build runs the model and why (`simd: 'auto'`: what was measured). */
  build?: { variant: 'relaxed' | 'simd' | 'scalar'; reason: string; calibration?: Record<string, unknown> };
  /** Timings and cache of the load (absent for models made by the Node entry). */
  load?: LoadReport;
  /**
   * What the shopper's recommend / rerank rank with: the bundle's learned
   * ranker, the blend (no RANKER section), or the blend because the RANKER
   * section was refused (`reason`: another feature spec, non-finite weights).
   */
  ranker: { active: 'learned' | 'blend' | 'fallback'; reason: string | null };
  /** How many threads split each scan, and why. */
  threads: ThreadsInfo;
  /** 'lean': a `-lean` engine build (no shopper or placements), selected through `wasmUrl`. */
  engine: 'full' | 'lean';
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
  /** The shopper's mood, from the intent model's mood head (null for models trained without `--mood`). */
  mood: Mood | null;
  /** True for an explicit ask for a person, or an angry or repeated complaint: hand over to a human agent. */
  escalate: boolean;
}

export interface Mood {
  label: 'negative' | 'neutral' | 'positive';
  confidence: number;
}

/**
 * The intent matcher's settings (see `Vitrine.loadIntent`). Every member
 * throws DISPOSED once the model is disposed; a wrong argument is
 * INVALID_ARGUMENT. Questions go through `Vitrine.matchIntent`, which adds
 * product ids: the wasm object's own `matchIntent` is not handed out.
 */
export interface IntentModel {
  /** Intent names in model order; a fresh copy on each read. */
  readonly intents: string[];
  /** Out-of-scope threshold on `confidence` (the calibrated one until set; stored as an f32). */
  readonly threshold: number;
  /** A number in [0, 1]; 0 never answers `intent: null`. */
  setThreshold(t: number): void;
  /** Same as `Vitrine.resetConversation`. */
  resetConversation(): void;
}

/** `VitrineWorker.loadIntent`: `IntentModel`, whose calls into the worker return Promises. */
export interface WorkerIntentModel {
  /** Intent names in model order; a fresh copy on each read. */
  readonly intents: string[];
  /** As last set (resolved), read without a round trip. */
  readonly threshold: number;
  /** Checked here (rejects INVALID_ARGUMENT), applied in the worker. */
  setThreshold(t: number): Promise<void>;
  resetConversation(): Promise<void>;
}

export type UserVector = Float32Array | Float64Array | number[];

/** Where a bundle error was found. */
export interface BundleErrorDetails {
  section?: string;
  offset?: number;
}

/** What `details` holds, per error code. */
export interface ErrorDetailsByCode {
  BAD_MAGIC: BundleErrorDetails;
  UNSUPPORTED_VERSION: BundleErrorDetails;
  /** From the wasm (a section cut short) or the glue (a download that ended early). */
  TRUNCATED: BundleErrorDetails & { expected?: number; received?: number };
  CHECKSUM_MISMATCH: BundleErrorDetails;
  SECTION_OUT_OF_BOUNDS: BundleErrorDetails;
  MISALIGNED_SECTION: BundleErrorDetails;
  OVERLAPPING_SECTIONS: BundleErrorDetails;
  SECTION_GAP: BundleErrorDetails;
  MISSING_SECTION: BundleErrorDetails;
  DUPLICATE_SECTION: BundleErrorDetails;
  UNKNOWN_REQUIRED_SECTION: BundleErrorDetails;
  SIZE_OVERFLOW: BundleErrorDetails;
  NON_FINITE: BundleErrorDetails;
  DUPLICATE_ID: BundleErrorDetails;
  BAD_SECTION: BundleErrorDetails;
  /** A finite value outside the safety envelope (docs/format.md): such a model could score Infinity. */
  UNSAFE_VALUE: BundleErrorDetails;
  /** A reserved byte or flag is not zero (corrupted, or a newer major version). */
  RESERVED_NOT_ZERO: BundleErrorDetails;
  /** A placement needs a section this bundle lacks; the message names the `vitrine placements build` flag. */
  NO_SECTION: Record<string, never>;
  /** A finite number outside its documented range (a user vector value beyond ±1e12, a number too big for f32). */
  OUT_OF_RANGE: Record<string, never>;
  INVALID_ARGUMENT: Record<string, never>;
  DIM_MISMATCH: { expected?: number; actual?: number };
  UNKNOWN_ITEM: Record<string, never>;
  NO_INTENT_MODEL: Record<string, never>;
  MISSING_CAPABILITY: Record<string, never>;
  INVALID_EVENT: Record<string, never>;
  /** A shard is not the file its head lists (`loadSharded`); `reason`: the load error's code when it did not load at all. */
  SHARD_MISMATCH: { shard?: number; url?: string; reason?: string };
  /** `status`: the HTTP status of a non-2xx answer; `received`: bytes before a download broke off; `path`: Node file. */
  NETWORK: { url?: string; status?: number; received?: number; path?: string };
  LENGTH_MISMATCH: { expected: number; received: number };
  TOO_LARGE: { maxBytes: number; bytes: number };
  INTEGRITY: { algorithm?: 'sha256' | 'sha384' | 'sha512'; actual?: string; reason?: 'no-subtle-crypto' };
  DISPOSED: Record<string, never>;
  WASM_UNAVAILABLE: {
    variant?: Build | 'intent';
    url?: string;
    /** html: an HTML page was served where the .wasm was expected; csp: no 'wasm-unsafe-eval'. */
    reason?: 'glue' | 'network' | 'http' | 'html' | 'not-wasm' | 'csp' | 'instantiate' | 'read';
    status?: number;
    contentType?: string;
  };
  WORKER: {
    url?: string;
    reason?: 'unsupported' | 'trusted-types' | 'csp' | 'construct' | 'http' | 'html' | 'mime' | 'network' | 'start' | 'died' | 'messageerror';
    status?: number;
    contentType?: string;
    directive?: string;
  };
  INTERNAL: Record<string, never>;
}

/** Every code a VitrineError can carry (`docs/web.md` says who raises each and what to do). */
export type VitrineErrorCode = keyof ErrorDetailsByCode;

/** A VitrineError with one code; `details` is typed by it. */
export interface VitrineErrorOf<C extends VitrineErrorCode> extends Error {
  readonly name: 'VitrineError';
  /** Stable machine-readable code. */
  readonly code: C;
  readonly details: ErrorDetailsByCode[C];
}

/**
 * The error every public function throws or rejects with. A union over the
 * codes, so `if (e instanceof VitrineError && e.code === 'DIM_MISMATCH')`
 * narrows `e.details` to `{expected, actual}`.
 */
export type VitrineError = { [C in VitrineErrorCode]: VitrineErrorOf<C> }[VitrineErrorCode];

export interface VitrineErrorConstructor {
  new <C extends VitrineErrorCode>(
    code: C,
    message: string,
    details?: ErrorDetailsByCode[C],
    opts?: { cause?: unknown },
  ): VitrineErrorOf<C>;
  readonly prototype: VitrineError;
}

export declare const VitrineError: VitrineErrorConstructor;

export declare const JS_ERROR_CODES: readonly VitrineErrorCode[];

/** Turns anything thrown into a VitrineError (a value without a code becomes INTERNAL). */
export declare function toVitrineError(e: unknown): VitrineError;

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
  /** Resolves when the load's background cache work (storing, revalidating) is done. */
  readonly cacheSettled: Promise<void>;
  /** `threads: 2 | 'auto'`: resolves with `info().threads` once the helper worker is ready, or was not started, or failed (never rejects). */
  readonly threadsReady: Promise<ThreadsInfo | null>;
  simdEnabled(): boolean;
  info(): ModelInfo;
  /** score = ⟨user, item⟩ + item bias, best first. */
  recommend(userVector: UserVector, options?: RecommendOptions): ScoredList;
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
  /** Masks phones, e-mails, card numbers and security codes, Chinese ID and passport numbers and street addresses (with their postcodes) as `[phone]`, `[email]`, `[card]`, `[id_number]`, `[address]` (order numbers and personal names stay); runs in the intent module. */
  redact(text: string): Promise<string>;
  /** Starts a new conversation: earlier negative messages no longer count towards `escalate`. */
  resetConversation(): Promise<void>;
  dispose(): void;
}

/** Async proxy to a model living in a module Worker. */
export declare class VitrineWorker {
  private constructor();
  readonly nItems: number;
  readonly dim: number;
  readonly dtype: 'f32' | 'f16' | 'int8';
  readonly variant: 'relaxed' | 'simd' | 'scalar';
  /** How many workers split each scan, and why. */
  readonly threads: ThreadsInfo;
  simdEnabled(): Promise<boolean>;
  info(): Promise<ModelInfo>;
  recommend(userVector: UserVector, options?: RecommendOptions): Promise<ScoredList>;
  recommendIndices(userVector: UserVector, k?: number): Promise<{ indices: Uint32Array; scores: Float32Array }>;
  similar(id: string, options?: RecOptions): Promise<ScoredList>;
  popular(options?: RecOptions): Promise<ScoredList>;
  item(id: string): Promise<ItemInfo>;
  has(id: string): Promise<boolean>;
  itemIndex(id: string): Promise<number | undefined>;
  itemId(index: number): Promise<string>;
  itemVector(id: string): Promise<Float32Array>;
  matchIntent(text: string): Promise<IntentMatch>;
  /** Fetches and starts the intent matcher in the worker ahead of the first question. */
  loadIntent(): Promise<WorkerIntentModel>;
  redact(text: string): Promise<string>;
  resetConversation(): Promise<void>;
  /** A shopper wasm entry point run in the worker (arguments as for the page model's `raw[method]`). */
  shopperCall(method: 'foldIn' | 'recommendFor' | 'rerank' | 'segment' | 'explain' | 'behaviourSegment', ...args: unknown[]): Promise<unknown>;
  readonly disposed: boolean;
  /** Frees the model and terminates the worker. Rejects with WORKER if the worker had died. */
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

/** `loadSharded` options: every `load` option, plus where shards are cached and how they are fetched. */
export interface ShardedLoadOptions extends LoadOptions {
  /** 'auto' (default): Cache Storage, in a cache named `vitrine-shards:<model id>`; false: none; or your own Cache-like store. */
  shardCache?: 'auto' | false | Pick<Cache, 'match' | 'put' | 'delete'>;
  /** 'all': fetch every shard in the background after the head (see `whenAllLoaded`). Default 'none'. */
  prefetch?: 'none' | 'all';
  /** Parallel shard downloads (1..64, default 4). */
  concurrency?: number;
  /** The fetch used for the head and the shards (default: the global fetch). */
  fetch?: (input: string, init?: RequestInit) => Promise<Response>;
}

/** `ShardedVitrine.recommend` options: which shards to score. */
export interface ShardedRecOptions extends RecOptions {
  /** 'needed' (default): fetch the shards the filter can match first; 'all': every shard; 'loaded': the head and loaded shards, at once. */
  shards?: 'loaded' | 'needed' | 'all';
}

/** A result over a sharded catalogue; `complete`: every shard the filter can match was scored. */
export type ShardedScoredList = ScoredList & { readonly complete: boolean };

/** One row of a head's shard table. */
export interface ShardEntry {
  index: number;
  file: string;
  bytes: number;
  start: number;
  end: number;
  /** The shard's category (category shards), else null. */
  category: string | null;
  firstId: string;
  lastId: string;
  loaded: boolean;
}

/** A catalogue split into a head bundle and factor shards (`vitrine shard`); made by `loadSharded`. */
export interface ShardedVitrine {
  /** The head as a plain model: the most popular items, the Gram matrix, every category name. */
  readonly head: Vitrine;
  readonly modelId: string;
  readonly by: 'range' | 'category';
  /** Items over all shards. */
  readonly nItems: number;
  readonly dim: number;
  readonly dtype: 'f32' | 'f16' | 'int8';
  readonly variant: 'relaxed' | 'simd' | 'scalar';
  readonly shardCount: number;
  readonly loadedShards: number;
  shards(): ShardEntry[];
  /** Fetch (or take from the cache) and check shards; resolves to the number loaded. */
  loadShards(which?: 'all' | number[] | { categories: string[] }): Promise<number>;
  whenAllLoaded(): Promise<number>;
  recommend(userVector: UserVector, options?: ShardedRecOptions): Promise<ShardedScoredList>;
  /** The head's popular items merged with the loaded shards': no download. */
  popular(options?: RecOptions): ShardedScoredList;
  item(id: string): Promise<ItemInfo>;
  itemVector(id: string): Promise<Float32Array>;
  has(id: string): Promise<boolean>;
  info(): ModelInfo & { modelId: string; by: 'range' | 'category'; totalItems: number; shards: ShardEntry[] };
  readonly disposed: boolean;
  dispose(): void;
}

/** Load a sharded bundle's head (served at once); shards follow on demand and are cached per model id. */
export declare function loadSharded(head: string | URL, options?: ShardedLoadOptions): Promise<ShardedVitrine>;
