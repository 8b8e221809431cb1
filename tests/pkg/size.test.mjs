// Size budget: gzip -9 sizes of what a page downloads — the glue it imports
// eagerly (the static import graph of `vitrine.js`), each chunk it fetches
// later with `import()` (the SIMD calibration, the two-worker scan, the
// sharded loader), one engine build (the largest of the three, since 'auto'
// may pick any), the intent module on the first question, and the worker
// script in worker mode — against the budgets written in pkg/README.md
// ("What a page downloads").

import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { dirname, join, normalize } from 'node:path';
import { ROOT } from '../node/helpers.mjs';

const PKG = join(ROOT, 'pkg');
const gz = (/** @type {Iterable<string>} */ files) => [...files].reduce((n, f) => n + gzipSync(readFileSync(join(PKG, f)), { level: 9 }).length, 0);
const kib = (/** @type {number} */ n) => `${(n / 1024).toFixed(1)} KiB`;

function sizeSection() {
  const readme = readFileSync(join(PKG, 'README.md'), 'utf8');
  return readme.split('## What a page downloads')[1]?.split('\n## ')[0] ?? '';
}

/** Budgets in KiB from the README table, by the part's first word. */
function budgets() {
  /** @type {Record<string, number>} */
  const out = {};
  for (const m of sizeSection().matchAll(/^\|\s*([a-z]+)[^|]*\|\s*([\d.]+)\s*KiB\s*\|/gm)) out[m[1]] = Number(m[2]) * 1024;
  return out;
}

/** Budgets of the lazily imported chunks, by the chunk's entry file: rows "| lazy: `lib/x.js` … | N KiB |". */
function lazyBudgets() {
  /** @type {Record<string, number>} */
  const out = {};
  for (const m of sizeSection().matchAll(/^\|\s*lazy:\s*`([^`]+)`[^|]*\|\s*([\d.]+)\s*KiB\s*\|/gm)) out[m[1]] = Number(m[2]) * 1024;
  return out;
}

/** Raw budgets in bytes from the README's second table, by the build's first word. */
function rawBudgets() {
  /** @type {Record<string, number>} */
  const out = {};
  for (const m of sizeSection().matchAll(/^\|\s*([a-z]+)[^|]*\|\s*([\d.]+)\s*KB raw\s*\|/gm)) out[m[1]] = Number(m[2]) * 1000;
  return out;
}

/**
 * The relative imports of one package module: `static` (import/export … from,
 * what the browser fetches before the module runs) and `dynamic` (`import()`
 * with a literal, fetched when that line runs). Comments are dropped first:
 * JSDoc types use `import('…')` too.
 * @param {string} file path inside pkg/
 */
function importsOf(file) {
  const src = readFileSync(join(PKG, file), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '');
  const resolve = (/** @type {string} */ spec) => normalize(join(dirname(file), spec));
  const stat = [...src.matchAll(/(?:^|[;\n])\s*(?:import|export)\b[^;'"]*?\bfrom\s*['"](\.{1,2}\/[^'"]+)['"]|(?:^|[;\n])\s*import\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => resolve(m[1] ?? m[2]));
  const dyn = [...src.matchAll(/\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g)].map((m) => resolve(m[1]));
  return { static: stat, dynamic: dyn };
}

/** The static import closure of `entry`, and the dynamic imports met in it. */
function closure(/** @type {string} */ entry) {
  const files = new Set([entry]);
  const dynamic = new Set();
  const todo = [entry];
  while (todo.length) {
    const f = /** @type {string} */ (todo.pop());
    const im = importsOf(f);
    for (const s of im.static) if (!files.has(s)) files.add(s), todo.push(s);
    for (const d of im.dynamic) dynamic.add(d);
  }
  return { files, dynamic };
}

/**
 * What a page that imports `vitrine.js` loads: `eager` before its first line
 * runs; `lazy` the chunks `import()`ed later (each without what is already
 * eager), wasm glue excluded (the engine and intent rows count it).
 */
function pageGraph() {
  const eager = closure('vitrine.js');
  /** @type {Map<string, Set<string>>} */
  const lazy = new Map();
  const todo = [...eager.dynamic];
  const seen = new Set(eager.files);
  while (todo.length) {
    const entry = /** @type {string} */ (todo.pop());
    if (entry.startsWith('wasm/') || lazy.has(entry)) continue;
    const c = closure(entry);
    const own = new Set([...c.files].filter((f) => !eager.files.has(f)));
    lazy.set(entry, own);
    for (const f of own) seen.add(f);
    todo.push(...c.dynamic);
  }
  return { eager: eager.files, lazy, seen };
}

test('the import graph is read from the sources (and the default page imports no calibration or two-worker code)', (t) => {
  const g = pageGraph();
  t.diagnostic(`eager: ${[...g.eager].sort().join(', ')}`);
  for (const [entry, files] of g.lazy) t.diagnostic(`lazy ${entry}: ${[...files].join(', ')}`);
  for (const f of ['vitrine.js', 'lib/load.js', 'lib/model.js', 'lib/detect.js', 'lib/decision.js', 'lib/wasm.js', 'lib/errors.js']) {
    assert.ok(g.eager.has(f), `${f} is imported eagerly by vitrine.js`);
  }
  for (const f of ['lib/calibrate.js', 'lib/parallel.js', 'shards.js']) {
    assert.ok(!g.eager.has(f), `${f} is not in vitrine.js's static import graph`);
    assert.ok(g.lazy.has(f), `${f} is imported lazily (import()) from the page's modules`);
  }
  // Every glue module is reached by a page, or is the worker's (bundled into vitrine.worker.js).
  const unreached = readdirSync(join(PKG, 'lib')).map((f) => `lib/${f}`).filter((f) => f.endsWith('.js') && !g.seen.has(f));
  assert.deepEqual(unreached, ['lib/worker-host.js'], 'lib/ modules no page import reaches');
});

test('each engine .wasm stays within its raw README budget (full and lean builds)', (t) => {
  const b = rawBudgets();
  assert.ok(b.full > 0 && b.lean > 0, `README raw budget rows for "full" and "lean" (have ${Object.keys(b)})`);
  assert.ok(b.lean < b.full, 'the lean builds are budgeted below the full ones');
  // Issue #19 item 7: an engine build is at most 200 KB. The lean builds meet
  // it; the README's lean budget may not drift above it.
  assert.ok(b.lean <= 200_000, `the lean budget (${b.lean} bytes) stays within the 200 KB target`);
  for (const [part, builds] of [['full', ['relaxed', 'simd', 'scalar']], ['lean', ['relaxed-lean', 'simd-lean', 'scalar-lean']]]) {
    for (const v of builds) {
      const n = readFileSync(join(PKG, 'wasm', v, 'vitrine_core_bg.wasm')).byteLength;
      t.diagnostic(`${v}: ${n} bytes raw (budget ${b[part]})`);
      assert.ok(n <= b[part], `${v}: ${n} bytes raw is over the README budget of ${b[part]}`);
    }
  }
});

test('gzip sizes stay within the README budget', (t) => {
  const b = budgets();
  for (const part of ['glue', 'one', 'intent', 'worker']) assert.ok(b[part] > 0, `README budget row for "${part}" (have ${Object.keys(b)})`);
  const g = pageGraph();
  const engine = Math.max(...['relaxed', 'simd', 'scalar'].map((v) => gz([`wasm/${v}/vitrine_core.js`, `wasm/${v}/vitrine_core_bg.wasm`])));
  const sizes = {
    glue: gz(g.eager),
    one: engine,
    intent: gz(['wasm/intent/vitrine_intent.js', 'wasm/intent/vitrine_intent_bg.wasm']),
    worker: gz(['vitrine.worker.js']),
  };
  for (const [part, n] of Object.entries(sizes)) {
    t.diagnostic(`${part}: ${kib(n)} gzip (budget ${kib(b[part])})`);
    assert.ok(n <= b[part], `${part}: ${n} bytes gzip is over the README budget of ${b[part]}`);
  }
  t.diagnostic(`page total (eager glue + engine + intent): ${kib(sizes.glue + sizes.one + sizes.intent)} gzip`);
});

test('each lazily imported glue chunk stays within its own README budget', (t) => {
  const b = lazyBudgets();
  const g = pageGraph();
  for (const [entry, files] of g.lazy) {
    const n = gz(files);
    assert.ok(b[entry] > 0, `README budget row "lazy: \`${entry}\`" (have ${Object.keys(b)})`);
    t.diagnostic(`lazy ${entry}: ${kib(n)} gzip (budget ${kib(b[entry])})`);
    assert.ok(n <= b[entry], `lazy ${entry}: ${n} bytes gzip is over the README budget of ${b[entry]}`);
  }
  for (const entry of Object.keys(b)) assert.ok(g.lazy.has(entry), `README budgets a lazy chunk ${entry} that no page module imports lazily`);
});

test("no engine build carries core's Unicode escape tables (Debug of a str: 8 KB per build)", () => {
  // `{:?}` on a str or String anywhere the wasm reaches pulls in
  // `char::escape_debug` with its printable tables; their panic location names
  // the file. Error messages quote with `error::Quoted` instead.
  for (const v of ['relaxed', 'simd', 'scalar', 'relaxed-lean', 'simd-lean', 'scalar-lean']) {
    const text = readFileSync(join(PKG, 'wasm', v, 'vitrine_core_bg.wasm')).toString('latin1');
    assert.ok(!text.includes('unicode/printable.rs'), `${v}: core's escape_debug tables are linked in (a {:?} of a string in code the wasm reaches?)`);
  }
});

test("no engine build carries core's float printing (Display of an f32/f64: ~20 KB per build)", () => {
  // `{v}` of a float in an error message links flt2dec (Grisu with its Dragon
  // fallback) into every build; its panic locations name the files. Messages
  // say which field is out of range, not the value.
  for (const v of ['relaxed', 'simd', 'scalar', 'relaxed-lean', 'simd-lean', 'scalar-lean']) {
    const text = readFileSync(join(PKG, 'wasm', v, 'vitrine_core_bg.wasm')).toString('latin1');
    assert.ok(!text.includes('num/flt2dec/'), `${v}: core's float formatting is linked in (a {} of an f32/f64 in code the wasm reaches?)`);
  }
});
