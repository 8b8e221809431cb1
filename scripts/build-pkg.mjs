// Package build steps that need more than a copy (scripts/web.mk, pkg-web):
//
// 1. pkg/wasm/integrity.json: the SRI hash (sha384) of every wasm build, for
//    the `wasmIntegrity` load option.
// 2. pkg/vitrine.worker.js: the worker entry (www/vitrine.worker.js) and
// everything it imports, the wasm-bindgen glue of every build included, as
// one classic-or-module script with no imports and no
// `new URL(…, import.meta.url)`. Bundlers copy or re-bundle it without losing
// a piece, and it never asks for a file relative to where it ended up: the
// page sends it absolute wasm URLs.

import { build } from 'esbuild';
import { readFile, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const wasmDir = join(root, 'pkg', 'wasm');

/** `new URL('…', import.meta.url)` → a thrower: the worker always gets URLs from the page. */
const stripImportMetaUrls = {
  name: 'strip-import-meta-urls',
  setup(b) {
    b.onResolve({ filter: /\/wasm\/(relaxed|simd|scalar|intent)\/vitrine_(core|intent)\.js$/ }, (args) => ({
      path: join(wasmDir, args.path.replace(/^.*\/wasm\//, '')),
    }));
    b.onLoad({ filter: /\.js$/ }, async (args) => {
      const src = await readFile(args.path, 'utf8');
      const out = src.replace(/new URL\(\s*(['"][^'"]+['"])\s*,\s*import\.meta\.url\s*\)/g, (_m, lit) => `__vitrineNoUrl(${lit})`);
      return { contents: out, loader: 'js' };
    });
  },
};

await build({
  entryPoints: [join(root, 'www', 'vitrine.worker.js')],
  outfile: join(root, 'pkg', 'vitrine.worker.js'),
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: 'es2020',
  minify: true,
  legalComments: 'none',
  banner: {
    js:
      '// vitrine worker: self-contained build of www/vitrine.worker.js (scripts/build-pkg.mjs).\n' +
      'function __vitrineNoUrl(p){throw new Error("vitrine.worker.js resolves no relative URL ("+p+"); the page passes absolute wasm URLs")}',
  },
  plugins: [stripImportMetaUrls],
  logLevel: 'warning',
});

/** @type {Record<string, string>} */
const integrity = {};
for (const [build, file] of [
  ['relaxed', 'relaxed/vitrine_core_bg.wasm'],
  ['simd', 'simd/vitrine_core_bg.wasm'],
  ['scalar', 'scalar/vitrine_core_bg.wasm'],
  ['intent', 'intent/vitrine_intent_bg.wasm'],
  // The lean engine builds, for a page that serves them through `wasmUrl`
  // (give their hash under the build's own key in `wasmIntegrity`).
  ['relaxed-lean', 'relaxed-lean/vitrine_core_bg.wasm'],
  ['simd-lean', 'simd-lean/vitrine_core_bg.wasm'],
  ['scalar-lean', 'scalar-lean/vitrine_core_bg.wasm'],
]) {
  integrity[build] = 'sha384-' + createHash('sha384').update(await readFile(join(wasmDir, file))).digest('base64');
}
await writeFile(join(wasmDir, 'integrity.json'), JSON.stringify(integrity, null, 2) + '\n');
