// The npm package as a user gets it: `npm pack` → install the tarball into a
// fresh project → use it from Node and from an esbuild bundle in Chromium.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, basename, dirname } from 'node:path';
import { ROOT, synth, synthWithIntent, rng, gaussianVector } from '../node/helpers.mjs';
import { load, relaxedSimdSupported } from '../../pkg/node.js';
import { startServer } from '../../scripts/serve.mjs';
import { launch, newPage } from '../browser/chromium.mjs';

const work = mkdtempSync(join(tmpdir(), 'vitrine-pkg-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const npmEnv = { ...process.env, npm_config_cache: join(work, 'npm-cache'), npm_config_update_notifier: 'false' };
const bundle = synth({ items: 4000, dim: 16, dtype: 'f16', seed: 2, categories: 4 });
const u = Array.from(gaussianVector(rng(77), 16));
const { withIntent } = synthWithIntent({ items: 400, dim: 16, dtype: 'int8', seed: 11 });

let tarball;
let files;
const app = join(work, 'app');

test('package.json version follows Cargo.toml', () => {
  const cargo = readFileSync(join(ROOT, 'Cargo.toml'), 'utf8');
  const version = /^\[package\][^[]*?^version\s*=\s*"([^"]+)"/m.exec(cargo)?.[1];
  assert.ok(version, 'version found in Cargo.toml');
  assert.equal(JSON.parse(readFileSync(join(ROOT, 'pkg', 'package.json'), 'utf8')).version, version);
});

test('npm pack ships the glue, types, both engine builds and the intent module', () => {
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', work], {
    cwd: join(ROOT, 'pkg'),
    env: npmEnv,
    encoding: 'utf8',
  });
  const info = JSON.parse(out)[0];
  tarball = join(work, info.filename);
  files = info.files.map((f) => f.path).sort();
  for (const f of [
    'package.json',
    'README.md',
    'vitrine.js',
    'lib/errors.js',
    'lib/worker-client.js',
    'vitrine.worker.js',
    'shopper.js',
    'node.js',
    'vitrine.d.ts',
    'shopper.d.ts',
    'wasm/integrity.json',
    'wasm/relaxed/vitrine_core.js',
    'wasm/relaxed/vitrine_core_bg.wasm',
    'wasm/simd/vitrine_core.js',
    'wasm/simd/vitrine_core_bg.wasm',
    'wasm/scalar/vitrine_core.js',
    'wasm/scalar/vitrine_core_bg.wasm',
    'wasm/intent/vitrine_intent.js',
    'wasm/intent/vitrine_intent_bg.wasm',
    // The lean engine builds: only the .wasm (the full build's glue runs them).
    'wasm/relaxed-lean/vitrine_core_bg.wasm',
    'wasm/simd-lean/vitrine_core_bg.wasm',
    'wasm/scalar-lean/vitrine_core_bg.wasm',
  ]) {
    assert.ok(files.includes(f), `${f} in the tarball (has: ${files.join(', ')})`);
  }
  assert.ok(!files.some((f) => f.endsWith('.tgz') || f.includes('node_modules')));
  // The shipped glue is the www/ source, byte for byte.
  for (const f of ['vitrine.js', ...readdirSync(join(ROOT, 'www', 'lib')).map((f) => `lib/${f}`)]) {
    assert.ok(files.includes(f), `${f} shipped`);
    assert.equal(readFileSync(join(ROOT, 'pkg', f), 'utf8'), readFileSync(join(ROOT, 'www', f), 'utf8'), f);
  }
  // The worker is one self-contained script: nothing a bundler could lose.
  const worker = readFileSync(join(ROOT, 'pkg', 'vitrine.worker.js'), 'utf8');
  assert.ok(!/\bimport\s*[({'"\w*]|\bimport\.meta\b|\bexport\s/.test(worker.replace(/"[^"]*"|'[^']*'|`[^`]*`/g, '')), 'no import/export/import.meta in vitrine.worker.js');
  const sri = JSON.parse(readFileSync(join(ROOT, 'pkg', 'wasm', 'integrity.json'), 'utf8'));
  assert.deepEqual(Object.keys(sri).sort(), ['intent', 'relaxed', 'relaxed-lean', 'scalar', 'scalar-lean', 'simd', 'simd-lean']);
});

test('installed tarball works from Node via `import "vitrine"`', async () => {
  assert.ok(tarball, 'packed');
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], {
    cwd: app,
    env: npmEnv,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  writeFileSync(
    join(app, 'main.js'),
    `import { load, VitrineError } from 'vitrine';
const m = await load(process.argv[2]);
const u = JSON.parse(process.argv[3]);
let code;
try { m.similar('nope'); } catch (e) { code = (e instanceof VitrineError) + ':' + e.code; }
const q = await (await load(process.argv[4])).matchIntent('where is my order 12345');
console.log(JSON.stringify({ variant: m.variant, n: m.nItems, rec: [...m.recommend(u, { k: 5 })], code, intent: q.intent }));
`,
  );
  const out = JSON.parse(execFileSync('node', ['main.js', bundle, JSON.stringify(u), withIntent], { cwd: app, encoding: 'utf8' }));
  const m = await load(bundle);
  try {
    assert.equal(out.variant, relaxedSimdSupported() ? 'relaxed' : 'simd');
    assert.equal(out.n, 4000);
    assert.deepEqual(out.rec, [...m.recommend(u, { k: 5 })]);
    assert.equal(out.code, 'true:UNKNOWN_ITEM');
    assert.equal(out.intent, 'order_status');
  } finally {
    m.dispose();
  }
});

test('esbuild bundle of the installed package runs in Chromium', async (t) => {
  assert.ok(existsSync(join(app, 'node_modules', 'vitrine')), 'installed');
  writeFileSync(
    join(app, 'entry.js'),
    `import { load, VitrineError } from 'vitrine';
import simd from 'vitrine/wasm/simd/vitrine_core_bg.wasm';
import scalar from 'vitrine/wasm/scalar/vitrine_core_bg.wasm';
import intent from 'vitrine/wasm/intent/vitrine_intent_bg.wasm';
export async function run(url, u, intentUrl) {
  const m = await load(url, { wasmUrl: { simd, scalar } });
  const q = await (await load(intentUrl, { wasmUrl: { simd, scalar, intent } })).matchIntent('运费多少');
  const s = await load(url, { simd: false, wasmUrl: { simd, scalar } });
  const out = { variant: m.variant, rec: m.recommend(u, { k: 5 }).map((x) => ({ ...x })), scalar: s.recommend(u, { k: 5 }).map((x) => x.id), scalarVariant: s.variant, intent: q.intent };
  try { m.item('nope'); } catch (e) { out.code = (e instanceof VitrineError) + ':' + e.code; }
  m.dispose(); s.dispose();
  return out;
}
`,
  );
  const esbuild = join(ROOT, 'node_modules', '.bin', 'esbuild');
  const dist = join(app, 'dist');
  execFileSync(
    esbuild,
    ['entry.js', '--bundle', '--format=esm', '--platform=browser', '--loader:.wasm=file', '--public-path=/app/', `--outdir=${dist}`, '--log-level=warning'],
    { cwd: app, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const emitted = readdirSync(dist);
  assert.ok(emitted.includes('entry.js'), emitted.join(', '));
  const wasms = emitted.filter((f) => f.endsWith('.wasm'));
  assert.equal(wasms.length, 3, `both engine builds and the intent module emitted: ${emitted.join(', ')}`);
  const bundled = readFileSync(join(dist, 'entry.js'), 'utf8');
  assert.ok(!/from ["']vitrine["']/.test(bundled), 'the package import was resolved');

  const blank = join(ROOT, 'tests', 'browser');
  const srv = await startServer({ mounts: { '/app/': dist, '/t/': dirname(bundle), '/blank/': blank }, quiet: true });
  const browser = await launch();
  t.after(async () => {
    await browser.close();
    await srv.close();
  });
  const { page, errors } = await newPage(browser.context, `${srv.url}/blank/blank.html`);
  const res = await page.evaluate(
    async ({ url, u, intentUrl }) => (await import('/app/entry.js')).run(url, u, intentUrl),
    { url: `/t/${basename(bundle)}`, u, intentUrl: `/t/${basename(withIntent)}` },
  );
  const m = await load(bundle);
  try {
    assert.equal(res.variant, 'simd', "wasmUrl lists no relaxed build, so 'auto' keeps to SIMD128");
    assert.equal(res.scalarVariant, 'scalar');
    assert.deepEqual(res.rec, [...m.recommend(u, { k: 5 })]);
    assert.deepEqual(res.scalar, res.rec.map((r) => r.id));
    assert.equal(res.code, 'true:UNKNOWN_ITEM');
    assert.equal(res.intent, 'shipping');
  } finally {
    m.dispose();
  }
  assert.deepEqual(errors, []);
});
