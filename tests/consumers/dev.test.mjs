// The npm package in the bundlers' DEVELOPMENT servers, where a storefront
// developer meets it first and where things break that work in production:
// Vite pre-bundles dependencies into node_modules/.vite/deps (so
// `new URL('./x.wasm', import.meta.url)` can point at a file that is not
// there), `next dev` runs Turbopack's dev pipeline, and webpack-dev-server /
// Rspack's and Rsbuild's dev servers / esbuild --serve / Parcel's serve each
// serve from memory, and `ng serve` hands pre-bundled dependencies out from
// /@fs/…/.angular/cache/ paths. With the package as it is, all of them pass
// with no configuration beyond the production recipe (pkg/README.md, Bundlers).
//
// The same fixtures as consumers.test.mjs, with the same installed
// node_modules and the same fresh `npm pack` tarball: each dev server is
// started on a free port in its own process group, the page is opened in
// Chromium, and the page, the package's worker and the caller-constructed
// worker must answer as Node does, with no console error and no failed
// request. The server's whole process group is killed afterwards, also on
// failure (dev servers fork: Next, Parcel workers, esbuild/rolldown helpers).
//
// Which servers run: all of them by default (the first eight add about 45 s
// to `make test` on a loaded 2-core machine, measured with their caches
// removed; `ng serve` and `rsbuild dev` 6–12 s more; so none is left to a
// switch). VITRINE_DEV_SERVERS=vite,next (`make test-consumers
// DEV_SERVERS=vite,next`) names some, VITRINE_DEV_SERVERS=none skips the dev
// mode; VITRINE_CONSUMERS=… (shared with the production runner) narrows by
// fixture.

import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  HERE, env, withIntent, modelName, selected, assertSameAsNode, packTarball, install, bin, freePort, inChromium,
} from './harness.mjs';

/**
 * One dev server per fixture, started exactly as its documentation says
 * (plus host/port so that the test can find it).
 * - `fixture`: the fixture directory, when not the server's name.
 * - `cmd`: the argv for a port.
 * - `page`: the path of the page on the server.
 * - `static`: the directory the server serves as-is, where the test puts the model (under m/).
 * - `clean`: caches that would survive from an earlier run with an older tarball.
 * - `route`: a deep route the page moves to (history.pushState) before the run, as a router does.
 * @type {Record<string, { fixture?: string, cmd: (dir: string, port: string) => string[], page: string, static: string, clean?: string[], route?: string }>}
 */
const DEV = {
  // --force: re-run dependency pre-bundling, as the unpacked tarball is new
  // (Vite keys its cache on the lock file, which does not change).
  vite: {
    cmd: (dir, port) => [bin(dir, 'vite'), '--host', '127.0.0.1', '--port', port, '--strictPort', '--force', '--clearScreen', 'false'],
    page: '/',
    static: 'public',
    clean: ['node_modules/.vite'],
  },
  // The same app with vitrine left out of pre-bundling, as many wasm packages
  // advise: served straight from node_modules/vitrine.
  'vite-exclude': {
    fixture: 'vite',
    cmd: (dir, port) => [bin(dir, 'vite'), '--config', 'vite.exclude.config.js', '--host', '127.0.0.1', '--port', port, '--strictPort', '--force', '--clearScreen', 'false'],
    page: '/',
    static: 'public',
    clean: ['node_modules/.vite'],
  },
  // Next 16: Turbopack is the dev default; it keeps its dev output in .next/dev.
  next: {
    cmd: (dir, port) => [bin(dir, 'next'), 'dev', '-p', port, '-H', '127.0.0.1'],
    page: '/',
    static: 'public',
    clean: ['.next/dev'],
  },
  // Next 16 with its webpack dev pipeline (`next dev --webpack`), which many apps still use.
  'next-webpack': {
    fixture: 'next',
    cmd: (dir, port) => [bin(dir, 'next'), 'dev', '--webpack', '-p', port, '-H', '127.0.0.1'],
    page: '/',
    static: 'public',
    clean: ['.next/dev'],
  },
  webpack: {
    cmd: (dir, port) => [bin(dir, 'webpack'), 'serve', '--mode', 'development', '--host', '127.0.0.1', '--port', port],
    page: '/index.html',
    static: 'public',
  },
  rspack: {
    cmd: (dir, port) => [bin(dir, 'rspack'), 'serve', '--host', '127.0.0.1', '--port', port],
    page: '/index.html',
    static: 'public',
  },
  // esbuild's serve mode: the production flags (the fixture imports the wasm
  // and worker files) with the outputs served from memory next to public/.
  esbuild: {
    cmd: (dir, port) => [
      bin(dir, 'esbuild'), 'src/main.js', '--bundle', '--format=esm', '--loader:.wasm=file', '--loader:.worker.js=file',
      '--public-path=/', '--outdir=public', '--servedir=public', `--serve=127.0.0.1:${port}`, '--log-level=warning',
    ],
    page: '/index.html',
    static: 'public',
  },
  // `ng serve` (the application builder's Vite-based dev server, which
  // pre-bundles node_modules); angular.json's assets are served as in production.
  angular: {
    cmd: (dir, port) => [bin(dir, 'ng'), 'serve', '--host', '127.0.0.1', '--port', port],
    page: '/',
    static: 'public',
    clean: ['.angular/cache'],
    route: '/products/42',
  },
  rsbuild: {
    cmd: (dir, port) => [bin(dir, 'rsbuild'), 'dev', '--host', '127.0.0.1', '--port', port],
    page: '/',
    static: 'public',
  },
  // Parcel's server serves its dist dir as well as the bundles; --no-cache so
  // that it bundles the freshly unpacked tarball.
  parcel: {
    cmd: (dir, port) => [bin(dir, 'parcel'), 'serve', 'index.html', '--host', '127.0.0.1', '--port', port, '--no-cache'],
    page: '/',
    static: 'dist',
    clean: ['dist'],
  },
};

const wanted = (process.env.VITRINE_DEV_SERVERS ?? '').split(',').filter(Boolean);
const servers = wanted.length === 0 || wanted.includes('all') ? Object.keys(DEV) : wanted.filter((s) => s !== 'none');
for (const s of servers) if (!DEV[s]) throw new Error(`VITRINE_DEV_SERVERS names ${s}, not one of ${Object.keys(DEV).join(', ')} (or all, none)`);
const fixtureOf = (/** @type {string} */ s) => DEV[s].fixture ?? s;
const FIXTURES = servers.filter((s) => selected([fixtureOf(s)]).length > 0);

/** Process groups still running, killed on any exit of this runner. @type {Set<number>} */
const groups = new Set();
process.on('exit', () => {
  for (const pid of groups) killGroup(pid, 'SIGKILL');
});

/** @param {number} pid @param {NodeJS.Signals} sig */
function killGroup(pid, sig) {
  try {
    process.kill(-pid, sig);
  } catch {
    // already gone
  }
}

/**
 * Start a dev server in its own process group and wait until the page
 * answers 200 (the first request is also the one that makes Next and Vite
 * compile). @param {string} name @param {string} dir
 */
async function startDev(name, dir) {
  const port = String(await freePort());
  const [cmd, ...args] = DEV[name].cmd(dir, port);
  // stdin stays open: esbuild's serve mode (like a watcher) stops at end of input.
  const child = spawn(cmd, args, { cwd: dir, env: { ...env, BROWSER: 'none', NO_COLOR: '1', FORCE_COLOR: '0' }, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  groups.add(/** @type {number} */ (child.pid));
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const exited = new Promise((r) => child.once('exit', r));
  const close = async () => {
    killGroup(/** @type {number} */ (child.pid), 'SIGTERM');
    const done = await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 5000).unref())]);
    // The leader may be gone while its children (Parcel workers, Next's
    // server process) still hold the port: always finish the group off.
    killGroup(/** @type {number} */ (child.pid), 'SIGKILL');
    if (!done) await exited;
    groups.delete(/** @type {number} */ (child.pid));
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 180_000;
  let last = '';
  for (;;) {
    // freePort() closes its probe before the server binds: on a shared
    // machine another process can take the port in between. Some servers
    // then exit, others (next dev) move to another port the test does not know.
    const portTaken = /EADDRINUSE|address already in use|port \d+ is (already )?in use/i.test(log);
    if (portTaken || child.exitCode !== null || child.signalCode !== null) {
      await close(); // the leader may be gone; its children may not be
      const e = new Error(`${name} dev server ${portTaken ? 'found its port taken' : `exited (${child.exitCode ?? child.signalCode})`}:\n${log}`);
      /** @type {any} */ (e).portTaken = portTaken;
      throw e;
    }
    // Parcel keeps running, without listening, after a failed build: no point waiting.
    if (/Build failed/.test(log)) {
      await close();
      throw new Error(`${name} dev server: the build failed:\n${log}`);
    }
    if (Date.now() > deadline) {
      await close();
      throw new Error(`${name} dev server did not serve ${DEV[name].page} within 180 s (last: ${last}):\n${log}`);
    }
    try {
      const r = await fetch(url + DEV[name].page, { signal: AbortSignal.timeout(120_000) });
      last = String(r.status);
      if (r.ok) break;
    } catch (e) {
      last = String(e?.cause?.code ?? e);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, close, log: () => log };
}

const secs = (/** @type {number} */ ms) => (ms / 1000).toFixed(1);

/**
 * Start the dev server, drive the page, stop the server (its whole process
 * group, whatever happened). @param {import('node:test').TestContext} t
 * @param {string} name @param {string} dir
 */
async function check(t, name, dir) {
  const t0 = Date.now();
  let srv;
  for (let tries = 1; !srv; tries++) {
    try {
      srv = await startDev(name, dir);
    } catch (e) {
      if (!(/** @type {any} */ (e).portTaken) || tries >= 3) throw e;
      t.diagnostic(`${name} dev: the free port was taken before the server bound it; another port`);
    }
  }
  const tReady = Date.now();
  try {
    const got = await inChromium(srv.url, DEV[name].page, '/m/', { readyTimeout: 120_000, route: DEV[name].route });
    const { res } = got;
    // The browser's own favicon request is not the app's (no fixture has an icon but Next's).
    const errors = got.errors.filter((e) => !e.includes('/favicon.ico'));
    // ERR_ABORTED is the package cancelling a body it does not need (lib/cache.js
    // revalidates the cached model with a GET and drops the body), not a failure.
    const failed = got.failed.filter((e) => !e.endsWith('/favicon.ico') && !e.endsWith('net::ERR_ABORTED'));
    t.diagnostic(`${name} dev: wasm and worker URLs: ${[...new Set(got.assets.map((a) => a.replace(srv.url, '')))].join(' ')}`);
    assertSameAsNode(res.page, `${name} dev page`);
    assertSameAsNode(res.worker, `${name} dev worker`);
    assertSameAsNode(res.ownWorker, `${name} dev caller-constructed worker`);
    assert.deepEqual(errors, [], `${name} dev: console errors`);
    assert.deepEqual(failed, [], `${name} dev: failed requests`);
    t.diagnostic(`${name} dev: ${secs(tReady - t0)} s to serve the page, ${secs(Date.now() - tReady)} s to the answers in Chromium`);
  } catch (e) {
    throw new Error(`${e.message}\n--- ${name} dev server log ---\n${srv.log()}`, { cause: e });
  } finally {
    const tClose = Date.now();
    await srv.close();
    t.diagnostic(`${name} dev: ${secs(Date.now() - tClose)} s to stop`);
  }
}

let tarball;
test.before(() => {
  if (FIXTURES.length > 0) tarball = packTarball();
});

for (const name of FIXTURES) {
  test(`dev server: ${name}`, { timeout: 600_000 }, async (t) => {
    const dir = join(HERE, fixtureOf(name));
    install(dir, tarball);
    for (const c of DEV[name].clean ?? []) rmSync(join(dir, c), { recursive: true, force: true });
    const models = join(dir, DEV[name].static, 'm');
    mkdirSync(models, { recursive: true });
    copyFileSync(withIntent, join(models, modelName));
    try {
      await check(t, name, dir);
    } finally {
      rmSync(models, { recursive: true, force: true });
    }
  });
}
