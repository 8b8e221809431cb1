// The npm package in real consumers: one small app per bundler (Vite,
// webpack 5, Rollup, esbuild, Next.js, Parcel 2, Rspack, Bun, Angular CLI,
// Rsbuild) plus Node ESM and CommonJS, each with
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
import { mkdirSync, readdirSync, rmSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer } from '../../scripts/serve.mjs';
import {
  HERE, env, withIntent, modelDir, modelName, u, selected, assertSameAsNode, packTarball, install, run, bin, bunBinary, freePort, inChromium,
} from './harness.mjs';

const ALL = ['node-esm', 'node-cjs', 'esbuild', 'rollup', 'vite', 'webpack', 'next', 'parcel', 'rspack', 'bun', 'angular', 'rsbuild'];
const FIXTURES = selected(ALL);
if (FIXTURES.length === 0) throw new Error(`VITRINE_CONSUMERS=${process.env.VITRINE_CONSUMERS} names no fixture of ${ALL.join(', ')}`);

let tarball;
test.before(() => {
  tarball = packTarball();
});

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
  // No configuration: Rsbuild's defaults (src/index.js, a generated
  // index.html, production build into dist/).
  rsbuild: (dir) => {
    rmSync(join(dir, 'dist'), { recursive: true, force: true });
    run(dir, [bin(dir, 'rsbuild'), 'build', '--log-level', 'warn']);
  },
};

/**
 * `ng build` (the default `application` builder, esbuild) in three build
 * configurations of the one fixture, each into its own dist/<out>/browser:
 * the recipe (angular.json assets + wasmUrl/workerUrl relative to <base
 * href>) deployed under a sub-path and run on a deep route, as a router
 * leaves the address; the recipe without the URL options, which holds only
 * at the origin's root; and the recipe with zone.js.
 * @type {{ out: string, configuration: string, base: string, route?: string }[]}
 */
const ANGULAR = [
  { out: 'app', configuration: 'production', base: '/shop/', route: '/shop/products/42' },
  { out: 'zero-options', configuration: 'production,zero-options', base: '/' },
  { out: 'zone', configuration: 'production,zone', base: '/' },
];

/**
 * `next start` on a free port; resolves once it answers. Waits for the server,
 * not for a time: on a loaded machine `next start` can take well over the
 * half-minute an earlier 300 x 100 ms loop gave it (which then went on as if
 * it were up). The deadline only turns a server that never comes up into an
 * error with its log. @param {string} dir
 */
async function startNext(dir) {
  const port = await freePort();
  const child = spawn(bin(dir, 'next'), ['start', '-p', String(port), '-H', '127.0.0.1'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const exited = new Promise((r) => child.once('exit', r));
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`next start exited: ${log}`);
    try {
      if ((await fetch(url + '/', { signal: AbortSignal.timeout(60_000) })).ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      await close();
      throw new Error(`next start did not serve / within 180 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, close };
}

/**
 * Serve a built site at `base` next to the model and compare its answers
 * with Node's (run on `route` if given). @param {string} site @param {string} label
 * @param {string} [base] @param {string} [route]
 */
async function check(site, label, base = '/', route = undefined) {
  const srv = await startServer({ mounts: { '/m/': modelDir, [base]: site }, quiet: true });
  try {
    const { res, errors, assets } = await inChromium(srv.url, `${base}index.html`, '/m/', { route });
    assertSameAsNode(res.page, `${label} page`);
    assertSameAsNode(res.worker, `${label} worker`);
    if (res.ownWorker) assertSameAsNode(res.ownWorker, `${label} caller-constructed worker`);
    assert.deepEqual(errors, []);
    // Under a sub-path, the server's own /wasm/ (pkg/wasm) must not be what answered.
    const outside = assets.map((a) => new URL(a).pathname).filter((p) => !p.startsWith(base));
    assert.deepEqual(outside, [], `${label}: wasm and worker files from outside ${base}`);
  } finally {
    await srv.close();
  }
}

for (const name of FIXTURES) {
  test(`consumer: ${name}`, { timeout: 600_000 }, async () => {
    const dir = join(HERE, name);
    install(dir, tarball);
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
        if (res.ownWorker) assertSameAsNode(res.ownWorker, 'next caller-constructed worker');
        assert.deepEqual(errors, []);
      } finally {
        await srv.close();
      }
      return;
    }
    if (name === 'angular') {
      rmSync(join(dir, 'dist'), { recursive: true, force: true });
      for (const { out, configuration, base, route } of ANGULAR) {
        run(dir, [bin(dir, 'ng'), 'build', '--configuration', configuration, '--base-href', base]);
        await check(join(dir, 'dist', out, 'browser'), `angular ${out}`, base, route);
      }
      return;
    }
    BUILD[name](dir);
    await check(join(dir, 'dist'), name);
  });
}
