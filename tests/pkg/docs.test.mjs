// Docs that run: every ```js block in README.md, pkg/README.md and docs/*.md
// is executed as an ES module in Chromium against the package in pkg/ and a
// real small bundle from `vitrine synth` (400 items `item-0`…, categories
// shoes/jackets/…, a Gram matrix and an intent model), served as
// /models/shop.vtr. A block may opt out only with a comment on the line
// before its fence: `<!-- not runnable: why -->`.
//
// What a block may take as given (documented names, defined before it runs):
// `model` (a loaded Vitrine), `userVector` (a Float32Array of model.dim),
// `cartIds`, `serverIds`, `idsFromYourSearchPage` (item ids), `bar` (a
// progress element) and `onProgress`. Anything else a block must define.

import test from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, synthWithIntent } from '../node/helpers.mjs';
import { startServer } from '../../scripts/serve.mjs';
import { launch, newPage } from '../browser/chromium.mjs';

const DOCS = ['README.md', join('pkg', 'README.md'), ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => join('docs', f))];

/**
 * The ```js blocks of a markdown file, with the marker that opts one out.
 * @param {string} file
 * @returns {{file: string, line: number, code: string, skip: string | null}[]}
 */
export function jsBlocks(file) {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(js|javascript|mjs)\s*$/.exec(lines[i]);
    if (!open) continue;
    const indent = open[1].length;
    let j = i + 1;
    const body = [];
    while (j < lines.length && !/^\s*```\s*$/.test(lines[j])) body.push(lines[j++].slice(indent));
    let k = i - 1;
    while (k >= 0 && lines[k].trim() === '') k--;
    const m = k >= 0 ? /<!--\s*not runnable:\s*(.+?)\s*-->/.exec(lines[k]) : null;
    out.push({ file, line: i + 1, code: body.join('\n'), skip: m ? m[1] : null });
    i = j;
  }
  return out;
}

const blocks = DOCS.flatMap(jsBlocks);

test('every js block is runnable or says why not', () => {
  assert.ok(blocks.length >= 6, `found ${blocks.length} blocks`);
  for (const b of blocks) {
    if (b.skip !== null) assert.ok(b.skip.length >= 10, `${b.file}:${b.line}: the "not runnable" marker must say why`);
  }
});

test('documented js blocks run in Chromium', { timeout: 300_000 }, async (t) => {
  const { withIntent } = synthWithIntent({ items: 400, dim: 16, dtype: 'int8', seed: 11 });
  const work = mkdtempSync(join(tmpdir(), 'vitrine-docs-'));
  const models = join(work, 'models');
  const run = join(work, 'run');
  mkdirSync(models);
  mkdirSync(run);
  for (const name of ['shop.vtr', 'demo.vtr']) copyFileSync(withIntent, join(models, name));
  const runnable = blocks.filter((b) => b.skip === null);
  runnable.forEach((b, i) => writeFileSync(join(run, `block-${i}.mjs`), `// ${b.file}:${b.line}\n${b.code}\n`));
  const importMap = {
    imports: {
      vitrine: '/pkg/vitrine.js',
      'vitrine/shopper': '/pkg/shopper.js',
      'vitrine/placements': '/pkg/placements.js',
      'vitrine/worker': '/pkg/vitrine.worker.js',
      './vitrine.js': '/pkg/vitrine.js',
      './shopper.js': '/pkg/shopper.js',
    },
  };
  writeFileSync(
    join(run, 'index.html'),
    `<!doctype html><meta charset="utf-8"><script type="importmap">${JSON.stringify(importMap)}</script>
<script type="module">
import { load } from 'vitrine';
globalThis.loadDocsModel = () => load('/models/shop.vtr');
const model = await globalThis.loadDocsModel();
const ids = (k) => [...model.popular({ k })].map((x) => x.id);
Object.assign(globalThis, {
  model,
  userVector: Float32Array.from({ length: model.dim }, (_, i) => Math.sin(i + 1)),
  cartIds: ids(2),
  serverIds: ids(30),
  idsFromYourSearchPage: ids(30),
  bar: document.createElement('progress'),
  onProgress: () => {},
});
globalThis.docsReady = true;
</script>`,
  );
  const srv = await startServer({ models, mounts: { '/docs-run/': run }, quiet: true });
  const browser = await launch();
  t.after(async () => {
    await browser.close();
    await srv.close();
    rmSync(work, { recursive: true, force: true });
  });
  const { page } = await newPage(browser.context, `${srv.url}/docs-run/index.html`);
  // A cold wasm compile and model load: seconds on a loaded 2-core machine.
  await page.waitForFunction(() => globalThis.docsReady === true, null, { timeout: 60_000 });
  const failures = [];
  for (let i = 0; i < runnable.length; i++) {
    const err = await page.evaluate(async (src) => {
      try {
        // A fresh model per block: a block may dispose the one it was given.
        globalThis.model = await globalThis.loadDocsModel();
        await import(src);
        return null;
      } catch (e) {
        return `${e && e.name}: ${e && e.message}${e && e.code ? ` (code ${e.code})` : ''}`;
      }
    }, `/docs-run/block-${i}.mjs`);
    if (err) failures.push(`${runnable[i].file}:${runnable[i].line}: ${err}`);
  }
  t.diagnostic(`${runnable.length} blocks ran, ${blocks.length - runnable.length} marked not runnable`);
  assert.deepEqual(failures, []);
});
