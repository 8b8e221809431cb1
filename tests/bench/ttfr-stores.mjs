#!/usr/bin/env node
// How fast a warm visit can read its stored bundle back (`make
// bench-ttfr-stores`): Cache Storage (streamed body, arrayBuffer), IndexedDB
// (a Blob, read whole or streamed), OPFS (File.arrayBuffer / stream on the
// page, createSyncAccessHandle in a worker) in headless Chromium. Each
// sample is a fresh page (a warm visit's code, not code optimized by earlier
// rounds); the methods are interleaved round by round so the shared host's
// load hits them alike. `push`: the bytes also go into wasm memory as load()
// does (BundleBuffer.push: the copy and the section CRCs) and through
// fromBufferCached; `cache-stream-sliced` pushes each chunk in 256 KiB
// calls (V8 swaps a function's optimized code in only when it is called
// again). Writes target/bench/ttfr_stores.json.
//
// Env: BENCH_TTFR_STORES_ROUNDS (default 7), BENCH_TTFR_STORES_N (items, default 100000).

import { cpSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT, synth } from '../node/helpers.mjs';
import { startServer } from '../../scripts/serve.mjs';
import { launch } from '../browser/chromium.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROUNDS = Number(process.env.BENCH_TTFR_STORES_ROUNDS ?? 7);
/** `cache-stream-sliced`: the same reads, pushed into wasm memory this many bytes per call. */
const SLICE = 256 * 1024;
const N = Number(process.env.BENCH_TTFR_STORES_N ?? 100_000);
const CACHE = join(ROOT, '.cache', 'bench');
const OUT_DIR = join(ROOT, 'target', 'bench');
mkdirSync(CACHE, { recursive: true });
mkdirSync(OUT_DIR, { recursive: true });
const load0 = loadavg();
const path = synth({ items: N, dim: 64, dtype: 'int8', seed: 1, dir: CACHE });
const bytes = statSync(path).size;
const SNAP = mkdtempSync(join(tmpdir(), 'vitrine-stores-'));
process.on('exit', () => rmSync(SNAP, { recursive: true, force: true }));
cpSync(join(ROOT, 'pkg', 'wasm', 'relaxed'), join(SNAP, 'relaxed'), { recursive: true });
cpSync(join(ROOT, 'www', 'lib'), join(SNAP, 'lib'), { recursive: true });
const srv = await startServer({ mounts: { '/bench/': CACHE, '/ttfr/': HERE, '/wasm/': SNAP, '/lib/': join(SNAP, 'lib') }, quiet: true, immutable: ['/ttfr/', '/wasm/', '/lib/'] });
const browser = await launch();

/** @param {Record<string, string>} params */
async function run(params) {
  const page = await browser.context.newPage();
  try {
    await page.goto(`${srv.url}/ttfr/ttfr-stores.html?${new URLSearchParams({ model: `/bench/${basename(path)}`, bytes: String(bytes), ...params })}`);
    await page.waitForFunction(() => globalThis.result !== undefined, null, { timeout: 120_000 });
    const r = await page.evaluate(() => globalThis.result);
    if (r.error) throw new Error(`${params.op}: ${r.error}`);
    return r;
  } finally {
    await page.close();
  }
}

/**
 * `prime-*`: cache-stream-1rt read into wasm memory while the engine is
 * primed as load() primes it (`prime-glue`: this glue's prime(); `prime-32`:
 * the 32-row pass of before; `prime-none`: nothing), then fromBufferCached
 * and the first query, timed: whether the real load and query run optimized code.
 */
const PRIME_METHODS = { 'prime-none': '', 'prime-32': '32', 'prime-glue': 'glue' };
const ALL_METHODS = ['cache-stream', 'cache-stream-1rt', ...Object.keys(PRIME_METHODS), 'cache-core', 'cache-split', 'cache-stream-sliced', 'cache-arraybuffer', 'idb-blob-arraybuffer', 'idb-blob-stream', 'opfs-file-arraybuffer', 'opfs-file-stream', 'opfs-sync-worker'];
const METHODS = process.env.BENCH_TTFR_STORES_METHODS ? process.env.BENCH_TTFR_STORES_METHODS.split(',') : ALL_METHODS;
for (const m of METHODS) if (!ALL_METHODS.includes(m)) throw new Error(`unknown method ${m} (known: ${ALL_METHODS.join(', ')})`);
await run({ op: 'store' });
// One unrecorded pass: the wasm's compiled code and the files reach their caches.
/** @param {string} m */
const params = (m) => (m in PRIME_METHODS ? { op: 'cache-stream-1rt', prime: PRIME_METHODS[/** @type {'prime-32'} */ (m)] } : { op: m.replace(/-sliced$/, '') });
for (const op of METHODS) await run({ ...params(op), push: '1' });
/** @type {Record<string, { read: number[], push: number[], validate: number[], query: number[], prime: (number | null)[], lookup: number[], core: number[], chunks: number }>} */
const s = Object.fromEntries(METHODS.map((m) => [m, { read: [], push: [], validate: [], query: [], prime: [], lookup: [], core: [], chunks: 0 }]));
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 ? [...METHODS].reverse() : METHODS;
  for (const op of order) {
    const sliced = op.endsWith('-sliced');
    const p = params(op);
    const a = await run({ op: p.op });
    const b = await run({ ...p, push: '1', ...(sliced ? { slice: String(SLICE) } : {}) });
    s[op].read.push(a.ms);
    s[op].push.push(b.ms);
    s[op].validate.push(b.validate);
    s[op].query.push(b.query);
    s[op].prime.push(b.prime);
    if (a.lookup !== null) s[op].lookup.push(a.lookup, b.lookup);
    if (b.core !== null) s[op].core.push(b.core);
    s[op].chunks = b.chunks;
  }
  console.error(`[stores] round ${r + 1}/${ROUNDS}`);
}
await browser.close();
await srv.close();

const sorted = (/** @type {number[]} */ xs) => xs.slice().sort((a, b) => a - b);
const med = (/** @type {number[]} */ xs) => {
  const t = sorted(xs.filter((x) => typeof x === 'number'));
  if (t.length === 0) return null;
  return t.length % 2 ? t[(t.length - 1) / 2] : (t[t.length / 2 - 1] + t[t.length / 2]) / 2;
};
const r2 = (/** @type {number | null} */ x) => (x === null ? null : Math.round(x * 100) / 100);
const rows = METHODS.map((m) => ({
  method: m,
  chunks: s[m].chunks,
  read_ms: r2(med(s[m].read)),
  read_min_ms: r2(Math.min(...s[m].read)),
  read_max_ms: r2(Math.max(...s[m].read)),
  read_push_ms: r2(med(s[m].push)),
  read_push_min_ms: r2(Math.min(...s[m].push)),
  read_push_max_ms: r2(Math.max(...s[m].push)),
  cached_validation_ms: r2(med(s[m].validate)),
  cached_validation_min_ms: r2(Math.min(...s[m].validate)),
  cached_validation_max_ms: r2(Math.max(...s[m].validate)),
  first_query_ms: r2(med(s[m].query)),
  first_query_min_ms: r2(Math.min(...s[m].query)),
  first_query_max_ms: r2(Math.max(...s[m].query)),
  prime_ms: r2(med(/** @type {number[]} */ (s[m].prime.filter((x) => x !== null)))),
  // Time until the store answered the lookup (part of read_ms), and for
  // cache-split until the core part was read (with push: in wasm memory).
  lookup_ms: r2(med(s[m].lookup)),
  core_read_push_ms: r2(med(s[m].core)),
}));
const out = { schema: 'vitrine-ttfr-stores-1', date: new Date().toISOString(), host: hostname(), cpus: cpus().length, cpu_model: cpus()[0]?.model ?? 'unknown', load_average: { before: load0, after: loadavg() }, items: N, dim: 64, bytes, rounds: ROUNDS, rows };
writeFileSync(join(OUT_DIR, 'ttfr_stores.json'), JSON.stringify(out, null, 2) + '\n');
const f = (/** @type {number | null} */ x) => (x === null ? '' : x.toFixed(1));
const lines = [
  `Reading a stored ${N / 1000}k × 64 int8 bundle (${(bytes / 1e6).toFixed(1)} MB) back in a fresh page, ${out.date}, ${out.cpus} CPUs, load average ${load0.map((x) => x.toFixed(2)).join(' ')}; medians (min–max) of ${ROUNDS} interleaved rounds.`,
  '',
  '| method | chunks | lookup (ms) | read (ms) | read + into wasm memory with CRCs (ms) | core part in wasm memory (ms) | then fromBufferCached (ms) | then first query (ms) | priming (ms) |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.method} | ${r.chunks} | ${f(r.lookup_ms)} | ${f(r.read_ms)} (${f(r.read_min_ms)}–${f(r.read_max_ms)}) | ${f(r.read_push_ms)} (${f(r.read_push_min_ms)}–${f(r.read_push_max_ms)}) | ${f(r.core_read_push_ms)} | ${f(r.cached_validation_ms)} (${f(r.cached_validation_min_ms)}–${f(r.cached_validation_max_ms)}) | ${f(r.first_query_ms)} (${f(r.first_query_min_ms)}–${f(r.first_query_max_ms)}) | ${f(r.prime_ms)} |`),
];
writeFileSync(join(OUT_DIR, 'ttfr_stores.md'), lines.join('\n') + '\n');
console.log(lines.join('\n'));
