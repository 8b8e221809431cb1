// Worker mode and loading under hostile or misconfigured conditions, in real
// Chromium: the package's self-contained worker, a caller-constructed
// Worker, a worker URL that 404s or serves HTML, a wasm URL that serves HTML,
// Content-Security-Policies that forbid workers or WebAssembly, Trusted
// Types, a worker that dies, and integrity checks. Each must end in a
// VitrineError whose code and details say what to change.

import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { createHash } from 'node:crypto';
import { load } from '../../pkg/node.js';
import { startServer } from '../../scripts/serve.mjs';
import { synth, rng, gaussianVector } from '../node/helpers.mjs';
import { launch, newPage } from './chromium.mjs';

const bundle = synth({ items: 2000, dim: 16, dtype: 'int8', seed: 21, categories: 4 });
const bytes = readFileSync(bundle);
const sri = `sha384-${createHash('sha384').update(bytes).digest('base64')}`;
const u = Array.from(gaussianVector(rng(9), 16));
const x = mkdtempSync(join(tmpdir(), 'vitrine-worker-test-'));
const csp = (policy) => `<!doctype html><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${policy}"><title>csp</title>`;
writeFileSync(join(x, 'index.html'), '<!doctype html><title>app shell</title><p>fallback page</p>');
writeFileSync(join(x, 'no-workers.html'), csp("script-src 'self' 'wasm-unsafe-eval'; worker-src 'none'"));
writeFileSync(join(x, 'no-wasm.html'), csp("script-src 'self'"));
writeFileSync(join(x, 'tt.html'), csp("require-trusted-types-for 'script'; trusted-types vitrine-test"));
// A worker that dies (an uncaught exception) on its first 'similar' request:
// the interceptor is imported first, so its listener runs before the real one.
writeFileSync(
  join(x, 'crash-on-similar.js'),
  `self.addEventListener('message', (e) => {
  if (e.data && e.data.op === 'similar') {
    e.stopImmediatePropagation();
    throw new Error('simulated crash');
  }
});
`,
);
writeFileSync(join(x, 'dying.worker.js'), "import './crash-on-similar.js';\nimport '/pkg/vitrine.worker.js';\n");

let srv;
let browser;
test.before(async () => {
  srv = await startServer({ mounts: { '/t/': dirname(bundle), '/x/': x, '/tests/': import.meta.dirname ?? dirname(new URL(import.meta.url).pathname) }, quiet: true });
  browser = await launch();
});
test.after(async () => {
  await browser?.close();
  await srv?.close();
  rmSync(x, { recursive: true, force: true });
});

const url = `/t/${basename(bundle)}`;

test('the packaged worker, a caller-constructed Worker and the main thread give the same answers', async () => {
  const { page, errors } = await newPage(browser.context, `${srv.url}/tests/blank.html`);
  const res = await page.evaluate(
    async ({ url, u }) => {
      const v = await import('/pkg/vitrine.js');
      const main = await v.load(url);
      const packaged = await v.loadInWorker(url);
      const own = await v.loadInWorker(url, { worker: new Worker('/pkg/vitrine.worker.js', { type: 'module' }) });
      const classic = await v.loadInWorker(url, { worker: new Worker('/pkg/vitrine.worker.js') });
      const ask = async (m) => ({
        rec: [...(await m.recommend(u, { k: 10 }))],
        similar: [...(await m.similar('item-3', { k: 5 }))],
        has: await m.has('item-3'),
        id: await m.itemId(7),
        variant: m.variant,
      });
      const out = { main: await ask(main), packaged: await ask(packaged), own: await ask(own), classic: await ask(classic) };
      out.intent = await packaged.loadIntent().catch((e) => e.code);
      // The shopper's entry points over a worker-hosted model answer as the page model's raw calls.
      const events = [{ type: 'view', item: 'item-3', ts: 1e12 }, { type: 'cart', item: 'item-8', ts: 1e12 + 1000 }];
      const po = { now: 1e12 + 2000, sessionGapMinutes: 30 };
      out.foldIn = Array.from((await packaged.shopperCall('foldIn', events, po)).vector);
      out.foldInMain = Array.from(main.raw.foldIn(events, po).vector);
      out.badShopper = await packaged.shopperCall('free').catch((e) => e.code);
      out.disposedBefore = packaged.disposed;
      await packaged.dispose();
      await packaged.dispose(); // twice is fine
      out.disposedAfter = packaged.disposed;
      await own.dispose();
      await classic.dispose();
      main.dispose();
      return out;
    },
    { url, u },
  );
  assert.deepEqual(errors, []);
  assert.equal(res.main.rec.length, 10);
  assert.deepEqual(res.packaged, res.main);
  assert.deepEqual(res.own, res.main);
  assert.deepEqual(res.classic, res.main, 'the packaged worker also runs as a classic script');
  assert.equal(res.intent, 'NO_INTENT_MODEL');
  assert.equal(res.foldIn.length, 16);
  assert.deepEqual(res.foldIn, res.foldInMain);
  assert.equal(res.badShopper, 'INVALID_ARGUMENT');
  assert.deepEqual([res.disposedBefore, res.disposedAfter], [false, true]);
  const node = await load(bundle);
  try {
    assert.deepEqual(res.main.rec, [...node.recommend(u, { k: 10 })]);
  } finally {
    node.dispose();
  }
});

test('a worker that cannot start: WORKER naming the URL and the cause', async () => {
  const { page } = await newPage(browser.context, `${srv.url}/tests/blank.html`);
  const res = await page.evaluate(async (url) => {
    const v = await import('/pkg/vitrine.js');
    const code = async (p) => p.then(() => 'no error', (e) => ({ ve: e instanceof v.VitrineError, code: e.code, reason: e.details?.reason, status: e.details?.status, message: e.message }));
    return {
      missing: await code(v.loadInWorker(url, { workerUrl: '/x/nope.worker.js' })),
      html: await code(v.loadInWorker(url, { workerUrl: '/x/index.html' })),
      notAWorker: await code(v.loadInWorker(url, { worker: {} })),
      both: await code(v.loadInWorker(url, { worker: new Worker('/pkg/vitrine.worker.js'), workerUrl: '/x/a.js' })),
    };
  }, url);
  assert.deepEqual([res.missing.ve, res.missing.code, res.missing.reason, res.missing.status], [true, 'WORKER', 'http', 404]);
  assert.match(res.missing.message, /\/x\/nope\.worker\.js.*HTTP 404/);
  assert.deepEqual([res.html.code, res.html.reason], ['WORKER', 'html']);
  assert.match(res.html.message, /HTML page/);
  assert.equal(res.notAWorker.code, 'INVALID_ARGUMENT');
  assert.equal(res.both.code, 'INVALID_ARGUMENT');
});

test('a wasm URL that serves HTML: WASM_UNAVAILABLE that names the fix', async () => {
  const { page } = await newPage(browser.context, `${srv.url}/tests/blank.html`);
  const res = await page.evaluate(async (url) => {
    const v = await import('/pkg/vitrine.js');
    const c = async (p) => p.then(() => 'no error', (e) => ({ code: e.code, reason: e.details?.reason, message: e.message }));
    return {
      html: await c(v.load(url, { simd: false, wasmUrl: { scalar: '/x/index.html' } })),
      missing: await c(v.load(url, { simd: false, wasmUrl: { scalar: '/x/nope.wasm' } })),
      worker: await c(v.loadInWorker(url, { simd: false, wasmUrl: { scalar: '/x/index.html' } })),
    };
  }, url);
  assert.deepEqual([res.html.code, res.html.reason], ['WASM_UNAVAILABLE', 'html']);
  assert.match(res.html.message, /HTML page.*wasmUrl/);
  assert.deepEqual([res.missing.code, res.missing.reason], ['WASM_UNAVAILABLE', 'http']);
  assert.deepEqual([res.worker.code, res.worker.reason], ['WASM_UNAVAILABLE', 'html'], 'the same from inside the worker');
});

test('Content-Security-Policy without workers or without wasm-unsafe-eval: typed errors', async () => {
  const { page: p1 } = await newPage(browser.context, `${srv.url}/x/no-workers.html`);
  const noWorkers = await p1.evaluate(async (url) => {
    const v = await import('/pkg/vitrine.js');
    const main = await v.load(url); // wasm is allowed here
    main.dispose();
    return v.loadInWorker(url).then(() => 'no error', (e) => ({ code: e.code, reason: e.details?.reason, message: e.message }));
  }, url);
  assert.equal(noWorkers.code, 'WORKER');
  assert.equal(noWorkers.reason, 'csp', noWorkers.message);
  const { page: p2 } = await newPage(browser.context, `${srv.url}/x/no-wasm.html`);
  const noWasm = await p2.evaluate(async (url) => {
    const v = await import('/pkg/vitrine.js');
    return v.load(url).then(() => 'no error', (e) => ({ code: e.code, reason: e.details?.reason, message: e.message }));
  }, url);
  assert.deepEqual([noWasm.code, noWasm.reason], ['WASM_UNAVAILABLE', 'csp']);
  assert.match(noWasm.message, /wasm-unsafe-eval/);
});

test('Trusted Types: a typed error, and a Worker from a TrustedScriptURL works', async () => {
  const { page } = await newPage(browser.context, `${srv.url}/x/tt.html`);
  const res = await page.evaluate(async (url) => {
    const v = await import('/pkg/vitrine.js');
    const plain = await v.loadInWorker(url).then(() => 'no error', (e) => ({ ve: e instanceof v.VitrineError, code: e.code, reason: e.details?.reason }));
    const policy = trustedTypes.createPolicy('vitrine-test', { createScriptURL: (s) => s });
    const w = await v.loadInWorker(url, { worker: new Worker(policy.createScriptURL('/pkg/vitrine.worker.js'), { type: 'module' }) });
    const n = w.nItems;
    await w.dispose();
    return { plain, n };
  }, url);
  assert.deepEqual(res.plain, { ve: true, code: 'WORKER', reason: 'trusted-types' });
  assert.equal(res.n, 2000);
});

test('a worker that dies: pending and later calls and dispose() reject with WORKER', async () => {
  const { page } = await newPage(browser.context, `${srv.url}/tests/blank.html`);
  const res = await page.evaluate(async (url) => {
    const v = await import('/pkg/vitrine.js');
    const w = await v.loadInWorker(url, { worker: new Worker('/x/dying.worker.js', { type: 'module' }) });
    const c = async (p) => p.then(() => 'no error', (e) => `${e instanceof v.VitrineError}:${e.code}:${e.details?.reason}`);
    const before = (await w.popular({ k: 2 })).length;
    const pending = await c(w.similar('item-1'));
    const out = { before, pending, later: await c(w.popular()), dispose: await c(w.dispose()), again: await c(w.dispose()) };
    // A worker that goes away silently (self.close()) still lets dispose() settle.
    const silent = await v.loadInWorker(url, { worker: new Worker('/pkg/vitrine.worker.js', { type: 'module' }) });
    silent._worker.terminate(); // no error event, no answer ever again
    const t0 = performance.now();
    out.silentDispose = await c(silent.dispose());
    out.silentWaitOk = performance.now() - t0 < 10000;
    return out;
  }, url);
  assert.deepEqual(res, {
    before: 2,
    pending: 'true:WORKER:died',
    later: 'true:WORKER:died',
    dispose: 'true:WORKER:died',
    again: 'no error',
    silentDispose: 'no error',
    silentWaitOk: true,
  });
});

test('integrity: a flipped byte or a wrong wasm hash is INTEGRITY, and the wasm cache does not hide it', async () => {
  const wasmSri = JSON.parse(readFileSync(new URL('../../pkg/wasm/integrity.json', import.meta.url), 'utf8'));
  const flipped = Buffer.from(bytes);
  flipped[flipped.length - 10] ^= 1;
  writeFileSync(join(x, 'flipped.vtr'), flipped);
  const { page } = await newPage(browser.context, `${srv.url}/tests/blank.html`);
  const res = await page.evaluate(
    async ({ url, sri, wasmSri }) => {
      const v = await import('/pkg/vitrine.js');
      const c = async (p) => p.then((m) => (m.dispose(), 'ok'), (e) => `${e.code}`);
      return {
        good: await c(v.load(url, { integrity: sri })),
        flipped: await c(v.load('/x/flipped.vtr', { integrity: sri })),
        request: await c(v.load(new Request('/x/flipped.vtr'), { integrity: sri })),
        wasmGood: await c(v.load(url, { simd: false, wasmIntegrity: { scalar: wasmSri.scalar } })),
        wasmWrong: await c(v.load(url, { simd: false, wasmIntegrity: { scalar: wasmSri.simd } })),
        wasmGoodAgain: await c(v.load(url, { simd: false, wasmIntegrity: { scalar: wasmSri.scalar } })),
        worker: await v.loadInWorker(url, { integrity: sri, simd: false, wasmIntegrity: { scalar: wasmSri.simd } }).then(() => 'ok', (e) => e.code),
      };
    },
    { url, sri, wasmSri },
  );
  assert.deepEqual(res, { good: 'ok', flipped: 'INTEGRITY', request: 'INTEGRITY', wasmGood: 'ok', wasmWrong: 'INTEGRITY', wasmGoodAgain: 'ok', worker: 'INTEGRITY' });
});

test('a lying Content-Length in Chromium: TOO_LARGE up front; with a large maxBytes, wasm memory grows only with received bytes', async () => {
  const { page, errors } = await newPage(browser.context, `${srv.url}/tests/blank.html`);
  const res = await page.evaluate(async (url) => {
    const v = await import('/pkg/vitrine.js');
    const m = await v.load(url, { simd: false }); // the scalar build, instantiated
    const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
    const core = await import('/pkg/wasm/scalar/vitrine_core.js');
    const memory = (await core.default()).memory; // already initialised: the same instance
    const before = memory.buffer.byteLength;
    const lying = () => new Response(bytes.slice(0, 4096), { headers: { 'content-length': '2000000000' } });
    const codes = [];
    codes.push(await v.load(lying(), { simd: false }).then(() => 'ok', (e) => e.code));
    for (let i = 0; i < 10; i++) codes.push(await v.load(lying(), { simd: false, maxBytes: 3e9 }).then(() => 'ok', (e) => e.code));
    const after = memory.buffer.byteLength;
    m.dispose();
    return { codes, grownMiB: (after - before) / 1048576 };
  }, url);
  assert.deepEqual(res.codes, ['TOO_LARGE', ...Array(10).fill('TRUNCATED')]);
  assert.ok(res.grownMiB < 8, `wasm memory grew by ${res.grownMiB} MiB`);
  assert.deepEqual(errors, []);
});
