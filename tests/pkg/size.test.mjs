// Size budget: gzip -9 sizes of what a page downloads — the glue, one engine
// build (the largest of the three, since 'auto' may pick any), the intent
// module on the first question, and the worker script in worker mode —
// against the budgets written in pkg/README.md ("What a page downloads").

import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { ROOT } from '../node/helpers.mjs';

const PKG = join(ROOT, 'pkg');
const gz = (/** @type {string[]} */ files) => files.reduce((n, f) => n + gzipSync(readFileSync(join(PKG, f)), { level: 9 }).length, 0);

/** Budgets in KiB from the README table, by the part's first word. */
function budgets() {
  const readme = readFileSync(join(PKG, 'README.md'), 'utf8');
  const section = readme.split('## What a page downloads')[1]?.split('\n## ')[0] ?? '';
  /** @type {Record<string, number>} */
  const out = {};
  for (const m of section.matchAll(/^\|\s*([a-z]+)[^|]*\|\s*([\d.]+)\s*KiB\s*\|/gm)) out[m[1]] = Number(m[2]) * 1024;
  return out;
}

/** Raw budgets in bytes from the README's second table, by the build's first word. */
function rawBudgets() {
  const readme = readFileSync(join(PKG, 'README.md'), 'utf8');
  const section = readme.split('## What a page downloads')[1]?.split('\n## ')[0] ?? '';
  /** @type {Record<string, number>} */
  const out = {};
  for (const m of section.matchAll(/^\|\s*([a-z]+)[^|]*\|\s*([\d.]+)\s*KB raw\s*\|/gm)) out[m[1]] = Number(m[2]) * 1000;
  return out;
}

test('each engine .wasm stays within its raw README budget (full and lean builds)', (t) => {
  const b = rawBudgets();
  assert.ok(b.full > 0 && b.lean > 0, `README raw budget rows for "full" and "lean" (have ${Object.keys(b)})`);
  assert.ok(b.lean < b.full, 'the lean builds are budgeted below the full ones');
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
  const lib = readdirSync(join(PKG, 'lib')).filter((f) => f.endsWith('.js')).map((f) => join('lib', f));
  const engine = Math.max(...['relaxed', 'simd', 'scalar'].map((v) => gz([`wasm/${v}/vitrine_core.js`, `wasm/${v}/vitrine_core_bg.wasm`])));
  const sizes = {
    glue: gz(['vitrine.js', ...lib]),
    one: engine,
    intent: gz(['wasm/intent/vitrine_intent.js', 'wasm/intent/vitrine_intent_bg.wasm']),
    worker: gz(['vitrine.worker.js']),
  };
  for (const [part, n] of Object.entries(sizes)) {
    t.diagnostic(`${part}: ${(n / 1024).toFixed(1)} KiB gzip (budget ${(b[part] / 1024).toFixed(0)} KiB)`);
    assert.ok(n <= b[part], `${part}: ${n} bytes gzip is over the README budget of ${b[part]}`);
  }
  t.diagnostic(`page total (glue + engine + intent): ${((sizes.glue + sizes.one + sizes.intent) / 1024).toFixed(1)} KiB gzip`);
});
