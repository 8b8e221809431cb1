// The systematic probe of the public JS API (issue #19, "Bad input", and the
// standards): every public method of every object the package hands out,
// every argument position and every documented option key, against one fixed
// list of hostile values. What must hold for each call:
//
//   - a throw is a VitrineError (the package's class) with a code from the
//     documented set (docs/errors.md, JS_ERROR_CODES), never INTERNAL (which
//     means "a bug in vitrine": a hostile argument is the caller's fault), and
//     an error thrown by a caller's getter or Proxy trap arrives wrapped as
//     INVALID_ARGUMENT (INVALID_EVENT for an event) with the original as `cause`
//     (docs/errors.md, "Hostile arguments");
//   - a success is well formed (finite scores, known ids, no duplicates, at
//     most k), and a value of the wrong type for what the .d.ts declares was
//     not silently accepted (null / undefined mean "not given");
//   - after EVERY call the model answers a fixed set of queries exactly as
//     before (a trap or a half-applied mutation would show), and a rejected
//     call to a mutating object (shopper history, impression log) changed
//     nothing ("loses nothing").
//
// The method lists are read from the real objects (prototypes, own keys) and
// must equal what pkg/*.d.ts declares, and every one of them must have a
// probe here: a method added later cannot escape. The intent methods and the
// `IntentModel` that `loadIntent()` resolves to are probed on a bundle of the
// same catalogue with an intent model.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vitrineMod from '../../pkg/node.js';
import * as shopperMod from '../../pkg/shopper.js';
import * as placementsMod from '../../pkg/placements.js';
import { startServer } from '../../scripts/serve.mjs';
import { CLI, ROOT, synthWithIntent, tempDir } from './helpers.mjs';

const { load, VitrineError, JS_ERROR_CODES } = vitrineMod;
const { createShopper } = shopperMod;
const { withPlacements, createImpressionLog } = placementsMod;

const T0 = Date.UTC(2026, 0, 5, 12, 0, 0);
const DIM = 8;

// ---- the documented surface -------------------------------------------------

const DTS = Object.fromEntries(['vitrine', 'shopper', 'placements'].map((n) => [n, readFileSync(join(ROOT, 'pkg', `${n}.d.ts`), 'utf8')]));
const ALL_DTS = Object.values(DTS).join('\n');

/** The lines of a top-level block (`export interface X ... {` to the `}` at column 0). */
function block(text, headerRe) {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => headerRe.test(l));
  if (start < 0) return null;
  const out = [];
  for (let i = start + 1; i < lines.length && lines[i] !== '}'; i++) out.push(lines[i]);
  return { header: lines[start], lines: out };
}

/** Members of a class or interface (with inherited interface members): name → {method, type}. */
function members(name, kind = 'interface') {
  const b = block(ALL_DTS, kind === 'class' ? new RegExp(`^export declare class ${name} \\{`) : new RegExp(`^export interface ${name}\\b[^{]*\\{$`));
  assert.ok(b, `${kind} ${name} is not declared in pkg/*.d.ts`);
  /** @type {Map<string, {method: boolean, type: string, optional: boolean}>} */
  const out = new Map();
  const ext = b.header.replace(/<[^<>]*>/g, '').match(/extends\s+([^{]+)\{/);
  if (ext) {
    for (const parent of ext[1].split(',').map((s) => s.trim()).filter(Boolean)) {
      if (parent === 'Error') continue;
      for (const [k, v] of members(parent)) out.set(k, v);
    }
  }
  for (const l of b.lines) {
    const m = l.match(/^  (?:readonly )?(\w+)(\??)(\(|:|<)(.*)$/);
    if (!m || m[1] === 'private') continue;
    out.set(m[1], { method: m[3] !== ':', type: m[3] === ':' ? m[4].replace(/;$/, '').trim() : m[4], optional: m[2] === '?' });
  }
  return out;
}

/** Names declared `export declare function|const X` in one .d.ts (overloads once). */
function declaredExports(text) {
  return new Set([...text.matchAll(/^export declare (?:function|const|class) (\w+)/gm)].map((m) => m[1]));
}

/** The option keys of a declared type: an interface name, or an inline `{ a?: ...; b?: ... }`. */
function optionKeys(type) {
  const t = type.trim();
  if (t.startsWith('{')) return new Map([...t.matchAll(/(\w+)\?:\s*([^;}]+)/g)].map((m) => [m[1], { type: m[2].trim(), optional: true, method: false }]));
  const name = t.match(/^(\w+)/)[1];
  return members(name);
}

/** Every code in docs/errors.md's code tables (not the shopper's warning table). */
function documentedCodes() {
  const md = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8');
  const codes = new Set();
  let inCodeTable = false;
  for (const l of md.split('\n')) {
    if (/^\| code \|/.test(l)) inCodeTable = true;
    else if (!l.startsWith('|')) inCodeTable = false;
    else if (inCodeTable) {
      const m = l.match(/^\| `([A-Z_]+)` \|/);
      if (m) codes.add(m[1]);
    }
  }
  return codes;
}
const CODES = documentedCodes();

// ---- hostile values -----------------------------------------------------------

const big = {};
/** Made once, on first use: the large ones cost memory and time. */
const lazy = (key, f) => () => (big[key] ??= f());

const throwing = () => {
  throw new Error('hostile getter');
};
/** Getters for the names the API reads, each throwing. */
function throwingGetterObject() {
  const o = {};
  for (const k of ['k', 'exclude', 'categories', 'impressions', 'items', 'share', 'rate', 'time', 'type', 'item', 'ts', 'length', '0', 'view', 'long', 'raw', 'history', 'then', 'message', 'name', 'code', 'schema', 'scores']) {
    Object.defineProperty(o, k, { get: throwing, enumerable: true });
  }
  return o;
}

/** @param {number} dim @param {string} knownId */
function hostileValues(dim, knownId) {
  const sparse = [knownId];
  sparse[5] = knownId;
  const nanF32 = new Float32Array(dim).fill(0.1);
  nanF32[1] = NaN;
  const infF32 = new Float32Array(dim).fill(0.1);
  infF32[2] = Infinity;
  return [
    ['undefined', () => undefined],
    ['null', () => null],
    ['NaN', () => NaN],
    ['Infinity', () => Infinity],
    ['-Infinity', () => -Infinity],
    ['-0', () => -0],
    ['1e308', () => 1e308],
    ['-1', () => -1],
    ['2**31', () => 2 ** 31],
    ['2**32', () => 2 ** 32],
    ['2**53+2', () => 2 ** 53 + 2],
    ['0.5', () => 0.5],
    ["''", () => ''],
    ["'abc'", () => 'abc'],
    ["'12'", () => '12'],
    ['true', () => true],
    ['{}', () => ({})],
    ['[]', () => []],
    ['[NaN]', () => [NaN]],
    ["[1,'x']", () => [1, 'x']],
    ['sparse array', () => sparse.slice()],
    ['Float32Array(0)', () => new Float32Array(0)],
    ['Float32Array(dim-1)', () => new Float32Array(dim - 1).fill(0.1)],
    ['Float32Array(dim+1)', () => new Float32Array(dim + 1).fill(0.1)],
    ['Float32Array with NaN', () => nanF32.slice()],
    ['Float32Array with Infinity', () => infF32.slice()],
    ['Float64Array(dim)', () => new Float64Array(dim).fill(0.1)],
    ['Int8Array(dim)', () => new Int8Array(dim).fill(1)],
    ['1n', () => 1n],
    ['Symbol()', () => Symbol('hostile')],
    ['function', () => function hostile() {}],
    ['Proxy whose get throws', () => new Proxy({}, { get: throwing })],
    ['Proxy whose every trap throws', () => new Proxy([], { get: throwing, has: throwing, ownKeys: throwing, getOwnPropertyDescriptor: throwing, getPrototypeOf: throwing })],
    ['object with throwing getters', throwingGetterObject],
    ['array of 1e6 entries', lazy('numbers', () => new Array(1e6).fill(0))],
    // Sampled (1 in 10 cells, all with PROBE_FULL=1): reading a million ids
    // through the wasm boundary takes 1-2 s on a loaded 2-core host.
    ['array of 1e6 ids', lazy('array', () => new Array(1e6).fill(knownId)), { sampled: true }],
    ['10 MB string', lazy('string', () => 'x'.repeat(10 * 1024 * 1024))],
    ["lone surrogate '\\uD800'", () => '\uD800'],
    ['Object.create(null)', () => Object.create(null)],
    ['__proto__/constructor keys', () => JSON.parse('{"__proto__": {"k": 1, "polluted": true}, "constructor": {"prototype": {"k": 2}}}')],
    ['Date', () => new Date(T0)],
    ['Map', () => new Map([['k', 1]])],
  ];
}

/** An array without holes. @param {unknown[]} v */
function dense(v) {
  for (let i = 0; i < v.length; i++) if (!(i in v)) return false;
  return true;
}

/** Whether a sampled value runs in this cell: a fixed 1 in 10 by the cell's name, every cell with PROBE_FULL=1. */
function sampledIn(name) {
  if (process.env.PROBE_FULL) return true;
  let h = 7;
  for (let i = 0; i < name.length; i++) h = (Math.imul(h, 31) + name.charCodeAt(i)) >>> 0;
  return h % 10 === 0;
}

/** Whether a value is of the declared type (structurally; numbers must also be finite). */
function typeOk(type, v, dim) {
  try {
    return typeOkUnsafe(type, v, dim);
  } catch {
    return false; // a value whose reading throws is never of the declared type
  }
}

function typeOkUnsafe(type, v, dim) {
  const t = type.replace(/\s*\|\s*null$/, '').trim();
  if (v === undefined || v === null) return true; // "not given"
  if (t === 'UserVector') {
    return (v instanceof Float32Array || v instanceof Float64Array || (Array.isArray(v) && dense(v) && v.every((x) => typeof x === 'number'))) && v.length === dim && [...v].every(Number.isFinite);
  }
  const alts = t.split(/\s*\|\s*/);
  return alts.some((a) => {
    if (/^'.*'$/.test(a)) return v === a.slice(1, -1);
    if (a === 'true' || a === 'false') return v === (a === 'true');
    if (/^\d+$/.test(a)) return v === Number(a);
    if (a === 'number') return typeof v === 'number' && Number.isFinite(v);
    if (a === 'string') return typeof v === 'string';
    if (a === 'boolean') return typeof v === 'boolean';
    if (/^(readonly )?string\[\]$/.test(a)) return Array.isArray(v) && dense(v) && v.every((x) => typeof x === 'string');
    if (/^[A-Z]\w*Options$/.test(a) || a.startsWith('{')) return typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v);
    if (/^\(.*=>/.test(a) || a.startsWith('((')) return typeof v === 'function';
    return true; // objects, URL, Request, ... : judged by the call itself
  });
}

// ---- fixtures -----------------------------------------------------------------

function bundle() {
  const dir = tempDir();
  const base = join(dir, 'probe-base.vtr');
  const store = join(dir, 'probe-store.vtr');
  if (!existsSync(store)) {
    const run = (args) => execFileSync(CLI, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    run(['session', 'synth', '--items', '300', '--dim', String(DIM), '--seed', '4', '--out', base]);
    run(['placements', 'build', '--bundle', base, '--synthetic-baskets', '3000', '--out', store]);
  }
  return store;
}

const SEED_EVENTS = [
  { type: 'view', item: 'item-3', ts: T0 - 50_000 },
  { type: 'purchase', item: 'item-7', ts: T0 - 40_000 },
  { type: 'cart', item: 'item-11', ts: T0 - 35_000 },
  { type: 'view', item: 'item-9', ts: T0 - 30_000 },
];

function freshShopper(model, extra = {}) {
  const s = createShopper(model, { storage: 'none', now: () => T0, ...extra });
  for (const e of SEED_EVENTS) s.track(e);
  return s;
}

// ---- the oracle ---------------------------------------------------------------

const failures = [];
let cells = 0;

/** What a thrown value must look like. */
function checkThrow(e) {
  if (!(e instanceof VitrineError)) {
    return `threw ${e?.constructor?.name ?? typeof e} (${String(e?.message ?? e).slice(0, 120)}), not a VitrineError`;
  }
  if (!CODES.has(e.code)) return `code ${e.code} is not documented in docs/errors.md`;
  if (e.code === 'INTERNAL') return `INTERNAL (a bug, not the caller's fault): ${e.message.slice(0, 160)}`;
  // A caller's getter or trap that threw: the caller's fault, wrapped with its error as `cause`.
  if (e.cause instanceof Error && e.cause.message === 'hostile getter' && e.code !== 'INVALID_ARGUMENT' && e.code !== 'INVALID_EVENT') {
    return `a throwing getter/trap became ${e.code}, not INVALID_ARGUMENT / INVALID_EVENT`;
  }
  return null;
}


const finite = (x) => typeof x === 'number' && Number.isFinite(x);

/** Checks a list of `{id, score}`: known ids, finite scores, no duplicates, at most k. */
function checkItems(items, model, k, label) {
  if (!Array.isArray(items)) return `${label}: not an array`;
  if (k !== undefined && items.length > k) return `${label}: ${items.length} items > k=${k}`;
  const seen = new Set();
  for (const x of items) {
    if (!x || typeof x.id !== 'string' || !model.has(x.id)) return `${label}: unknown id ${x?.id}`;
    if (!finite(x.score)) return `${label}: score ${x.score} of ${x.id}`;
    if (seen.has(x.id)) return `${label}: duplicate ${x.id}`;
    seen.add(x.id);
  }
  return null;
}

/** A validly sized k from options (or the default). */
function kOf(opts, dflt) {
  try {
    return opts && typeof opts === 'object' && Number.isInteger(opts.k) && opts.k >= 1 ? opts.k : dflt;
  } catch {
    return dflt; // a hostile options object: whatever was accepted must still be ≤ the default
  }
}

let model;
let fingerprint;

/** The fixed queries whose answers must never change. */
function modelFingerprint(m) {
  const u = new Float32Array(DIM).map((_, i) => Math.sin(i + 1));
  const r = m.recommendIndices(u, 5);
  return JSON.stringify([
    m.recommend(u, { k: 5, exclude: ['item-1'] }),
    m.popular({ k: 5 }),
    m.similar('item-2', { k: 5 }),
    [...r.indices],
    [...r.scores],
    m.item('item-4'),
    [...m.itemVector('item-5')],
    m.itemIndex('item-6'),
  ]);
}

/**
 * Runs one cell: `f()` (sync or async), then the oracle.
 * @param {string} label method, argument and value
 * @param {() => any} f
 * @param {{check?: (r: any) => string | null, typeOk?: boolean, mutable?: {snap: () => string}, expectWrapped?: boolean}} o
 */
async function cell(label, f, o = {}) {
  cells++;
  const started = performance.now();
  const before = o.mutable?.snap();
  let r;
  let err = null;
  let threw = false;
  try {
    r = f();
    if (r && typeof r.then === 'function') r = await r;
  } catch (e) {
    threw = true;
    err = checkThrow(e);
  }
  if (!threw) {
    if (o.typeOk === false) err = 'accepted a value of the wrong type for the .d.ts (silently)';
    else if (o.check) {
      try {
        err = o.check(r);
      } catch (e) {
        err = `the result is malformed: ${e.message}`;
      }
    }
  } else if (o.mutable && o.mutable.snap() !== before) {
    err = `${err ? err + '; ' : ''}a rejected call changed state`;
  }
  let now;
  try {
    now = modelFingerprint(model);
  } catch (e) {
    now = `threw ${e.message}`;
  }
  if (now !== fingerprint) err = `${err ? err + '; ' : ''}the model answers differently afterwards (poisoned)`;
  if (err) failures.push(`${label}: ${err}`);
  const took = performance.now() - started;
  if (process.env.PROBE_SLOW && took > Number(process.env.PROBE_SLOW)) process.stderr.write(`slow cell ${label}: ${took.toFixed(0)} ms\n`);
}

function report(t, from) {
  const mine = failures.slice(from);
  // PROBE_LOG=file: every failing cell, not only the first 60.
  if (process.env.PROBE_LOG && mine.length) appendFileSync(process.env.PROBE_LOG, mine.join('\n') + '\n');
  if (mine.length) {
    const shown = mine.slice(0, 60).join('\n  ');
    assert.fail(`${mine.length} probe failures:\n  ${shown}${mine.length > 60 ? `\n  ... and ${mine.length - 60} more` : ''}`);
  }
}

/**
 * Probes `call(args)` with each hostile value at each argument position and
 * at each documented key of option arguments (one level of nesting for
 * option values that are themselves documented objects).
 * @param {string} name
 * @param {{args: any[], types: string[], optionsAt?: Record<number, string>, call: (args: any[]) => any, check?: (r: any, args: any[]) => string | null, mutable?: () => {snap: () => string}, nested?: Record<string, any>, prepare?: (model: any) => Promise<void>}} spec
 */
async function probe(name, spec) {
  const hv = hostileValues(DIM, 'item-1');
  const resolve = (a) => (a === MODEL ? model : structuredCloneish(a));
  // One model per argument position / option key: a call that leaves the
  // wasm object borrowed (a JS exception unwinding through the wasm) shows
  // when the group's model is disposed, which needs it unborrowed.
  const group = async (label, body) => {
    model = await load(BYTES);
    try {
      await body();
    } finally {
      try {
        model.dispose();
      } catch (e) {
        failures.push(`${name} ${label}: the model cannot be disposed afterwards (${e.code}: ${e.message}); a call left it borrowed`);
      }
      model = null;
    }
  };
  const positions = Math.max(spec.args.length, 1);
  for (let pos = 0; pos < positions; pos++) {
    await group(`arg${pos}`, async () => {
    await spec.prepare?.(model);
    for (const [vl, make, flags] of hv) {
      if (flags?.sampled && !sampledIn(`${name} arg${pos}`)) continue;
      const args = spec.args.map(resolve);
      args[pos] = make();
      const ctx = spec.mutable?.(args);
      const type = spec.types[pos] ?? 'unknown';
      await cell(`${name} arg${pos}=${vl}`, () => spec.call(args, ctx), {
        check: (r) => spec.check?.(r, args, ctx) ?? null,
        typeOk: spec.types[pos] === undefined ? true : typeOk(type, args[pos], DIM),
        mutable: ctx,
      });
    }
    });
    const optType = spec.optionsAt?.[pos];
    if (!optType) continue;
    const keys = optionKeys(optType);
    for (const [key, decl] of keys) {
      const paths = [[key, decl.type]];
      const nestedBase = spec.nested?.[key];
      if (nestedBase !== undefined && /^\w+$/.test(decl.type.replace(/\s*\|\s*null$/, ''))) {
        for (const [nk, nd] of optionKeys(decl.type.replace(/\s*\|\s*null$/, ''))) paths.push([`${key}.${nk}`, nd.type]);
      }
      for (const [path, ptype] of paths) {
        await group(`arg${pos}.${path}`, async () => {
        for (const [vl, make, flags] of hv) {
          if (flags?.sampled && !sampledIn(`${name} arg${pos}.${path}`)) continue;
          const args = spec.args.map(resolve);
          const base = args[pos] && typeof args[pos] === 'object' ? { ...args[pos] } : {};
          const v = make();
          const [top, sub] = path.split('.');
          if (sub) base[top] = { ...structuredCloneish(nestedBase), [sub]: v };
          else base[top] = v;
          args[pos] = base;
          const ctx = spec.mutable?.(args);
          await cell(`${name} arg${pos}.${path}=${vl}`, () => spec.call(args, ctx), {
            check: (r) => spec.check?.(r, args, ctx) ?? null,
            typeOk: typeOk(ptype, v, DIM),
            mutable: ctx,
          });
        }
        });
      }
    }
  }
}

/** A copy of plain fixture data (arrays, plain objects); anything else as is. */
function structuredCloneish(v) {
  if (Array.isArray(v)) return v.map(structuredCloneish);
  if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, structuredCloneish(x)]));
  }
  if (v instanceof Float32Array) return v.slice();
  return v;
}

/** Stands for the group's model in an argument list (each group loads its own). */
const MODEL = Object.freeze(Object.create(null));
/** Stands for the cell's own shopper / impression log in an argument list. */
const CTX = Object.freeze(Object.create(null));
const USER = new Float32Array(DIM).fill(0.25);
const ROTATION = { impressions: [{ item: 'item-12', shown: 3, lastShown: T0 - 1000 }], rate: 0.2, time: 86_400_000 };
const PROMOTION = { items: ['item-13'], categories: [], share: 0.2 };
const NESTED = { rotation: ROTATION, promotion: PROMOTION, blend: { long: 1, session: 1, popularity: 0.1, neighbours: 0.5 }, weights: { view: 1, cart: 3, purchase: 5, search: 1 } };

const scored = (dflt) => (r, args) => checkItems(r, model, kOf(args[1], dflt), 'list');
const placed = (optPos, dflt = 1000) => (r, args) => {
  if (!r || !Array.isArray(r.items) || !Number.isInteger(r.unknownItems)) return 'not a Placement';
  return checkItems(r.items, model, kOf(args[optPos], dflt), 'placement');
};
const ranked = (optPos, dflt) => (r, args) => {
  if (!r || !Array.isArray(r.items)) return 'not a RankedList';
  return checkItems(r.items, model, kOf(args[optPos], dflt), 'ranked');
};

let BYTES;
/** The same kind of catalogue with an intent model (the default intent set), and its fingerprint. */
let INTENT = null;
test.before(async () => {
  BYTES = readFileSync(bundle());
  const m = await load(BYTES);
  fingerprint = modelFingerprint(m);
  m.dispose();
  const bytes = readFileSync(synthWithIntent({ items: 300, dim: DIM, dtype: 'f32', seed: 4 }).withIntent);
  const mi = await load(bytes);
  INTENT = { bytes, fingerprint: modelFingerprint(mi) };
  mi.dispose();
});

/** Runs `f` with the intent bundle as the probes' model (each group loads BYTES, the cells compare with `fingerprint`). */
async function withIntentBundle(f) {
  const saved = [BYTES, fingerprint];
  [BYTES, fingerprint] = [INTENT.bytes, INTENT.fingerprint];
  try {
    await f();
  } finally {
    [BYTES, fingerprint] = saved;
  }
}

// ---- the method lists -----------------------------------------------------------

/** Probed here; the list each surface is compared with. */
const PROBED = {
  Vitrine: ['simdEnabled', 'info', 'recommend', 'recommendIndices', 'similar', 'popular', 'item', 'has', 'itemIndex', 'itemId', 'itemVector', 'dispose', 'matchIntent', 'loadIntent', 'redact', 'resetConversation'],
  IntentModel: ['setThreshold', 'resetConversation'],
  Shopper: ['track', 'history', 'sessions', 'forget', 'close', 'userVector', 'recommend', 'rerank', 'segment', 'tasteSegment', 'explain'],
  ShopperPlacements: ['boughtTogether', 'viewedTogether', 'buyAgain', 'recentlyViewed', 'trending', 'trendingFacets'],
  ImpressionLog: ['shown', 'clicked', 'rotation', 'count', 'clear'],
  vitrine: ['load', 'loadInWorker', 'loadSharded', 'simdSupported', 'relaxedSimdSupported', 'toVitrineError'],
  shopper: ['createShopper', 'parseRecord', 'unpackRanked'],
  placements: ['boughtTogether', 'viewedTogether', 'buyAgain', 'recentlyViewed', 'trending', 'trendingFacets', 'withPlacements', 'createImpressionLog'],
  ShardedVitrine: ['shards', 'loadShards', 'whenAllLoaded', 'recommend', 'popular', 'item', 'itemVector', 'has', 'info', 'dispose'],
};
/** Declared but not probed here, and why. */
const NOT_PROBED = {
  Vitrine: {},
  vitrine: { VitrineError: 'the error class itself', JS_ERROR_CODES: 'a constant' },
  shopper: { ShopperError: 'the error class', SCHEMA: 'constant', VERSION: 'constant', EVENT_TYPES: 'constant', WARNING_CODES: 'constant', DB_PREFIX: 'constant' },
  placements: { REASONS: 'constant', IMPRESSIONS_SCHEMA: 'constant' },
};

test('the probed methods are exactly the real objects\' and the .d.ts files\'', async (t) => {
  model = await load(BYTES);
  t.after(() => {
    model.dispose();
    model = null;
  });
  const real = Object.getOwnPropertyNames(Object.getPrototypeOf(model)).filter((n) => n !== 'constructor' && !n.startsWith('_'));
  const descs = Object.getOwnPropertyDescriptors(Object.getPrototypeOf(model));
  const realMethods = real.filter((n) => typeof descs[n].value === 'function').sort();
  const realGetters = real.filter((n) => descs[n].get).sort();
  const declared = members('Vitrine', 'class');
  const dMethods = [...declared].filter(([, d]) => d.method).map(([n]) => n).sort();
  const dProps = [...declared].filter(([, d]) => !d.method).map(([n]) => n).sort();
  assert.deepEqual(realMethods, dMethods, 'Vitrine.prototype methods vs class Vitrine in vitrine.d.ts');
  const instanceProps = Object.keys(model).filter((n) => !n.startsWith('_'));
  assert.deepEqual([...new Set([...realGetters, ...instanceProps])].sort(), dProps, 'Vitrine properties vs vitrine.d.ts');
  assert.deepEqual([...PROBED.Vitrine, ...Object.keys(NOT_PROBED.Vitrine)].sort(), dMethods, 'every Vitrine method is probed or skipped with a reason');

  const s = freshShopper(model);
  const shopperKeys = Object.keys(s).sort();
  const dShopper = [...members('Shopper')].map(([n]) => n).sort();
  assert.deepEqual(shopperKeys, dShopper, 'createShopper() keys vs interface Shopper');
  assert.deepEqual([...PROBED.Shopper].sort(), [...members('Shopper')].filter(([, d]) => d.method).map(([n]) => n).sort());

  const before = new Set(Object.keys(s));
  withPlacements(s, model);
  const added = Object.keys(s).filter((k) => !before.has(k)).sort();
  assert.deepEqual(added, [...members('ShopperPlacements').keys()].sort(), 'withPlacements() adds interface ShopperPlacements');
  assert.deepEqual([...PROBED.ShopperPlacements].sort(), added);

  // What loadIntent() resolves to: its own keys (getters and methods) are the
  // interface's; the worker's has the same names (its calls return Promises).
  const withIntent = await load(INTENT.bytes);
  try {
    const im = await withIntent.loadIntent();
    const d = Object.getOwnPropertyDescriptors(im);
    const keys = Object.keys(d).sort();
    assert.deepEqual(keys, [...members('IntentModel').keys()].sort(), 'loadIntent() vs interface IntentModel');
    assert.deepEqual(keys, [...members('WorkerIntentModel').keys()].sort(), 'interface WorkerIntentModel has the same members');
    assert.deepEqual(keys.filter((k) => typeof d[k].value === 'function'), [...PROBED.IntentModel].sort(), 'every IntentModel method is probed');
    assert.deepEqual(keys.filter((k) => d[k].get), [...members('IntentModel')].filter(([, x]) => !x.method).map(([n]) => n).sort(), 'the properties are getters (read-only, checked)');
    assert.ok(Object.isFrozen(im));
    assert.equal(Object.getPrototypeOf(im), Object.prototype, 'no prototype leading to the wasm object');
  } finally {
    withIntent.dispose();
  }

  const log = createImpressionLog({ storage: 'none' });
  assert.deepEqual(Object.keys(log).sort(), [...members('ImpressionLog').keys()].sort(), 'createImpressionLog() vs interface ImpressionLog');
  assert.deepEqual([...PROBED.ImpressionLog].sort(), Object.keys(log).sort());

  // The worker proxy (probed in Chromium, tests/browser/probe.test.mjs) and
  // the sharded model: their prototypes against the .d.ts.
  const protoOf = (C) => {
    const d = Object.getOwnPropertyDescriptors(C.prototype);
    const names = Object.keys(d).filter((n) => n !== 'constructor' && !n.startsWith('_'));
    return { methods: names.filter((n) => typeof d[n].value === 'function').sort(), getters: names.filter((n) => d[n].get).sort() };
  };
  const w = protoOf(vitrineMod.VitrineWorker);
  const dw = members('VitrineWorker', 'class');
  assert.deepEqual(w.methods, [...dw].filter(([, d]) => d.method).map(([n]) => n).sort(), 'VitrineWorker.prototype vs class VitrineWorker');
  const sv = protoOf(vitrineMod.ShardedVitrine);
  const dsv = members('ShardedVitrine');
  assert.deepEqual(sv.methods, [...dsv].filter(([, d]) => d.method).map(([n]) => n).sort(), 'ShardedVitrine.prototype vs interface ShardedVitrine');
  for (const g of sv.getters) assert.ok(dsv.has(g), `ShardedVitrine.${g} is not declared`);
  assert.deepEqual([...PROBED.ShardedVitrine].sort(), sv.methods, 'every ShardedVitrine method is probed');

  // Module functions: every declared export exists, every exported function
  // is declared, and each is probed or skipped with a reason.
  for (const [name, mod, extraOk] of [
    ['vitrine', vitrineMod, ['Vitrine', 'VitrineWorker', 'ShardedVitrine', 'SHARD_CACHE_PREFIX']],
    ['shopper', shopperMod, []],
    ['placements', placementsMod, []],
  ]) {
    const declaredNames = [...declaredExports(DTS[name])].filter((n) => !['Vitrine', 'VitrineWorker'].includes(n));
    for (const n of declaredNames) assert.ok(n in mod, `${name}.d.ts declares ${n}, which pkg does not export`);
    const exportedFns = Object.keys(mod).filter((n) => typeof mod[n] === 'function' && !extraOk.includes(n));
    for (const n of exportedFns) assert.ok(declaredNames.includes(n), `pkg exports ${n}, which ${name}.d.ts does not declare`);
    assert.deepEqual([...PROBED[name], ...Object.keys(NOT_PROBED[name])].sort(), declaredNames.sort(), `${name}: probed + skipped = declared`);
  }
  // The documented error codes are the Rust core's and the glue's.
  for (const c of JS_ERROR_CODES) assert.ok(CODES.has(c), `${c} (JS_ERROR_CODES) is not in docs/errors.md`);
  const detailCodes = block(DTS.vitrine, /^export interface ErrorDetailsByCode \{$/).lines.map((l) => l.match(/^  ([A-Z_]+):/)?.[1]).filter(Boolean);
  assert.ok(detailCodes.length > 20);
  for (const c of detailCodes) {
    assert.ok(CODES.has(c), `${c} (vitrine.d.ts ErrorDetailsByCode) is not in docs/errors.md`);
  }
});

// ---- the probes -------------------------------------------------------------------

test('probe: Vitrine (the model from load())', async (t) => {
  const from = failures.length;
  const types = (name) => {
    const m = block(DTS.vitrine, /^export declare class Vitrine \{/).lines.find((l) => new RegExp(`^  ${name}\\(`).test(l));
    return [...m.matchAll(/(\w+)\??: ([^,)]+)/g)].map((x) => x[2].trim());
  };
  const m = () => model;
  await probe('Vitrine.simdEnabled', { args: [], types: [], call: (a) => m().simdEnabled(...a), check: (r) => (typeof r === 'boolean' ? null : 'not a boolean') });
  await probe('Vitrine.info', { args: [], types: [], call: (a) => m().info(...a), check: (r) => (r.nItems === 300 && r.dim === DIM ? null : 'wrong info') });
  await probe('Vitrine.recommend', { args: [USER, { k: 5, now: T0 }], types: types('recommend'), optionsAt: { 1: 'RecommendOptions' }, nested: NESTED, call: (a) => m().recommend(...a), check: scored(10) });
  await probe('Vitrine.recommendIndices', {
    args: [USER, 5],
    types: types('recommendIndices'),
    call: (a) => m().recommendIndices(...a),
    check: (r, a) => {
      const k = Number.isInteger(a[1]) && a[1] >= 1 ? a[1] : 10;
      if (!(r.indices instanceof Uint32Array) || !(r.scores instanceof Float32Array)) return 'not typed arrays';
      if (r.indices.length > k || r.indices.length !== r.scores.length) return `length ${r.indices.length} vs k ${k}`;
      if (new Set(r.indices).size !== r.indices.length) return 'duplicate index';
      if (![...r.indices].every((i) => i < 300)) return 'index out of range';
      if (![...r.scores].every(Number.isFinite)) return 'non-finite score';
      return null;
    },
  });
  await probe('Vitrine.similar', { args: ['item-2', { k: 5 }], types: types('similar'), optionsAt: { 1: 'RecOptions' }, call: (a) => m().similar(...a), check: scored(10) });
  await probe('Vitrine.popular', { args: [{ k: 5 }], types: types('popular'), optionsAt: { 0: 'RecOptions' }, call: (a) => m().popular(...a), check: (r, a) => checkItems(r, model, kOf(a[0], 10), 'popular') });
  await probe('Vitrine.item', { args: ['item-2'], types: types('item'), call: (a) => m().item(...a), check: (r, a) => (r.id === a[0] ? null : 'another item') });
  await probe('Vitrine.has', { args: ['item-2'], types: types('has'), call: (a) => m().has(...a), check: (r) => (typeof r === 'boolean' ? null : 'not a boolean') });
  await probe('Vitrine.itemIndex', { args: ['item-2'], types: types('itemIndex'), call: (a) => m().itemIndex(...a), check: (r) => (r === undefined || (Number.isInteger(r) && r < 300) ? null : `index ${r}`) });
  await probe('Vitrine.itemId', { args: [2], types: types('itemId'), call: (a) => m().itemId(...a), check: (r) => (typeof r === 'string' && model.has(r) ? null : `id ${r}`) });
  await probe('Vitrine.itemVector', { args: ['item-2'], types: types('itemVector'), call: (a) => m().itemVector(...a), check: (r) => (r instanceof Float32Array && r.length === DIM && r.every(Number.isFinite) ? null : 'bad vector') });
  // dispose() takes no argument: each value as an extra argument, on a model of its own.
  await probe('Vitrine.dispose', {
    args: [],
    types: [],
    mutable: () => ({ snap: () => '' }),
    call: async (a) => {
      const own = await load(bundle());
      own.dispose(...a);
      assert.equal(own.disposed, true);
      try {
        own.popular();
      } catch (e) {
        if (e.code === 'DISPOSED') return;
        throw e;
      }
      throw new Error('a disposed model answered');
    },
  });
  report(t, from);
});

test('probe: the intent methods and the IntentModel from loadIntent()', async (t) => {
  const from = failures.length;
  const types = (name) => {
    const m = block(DTS.vitrine, /^export declare class Vitrine \{/).lines.find((l) => new RegExp(`^  ${name}\\(`).test(l));
    return [...m.matchAll(/(\w+)\??: ([^,)]+)/g)].map((x) => x[2].trim());
  };
  const matched = (r) => {
    if (!r || !(r.intent === null || typeof r.intent === 'string')) return 'no intent field';
    if (!finite(r.confidence) || r.confidence < 0 || r.confidence > 1) return `confidence ${r.confidence}`;
    for (const p of r.slots.products) if (!model.has(p.id) || model.itemIndex(p.id) !== p.item) return `product ${p.id} / ${p.item}`;
    return typeof r.escalate === 'boolean' ? null : 'no escalate';
  };
  /** The group's IntentModel (each group loads its own model). */
  let im;
  const prepare = async (m) => {
    im = await m.loadIntent();
  };
  // A refused setThreshold leaves the threshold and the intents as they were.
  const state = () => ({ snap: () => JSON.stringify([im.threshold, im.intents]) });
  await withIntentBundle(async () => {
    await probe('Vitrine.matchIntent', { args: ['where is my order 12345'], types: types('matchIntent'), call: (a) => model.matchIntent(...a), check: matched });
    await probe('Vitrine.redact', { args: ['call 13800138000'], types: types('redact'), call: (a) => model.redact(...a), check: (r) => (typeof r === 'string' ? null : 'not a string') });
    await probe('Vitrine.loadIntent', { args: [], types: [], call: (a) => model.loadIntent(...a), check: (r) => (typeof r.setThreshold === 'function' && r.intents.length === 10 ? null : 'not an IntentModel') });
    await probe('Vitrine.resetConversation', { args: [], types: [], call: (a) => model.resetConversation(...a), check: (r) => (r === undefined ? null : 'answered something') });
    await probe('IntentModel.setThreshold', {
      args: [0.5],
      types: ['number'],
      prepare,
      mutable: state,
      call: (a) => im.setThreshold(...a),
      check: (r, a) => (r === undefined && a[0] >= 0 && a[0] <= 1 && Math.abs(im.threshold - a[0]) < 1e-6 ? null : `accepted ${String(a[0])}: threshold ${im.threshold}`),
    });
    await probe('IntentModel.resetConversation', { args: [], types: [], prepare, mutable: state, call: (a) => im.resetConversation(...a), check: (r) => (r === undefined ? null : 'answered something') });
  });
  report(t, from);
});

test('probe: load(), loadSharded(), loadInWorker() and the module functions', async (t) => {
  const from = failures.length;
  const path = bundle();
  const loaded = async (p) => {
    const v = await p;
    try {
      const fp = modelFingerprint(v);
      return fp === fingerprint ? null : 'a loaded model answers differently';
    } finally {
      v.dispose();
    }
  };
  await probe('load', {
    args: [path, {}],
    types: ['unknown', 'LoadOptions'],
    optionsAt: { 1: 'LoadOptions' },
    call: (a) => load(...a).then(loaded),
    check: (r) => r,
  });
  // No server: a valid head URL that refuses the connection, so every option
  // is checked before the fetch fails with NETWORK.
  await probe('loadSharded', {
    args: ['http://127.0.0.1:9/head.vtr', {}],
    types: ['string | URL', 'ShardedLoadOptions'],
    optionsAt: { 1: 'ShardedLoadOptions' },
    call: (a) => vitrineMod.loadSharded(...a),
    check: () => 'loaded a head from a closed port',
  });
  await probe('loadInWorker', { args: [path, {}], types: [], call: (a) => vitrineMod.loadInWorker(...a), check: () => 'Node has no worker mode' });
  await probe('simdSupported', { args: [], types: [], call: (a) => vitrineMod.simdSupported(...a), check: (r) => (typeof r === 'boolean' ? null : 'not boolean') });
  await probe('relaxedSimdSupported', { args: [], types: [], call: (a) => vitrineMod.relaxedSimdSupported(...a), check: (r) => (typeof r === 'boolean' ? null : 'not boolean') });
  // Turns anything into a VitrineError, hostile objects included: never throws.
  await probe('toVitrineError', {
    args: [new Error('x')],
    types: [],
    call: (a) => vitrineMod.toVitrineError(...a),
    check: (r) => (r instanceof VitrineError && CODES.has(r.code) ? null : `returned ${r?.constructor?.name}`),
  });
  await probe('parseRecord', {
    args: [{ schema: 'vitrine.history', version: 1, events: [{ type: 'view', item: 'item-1', ts: T0 }] }],
    types: [],
    call: (a) => shopperMod.parseRecord(...a),
    check: (r) => (r === null || (Array.isArray(r) && r.every((e) => typeof e.item === 'string' && finite(e.ts))) ? null : 'neither events nor null'),
  });
  const own = await load(BYTES);
  const packed = own.raw.recommendFor([], { k: 3, now: T0 });
  own.dispose();
  await probe('unpackRanked', {
    args: [packed],
    types: [],
    call: (a) => shopperMod.unpackRanked(...a),
    check: (r, a) => (a[0] === packed ? ranked(1, 3)(r, []) : 'accepted something that is not a packed ranking'),
  });
  report(t, from);
});

test('probe: createShopper() and the shopper', async (t) => {
  const from = failures.length;
  const dShopper = members('Shopper');
  const argTypes = (name) => [...dShopper.get(name).type.matchAll(/(\w+)\??: ([^,)]+)/g)].map((x) => x[2].trim());
  const snapOf = (s) => ({ snap: () => JSON.stringify(s.history()) });
  await probe('createShopper', {
    args: [MODEL, { storage: 'none', now: () => T0 }],
    types: ['unknown', 'ShopperOptions'],
    optionsAt: { 1: 'ShopperOptions' },
    nested: NESTED,
    call: (a) => {
      const s = createShopper(...a);
      s.track({ type: 'view', item: 'item-3', ts: T0 - 1000 });
      return s.recommend({ k: 4 });
    },
    check: (r) => ranked(0, 4)(r, [{ k: 4 }]),
  });
  const withShopper = (name, args, optPos, check, extra = {}) =>
    probe(`Shopper.${name}`, {
      args,
      types: argTypes(name),
      optionsAt: optPos === undefined ? {} : { [optPos]: 'RankOptions' },
      nested: NESTED,
      mutable: () => {
        const s = freshShopper(model);
        return { s, ...snapOf(s) };
      },
      call: (a, ctx) => ctx.s[name](...a),
      check: (r, a, ctx) => check(r, a, ctx),
      ...extra,
    });
  await withShopper('track', [{ type: 'view', item: 'item-20', ts: T0 - 10 }], undefined, (r, a, ctx) => {
    const h = ctx.s.history();
    if (h.length !== SEED_EVENTS.length + 1) return `history has ${h.length} events after one track`;
    const last = h.find((e) => e.item === a[0].item && e.type === a[0].type);
    return last && typeof last.item === 'string' && finite(last.ts) ? null : 'the tracked event is not in the history';
  });
  // The event's own keys, one at a time.
  const hv = hostileValues(DIM, 'item-1');
  model = await load(BYTES);
  for (const key of members('TrackEvent').keys()) {
    for (const [vl, make, flags] of hv) {
      if (flags?.sampled && !sampledIn(`track ${key}`)) continue;
      const s = freshShopper(model);
      const ev = { type: 'view', item: 'item-20', ts: T0 - 10 };
      ev[key] = make();
      const decl = members('TrackEvent').get(key);
      const ok = key === 'type' ? shopperMod.EVENT_TYPES.includes(ev[key]) : key === 'item' ? typeof ev[key] === 'string' && ev[key] !== '' : typeOk(decl.type, ev[key], DIM);
      await cell(`Shopper.track event.${key}=${vl}`, () => s.track(ev), {
        typeOk: ok,
        mutable: snapOf(s),
        check: () => (s.history().length === SEED_EVENTS.length + 1 ? null : 'not recorded'),
      });
    }
  }
  try {
    model.dispose();
  } catch (e) {
    failures.push(`Shopper.track event fields: the model cannot be disposed afterwards (${e.message})`);
  }
  model = null;
  const list = (r) => (Array.isArray(r) && r.every((e) => typeof e.item === 'string' && finite(e.ts)) ? null : 'not events');
  await withShopper('history', [], undefined, (r) => list(r));
  await withShopper('sessions', [], undefined, (r) => (Array.isArray(r) && r.every((x) => list(x) === null) ? null : 'not sessions'));
  await withShopper('forget', [], undefined, (r, a, ctx) => (ctx.s.history().length === 0 ? null : 'history left after forget'));
  await withShopper('close', [], undefined, () => null);
  await withShopper('userVector', [], undefined, (r) => (r instanceof Float32Array && r.length === DIM && r.every(Number.isFinite) ? null : 'bad vector'));
  await withShopper('recommend', [{ k: 5 }], 0, ranked(0, 10));
  await withShopper('rerank', [['item-1', 'item-2', 'item-4', 'item-5', 'item-6', 'item-8'], { k: 5 }], 1, ranked(1, 6));
  await withShopper('segment', [], undefined, () => null);
  await withShopper('tasteSegment', [], undefined, (r) => (r === null || (Number.isInteger(r.index) && finite(r.distance)) ? null : 'bad segment'));
  await withShopper('explain', ['item-2'], undefined, (r) => (finite(r.score) && r.contributions.every((c) => finite(c.weight)) ? null : 'bad explanation'));
  report(t, from);
});

test('probe: placements, withPlacements() and the impression log', async (t) => {
  const from = failures.length;
  const fnTypes = (name) => {
    const m = DTS.placements.match(new RegExp(`^export declare function ${name}(?:<[^>]*>)?\\(([\\s\\S]*?)\\):`, 'm'));
    return [...m[1].matchAll(/(\w+)\??: ((?:\{[^}]*\})|[^,]+)/g)].map((x) => x[2].trim());
  };
  const P = placementsMod;
  const shopperCtx = () => {
    const s = freshShopper(model);
    return { s, snap: () => JSON.stringify(s.history()) };
  };
  const now = { now: T0 };
  await probe('boughtTogether', { args: [MODEL, 'item-1', { k: 5, ...now }], types: fnTypes('boughtTogether'), optionsAt: { 2: 'BoughtTogetherOptions' }, nested: NESTED, call: (a) => P.boughtTogether(...a), check: placed(2) });
  await probe('viewedTogether', { args: [MODEL, 'item-1', { k: 5, ...now }], types: fnTypes('viewedTogether'), optionsAt: { 2: 'PlacementOptions' }, nested: NESTED, call: (a) => P.viewedTogether(...a), check: placed(2) });
  await probe('buyAgain', { args: [MODEL, CTX, { k: 5, ...now }], types: fnTypes('buyAgain'), optionsAt: { 2: 'BuyAgainOptions' }, nested: NESTED, mutable: shopperCtx, call: (a, ctx) => P.buyAgain(a[0], a[1] === CTX ? ctx.s : a[1], a[2]), check: placed(2) });
  await probe('recentlyViewed', { args: [MODEL, CTX, { k: 5, ...now }], types: fnTypes('recentlyViewed'), optionsAt: { 2: 'PlacementOptions' }, nested: NESTED, mutable: shopperCtx, call: (a, ctx) => P.recentlyViewed(a[0], a[1] === CTX ? ctx.s : a[1], a[2]), check: placed(2) });
  await probe('trending', { args: [MODEL, { k: 5 }], types: fnTypes('trending'), optionsAt: { 1: 'TrendingOptions' }, nested: NESTED, call: (a) => P.trending(...a), check: placed(1) });
  await probe('trendingFacets', {
    args: [MODEL, { k: 3 }],
    types: fnTypes('trendingFacets'),
    optionsAt: { 1: '{ k?: number }' },
    call: (a) => P.trendingFacets(...a),
    check: (r, a) => (Array.isArray(r) && r.length <= kOf(a[1], 1000) && r.every((f) => typeof f.category === 'string' && finite(f.rise) && finite(f.recent)) ? null : 'bad facets'),
  });
  await probe('withPlacements', {
    args: [CTX, MODEL, { impressions: CTX }],
    types: fnTypes('withPlacements'),
    optionsAt: { 2: fnTypes('withPlacements')[2] },
    mutable: () => {
      const s = freshShopper(model);
      const log = createImpressionLog({ storage: 'none', now: () => T0 });
      log.shown(['item-1', 'item-2']);
      return { s, log, snap: () => JSON.stringify([s.history(), Object.keys(s)]) };
    },
    call: (a, ctx) => {
      let opts = a[2];
      try {
        if (a[2] && typeof a[2] === 'object' && a[2].impressions === CTX) opts = { ...a[2], impressions: ctx.log };
      } catch {
        // a hostile options object: given as it is
      }
      const s = withPlacements(a[0] === CTX ? ctx.s : a[0], a[1], opts);
      // The methods it adds must work (or refuse with a code) too.
      return [s.boughtTogether('item-1', { k: 4, now: T0 }), s.trending({ k: 4 }), s.recommend({ k: 4 })];
    },
    check: (r) => placed(0, 4)(r[0], [{ k: 4 }]) ?? placed(0, 4)(r[1], [{ k: 4 }]) ?? ranked(0, 4)(r[2], [{ k: 4 }]),
  });
  // The methods withPlacements adds, on the shopper.
  const sp = members('ShopperPlacements');
  for (const [name, d] of sp) {
    const types = [...d.type.matchAll(/(\w+)\??: ((?:\{[^}]*\})|[^,)]+)/g)].map((x) => x[2].trim());
    const optPos = types.length - 1;
    const args = name === 'boughtTogether' || name === 'viewedTogether' ? ['item-1', { k: 5, now: T0 }] : name === 'trendingFacets' ? [{ k: 3 }] : [{ k: 5, now: T0 }];
    await probe(`ShopperPlacements.${name}`, {
      args,
      types,
      optionsAt: { [optPos]: types[optPos] },
      nested: NESTED,
      mutable: () => {
        const s = withPlacements(freshShopper(model), model, { impressions: createImpressionLog({ storage: 'none', now: () => T0 }) });
        return { s, snap: () => JSON.stringify(s.history()) };
      },
      call: (a, ctx) => ctx.s[name](...a),
      check: (r, a) => (name === 'trendingFacets' ? (Array.isArray(r) ? null : 'bad facets') : placed(optPos)(r, a)),
    });
  }
  // createImpressionLog and its log.
  await probe('createImpressionLog', {
    args: [{ storage: 'none', now: () => T0 }],
    types: fnTypes('createImpressionLog'),
    optionsAt: { 0: fnTypes('createImpressionLog')[0] },
    call: (a) => {
      const log = createImpressionLog(...a);
      log.shown(['item-1']);
      return log.rotation();
    },
    check: (r) => (Array.isArray(r.impressions) && r.impressions.every((i) => typeof i.item === 'string' && finite(i.shown) && finite(i.lastShown)) ? null : 'bad rotation'),
  });
  const lm = members('ImpressionLog');
  const logCtx = () => {
    const log = createImpressionLog({ storage: 'none', now: () => T0 });
    log.shown(['item-1', 'item-2']);
    log.shown(['item-1']);
    return { log, snap: () => JSON.stringify(log.rotation()) };
  };
  const logArgs = { shown: [['item-3']], clicked: ['item-1'], rotation: [{ rate: 0.3, time: 1000 }], count: ['item-1'], clear: [] };
  for (const [name, d] of lm) {
    const types = [...d.type.matchAll(/(\w+)\??: ((?:\{[^}]*\})|[^,)]+)/g)].map((x) => x[2].trim());
    await probe(`ImpressionLog.${name}`, {
      args: logArgs[name],
      types,
      optionsAt: name === 'rotation' ? { 0: types[0] } : {},
      mutable: logCtx,
      call: (a, ctx) => {
        const r = ctx.log[name](...a);
        // What the log holds must stay usable as a rotation option.
        const rot = ctx.log.rotation();
        P.trending(model, { k: 3, rotation: rot });
        return r;
      },
      check: (r) => {
        if (name === 'count') return Number.isInteger(r) && r >= 0 ? null : `count ${r}`;
        if (name === 'rotation') return Array.isArray(r.impressions) && finite(r.rate) && r.rate >= 0 && r.rate <= 1 && finite(r.time) && r.time >= 0 ? null : 'bad rotation';
        return null;
      },
    });
  }
  report(t, from);
});

test('probe: ShardedVitrine (loadSharded over a local server)', async (t) => {
  const from = failures.length;
  const dir = join(tempDir(), 'probe-shards');
  if (!existsSync(join(dir, 'head.vtr'))) {
    execFileSync(CLI, ['shard', bundle(), '--by', 'category', '--max-shard-bytes', '20000', '--head-items', '40', '-o', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  }
  const srv = await startServer({ mounts: { '/s/': dir }, quiet: true });
  t.after(() => srv.close());
  const sv = await vitrineMod.loadSharded(`${srv.url}/s/head.vtr`, { shardCache: false });
  t.after(() => sv.dispose());
  const U = new Float32Array(DIM).fill(0.3);
  const answer = async () => JSON.stringify([[...(await sv.recommend(U, { k: 5, shards: 'all' }))], sv.popular({ k: 5 }).map((x) => x.id)]);
  const base = await answer();
  const known = new Set((await Promise.all(Array.from({ length: 300 }, (_, i) => sv.has(`item-${i}`)))).map((x, i) => (x ? `item-${i}` : null)).filter(Boolean));
  const list = (r, k) => {
    if (!Array.isArray(r) || r.length > k) return `not a list of at most ${k}`;
    if (new Set(r.map((x) => x.id)).size !== r.length) return 'duplicates';
    return r.every((x) => known.has(x.id) && finite(x.score)) ? null : 'unknown id or non-finite score';
  };
  /** The call, then the sharded model must answer as before. */
  const guarded = (name) => async (a) => {
    let res;
    let err;
    try {
      res = await sv[name](...a);
    } catch (e) {
      err = e;
    }
    const now = await answer().catch((e) => `threw ${e.message}`);
    if (now !== base) throw new Error('the sharded model answers differently afterwards');
    if (err) throw err;
    return res;
  };
  const types = (name) => [...members('ShardedVitrine').get(name).type.matchAll(/(\w+)\??: ((?:\{[^}]*\})|[^,)]+)/g)].map((x) => x[2].trim());
  await probe('ShardedVitrine.recommend', { args: [U, { k: 5 }], types: types('recommend'), optionsAt: { 1: 'ShardedRecOptions' }, call: guarded('recommend'), check: (r, a) => list(r, kOf(a[1], 10)) });
  await probe('ShardedVitrine.popular', { args: [{ k: 5 }], types: types('popular'), optionsAt: { 0: 'RecOptions' }, call: guarded('popular'), check: (r, a) => list(r, kOf(a[0], 10)) });
  await probe('ShardedVitrine.loadShards', { args: ['all'], types: [], call: guarded('loadShards'), check: (r) => (Number.isInteger(r) && r >= 0 ? null : `loaded ${r}`) });
  for (const name of ['item', 'itemVector', 'has']) {
    await probe(`ShardedVitrine.${name}`, { args: ['item-2'], types: types(name), call: guarded(name), check: (r) => (r === undefined || r === null ? 'no answer' : null) });
  }
  for (const name of ['shards', 'whenAllLoaded', 'info']) {
    await probe(`ShardedVitrine.${name}`, { args: [], types: [], call: guarded(name), check: (r) => (r === undefined || r === null ? 'no answer' : null) });
  }
  // dispose(): each value as an extra argument, on a sharded model of its own.
  await probe('ShardedVitrine.dispose', {
    args: [],
    types: [],
    call: async (a) => {
      const own = await vitrineMod.loadSharded(`${srv.url}/s/head.vtr`, { shardCache: false });
      own.dispose(...a);
      if (!own.disposed) throw new Error('not disposed');
    },
  });
  report(t, from);
});

test('id lists read fast still never fill a hole from a prototype (Array, Object, or an array\'s own)', async (t) => {
  const m = await load(BYTES);
  t.after(() => m.dispose());
  const holey = () => {
    const a = [];
    a[1] = 'item-2';
    return a;
  };
  const refused = (f) => {
    try {
      f();
    } catch (e) {
      return e.code;
    }
    return 'accepted';
  };
  for (const proto of [Array.prototype, Object.prototype]) {
    Object.defineProperty(proto, '0', { value: 'item-1', configurable: true, writable: true });
    try {
      assert.equal(refused(() => placementsMod.boughtTogether(m, holey(), { k: 3, now: T0 })), 'INVALID_ARGUMENT');
      assert.equal(refused(() => placementsMod.trending(m, { k: 3, exclude: holey() })), 'INVALID_ARGUMENT');
    } finally {
      delete proto[0];
    }
  }
  const own = holey();
  Object.setPrototypeOf(own, Object.assign(Object.create(Array.prototype), { 0: 'item-1' }));
  assert.equal(refused(() => placementsMod.viewedTogether(m, own, { k: 3, now: T0 })), 'INVALID_ARGUMENT');
  // Dense lists still answer.
  assert.equal(placementsMod.boughtTogether(m, ['item-1', 'item-2'], { k: 3, now: T0 }).items.length, 3);
});

test('probe coverage and budget', (t) => {
  t.diagnostic(`${cells} cells`);
  // Every (method, argument, value) cell ran at least once; the count is a
  // floor so a broken enumeration (zero keys found) cannot pass quietly.
  assert.ok(cells > 8000, `only ${cells} cells ran`);
});
