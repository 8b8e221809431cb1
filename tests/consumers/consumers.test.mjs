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
import { mkdirSync, readdirSync, rmSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer } from '../../scripts/serve.mjs';
import {
  HERE, env, withIntent, modelDir, modelName, u, selected, assertSameAsNode, packTarball, install, run, bin, bunBinary, freePort, inChromium,
} from './harness.mjs';

const ALL = ['node-esm', 'node-cjs', 'esbuild', 'rollup', 'vite', 'webpack', 'next', 'parcel', 'rspack', 'bun'];
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
};

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
