#!/usr/bin/env node
// Sharded bundles in headless Chromium (`make bench-shards`): time to first
// recommendation on a cold visit (empty Cache Storage) and a warm one (shards
// cached) for 1M and 10M items, d = 64, int8, split by category into shards
// of at most 16 MB. Writes target/bench/shards.json.
//
// Per visit, all timed in the page from before `import('/vitrine.js')`:
//   head_ms            loadSharded resolved: popular() answers (cold start)
//   first_rec_ms       first recommend over the head's items (shards: 'loaded')
//   category_rec_ms    first exact recommend filtered to one category (its shards fetched or read from the cache)
//   all_rec_ms         first exact recommend over every shard (1M; 10M with BENCH_SHARDS_ALL=1)
// Each visit is a fresh page; cold visits also a fresh browser profile.
//
// The 1M catalogue is `vitrine synth` (titles, prices, categories) split by
// `vitrine shard`; the 10M one is generated shard by shard
// (`vitrine shard --synth-items`), never as one 1 GB bundle. The 10M shards
// (~1 GB) are deleted after the run unless BENCH_SHARDS_KEEP=1. A full run
// also writes docs/numbers/shards.json and the table in docs/web.md
// (`--render` redoes only that, from the snapshot).
// Env: BENCH_SHARDS_SIZES (default "1000000,10000000"), BENCH_SHARDS_VISITS
// (warm visits, default 3), BENCH_SHARDS_MAX (default 16M).

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT, CLI } from '../node/helpers.mjs';
import { startServer } from '../../scripts/serve.mjs';
import { launch } from '../browser/chromium.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const CACHE = join(ROOT, '.cache', 'bench', 'shards');
const OUT = join(ROOT, 'target', 'bench', 'shards.json');
const SIZES = (process.env.BENCH_SHARDS_SIZES ?? '1000000,10000000').split(',').map(Number);
const VISITS = Number(process.env.BENCH_SHARDS_VISITS ?? 3);
const MAX = process.env.BENCH_SHARDS_MAX ?? '16M';
const ALL_10M = process.env.BENCH_SHARDS_ALL === '1';
const KEEP = process.env.BENCH_SHARDS_KEEP === '1';
const SNAPSHOT = join(ROOT, 'docs', 'numbers', 'shards.json');
const WEB_MD = join(ROOT, 'docs', 'web.md');
const log = (...a) => console.error('[bench-shards]', ...a);

/** The docs/web.md table, from a result: only values found in the JSON, rounded. */
function renderTable(j) {
  const ms = (v) => (typeof v === 'number' ? `${Math.round(v)} ms` : 'n/a');
  const mb = (v) => `${(v / 1e6).toFixed(1)} MB`;
  const lines = [
    `_Run of ${j.run.date} on ${j.run.host} (${j.run.cpu}, ${j.run.cpus} vCPUs, load average ${j.run.loadavg_1m.toFixed(1)}, Chromium ${j.run.chromium}); the host was loaded by other builds, so single visits vary by 2–3×. Generated from \`docs/numbers/shards.json\` by \`node tests/bench/shards.mjs --render\`._`,
    '',
    '| items | head / shards | visit | head ready (popular) | first recommendation (head) | exact, one category | exact, all shards | shard bytes fetched |',
    '|---:|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of j.rows) {
    const shape = `${mb(r.head_bytes)} / ${r.shards} × ≤ ${mb(r.largest_shard_bytes)}`;
    // Each warm visit's own figures, not a mix: the fastest by first recommendation.
    const best = [...r.warm].sort((a, b) => a.first_rec_ms - b.first_rec_ms)[0];
    for (const [name, v] of [['cold', r.cold], [`warm (median of ${r.warm.length})`, r.warm_median], ['warm (fastest visit)', best]]) {
      lines.push(`| ${r.items.toLocaleString('en-US')} | ${shape} | ${name} | ${ms(v.head_ms)} | ${ms(v.first_rec_ms)} | ${ms(v.category_rec_ms)} | ${ms(v.all_rec_ms)} | ${mb(v.fetched_bytes)} |`);
    }
  }
  return lines.join('\n');
}

/** Rewrites the block between the shards-bench markers of docs/web.md. */
function render(j) {
  const text = readFileSync(WEB_MD, 'utf8');
  const [a, b] = ['<!-- shards-bench:begin -->', '<!-- shards-bench:end -->'];
  const i = text.indexOf(a);
  const k = text.indexOf(b);
  if (i < 0 || k < i) throw new Error(`${WEB_MD}: no ${a} … ${b} block`);
  writeFileSync(WEB_MD, text.slice(0, i + a.length) + '\n' + renderTable(j) + '\n' + text.slice(k));
  log(`rewrote the table in ${WEB_MD}`);
}

if (process.argv.includes('--render')) {
  render(JSON.parse(readFileSync(SNAPSHOT, 'utf8')));
  process.exit(0);
}
mkdirSync(CACHE, { recursive: true });
mkdirSync(dirname(OUT), { recursive: true });

const cli = (args) => execFileSync(CLI, args, { stdio: ['ignore', 'pipe', 'inherit'] }).toString();

/** The sharded catalogue of `n` items (made once per CLI build). */
function catalogue(n) {
  const dir = join(CACHE, `${n}-cat`);
  const stamp = join(dir, 'summary.json');
  if (existsSync(stamp) && statSync(stamp).mtimeMs >= statSync(CLI).mtimeMs) return { dir, summary: JSON.parse(readFileSync(stamp, 'utf8')) };
  rmSync(dir, { recursive: true, force: true });
  const t0 = Date.now();
  let out;
  if (n <= 2_000_000) {
    const src = join(CACHE, `synth-${n}.vtr`);
    cli(['synth', '--items', String(n), '--dim', '64', '--dtype', 'int8', '--categories', '20', '--seed', '1', '--out', src]);
    out = cli(['shard', src, '--by', 'category', '--max-shard-bytes', MAX, '--json', '-o', dir]);
    rmSync(src, { force: true });
  } else {
    out = cli(['shard', '--synth-items', String(n), '--dim', '64', '--dtype', 'int8', '--categories', '20', '--by', 'category', '--max-shard-bytes', MAX, '--json', '-o', dir]);
  }
  writeFileSync(stamp, out);
  log(`sharded ${n} items in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return { dir, summary: JSON.parse(out) };
}

/** One visit in a fresh page: everything timed from before the glue's import. */
async function visit(context, url, { all, category, sizes }) {
  const page = await context.newPage();
  await page.goto(`${url}/tests/blank.html`);
  // Shard files that came over the network (Cache Storage reads make no request).
  const fetched = [];
  page.on('response', (r) => {
    const m = /\/(shard-\d+\.vtr)$/.exec(r.url());
    if (m) fetched.push(m[1]);
  });
  const r = await page.evaluate(
    async ({ head, all, category }) => {
      const t0 = performance.now();
      const { loadSharded } = await import('/vitrine.js');
      const m = await loadSharded(head);
      const out = { head_ms: performance.now() - t0 };
      m.popular({ k: 12 });
      out.popular_ms = performance.now() - t0;
      let seed = 5;
      const user = () => Float32Array.from({ length: m.dim }, () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296 - 0.5) * 0.4);
      const a = await m.recommend(user(), { k: 10, shards: 'loaded' });
      out.first_rec_ms = performance.now() - t0;
      const t1 = performance.now();
      const b = await m.recommend(user(), { k: 10, categories: [category] });
      out.category_rec_ms = performance.now() - t0;
      out.category_rec_only_ms = performance.now() - t1;
      out.category_shards = m.loadedShards;
      if (all) {
        const t2 = performance.now();
        const c = await m.recommend(user(), { k: 10, shards: 'all' });
        out.all_rec_ms = performance.now() - t0;
        out.all_rec_only_ms = performance.now() - t2;
        out.all_complete = c.complete;
        // A second query over everything loaded: the scan alone.
        const t3 = performance.now();
        await m.recommend(user(), { k: 10, shards: 'loaded' });
        out.all_scan_ms = performance.now() - t3;
      }
      out.ok = a.length === 10 && b.length === 10 && b.complete;
      out.shards_loaded = m.loadedShards;
      m.dispose();
      return out;
    },
    { head: '/s/head.vtr', all, category },
  );
  await page.close();
  return { ...r, fetched_shards: fetched.length, fetched_bytes: fetched.reduce((n, f) => n + (sizes.get(f) ?? 0), 0) };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : null;
};

const rows = [];
let chromium = null;
for (const n of SIZES) {
  const { dir, summary } = catalogue(n);
  const all = n <= 2_000_000 || ALL_10M;
  const category = 'cat-3';
  const srv = await startServer({ mounts: { '/s/': dir, '/tests/': join(HERE, '..', 'browser') }, quiet: true });
  try {
    // Names come from the bundle: synth's categories are named, --synth-items ones are cat-<i>.
    const head = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
    const sizes = new Map(head.shards.map((e) => [e.file, e.bytes]));
    const browser = await launch();
    chromium ??= browser.context.browser()?.version() ?? null;
    let cold;
    const warm = [];
    let categoryName = category;
    try {
      const probe = await browser.context.newPage();
      await probe.goto(`${srv.url}/tests/blank.html`);
      categoryName = await probe.evaluate(async () => {
        const { loadSharded } = await import('/vitrine.js');
        const m = await loadSharded('/s/head.vtr', { shardCache: false });
        const c = m.shards()[Math.floor(m.shardCount / 2)].category;
        m.dispose();
        return c;
      });
      await probe.close();
      log(`${n}: cold visit (${head.shards.length} shards, category ${categoryName})`);
      cold = await visit(browser.context, srv.url, { all, category: categoryName, sizes });
      for (let i = 0; i < VISITS; i++) {
        log(`${n}: warm visit ${i + 1}`);
        warm.push(await visit(browser.context, srv.url, { all, category: categoryName, sizes }));
      }
    } finally {
      await browser.close();
    }
    const pick = (k) => median(warm.map((w) => w[k]).filter((x) => typeof x === 'number'));
    rows.push({
      items: n,
      dim: 64,
      dtype: 'int8',
      by: 'category',
      max_shard_bytes: MAX,
      model_id: summary.model_id,
      head_items: summary.head_items,
      head_bytes: summary.head_bytes,
      shards: summary.shards.length,
      shard_bytes: summary.shard_bytes,
      largest_shard_bytes: summary.largest_shard_bytes,
      category: categoryName,
      cold,
      warm_median: Object.fromEntries(['head_ms', 'popular_ms', 'first_rec_ms', 'category_rec_ms', 'category_rec_only_ms', 'all_rec_ms', 'all_rec_only_ms', 'all_scan_ms', 'fetched_shards', 'fetched_bytes'].map((k) => [k, pick(k)])),
      warm,
    });
    log(`${n}: cold first rec ${cold.first_rec_ms.toFixed(0)} ms, category ${cold.category_rec_ms.toFixed(0)} ms${cold.all_rec_ms ? `, all ${cold.all_rec_ms.toFixed(0)} ms` : ''}; warm category ${pick('category_rec_ms')?.toFixed(0)} ms${all ? `, all ${pick('all_rec_ms')?.toFixed(0)} ms` : ''}`);
  } finally {
    await srv.close();
    if (n > 2_000_000 && !KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

const result = {
  what: 'sharded bundles: time to first recommendation in headless Chromium, cold (empty Cache Storage) and warm (shards cached) visits; loopback HTTP, so network time is ~0',
  run: {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    host: hostname(),
    cpu: cpus()[0]?.model,
    cpus: cpus().length,
    loadavg_1m: loadavg()[0],
    chromium,
  },
  rows,
};
writeFileSync(OUT, JSON.stringify(result, null, 2) + '\n');
log(`wrote ${OUT}`);
// The committed snapshot and the docs table follow a full run only.
if (SIZES.join() === '1000000,10000000') {
  mkdirSync(dirname(SNAPSHOT), { recursive: true });
  writeFileSync(SNAPSHOT, JSON.stringify(result, null, 2) + '\n');
  render(result);
}
