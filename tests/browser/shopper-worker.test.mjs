// The shopper over a worker-hosted model (`createShopper(await
// loadInWorker(url))`) in real Chromium: the same recommend / rerank /
// segment / explain / userVector answers as over the page's model for the
// same events, the history in the page's IndexedDB (the worker only ever sees
// ranking calls), forget, and a worker that dies or is disposed turning into
// WORKER / DISPOSED rejections while the history keeps working.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startServer } from '../../scripts/serve.mjs';
import { CLI, tempDir } from '../node/helpers.mjs';
import { launch, newPage } from './chromium.mjs';

const x = mkdtempSync(join(tmpdir(), 'vitrine-shopper-worker-'));
// A worker that dies (an uncaught exception) on the shopper's first explain
// call: the interceptor is imported first, so its listener runs before the real one.
writeFileSync(
  join(x, 'crash-on-explain.js'),
  `self.addEventListener('message', (e) => {
  const d = e.data;
  if (d && d.op === 'shopper' && Array.isArray(d.args) && d.args[0] === 'explain') {
    e.stopImmediatePropagation();
    throw new Error('simulated crash');
  }
});
`,
);
writeFileSync(join(x, 'dying.worker.js'), "import './crash-on-explain.js';\nimport '/pkg/vitrine.worker.js';\n");

let srv;
let browser;
test.before(async () => {
  const dir = tempDir();
  // neighbours + segments: every reason kind and segment() can show up.
  execFileSync(CLI, ['session', 'synth', '--items', '800', '--dim', '16', '--seed', '5', '--out', join(dir, 'shop.vtr')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  srv = await startServer({ models: dir, mounts: { '/x/': x, '/tests/': import.meta.dirname ?? dirname(new URL(import.meta.url).pathname) }, quiet: true });
  browser = await launch();
});
test.after(async () => {
  await browser?.close();
  await srv?.close();
  rmSync(x, { recursive: true, force: true });
});

const URL_ = '/models/shop.vtr';

test('a shopper over loadInWorker answers as over load; history in the page, forget works', async () => {
  const { page, errors } = await newPage(browser.context, `${srv.url}/tests/blank.html`);
  const res = await page.evaluate(async (url) => {
    const v = await import('/pkg/vitrine.js');
    const { createShopper } = await import('/pkg/shopper.js');
    const main = await v.load(url);
    // A Worker we built, so that every message the page sends it can be seen.
    const w = new Worker('/pkg/vitrine.worker.js', { type: 'module' });
    const sent = [];
    const post = w.postMessage.bind(w);
    w.postMessage = (m, t) => {
      sent.push(m.op === 'shopper' ? `shopper:${m.args[0]}` : m.op);
      return post(m, t);
    };
    const remote = await v.loadInWorker(url, { worker: w });
    const t0 = 1.7e12;
    const now = () => t0 + 3_600_000;
    const inPage = createShopper(main, { storage: 'none', now });
    const inWorker = createShopper(remote, { storage: 'indexeddb', key: 'worker-test', now });
    await Promise.all([inPage.ready, inWorker.ready]);
    const ids = Array.from({ length: 40 }, (_, i) => main.itemId(i * 7));
    const plain = (r) => JSON.parse(JSON.stringify(r));
    const ask = async (s) => ({
      rec: plain(await s.recommend({ k: 12 })),
      recViewed: plain(await s.recommend({ k: 12, excludeViewed: true, excludeCart: false })),
      rerank: plain(await s.rerank(ids, { mmrLambda: 0.7 })),
      segment: await s.tasteSegment(),
      explain: plain(await s.explain(ids[5])),
      u: Array.from(await s.userVector()),
    });
    const out = { flags: [inPage.async, inWorker.async] };
    out.promises = [inWorker.recommend() instanceof Promise, inWorker.tasteSegment() instanceof Promise, inPage.recommend() instanceof Promise];
    out.coldPage = await ask(inPage);
    out.coldWorker = await ask(inWorker);
    const evs = [
      { type: 'view', item: ids[3], ts: t0 },
      { type: 'view', item: ids[7], ts: t0 + 60_000 },
      { type: 'cart', item: ids[9], ts: t0 + 120_000 },
      { type: 'purchase', item: ids[11], ts: t0 + 180_000 },
    ];
    sent.length = 0;
    for (const e of evs) {
      await inPage.track(e);
      await inWorker.track(e);
    }
    out.sentWhileTracking = sent.slice();
    out.page = await ask(inPage);
    out.worker = await ask(inWorker);
    out.sentWhileRanking = [...new Set(sent)].sort();
    // The record in the page's IndexedDB, read directly.
    const readDb = () =>
      new Promise((resolve, reject) => {
        const req = indexedDB.open('vitrine.shopper/worker-test');
        req.onsuccess = () => {
          const db = req.result;
          if (!db.objectStoreNames.contains('history')) {
            db.close();
            resolve(null);
            return;
          }
          const get = db.transaction('history').objectStore('history').get('record');
          get.onsuccess = () => {
            db.close();
            resolve(get.result ?? null);
          };
          get.onerror = () => reject(get.error);
        };
        req.onerror = () => reject(req.error);
      });
    const rec = await readDb();
    out.stored = rec && rec.events.map((e) => `${e.type}:${e.item}`);
    // A second shopper (another page load) on the same key reads it back.
    const again = createShopper(remote, { storage: 'indexeddb', key: 'worker-test', now });
    await again.ready;
    out.againHistory = again.history().length;
    out.againRec = plain(await again.recommend({ k: 12 }));
    again.close();
    sent.length = 0;
    await inWorker.forget();
    out.sentWhileForgetting = sent.slice();
    out.afterForget = inWorker.history().length;
    out.dbs = (await indexedDB.databases()).map((d) => d.name);
    out.forgotRec = plain(await inWorker.recommend({ k: 12 }));
    inWorker.close();
    inPage.close();
    await remote.dispose();
    main.dispose();
    return out;
  }, URL_);
  assert.deepEqual(errors, []);
  assert.deepEqual(res.flags, [false, true]);
  assert.deepEqual(res.promises, [true, true, false], 'worker mode returns Promises, page mode results');
  assert.ok(res.coldPage.rec.items.length > 0, "cold start recommends (the bundle's popular list)");
  assert.deepEqual(res.coldWorker, res.coldPage, 'cold start: same answers');
  assert.deepEqual(res.sentWhileTracking, [], 'tracking never talks to the worker');
  assert.equal(res.page.rec.items.length, 12);
  assert.equal(res.page.rec.coldStart, false);
  assert.ok(res.page.segment && typeof res.page.segment.index === 'number', JSON.stringify(res.page.segment));
  assert.ok(res.page.explain.contributions.length > 0);
  assert.deepEqual(res.worker.rec, res.page.rec, 'recommend');
  assert.deepEqual(res.worker.recViewed, res.page.recViewed, 'recommend with per-call exclusions');
  assert.deepEqual(res.worker.rerank, res.page.rerank, 'rerank');
  assert.deepEqual(res.worker.segment, res.page.segment, 'segment');
  assert.deepEqual(res.worker.explain, res.page.explain, 'explain');
  assert.deepEqual(res.worker.u, res.page.u, 'userVector');
  assert.notDeepEqual(res.worker.rec, res.coldWorker.rec, 'the history changed the ranking');
  // Default exclusions hold in worker mode: nothing from the cart or the purchases comes back.
  const ids = res.worker.rec.items.map((i) => i.id);
  assert.ok(!ids.includes(res.stored[2].split(':')[1]) && !ids.includes(res.stored[3].split(':')[1]), ids.join(','));
  assert.deepEqual(res.sentWhileRanking, ['shopper:explain', 'shopper:foldIn', 'shopper:recommendFor', 'shopper:rerank', 'shopper:segment']);
  assert.equal(res.stored.length, 4, 'the history is in the page\'s IndexedDB');
  assert.deepEqual(res.stored.map((s) => s.split(':')[0]), ['view', 'view', 'cart', 'purchase']);
  assert.equal(res.againHistory, 4);
  assert.deepEqual(res.againRec, res.worker.rec, 'a new shopper on the same key ranks the same');
  assert.deepEqual(res.sentWhileForgetting, [], 'forget never talks to the worker');
  assert.equal(res.afterForget, 0);
  assert.ok(!res.dbs.includes('vitrine.shopper/worker-test'), `database deleted: ${res.dbs.join(',')}`);
  assert.deepEqual(res.forgotRec, res.coldWorker.rec, 'after forget: cold start again');
});

test('a worker shopper whose worker died or was disposed rejects with WORKER / DISPOSED; history goes on', async () => {
  const { page } = await newPage(browser.context, `${srv.url}/tests/blank.html`);
  const res = await page.evaluate(async (url) => {
    const v = await import('/pkg/vitrine.js');
    const { createShopper } = await import('/pkg/shopper.js');
    const outcome = (f) => {
      let p;
      try {
        p = f();
      } catch (e) {
        return Promise.resolve({ thrown: true, code: e.code });
      }
      return Promise.resolve(p).then(
        () => 'no error',
        (e) => ({ ve: e instanceof v.VitrineError, code: e.code, reason: e.details?.reason }),
      );
    };
    const remote = await v.loadInWorker(url, { workerUrl: '/x/dying.worker.js' });
    const s = createShopper(remote, { storage: 'none' });
    await s.track({ type: 'view', item: 'item-3' });
    const out = {};
    out.before = (await s.recommend({ k: 3 })).items.length;
    // Bad arguments are rejections too in worker mode (one error path).
    out.badIds = await outcome(() => s.rerank('item-1'));
    out.badOpts = await outcome(() => s.recommend({ events: [] }));
    out.badId = await outcome(() => s.explain(7));
    out.explain = await outcome(() => s.explain('item-3')); // the worker dies here
    out.recommend = await outcome(() => s.recommend({ k: 3 }));
    out.rerank = await outcome(() => s.rerank(['item-1']));
    out.segment = await outcome(() => s.segment());
    out.userVector = await outcome(() => s.userVector());
    await s.track({ type: 'cart', item: 'item-4' });
    out.history = s.history().length;
    await s.forget();
    out.forgotten = s.history().length;
    const healthy = await v.loadInWorker(url);
    const t = createShopper(healthy, { storage: 'none' });
    await healthy.dispose();
    out.disposed = await outcome(() => t.recommend());
    out.createDisposed = await outcome(() => createShopper(healthy));
    return out;
  }, URL_);
  assert.equal(res.before, 3);
  assert.deepEqual(res.badIds, { ve: true, code: 'INVALID_ARGUMENT', reason: undefined });
  assert.deepEqual(res.badOpts, { ve: true, code: 'INVALID_ARGUMENT', reason: undefined });
  assert.deepEqual(res.badId, { ve: true, code: 'INVALID_ARGUMENT', reason: undefined });
  for (const k of ['explain', 'recommend', 'rerank', 'segment', 'userVector']) {
    assert.deepEqual(res[k], { ve: true, code: 'WORKER', reason: 'died' }, k);
  }
  assert.equal(res.history, 2, 'tracking goes on in the page after the worker died');
  assert.equal(res.forgotten, 0);
  assert.deepEqual(res.disposed, { ve: true, code: 'DISPOSED', reason: undefined });
  assert.deepEqual(res.createDisposed, { thrown: true, code: 'DISPOSED' });
});
