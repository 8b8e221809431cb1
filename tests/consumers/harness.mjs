// Shared by the consumer runners: consumers.test.mjs (production builds) and
// dev.test.mjs (the bundlers' development servers). Both must hold a fixture
// to the same reference (Node's answers from the same model) and drive it in
// the same Chromium, so that a dev-mode failure means the dev server, not a
// different test.
//
// Not a test file itself (no `.test.` in the name), so `node --test
// tests/consumers/` only imports it.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { createServer } from 'node:net';
import { ROOT, synthWithIntent, rng, gaussianVector } from '../node/helpers.mjs';
import { load, VitrineError } from '../../pkg/node.js';
import { launch } from '../browser/chromium.mjs';

export { ROOT };
export const HERE = join(ROOT, 'tests', 'consumers');

const work = mkdtempSync(join(tmpdir(), 'vitrine-consumers-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
export const env = { ...process.env, npm_config_update_notifier: 'false', NEXT_TELEMETRY_DISABLED: '1' };

const { withIntent } = synthWithIntent({ items: 400, dim: 16, dtype: 'int8', seed: 11 });
export { withIntent };
export const modelDir = dirname(withIntent);
export const modelName = basename(withIntent);
export const u = Array.from(gaussianVector(rng(5), 16));

/**
 * The fixtures a runner covers: VITRINE_CONSUMERS=vite,next picks a subset of
 * `all` (names not in `all` are ignored, so one list can drive both runners).
 * @param {string[]} all
 */
export function selected(all) {
  const only = process.env.VITRINE_CONSUMERS?.split(',').filter(Boolean);
  // `make test-consumers` passes VITRINE_CONSUMERS= (empty) when CONSUMERS is unset: that means all.
  return only && only.length > 0 ? all.filter((f) => only.includes(f)) : all;
}

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
export function assertSameAsNode(got, label) {
  assert.ok(got, `${label}: no result`);
  assert.ok(['relaxed', 'simd', 'scalar'].includes(got.variant), `${label}: variant ${got.variant}`);
  const { variant, ...rest } = got;
  assert.deepEqual(rest, reference, `${label}: same answers as Node`);
  assert.equal(got.error, 'true:UNKNOWN_ITEM', `${label}: a VitrineError`);
}

/** `npm pack` of pkg/ into the runner's temporary directory; returns the tarball's path. */
export function packTarball() {
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: join(ROOT, 'pkg'), env, encoding: 'utf8' });
  return join(work, JSON.parse(out)[0].filename);
}

/** npm ci when the lock changed since the last install; then the fresh tarball. @param {string} dir @param {string} tarball */
export function install(dir, tarball) {
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
export function run(dir, cmd) {
  execFileSync(cmd[0], cmd.slice(1), { cwd: dir, env, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
}

export const bin = (/** @type {string} */ dir, /** @type {string} */ name) => join(dir, 'node_modules', '.bin', name);

/**
 * The `bun` npm package links its binary in a postinstall script, which
 * `npm ci --ignore-scripts` skips; the binary itself is in the platform
 * package npm installed (@oven/bun-linux-x64, …). @param {string} dir
 */
export function bunBinary(dir) {
  const oven = join(dir, 'node_modules', '@oven');
  const prefix = `bun-${process.platform}-${process.arch === 'arm64' ? 'aarch64' : process.arch}`;
  const found = existsSync(oven) ? readdirSync(oven).filter((d) => d.startsWith(prefix)).sort() : [];
  if (found.length === 0) throw new Error(`no ${prefix} package under ${oven}: is Bun published for this platform?`);
  return join(oven, found[0], 'bin', 'bun');
}

/** @returns {Promise<number>} */
export function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {any} */ (s.address());
      s.close(() => ok(port));
    });
  });
}

/**
 * Drive the app in Chromium: wait for the fixture's `vitrineReady`, run
 * `vitrineRun` (page, package worker, caller-constructed worker). Failed
 * responses are collected too: a dev server that answers a wasm or worker URL
 * with 404 shows up here by URL, not only as a vague console line; `assets`
 * lists the wasm and worker URLs asked for (where the bundler put them).
 * @param {string} base @param {string} pagePath @param {string} modelBase
 * `route`: a path the page moves to with history.pushState before the run,
 * as a router does (a deep route under a `<base href>`: URLs resolved
 * against the page's address rather than its base then miss).
 * @param {{ readyTimeout?: number, route?: string }} [opts]
 */
export async function inChromium(base, pagePath, modelBase, opts = {}) {
  const browser = await launch();
  try {
    const page = await browser.context.newPage();
    /** @type {string[]} */
    const errors = [];
    /** @type {string[]} */
    const failed = [];
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()} (${m.location().url})`);
    });
    page.on('response', (r) => {
      if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
    });
    /** @type {string[]} */
    const assets = [];
    page.on('request', (r) => {
      if (/\.wasm(\?|$)|worker/i.test(r.url())) assets.push(r.url());
    });
    page.on('requestfailed', (r) => failed.push(`failed ${r.url()}: ${r.failure()?.errorText}`));
    await page.goto(`${base}${pagePath}`, { timeout: opts.readyTimeout ?? 30_000 });
    try {
      await page.waitForFunction(() => globalThis.vitrineReady === true, null, { timeout: opts.readyTimeout ?? 30_000 });
    } catch (e) {
      throw new Error(`${base}${pagePath} never set vitrineReady: ${e.message}\nerrors: ${errors.join('\n')}\nfailed requests: ${failed.join('\n')}`);
    }
    if (opts.route) await page.evaluate((route) => history.pushState(null, '', route), opts.route);
    const url = `${modelBase}${modelName}`;
    let res;
    try {
      res = await page.evaluate((args) => globalThis.vitrineRun(args), { url, u, intentUrl: url });
    } catch (e) {
      throw new Error(`vitrineRun failed at ${base}${pagePath}: ${e.message}\nerrors: ${errors.join('\n')}\nfailed requests: ${failed.join('\n')}`);
    }
    return { res, errors, failed, assets };
  } finally {
    await browser.close();
  }
}
