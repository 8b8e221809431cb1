// The npm package in real consumers: one small app per bundler (Vite,
// webpack 5, Rollup, esbuild, Next.js, Parcel 2, Rspack, Bun) plus Node ESM and CommonJS, each with
// its own package.json and committed package-lock.json. Every fixture gets
// the `npm pack` tarball of the current build, is production-built, served on
// 127.0.0.1 and driven in Chromium: the page's and the worker's answers must
// equal Node's, with no console error.
//
// Installs: `npm ci` from the fixture's lock file, only when the lock is newer
// than node_modules (the same stamp npm writes), so re-runs reuse them; the
// tarball is then unpacked into node_modules/vitrine (it has no
// dependencies, and a lock entry for it would change with every build).
// VITRINE_CONSUMERS=vite,next runs a subset.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { createServer } from 'node:net';
import { ROOT, synthWithIntent, rng, gaussianVector } from '../node/helpers.mjs';
import { load, VitrineError } from '../../pkg/node.js';
import { startServer } from '../../scripts/serve.mjs';
import { launch } from '../browser/chromium.mjs';

const HERE = join(ROOT, 'tests', 'consumers');
const ALL = ['node-esm', 'node-cjs', 'esbuild', 'rollup', 'vite', 'webpack', 'next', 'parcel', 'rspack', 'bun'];
const only = process.env.VITRINE_CONSUMERS?.split(',').filter(Boolean);
// `make test-consumers` passes VITRINE_CONSUMERS= (empty) when CONSUMERS is unset: that means all.
const FIXTURES = only && only.length > 0 ? ALL.filter((f) => only.includes(f)) : ALL;
if (FIXTURES.length === 0) throw new Error(`VITRINE_CONSUMERS=${process.env.VITRINE_CONSUMERS} names no fixture of ${ALL.join(', ')}`);

const work = mkdtempSync(join(tmpdir(), 'vitrine-consumers-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const env = { ...process.env, npm_config_update_notifier: 'false', NEXT_TELEMETRY_DISABLED: '1' };

const { withIntent } = synthWithIntent({ items: 400, dim: 16, dtype: 'int8', seed: 11 });
const modelDir = dirname(withIntent);
const modelName = basename(withIntent);
const u = Array.from(gaussianVector(rng(5), 16));

/** The same calls as the fixtures make (tests/consumers/<f>/src/main.js). */
async function answers(m, intentModel) {
  const plain = (list) => [...list].map((x) => ({ id: x.id, score: x.score }));
  const rec = plain(await m.recommend(u, { k: 5 }));
  const out = {
    variant: m.variant,
    rec,
    similar: plain(await m.similar(rec[0].id, { k: 5 })),
    popular: plain(await m.popular({ k: 5, priceMax: null })),
    item: await m.item(rec[0].id),
    intent: (await intentModel.matchIntent('where is my order 12345')).intent,
  };
  try {
    await m.item('no-such-item');
  } catch (e) {
    out.error = `${e instanceof VitrineError}:${e.code}`;
  }
  return out;
}

/** Node's answers: the reference every consumer must reproduce (all builds rank int8 identically). */
const reference = await (async () => {
  const m = await load(withIntent);
  try {
    const r = await answers(m, m);
    delete r.variant;
    return r;
  } finally {
    m.dispose();
  }
})();

/** @param {any} got @param {string} label */
function assertSameAsNode(got, label) {
  assert.ok(['relaxed', 'simd', 'scalar'].includes(got.variant), `${label}: variant ${got.variant}`);
  const { variant, ...rest } = got;
  assert.deepEqual(rest, reference, `${label}: same answers as Node`);
  assert.equal(got.error, 'true:UNKNOWN_ITEM', `${label}: a VitrineError`);
}

let tarball;
test.before(() => {
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: join(ROOT, 'pkg'), env, encoding: 'utf8' });
  tarball = join(work, JSON.parse(out)[0].filename);
});

/** npm ci when the lock changed since the last install; then the fresh tarball. @param {string} dir */
function install(dir) {
  const stamp = join(dir, 'node_modules', '.package-lock.json');
  const lock = join(dir, 'package-lock.json');
  if (!existsSync(stamp) || statSync(stamp).mtimeMs < statSync(lock).mtimeMs) {
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], { cwd: dir, env, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const pkgDir = join(dir, 'node_modules', 'vitrine');
  rmSync(pkgDir, { recursive: true, force: true });
  mkdirSync(pkgDir, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '--strip-components=1', '-C', pkgDir]);
}

/** @param {string} dir @param {string[]} cmd */
function run(dir, cmd) {
  execFileSync(cmd[0], cmd.slice(1), { cwd: dir, env, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
}

const bin = (/** @type {string} */ dir, /** @type {string} */ name) => join(dir, 'node_modules', '.bin', name);

/** Production build of a bundler fixture into dist/. @type {Record<string, (dir: string) => void>} */
const BUILD = {
  vite: (dir) => run(dir, [bin(dir, 'vite'), 'build', '--logLevel', 'warn']),
  webpack: (dir) => {
    run(dir, [bin(dir, 'webpack'), '--mode', 'production', '--no-stats']);
    copyFileSync(join(dir, 'public', 'index.html'), join(dir, 'dist', 'index.html'));
  },
  rollup: (dir) => {
    rmSync(join(dir, 'dist'), { recursive: true, force: true });
    run(dir, [bin(dir, 'rollup'), '-c', '--silent']);
    copyFileSync(join(dir, 'public', 'index.html'), join(dir, 'dist', 'index.html'));
  },
  esbuild: (dir) => {
    rmSync(join(dir, 'dist'), { recursive: true, force: true });
    run(dir, [
      bin(dir, 'esbuild'), 'src/main.js', '--bundle', '--format=esm', '--minify', '--loader:.wasm=file',
      '--loader:.worker.js=file', '--public-path=/', '--outdir=dist', '--log-level=warning',
    ]);
    copyFileSync(join(dir, 'public', 'index.html'), join(dir, 'dist', 'index.html'));
  },
  // No configuration: index.html is the entry. --no-cache so that every run
  // builds from the freshly unpacked tarball (Parcel still writes .parcel-cache/).
  parcel: (dir) => {
    rmSync(join(dir, 'dist'), { recursive: true, force: true });
    run(dir, [bin(dir, 'parcel'), 'build', 'index.html', '--no-cache', '--log-level', 'warn']);
  },
  // No configuration: Rspack's defaults (src/index.js -> dist/main.js, production mode).
  rspack: (dir) => {
    rmSync(join(dir, 'dist'), { recursive: true, force: true });
    run(dir, [bin(dir, 'rspack'), 'build']);
    copyFileSync(join(dir, 'public', 'index.html'), join(dir, 'dist', 'index.html'));
  },
  bun: (dir) => {
    rmSync(join(dir, 'dist'), { recursive: true, force: true });
    run(dir, [bunBinary(dir), 'build', './src/main.js', '--target=browser', '--minify', '--public-path=/', '--outdir=dist']);
    copyFileSync(join(dir, 'public', 'index.html'), join(dir, 'dist', 'index.html'));
  },
};

/**
 * The `bun` npm package links its binary in a postinstall script, which
 * `npm ci --ignore-scripts` skips; the binary itself is in the platform
 * package npm installed (@oven/bun-linux-x64, …). @param {string} dir
 */
function bunBinary(dir) {
  const oven = join(dir, 'node_modules', '@oven');
  const prefix = `bun-${process.platform}-${process.arch === 'arm64' ? 'aarch64' : process.arch}`;
  const found = existsSync(oven) ? readdirSync(oven).filter((d) => d.startsWith(prefix)).sort() : [];
  if (found.length === 0) throw new Error(`no ${prefix} package under ${oven}: is Bun published for this platform?`);
  return join(oven, found[0], 'bin', 'bun');
}

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {any} */ (s.address());
      s.close(() => ok(port));
    });
  });
}

/** `next start` on a free port; resolves once it answers. @param {string} dir */
async function startNext(dir) {
  const port = await freePort();
  const child = spawn(bin(dir, 'next'), ['start', '-p', String(port), '-H', '127.0.0.1'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`next start exited: ${log}`);
    try {
      if ((await fetch(url + '/')).ok) break;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, close: async () => { child.kill('SIGTERM'); await new Promise((r) => child.once('exit', r)); } };
}

/** Drive the built app in Chromium. @param {string} base @param {string} pagePath @param {string} modelBase */
async function inChromium(base, pagePath, modelBase) {
  const browser = await launch();
  try {
    const page = await browser.context.newPage();
    /** @type {string[]} */
    const errors = [];
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()} (${m.location().url})`);
    });
    await page.goto(`${base}${pagePath}`);
    await page.waitForFunction(() => globalThis.vitrineReady === true, null, { timeout: 30_000 });
    const url = `${modelBase}${modelName}`;
    const res = await page.evaluate((args) => globalThis.vitrineRun(args), { url, u, intentUrl: url });
    return { res, errors };
  } finally {
    await browser.close();
  }
}

for (const name of FIXTURES) {
  test(`consumer: ${name}`, { timeout: 600_000 }, async () => {
    const dir = join(HERE, name);
    install(dir);
    if (name === 'node-esm' || name === 'node-cjs') {
      const main = readdirSync(dir).find((f) => /^main\.c?m?js$/.test(f));
      const out = execFileSync(process.execPath, [main, withIntent, JSON.stringify(u), withIntent], { cwd: dir, env, encoding: 'utf8' });
      assertSameAsNode(JSON.parse(out), name);
      return;
    }
    if (name === 'next') {
      const pub = join(dir, 'public', 'm');
      mkdirSync(pub, { recursive: true });
      copyFileSync(withIntent, join(pub, modelName));
      run(dir, [bin(dir, 'next'), 'build']);
      const srv = await startNext(dir);
      try {
        const { res, errors } = await inChromium(srv.url, '/', '/m/');
        assertSameAsNode(res.page, 'next page');
        assertSameAsNode(res.worker, 'next worker');
        assert.deepEqual(errors, []);
      } finally {
        await srv.close();
      }
      return;
    }
    BUILD[name](dir);
    const srv = await startServer({ mounts: { '/m/': modelDir, '/': join(dir, 'dist') }, quiet: true });
    try {
      const { res, errors } = await inChromium(srv.url, '/index.html', '/m/');
      assertSameAsNode(res.page, `${name} page`);
      assertSameAsNode(res.worker, `${name} worker`);
      if (res.ownWorker) assertSameAsNode(res.ownWorker, `${name} caller-constructed worker`);
      assert.deepEqual(errors, []);
    } finally {
      await srv.close();
    }
  });
}
