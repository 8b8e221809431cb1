#!/usr/bin/env node
// Time to first recommendation (`make bench-ttfr`, part of `make bench`):
// navigation start → the first `recommend()` result in headless Chromium,
// over a fast and a slow connection (DevTools network emulation), for the
// 100k × 64 and 1M × 64 int8 bundles, on a cold visit (empty HTTP cache and
// model cache) and on a warm one (the next visit: the page's files from the
// HTTP cache, as a CDN serves content-hashed assets; the model from the
// device's model cache). Split into download, compile, validate and query
// from `info().load` (and Resource Timing for the glue of an older commit).
// Writes target/bench/ttfr.json and ttfr.md.
//
// Env: BENCH_QUICK=1 (100k only), BENCH_TTFR_REPS (default 3; medians),
//      BENCH_TTFR_LINGER_MS (default 3000: time on the page after the answer),
//      BENCH_TTFR_PROFILES (default "fast,slow"),
//      BENCH_TTFR_BEFORE=<git rev>: also the visits (cold and warm) with the
//      glue (www/) of that commit, the same wasm and bundles, interleaved
//      visit by visit with the current glue: a before/after;
//      BENCH_TTFR_WARM_VISITS (default 1): warm visits after each cold one
//      (rows warm, warm2, …: whether later visits get faster, e.g. from
//      Chromium's wasm code cache);
//      BENCH_TTFR_JS_FLAGS: V8 flags for the browser (an experiment, e.g.
//      "--wasm-caching-timeout-ms=0"; the run's header says so);
//      BENCH_TTFR_SCORING_ONLY=1: also the 100k bundle cut to the sections
//      the first recommend() reads (9.0 MB of 13.4): what reading only that
//      prefix before the first answer would give;
//      BENCH_TTFR_WORKER=1: also the current glue in worker mode
//      (`loadInWorker`, the answer awaited from the worker), interleaved
//      visit by visit; its phase spans are on the worker's clock;
//      BENCH_TTFR_BEFORE_WASM=<dir with relaxed/ simd/ scalar/ intent/>: the
//      wasm builds that glue runs (e.g. a main checkout's pkg/wasm), so the
//      before/after covers the engine's load path too.

import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { cpus, hostname, loadavg, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT, synth } from '../node/helpers.mjs';
import { startServer } from '../../scripts/serve.mjs';
import { launch } from '../browser/chromium.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const QUICK = process.env.BENCH_QUICK === '1';
const REPS = Number(process.env.BENCH_TTFR_REPS ?? 3);
const BEFORE = process.env.BENCH_TTFR_BEFORE ?? '';
const WARM_VISITS = Math.max(1, Number(process.env.BENCH_TTFR_WARM_VISITS ?? 1));
const JS_FLAGS = process.env.BENCH_TTFR_JS_FLAGS ?? '';
/** BENCH_TTFR_SCORING_ONLY=1: also the 100k bundle cut to the sections the first recommend() reads. */
const SCORING_ONLY = process.env.BENCH_TTFR_SCORING_ONLY === '1';
const KINDS = ['cold', ...Array.from({ length: WARM_VISITS }, (_, i) => (i === 0 ? 'warm' : `warm${i + 1}`))];
/**
 * How long a visit stays on the page after its first recommendation, as a
 * shopper does: Chromium writes the wasm's compiled code to its cache only
 * after the optimizing tier has been idle a while (about 2 s), and the warm
 * visit finds it there.
 */
const LINGER_MS = Number(process.env.BENCH_TTFR_LINGER_MS ?? 3000);
const CACHE = join(ROOT, '.cache', 'bench');
const OUT_DIR = join(ROOT, 'target', 'bench');
mkdirSync(CACHE, { recursive: true });
mkdirSync(OUT_DIR, { recursive: true });
const log = (...a) => console.error('[ttfr]', ...a);
const load0 = loadavg();

/**
 * Connection profiles (DevTools `Network.emulateNetworkConditions`: latency
 * is added per request, throughput in bytes/s). fast: a good home line;
 * slow: a mobile 4G cell.
 */
const ALL_PROFILES = {
  fast: { latency: 10, downloadThroughput: (100e6 / 8), uploadThroughput: (20e6 / 8) },
  slow: { latency: 70, downloadThroughput: (12e6 / 8), uploadThroughput: (3e6 / 8) },
};
const PROFILES = (process.env.BENCH_TTFR_PROFILES ?? 'fast,slow').split(',').map((p) => p.trim()).filter(Boolean);
for (const p of PROFILES) if (!(p in ALL_PROFILES)) throw new Error(`unknown profile ${p} (known: ${Object.keys(ALL_PROFILES).join(', ')})`);

const SHAPES = [{ n: 100_000, d: 64 }, ...(QUICK ? [] : [{ n: 1_000_000, d: 64 }])];
/** @type {{ n: number, d: number, path: string, label?: string }[]} */
const bundles = SHAPES.map((s) => ({ ...s, path: synth({ items: s.n, dim: s.d, dtype: 'int8', seed: 1, dir: CACHE }) }));
if (SCORING_ONLY) {
  // The same 100k model with only what the first recommend() reads: how
  // fast a warm visit would be if only that prefix were read before the
  // first answer (docs/web.md, "Toward 30 ms").
  const full = bundles[0];
  const path = join(CACHE, basename(full.path).replace(/\.vtr$/, '-scoring.vtr'));
  writeFileSync(path, scoringOnly(readFileSync(full.path)));
  bundles.splice(1, 0, { n: full.n, d: full.d, path, label: 'scoring sections only' });
}

/**
 * A valid bundle of the sections a plain recommend() reads (MODEL, META,
 * ITEM_IDS, ID_INDEX, FACTORS, SCALES, BIAS, RESIDUAL), the others dropped:
 * same section bytes and CRCs, new offsets, length and table CRC.
 * @param {Buffer} b
 */
function scoringOnly(b) {
  const KEEP = new Set([1, 2, 3, 4, 5, 6, 7, 19]);
  const count = b.readUInt32LE(16);
  const kept = [];
  for (let i = 0; i < count; i++) {
    const e = 64 + 32 * i;
    if (KEEP.has(b.readUInt32LE(e))) kept.push({ entry: b.subarray(e, e + 32), body: b.subarray(Number(b.readBigUInt64LE(e + 8)), Number(b.readBigUInt64LE(e + 8) + b.readBigUInt64LE(e + 16))) });
  }
  const align = (/** @type {number} */ x) => Math.ceil(x / 64) * 64;
  const tableEnd = 64 + 32 * kept.length;
  let off = align(tableEnd);
  const placed = kept.map((k) => {
    const at = off;
    off = align(at + k.body.length);
    return { ...k, at };
  });
  const last = placed[placed.length - 1];
  const out = Buffer.alloc(last.at + last.body.length);
  b.copy(out, 0, 0, 64);
  out.writeUInt32LE(kept.length, 16);
  out.writeBigUInt64LE(BigInt(out.length), 24);
  placed.forEach((p, i) => {
    p.entry.copy(out, 64 + 32 * i);
    out.writeBigUInt64LE(BigInt(p.at), 64 + 32 * i + 8);
    p.body.copy(out, p.at);
  });
  out.writeUInt32LE(crc32(out.subarray(64, tableEnd), crc32(out.subarray(0, 32))), 32);
  return out;
}

// The wasm builds as they are now (a rebuild during the run must not mix in).
const SNAP = mkdtempSync(join(tmpdir(), 'vitrine-ttfr-'));
process.on('exit', () => rmSync(SNAP, { recursive: true, force: true }));
const WASM = join(SNAP, 'wasm');
for (const v of ['relaxed', 'simd', 'scalar', 'intent']) cpSync(join(ROOT, 'pkg', 'wasm', v), join(WASM, v), { recursive: true });
/** @type {Record<string, string>} */
const mounts = { '/bench/': CACHE, '/ttfr/': HERE, '/wasm/': WASM };
/** @type {{ name: string, path: string, worker?: boolean }[]} */
const glues = [{ name: 'current', path: '/vitrine.js' }];
if (process.env.BENCH_TTFR_WORKER === '1') glues.push({ name: 'current, worker mode', path: '/vitrine.js', worker: true });
if (BEFORE) {
  const dir = join(SNAP, 'before');
  mkdirSync(dir);
  execFileSync('bash', ['-c', `git -C "${ROOT}" archive "${BEFORE}" www | tar -x -C "${dir}"`]);
  cpSync(process.env.BENCH_TTFR_BEFORE_WASM || WASM, join(dir, 'www', 'wasm'), { recursive: true });
  mounts['/before/'] = join(dir, 'www');
  glues.push({ name: `before (${BEFORE})`, path: '/before/vitrine.js' });
}
const srv = await startServer({ mounts, quiet: true, immutable: ['/ttfr/', '/wasm/', '/lib/', '/vitrine.js', '/before/'] });
const browser = await launch(JS_FLAGS ? { args: [`--js-flags=${JS_FLAGS}`] } : {});
const chromiumVersion = browser.context.browser()?.version() ?? 'unknown';

/**
 * One visit in a fresh page over the given connection: the page's numbers.
 * @param {{ profile: string, url: string, cold: boolean }} v
 */
async function visit({ profile, url, cold }) {
  const page = await browser.context.newPage();
  const cdp = await browser.context.newCDPSession(page);
  try {
    await cdp.send('Network.enable');
    if (cold) {
      await cdp.send('Network.clearBrowserCache');
      await cdp.send('Storage.clearDataForOrigin', { origin: srv.url, storageTypes: 'cache_storage,indexeddb' });
    }
    await cdp.send('Network.emulateNetworkConditions', { offline: false, ...ALL_PROFILES[/** @type {'fast'} */ (profile)] });
    await page.goto(`${srv.url}${url}`);
    await page.waitForFunction(() => globalThis.ttfr !== undefined, null, { timeout: 600_000 });
    const r = await page.evaluate(() => globalThis.ttfr);
    if (r.error) throw new Error(r.error);
    // The model is stored after the first answer: wait for it before the next visit.
    await page.waitForFunction(() => globalThis.ttfrSettled !== undefined, null, { timeout: 600_000 });
    r.settled = await page.evaluate(() => globalThis.ttfrSettled);
    await new Promise((ok) => setTimeout(ok, LINGER_MS));
    return r;
  } finally {
    await cdp.detach().catch(() => {});
    await page.close();
  }
}

/** @param {any} r one visit's page numbers → the row's phases (ms) */
function phases(r) {
  const l = r.load;
  const span = (/** @type {number|undefined} */ a, /** @type {number|undefined} */ b) => (a !== undefined && b !== undefined ? b - a : null);
  return {
    nav_to_first_ms: r.first,
    load_call_to_first_ms: r.first - r.imported,
    import_ms: r.imported,
    // From the glue's own clock where it has one, else Resource Timing.
    download_ms: l ? span(l.fetchStart, l.downloadEnd) : r.model ? r.model.end - r.model.start : null,
    compile_ms: l ? span(l.compileStart, l.compileEnd) : null,
    validate_ms: l ? span(l.validateStart, l.validateEnd) : null,
    // The engine's code compiled on the primer while the bytes arrived (null: not run).
    prime_ms: l?.prime?.ms ?? null,
    // When the cache's lookup answered (the stored bytes' read starts).
    cache_lookup_ms: l && l.cache.status === 'hit' && l.fetchStart !== undefined ? l.fetchStart - l.start : null,
    query_ms: r.first - r.loaded,
    // The gaps between the phases, on the page's clock: load() called →
    // its context made; last byte → validation start (waiting for the
    // wasm, pushing queued chunks); validation end → load() resolved.
    start_gap_ms: l ? l.start - r.imported : null,
    last_byte_to_validate_ms: l ? span(l.downloadEnd, l.validateStart) : null,
    validate_to_resolved_ms: l && l.validateEnd !== undefined ? r.loaded - l.validateEnd : null,
    // After the bundle's last byte (Resource Timing, for any glue version)
    // until load() resolved: what validation did not overlap, plus the copy.
    last_byte_to_model_ms: r.model ? r.loaded - r.model.end : null,
    // The model request started this long after the glue was imported:
    // ~0 when the download does not wait for the compile.
    model_request_after_import_ms: r.model ? r.model.start - r.imported : null,
    wasm_download_ms: r.wasm ? r.wasm.end - r.wasm.start : null,
    // > 0: the wasm was ready before the last byte of the bundle arrived.
    compile_done_before_download_end_ms: l && l.compileEnd !== undefined && l.downloadEnd !== undefined ? l.downloadEnd - l.compileEnd : null,
    model_request_start_ms: r.model ? r.model.start : l ? l.fetchStart : null,
    wasm_request_start_ms: r.wasm ? r.wasm.start : null,
    validation: l?.validation ?? 'full',
    cache: l ? l.cache.status : 'n/a',
    cache_after: r.settled ? r.settled.status : null,
    revalidation: r.settled?.revalidation ?? null,
    variant: r.variant,
    build_reason: r.build?.reason ?? null,
  };
}

const median = (/** @type {number[]} */ xs) => {
  const s = xs.filter((x) => typeof x === 'number').sort((a, b) => a - b);
  if (s.length === 0) return null;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const rows = [];
// The scoring-only bundle is measured interleaved with the bundle it was cut from.
const groups = SCORING_ONLY ? [bundles.slice(0, 2), ...bundles.slice(2).map((b) => [b])] : bundles.map((b) => [b]);
for (const group of groups) {
  for (const profile of PROFILES) {
    /** @type {Map<string, Record<string, any[]>>} per bundle and glue, per visit kind */
    const samples = new Map(group.flatMap((b) => glues.map((g) => [`${b.path}|${g.name}`, Object.fromEntries(KINDS.map((k) => [k, []]))])));
    for (let rep = 0; rep < REPS; rep++) {
      for (const b of rep % 2 ? [...group].reverse() : group) {
        // Glues alternate which goes first, so a drift of the host's load hits both alike.
        for (const glue of rep % 2 ? [...glues].reverse() : glues) {
          for (const kind of KINDS) {
            const q = new URLSearchParams({ glue: glue.path, model: `/bench/${basename(b.path)}`, dim: String(b.d), ...(glue.path === '/vitrine.js' ? {} : { glueVersion: 'before' }), ...(glue.worker ? { mode: 'worker' } : {}) });
            const t0 = Date.now();
            const r = await visit({ profile, url: `/ttfr/ttfr.html?${q}`, cold: kind === 'cold' });
            const p = phases(r);
            /** @type {any} */ (samples.get(`${b.path}|${glue.name}`))[kind].push(p);
            log(`${b.n}x${b.d} int8${b.label ? ` (${b.label})` : ''} ${profile} ${glue.name} ${kind} #${rep}: first rec at ${p.nav_to_first_ms.toFixed(1)} ms, ${p.load_call_to_first_ms.toFixed(1)} from load() (lookup ${p.cache_lookup_ms?.toFixed(1) ?? '-'}, download ${p.download_ms?.toFixed(1)}, gaps ${p.start_gap_ms?.toFixed(1) ?? '-'}/${p.last_byte_to_validate_ms?.toFixed(1) ?? '-'}/${p.validate_to_resolved_ms?.toFixed(1) ?? '-'}, compile ${p.compile_ms?.toFixed(1)}, validate ${p.validate_ms?.toFixed(1)} [${p.validation}], query ${p.query_ms.toFixed(1)}, prime ${p.prime_ms?.toFixed(1) ?? '-'}; cache ${p.cache}; ${Date.now() - t0} ms wall)`);
          }
        }
      }
    }
    for (const b of group) {
      const bytes = statSync(b.path).size;
      for (const glue of glues) {
        for (const kind of KINDS) {
          const s = /** @type {any} */ (samples.get(`${b.path}|${glue.name}`))[kind];
          /** @type {Record<string, unknown>} */
          const row = { n: b.n, d: b.d, dtype: 'int8', ...(b.label ? { bundle: b.label } : {}), bytes, profile, glue: glue.name, visit: kind, reps: s.length };
          for (const key of Object.keys(s[0])) {
            const vals = s.map((/** @type {any} */ x) => x[key]);
            row[key] = typeof vals.find((/** @type {unknown} */ v) => v !== null) === 'number' ? round(/** @type {number} */ (median(vals))) : vals[0];
          }
          // The least disturbed visit: on a shared host other work only adds
          // time. The spread of each phase too: medians alone hide how much
          // the host's load moved them.
          for (const key of ['nav_to_first_ms', 'load_call_to_first_ms', 'cache_lookup_ms', 'download_ms', 'validate_ms', 'query_ms', 'prime_ms']) {
            const vals = s.map((/** @type {any} */ x) => x[key]).filter((/** @type {unknown} */ v) => typeof v === 'number');
            if (vals.length === 0) continue;
            row[`${key.replace(/_ms$/, '')}_best_ms`] = round(Math.min(...vals));
            row[`${key.replace(/_ms$/, '')}_worst_ms`] = round(Math.max(...vals));
          }
          rows.push(row);
        }
      }
    }
  }
}
// Validation after the last byte, before/after the section CRCs moved into
// the download (format::Intake): both wasm builds in one page, the same
// bytes pushed in 64 KiB chunks, interleaved rounds; the time from the last
// chunk to the finished Model. Needs BENCH_TTFR_BEFORE_WASM (the old build).
/** @type {any[]} */
const overlap = [];
if (BEFORE && process.env.BENCH_TTFR_BEFORE_WASM) {
  for (const b of bundles) {
    const page = await browser.context.newPage();
    try {
      await page.goto(`${srv.url}/ttfr/ab.html`);
      const r = await page.evaluate(
        async ({ url, rounds }) => {
          const builds = {
            after: await import('/wasm/relaxed/vitrine_core.js'),
            before: await import('/before/wasm/relaxed/vitrine_core.js'),
          };
          await builds.after.default({ module_or_path: '/wasm/relaxed/vitrine_core_bg.wasm' });
          await builds.before.default({ module_or_path: '/before/wasm/relaxed/vitrine_core_bg.wasm' });
          const bytes = new Uint8Array(await (await fetch(url, { cache: 'no-store' })).arrayBuffer());
          const per = { before: [], after: [], cached: [] };
          for (let i = 0; i < rounds; i++) {
            for (const name of i % 2 ? ['cached', 'after', 'before'] : ['before', 'after', 'cached']) {
              const w = builds[name === 'cached' ? 'after' : name];
              const buf = new w.BundleBuffer(bytes.length);
              for (let off = 0; off < bytes.length; off += 65536) {
                buf.push(bytes.subarray(off, Math.min(bytes.length, off + 65536)));
                if ((off & 0xfffff) === 0) await new Promise((ok) => setTimeout(ok, 0));
              }
              const t0 = performance.now();
              const m = name === 'cached' ? w.Model.fromBufferCached(buf) : w.Model.fromBuffer(buf);
              per[name].push(performance.now() - t0);
              m.free();
              buf.free();
            }
          }
          const med = (xs) => xs.slice().sort((a, c) => a - c)[xs.length >> 1];
          return { before_ms: med(per.before), after_ms: med(per.after), cached_ms: med(per.cached), rounds };
        },
        { url: `/bench/${basename(b.path)}`, rounds: b.n >= 1_000_000 ? 5 : 11 },
      );
      overlap.push({ n: b.n, d: b.d, dtype: 'int8', ...r });
      log(`validation after the last byte, ${b.n}x${b.d} int8: before ${r.before_ms.toFixed(1)} ms, after ${r.after_ms.toFixed(1)} ms, cached copy ${r.cached_ms.toFixed(1)} ms (medians of ${r.rounds})`);
    } finally {
      await page.close();
    }
  }
}
await browser.close();
await srv.close();

function round(/** @type {number} */ x) {
  return Math.round(x * 100) / 100;
}

const out = {
  schema: 'vitrine-ttfr-1',
  date: new Date().toISOString(),
  host: hostname(),
  cpus: cpus().length,
  cpu_model: cpus()[0]?.model ?? 'unknown',
  chromium: chromiumVersion,
  node: process.version,
  load_average: { before: load0, after: loadavg() },
  js_flags: JS_FLAGS || null,
  profiles: Object.fromEntries(PROFILES.map((p) => [p, ALL_PROFILES[/** @type {'fast'} */ (p)]])),
  reps: REPS,
  rows,
  validation_after_last_byte: overlap,
};
writeFileSync(join(OUT_DIR, 'ttfr.json'), JSON.stringify(out, null, 2) + '\n');
const fmt = (/** @type {unknown} */ x) => (typeof x === 'number' ? x.toFixed(1) : x === null || x === undefined ? '' : String(x));
/** A phase's median (min–max), or its median alone for one sample. @param {any} r @param {string} k */
const spread = (r, k) => (typeof r[`${k}_ms`] !== 'number' ? '' : r.reps > 1 && typeof r[`${k}_best_ms`] === 'number' ? `${fmt(r[`${k}_ms`])} (${fmt(r[`${k}_best_ms`])}–${fmt(r[`${k}_worst_ms`])})` : fmt(r[`${k}_ms`]));
const lines = [
  `Time to first recommendation, ${out.date} on ${out.host} (${out.cpu_model}, ${out.cpus} CPUs), Chromium ${chromiumVersion}${JS_FLAGS ? ` with --js-flags="${JS_FLAGS}"` : ''}; medians of ${REPS}; load average ${load0.map((x) => x.toFixed(2)).join(' ')} → ${out.load_average.after.map((x) => x.toFixed(2)).join(' ')}.`,
  '',
  '| bundle | connection | glue | visit | navigation → first rec (ms) | load() → first rec (best–worst) | model request after import | cache lookup | download / read | compile | validate | last byte → model | query | prime | cache |',
  '|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ...rows.map((r) => `| ${r.n / 1000}k × ${r.d} int8${r.bundle ? `, ${r.bundle}` : ''} (${(Number(r.bytes) / 1e6).toFixed(1)} MB) | ${r.profile} | ${r.glue} | ${r.visit} | ${fmt(r.nav_to_first_ms)} | ${fmt(r.load_call_to_first_ms)} (${fmt(r.load_call_to_first_best_ms)}–${fmt(r.load_call_to_first_worst_ms)}) | ${fmt(r.model_request_after_import_ms)} | ${spread(r, 'cache_lookup')} | ${spread(r, 'download')} | ${fmt(r.compile_ms)} | ${spread(r, 'validate')} [${r.validation}] | ${fmt(r.last_byte_to_model_ms)} | ${spread(r, 'query')} | ${spread(r, 'prime')} | ${r.cache} |`),
];
for (const o of overlap) lines.push('', `Validation after the last byte (${o.n} × ${o.d} int8, same bytes pushed in 64 KiB chunks, ${o.rounds} interleaved rounds): ${o.before_ms.toFixed(1)} ms before (${BEFORE} wasm), ${o.after_ms.toFixed(1)} ms with the CRCs computed while the bytes arrive, ${o.cached_ms.toFixed(1)} ms for a cached copy (fromBufferCached).`);
writeFileSync(join(OUT_DIR, 'ttfr.md'), lines.join('\n') + '\n');
console.log(lines.join('\n'));
