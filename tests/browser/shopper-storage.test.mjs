// The shopper's storage in headless Chromium, two pages of one browser
// context (= two tabs of one site): no lost events when both write, a forget
// in one tab is not undone by the other, forget() deletes the database,
// versionchange never blocks, foreign and old databases are handled.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../../scripts/serve.mjs';
import { build } from 'esbuild';
import { CLI, ROOT, tempDir } from '../node/helpers.mjs';
import { launch, newPage } from './chromium.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
let srv;
let browser;

test.before(async () => {
  const dir = tempDir();
  execFileSync(CLI, ['session', 'synth', '--items', '800', '--dim', '16', '--seed', '5', '--out', join(dir, 'demo.vtr')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  srv = await startServer({ models: dir, mounts: { '/tests/': HERE }, quiet: true });
  browser = await launch();
});

test.after(async () => {
  await browser?.close();
  await srv?.close();
});

/** A page of the site with the shopper module, a model and helpers on `window`. */
async function tab(query = '') {
  const { page, errors } = await newPage(browser.context, `${srv.url}/tests/blank.html${query}`);
  await prepare(page);
  return { page, errors };
}

/** The helpers of `tab()` on `page` (again after a reload). */
async function prepare(page) {
  await page.evaluate(async () => {
    const { load } = await import('/vitrine.js');
    const sh = await import('/shopper.js');
    const model = await load('/models/demo.vtr');
    const w = /** @type {any} */ (window);
    w.sh = sh;
    w.warnings = [];
    w.mk = (opts = {}) => sh.createShopper(model, { storage: 'indexeddb', onWarning: (x) => w.warnings.push(x.code), ...opts });
    w.mkDefault = (opts = {}) => sh.createShopper(model, { onWarning: (x) => w.warnings.push(x.code), ...opts });
    const databases = IDBFactory.prototype.databases; // kept for the tests when a test hides it
    w.dbs = async () => (await databases.call(indexedDB)).map((d) => `${d.name}@${d.version}`).sort();
    w.sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  });
}

const dbName = (key) => `vitrine.shopper/${key}`;

/** Tracks `n` events `${prefix}-i` in the page, awaiting every third write so that both tabs interleave. */
const trackMany = (page, key, storage, prefix, n) =>
  page.evaluate(
    async ({ key, storage, prefix, n }) => {
      const w = /** @type {any} */ (window);
      const s = w.mk({ key, storage, cap: 5000 });
      w.shoppers = { ...(w.shoppers ?? {}), [key]: s };
      await s.ready;
      let last;
      for (let i = 0; i < n; i++) {
        last = s.track({ type: 'view', item: `${prefix}-${i}`, ts: 1.7e12 + i });
        if (i % 3 === 0) await last;
      }
      await last;
    },
    { key, storage, prefix, n },
  );

for (const storage of ['indexeddb', 'localStorage']) {
  test(`shopper storage (${storage}): two tabs × 1,000 events → none lost`, async () => {
    const a = await tab();
    const b = await tab();
    const key = `two-tabs-${storage}`;
    await Promise.all([trackMany(a.page, key, storage, 'a', 1000), trackMany(b.page, key, storage, 'b', 1000)]);
    // IndexedDB: exact at once. localStorage: a tab whose copy lagged may have written over the
    // other's events; the other writes them again when it sees that (docs/shopper.md), so wait
    // for them (the deadline only ends a wait that will not succeed; the assertions say what was there).
    const c = await tab();
    const read = () =>
      c.page.evaluate(async ({ key, storage }) => {
        const s = /** @type {any} */ (window).mk({ key, storage, cap: 5000 });
        await s.ready;
        s.close();
        return s.history().map((e) => e.item);
      }, { key, storage });
    let seen = await read();
    const t0 = Date.now();
    if (storage === 'localStorage') {
      while (new Set(seen).size < 2000 && Date.now() - t0 < 60_000) {
        await new Promise((r) => setTimeout(r, 250));
        seen = await read();
      }
    }
    const lost = 2000 - new Set(seen).size;
    console.log(`# ${storage}: two tabs x 1000 events: ${seen.length} stored, ${lost} lost (settled after ${Date.now() - t0} ms)`);
    assert.equal(new Set(seen).size, seen.length, 'no event duplicated');
    assert.equal(lost, 0, 'no event lost');
    // Both tabs converge on the shared history (they heard of each other's writes).
    await a.page.waitForFunction((key) => window.shoppers[key].history().length === 2000, key, { timeout: 60_000 });
    await b.page.waitForFunction((key) => window.shoppers[key].history().length === 2000, key, { timeout: 60_000 });
    for (const t of [a, b, c]) {
      assert.deepEqual(await t.page.evaluate(() => window.warnings), []);
      assert.deepEqual(t.errors, []);
    }
    await a.page.evaluate((key) => window.shoppers[key].forget(), key);
    for (const t of [a, b, c]) await t.page.close();
  });

  test(`shopper storage (${storage}): forget in tab A, then track in tab B → A's old events stay gone`, async () => {
    const a = await tab();
    const b = await tab();
    const key = `forget-${storage}`;
    const lossy = storage === 'localStorage';
    const mk = (page) =>
      page.evaluate(async ({ key, storage }) => {
        const w = /** @type {any} */ (window);
        w.s = w.mk({ key, storage });
        await w.s.ready;
      }, { key, storage });
    const items = (page) => page.evaluate(() => window.s.history().map((e) => e.item));
    await mk(a.page);
    await a.page.evaluate(async () => {
      await window.s.track({ type: 'view', item: 'item-1' });
      await window.s.track({ type: 'cart', item: 'item-2' });
    });
    await mk(b.page);
    assert.deepEqual(await items(b.page), ['item-1', 'item-2'], 'B read A\'s events');
    await b.page.evaluate(() => window.s.track({ type: 'view', item: 'item-3' }));
    await a.page.waitForFunction(() => window.s.history().length === 3);
    await a.page.evaluate(() => window.s.forget());
    // B still held item-1..3 in memory when A forgot; its next track must not write them back.
    await b.page.evaluate(() => window.s.track({ type: 'view', item: 'item-4' }));
    // IndexedDB: exact at once. localStorage: B's copy may lag behind A's removal and write the old
    // record back; B takes out what it knew once it hears of the forget (docs/shopper.md).
    const settle = (page, n) => (lossy ? page.waitForFunction((n) => window.s.history().length === n, n) : null);
    await settle(b.page, 1);
    assert.deepEqual(await items(b.page), ['item-4']);
    await a.page.waitForFunction(() => window.s.history().length === 1);
    assert.deepEqual(await items(a.page), ['item-4']);
    const c = await tab();
    await mk(c.page);
    assert.deepEqual(await items(c.page), ['item-4'], 'a new tab reads only what came after the forget');

    // Concurrent: A forgets while B tracks, with no wait in between: nothing from before comes back.
    await a.page.evaluate(() => window.s.track({ type: 'view', item: 'item-5' }));
    await b.page.waitForFunction(() => window.s.history().length === 2);
    await Promise.all([a.page.evaluate(() => window.s.forget()), b.page.evaluate(() => window.s.track({ type: 'view', item: 'item-6' }))]);
    await c.page.evaluate((ms) => window.sleep(ms), lossy ? 1000 : 200);
    const d = await tab();
    await mk(d.page);
    const left = await items(d.page);
    assert.ok(!left.some((x) => ['item-1', 'item-2', 'item-3', 'item-4', 'item-5'].includes(x)), `old events came back: ${left}`);
    for (const t of [a, b, c, d]) {
      assert.deepEqual(await t.page.evaluate(() => window.warnings), []);
      assert.deepEqual(t.errors, []);
    }
    await d.page.evaluate(() => window.s.forget());
    assert.deepEqual(await d.page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('vitrine.shopper'))), [], 'no forget mark or side record left');
    if (storage === 'indexeddb') assert.ok(!(await d.page.evaluate(() => window.dbs())).some((n) => n.startsWith('vitrine')));
    for (const t of [a, b, c, d]) await t.page.close();
  });
}

for (const hide of [false, true]) {
  test(`shopper storage (indexeddb${hide ? ', no indexedDB.databases() as in Firefox < 126' : ''}): forget() before the read forgets, deletes the database, and a read creates none`, async () => {
    const { page, errors } = await tab();
    const r = await page.evaluate(async (hide) => {
      const w = /** @type {any} */ (window);
      if (hide) Object.defineProperty(IDBFactory.prototype, 'databases', { value: undefined, configurable: true });
      const a = w.mk({ key: 'early' });
      await a.track({ type: 'view', item: 'item-1' });
      await a.track({ type: 'view', item: 'item-2' });
      a.close();
      const before = await w.dbs();
      const b = w.mk({ key: 'early' });
      const forgot = b.forget(); // before b has read anything
      const during = b.history().length;
      await forgot;
      await b.ready;
      const after = await w.dbs();
      const c = w.mk({ key: 'early' });
      await c.ready;
      const fresh = c.history().length;
      const afterRead = await w.dbs();
      await b.track({ type: 'view', item: 'item-3' });
      const d = w.mk({ key: 'early' });
      await d.ready;
      return { before, during, after, fresh, afterRead, last: d.history().map((e) => e.item), bHist: b.history().length };
    }, hide);
    assert.deepEqual(r.before, ['vitrine.shopper/early@1']);
    assert.equal(r.during, 0);
    assert.deepEqual(r.after, [], 'no database left after forget (nor an empty "vitrine")');
    assert.equal(r.fresh, 0);
    assert.deepEqual(r.afterRead, [], 'reading an absent history creates no database');
    assert.deepEqual(r.last, ['item-3'], 'the old events were not written back');
    assert.equal(r.bHist, 1);
    assert.deepEqual(await page.evaluate(() => window.warnings), []);
    assert.deepEqual(errors, []);
    await page.evaluate(() => window.mk({ key: 'early' }).forget());
    await page.close();
  });
}

// The page's end. A click on a product link tracks a view and navigates at
// once; the queued write waits for a Web Lock (localStorage) or an IndexedDB
// transaction, which a leaving page may never get. Here another holder keeps
// the write waiting, deterministically, and the page reloads before it runs.

/** In the page: something else holds the shopper's storage (another tab mid-write) until the page goes. */
const holdStorage = (page, storage, key) =>
  page.evaluate(
    async ({ storage, key }) => {
      if (storage === 'localStorage') {
        // The shopper's lock (www/shopper.js: CHANNEL_PREFIX + key), held until the page is gone.
        await new Promise((held) => navigator.locks.request(`vitrine.shopper/${key}`, () => (held(null), new Promise(() => {}))));
        return;
      }
      // A readwrite transaction on the shopper's store kept alive by a chain of reads.
      const db = await new Promise((resolve, reject) => {
        const req = indexedDB.open(`vitrine.shopper/${key}`);
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
      const store = /** @type {IDBDatabase} */ (db).transaction('history', 'readwrite').objectStore('history');
      const spin = () => {
        store.get('record').onsuccess = spin;
      };
      spin();
    },
    { storage, key },
  );

/** The stored record's items, read around the shopper (localStorage) — null while IndexedDB is held. */
const storedItems = (page, key) => page.evaluate((key) => JSON.parse(localStorage.getItem(key) ?? '{"events":[]}').events.map((e) => e.item), key);

for (const [storage, closed] of [['localStorage', false], ['indexeddb', false], ['indexeddb', true]]) {
  test(`shopper storage (${storage}${closed ? ', tracking after close()' : ''}): an event tracked right before the page goes is kept (the write still waiting for storage)`, async () => {
    const { page, errors } = await tab();
    const key = `leaving-${storage}${closed ? '-closed' : ''}`;
    await page.evaluate(
      async ({ key, storage, closed }) => {
        const w = /** @type {any} */ (window);
        w.s = w.mk({ key, storage });
        await w.s.ready;
        await w.s.track({ type: 'view', item: 'item-1', ts: 1.7e12 });
        // close() lets go of the page's end; the next track() takes it up again.
        if (closed) w.s.close();
      },
      { key, storage, closed },
    );
    await holdStorage(page, storage, key);
    await page.evaluate(() => {
      const w = /** @type {any} */ (window);
      w.s.track({ type: 'cart', item: 'item-2', ts: 1.7e12 + 1 }); // not awaited: the page leaves now
      w.s.track({ type: 'view', item: 'item-3', ts: 1.7e12 + 2 });
    });
    // The condition is real: the write is still waiting.
    if (storage === 'localStorage') assert.deepEqual(await storedItems(page, key), ['item-1']);
    await page.reload();
    await prepare(page);
    const r = await page.evaluate(
      async ({ key, storage }) => {
        const w = /** @type {any} */ (window);
        const s = w.mk({ key, storage });
        await s.ready;
        const history = s.history().map((e) => e.item);
        // A second start merges nothing twice.
        const again = w.mk({ key, storage });
        await again.ready;
        return { history, again: again.history().length, unsaved: localStorage.getItem(`vitrine.shopper.unsaved/${key}`), warnings: w.warnings };
      },
      { key, storage },
    );
    assert.deepEqual(r.history, ['item-1', 'item-2', 'item-3']);
    assert.equal(r.again, 3);
    assert.equal(r.unsaved, null, 'the side record of unsaved events is gone once they are stored');
    if (storage === 'localStorage') assert.deepEqual(await storedItems(page, key), ['item-1', 'item-2', 'item-3']);
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(errors, []);
    await page.evaluate((key) => window.mk({ key }).forget(), key);
    await page.close();
  });
}

test('shopper storage (localStorage): a tab that starts during another tab\'s forget leaves the forget\'s mark to that tab', async () => {
  const a = await tab('?tab=a');
  const b = await tab('?tab=b'); // holds the storage lock (a writer) and watches the storage events
  const c = await tab('?tab=c');
  const key = 'forget-mid';
  const mark = `vitrine.shopper.forgot/${key}`;
  await a.page.evaluate(async (key) => {
    const w = /** @type {any} */ (window);
    w.s = w.mk({ key, storage: 'localStorage' });
    await w.s.track({ type: 'view', item: 'item-0' });
  }, key);
  await b.page.evaluate(({ key, mark }) => {
    const w = /** @type {any} */ (window);
    w.seen = [];
    addEventListener('storage', (e) => {
      const what = e.key === mark ? 'mark' : e.key === key ? 'record' : null;
      if (what) w.seen.push(`${what} ${e.newValue === null ? 'removed' : 'set'} by ${new URL(e.url).searchParams.get('tab')}`);
    });
    navigator.locks.request(`vitrine.shopper/${key}`, () => new Promise((r) => (w.releaseHold = r)));
  }, { key, mark });
  await a.page.evaluate(async () => {
    const w = /** @type {any} */ (window);
    w.s.track({ type: 'view', item: 'item-1' }); // its write waits for b's lock
    await w.sleep(50);
    w.forgot = w.s.forget(); // its second removal waits behind that write
  });
  const held = async () => (await b.page.evaluate(() => navigator.locks.query())).held.map((l) => l.name);
  assert.ok((await held()).includes(`vitrine.shopper.forgetting/${key}`), 'a running forget holds its lock');
  // C starts now: it finds the mark and finishes the forget from it, but the mark stays A's to remove.
  await c.page.evaluate(async (key) => {
    const w = /** @type {any} */ (window);
    w.s = w.mk({ key, storage: 'localStorage' });
    await w.sleep(100);
  }, key);
  await b.page.evaluate(() => window.releaseHold());
  await c.page.evaluate(() => window.s.ready);
  await a.page.evaluate(() => window.forgot);
  await b.page.waitForFunction(() => window.seen.some((x) => x.startsWith('mark removed')));
  const seen = await b.page.evaluate(() => window.seen);
  assert.deepEqual(seen.filter((x) => x.startsWith('mark')), ['mark set by a', 'mark removed by a'], `storage events: ${seen}`);
  assert.equal(seen.at(-1), 'mark removed by a', `the mark outlived every removal of the record (storage events: ${seen})`);
  assert.ok(!(await held()).includes(`vitrine.shopper.forgetting/${key}`), 'the lock is let go once the forget is done');
  assert.deepEqual(await c.page.evaluate(() => window.s.history()), []);
  assert.deepEqual(await c.page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('vitrine.shopper') || k === 'forget-mid')), []);
  for (const t of [a, b, c]) {
    assert.deepEqual(await t.page.evaluate(() => window.warnings), []);
    assert.deepEqual(t.errors, []);
    await t.page.close();
  }
});

test('shopper storage (indexeddb): a forget() whose deletion had not run when the page went still forgets', async () => {
  const { page, errors } = await tab();
  const key = 'leaving-forget';
  await page.evaluate(async (key) => {
    const w = /** @type {any} */ (window);
    w.s = w.mk({ key });
    await w.s.ready;
    await w.s.track({ type: 'view', item: 'item-1' });
    await w.s.track({ type: 'cart', item: 'item-2' });
  }, key);
  await holdStorage(page, 'indexeddb', key);
  const during = await page.evaluate(() => {
    const w = /** @type {any} */ (window);
    w.s.forget(); // its deletion waits behind the held transaction
    return w.s.history().length;
  });
  assert.equal(during, 0);
  await page.reload();
  await prepare(page);
  const r = await page.evaluate(async (key) => {
    const w = /** @type {any} */ (window);
    const s = w.mk({ key });
    await s.ready;
    const history = s.history().length;
    // The old page's connections close as it goes; the deletion completes then.
    let dbs = await w.dbs();
    for (let i = 0; i < 100 && dbs.includes(`vitrine.shopper/${key}@1`); i++) {
      await w.sleep(50);
      dbs = await w.dbs();
    }
    await s.track({ type: 'view', item: 'item-3' });
    const next = w.mk({ key });
    await next.ready;
    return { history, dbs, mark: localStorage.getItem(`vitrine.shopper.forgot/${key}`), after: next.history().map((e) => e.item), warnings: w.warnings };
  }, key);
  assert.equal(r.history, 0, 'the forgotten events did not come back');
  assert.ok(!r.dbs.includes(`vitrine.shopper/${key}@1`), `the database is deleted: ${r.dbs}`);
  assert.equal(r.mark, null, 'the forget mark is removed once done');
  assert.deepEqual(r.after, ['item-3'], 'what is tracked after the forget is kept');
  assert.deepEqual(r.warnings, []);
  assert.deepEqual(errors, []);
  await page.evaluate((key) => window.mk({ key }).forget(), key);
  await page.close();
});

for (const badMark of ['not a time', '']) {
  test(`shopper storage (indexeddb): corrupted side records → CORRUPT_RECORD; the stored history is kept, an unreadable forget mark (${JSON.stringify(badMark)}) forgets once`, async () => {
    const { page, errors } = await tab();
    const r = await page.evaluate(async (badMark) => {
      const w = /** @type {any} */ (window);
      const a = w.mk({ key: 'side-bad' });
      await a.track({ type: 'view', item: 'item-1' });
      localStorage.setItem('vitrine.shopper.unsaved/side-bad', '{"schema":"vitrine.history","version":1,"events":[{"type":"view"}]}');
      const b = w.mk({ key: 'side-bad' });
      await b.ready;
      const kept = b.history().map((e) => e.item);
      const unsaved = localStorage.getItem('vitrine.shopper.unsaved/side-bad');
      const w1 = w.warnings.splice(0);
      localStorage.setItem('vitrine.shopper.forgot/side-bad', badMark);
      const c = w.mk({ key: 'side-bad' });
      await c.ready;
      const forgot = c.history().length;
      const mark = localStorage.getItem('vitrine.shopper.forgot/side-bad');
      const w2 = w.warnings.splice(0);
      const dbs = await w.dbs();
      // Done once: what is tracked afterwards is kept by the next start.
      await c.track({ type: 'view', item: 'item-2' });
      const d = w.mk({ key: 'side-bad' });
      await d.ready;
      const later = d.history().map((e) => e.item);
      await d.forget();
      return { kept, unsaved, w1, forgot, mark, w2, dbs, later };
    }, badMark);
    assert.deepEqual(r.kept, ['item-1']);
    assert.equal(r.unsaved, null, 'the bad record is removed');
    assert.deepEqual(r.w1, ['CORRUPT_RECORD']);
    assert.equal(r.forgot, 0);
    assert.equal(r.mark, null);
    assert.deepEqual(r.w2, ['CORRUPT_RECORD']);
    assert.ok(!r.dbs.includes('vitrine.shopper/side-bad@1'), 'an empty history leaves no database');
    assert.deepEqual(r.later, ['item-2'], 'the mark is gone: the next start forgets nothing');
    assert.deepEqual(errors.filter((e) => !/CORRUPT|unreadable/.test(e)), []);
    await page.close();
  });
}

test('shopper storage (indexeddb): versionchange is never blocked; a deletion elsewhere is a forget', async () => {
  const a = await tab();
  const b = await tab();
  await a.page.evaluate(async () => {
    const w = /** @type {any} */ (window);
    w.s = w.mk({ key: 'vc' });
    await w.s.track({ type: 'view', item: 'item-1' });
  });
  // Another tab deletes the database (e.g. a newer version's forget, or site data cleared).
  const del = await b.page.evaluate(
    (name) =>
      new Promise((resolve) => {
        const req = indexedDB.deleteDatabase(name);
        req.onblocked = () => resolve('blocked');
        req.onsuccess = () => resolve('deleted');
        req.onerror = () => resolve(`error ${req.error}`);
        setTimeout(() => resolve('timeout'), 60_000); // a hang guard only
      }),
    dbName('vc'),
  );
  assert.equal(del, 'deleted');
  await a.page.waitForFunction(() => window.s.history().length === 0);
  await a.page.evaluate(() => window.s.track({ type: 'view', item: 'item-2' }));
  // An upgrade by another tab (a future version of the database): not blocked either.
  const up = await b.page.evaluate(
    (name) =>
      new Promise((resolve) => {
        const req = indexedDB.open(name, 2);
        req.onblocked = () => resolve('blocked');
        req.onsuccess = () => {
          req.result.close();
          resolve('opened');
        };
        req.onerror = () => resolve(`error ${req.error}`);
        setTimeout(() => resolve('timeout'), 60_000); // a hang guard only
      }),
    dbName('vc'),
  );
  assert.equal(up, 'opened');
  // The old tab now meets a database it does not know: warning, memory, no throw.
  const r = await a.page.evaluate(async () => {
    const w = /** @type {any} */ (window);
    await w.s.track({ type: 'view', item: 'item-3' });
    return { warnings: w.warnings, storage: w.s.storage, items: w.s.history().map((e) => e.item) };
  });
  assert.deepEqual(r, { warnings: ['FOREIGN_DATABASE'], storage: 'none', items: ['item-2', 'item-3'] });
  await b.page.evaluate((name) => new Promise((r) => (indexedDB.deleteDatabase(name).onsuccess = r)), dbName('vc'));
  assert.deepEqual(a.errors, []);
  assert.deepEqual(b.errors, []);
  await a.page.close();
  await b.page.close();
});

/** Creates database `name` at `version` with `stores` ({store: {key: value}}) in the page. */
const makeDb = (page, name, version, stores) =>
  page.evaluate(
    ({ name, version, stores }) =>
      new Promise((resolve, reject) => {
        const req = indexedDB.open(name, version);
        req.onupgradeneeded = () => {
          for (const s of Object.keys(stores)) req.result.createObjectStore(s);
        };
        req.onsuccess = () => {
          const db = req.result;
          const names = Object.keys(stores);
          if (names.length === 0) {
            db.close();
            resolve(null);
            return;
          }
          const tx = db.transaction(names, 'readwrite');
          for (const s of names) for (const [k, v] of Object.entries(stores[s])) tx.objectStore(s).put(v, k);
          tx.oncomplete = () => {
            db.close();
            resolve(null);
          };
          tx.onerror = () => reject(tx.error);
        };
        req.onerror = () => reject(req.error);
      }),
    { name, version, stores },
  );

const readDb = (page, name, store) =>
  page.evaluate(
    ({ name, store }) =>
      new Promise((resolve, reject) => {
        const req = indexedDB.open(name);
        req.onsuccess = () => {
          const db = req.result;
          const g = db.transaction(store).objectStore(store).getAll();
          g.onsuccess = () => {
            db.close();
            resolve({ version: db.version, all: g.result });
          };
        };
        req.onerror = () => reject(req.error);
      }),
    { name, store },
  );

test('shopper storage (indexeddb): a foreign "vitrine" database is left alone and costs no warning', async () => {
  const { page, errors } = await tab();
  await makeDb(page, 'vitrine', 3, { stuff: { a: { theirs: true } } });
  const r = await page.evaluate(async () => {
    const w = /** @type {any} */ (window);
    const s = w.mk({});
    await s.track({ type: 'view', item: 'item-1' });
    const again = w.mk({});
    await again.ready;
    return { items: again.history().map((e) => e.item), warnings: w.warnings, storage: s.storage };
  });
  assert.deepEqual(r, { items: ['item-1'], warnings: [], storage: 'indexeddb' });
  await page.evaluate(() => window.mk({}).forget());
  assert.deepEqual(await readDb(page, 'vitrine', 'stuff'), { version: 3, all: [{ theirs: true }] }, 'untouched, also by forget()');
  await page.evaluate(() => new Promise((r) => (indexedDB.deleteDatabase('vitrine').onsuccess = r)));
  assert.deepEqual(errors, []);
  await page.close();
});

test('shopper storage (indexeddb): the old shared "vitrine" database is migrated, then removed', async () => {
  const { page, errors } = await tab();
  const events = [
    { type: 'view', item: 'item-1', ts: 1.7e12 },
    { type: 'cart', item: 'item-2', ts: 1.7e12 + 1 },
  ];
  await makeDb(page, 'vitrine', 1, { history: { 'vitrine.history': { schema: 'vitrine.history', version: 1, events } } });
  const r = await page.evaluate(async () => {
    const w = /** @type {any} */ (window);
    const s = w.mk({});
    await s.ready;
    const items = s.history().map((e) => e.item);
    const dbs = await w.dbs();
    const again = w.mk({});
    await again.ready;
    return { items, dbs, again: again.history().length, warnings: w.warnings };
  });
  assert.deepEqual(r, { items: ['item-1', 'item-2'], dbs: ['vitrine.shopper/vitrine.history@1'], again: 2, warnings: [] });
  // An empty "vitrine" left by an old version's "Forget me" goes with the next forget().
  await makeDb(page, 'vitrine', 1, { history: {} });
  await page.evaluate(() => window.mk({}).forget());
  assert.deepEqual(await page.evaluate(() => window.dbs()), []);
  assert.deepEqual(errors, []);
  await page.close();
});

test('shopper storage: on the default storage (now IndexedDB) the history an older version kept in localStorage moves over', async () => {
  const { page, errors } = await tab();
  await page.evaluate(() => {
    const events = [
      { type: 'view', item: 'item-1', ts: 1.7e12 },
      { type: 'cart', item: 'item-2', ts: 1.7e12 + 1 },
    ];
    localStorage.setItem('moved', JSON.stringify({ schema: 'vitrine.history', version: 1, events }));
  });
  const got = await page.evaluate(async () => {
    const w = /** @type {any} */ (window);
    const s = w.mkDefault({ key: 'moved' });
    await s.ready;
    const again = w.mkDefault({ key: 'moved' });
    await again.ready;
    const out = { storage: s.storage, items: s.history().map((e) => e.item), again: again.history().length, ls: localStorage.getItem('moved'), dbs: await w.dbs(), warnings: w.warnings };
    await s.forget();
    return out;
  });
  assert.deepEqual(got, { storage: 'indexeddb', items: ['item-1', 'item-2'], again: 2, ls: null, dbs: ['vitrine.shopper/moved@1'], warnings: [] });
  assert.deepEqual(errors, []);
  await page.close();
});

test('shopper storage (indexeddb): our database with another layout → FOREIGN_DATABASE; a corrupt record → CORRUPT_RECORD, then recovery', async () => {
  const { page, errors } = await tab();
  await makeDb(page, dbName('odd'), 1, { other: { x: 1 } });
  const r = await page.evaluate(async () => {
    const w = /** @type {any} */ (window);
    const s = w.mk({ key: 'odd' });
    await s.track({ type: 'view', item: 'item-1' });
    await s.track({ type: 'view', item: 'item-2' });
    return { warnings: w.warnings.splice(0), storage: s.storage, n: s.history().length };
  });
  assert.deepEqual(r, { warnings: ['FOREIGN_DATABASE'], storage: 'none', n: 2 });
  assert.deepEqual(await readDb(page, dbName('odd'), 'other'), { version: 1, all: [1] }, 'left alone');
  await page.evaluate((n) => new Promise((r) => (indexedDB.deleteDatabase(n).onsuccess = r)), dbName('odd'));

  await makeDb(page, dbName('bad'), 1, { history: { record: { schema: 'vitrine.history', version: 1, events: [{ type: 'view', item: 'x', ts: 'now' }] } } });
  const c = await page.evaluate(async () => {
    const w = /** @type {any} */ (window);
    const s = w.mk({ key: 'bad' });
    await s.ready;
    const n0 = s.history().length;
    await s.track({ type: 'view', item: 'item-7' });
    const again = w.mk({ key: 'bad' });
    await again.ready;
    const out = { warnings: w.warnings.splice(0), n0, items: again.history().map((e) => e.item), storage: s.storage };
    await s.forget();
    return out;
  });
  assert.deepEqual(c, { warnings: ['CORRUPT_RECORD'], n0: 0, items: ['item-7'], storage: 'indexeddb' });
  assert.deepEqual(errors, []);
  await page.close();
});

test('shopper storage: in a sandboxed iframe (opaque origin, storage throws SecurityError) → STORAGE_UNAVAILABLE, memory', async () => {
  const { page, errors } = await tab();
  // The glue is split into modules (vitrine.js imports ./lib/*.js), which a
  // frame of opaque origin cannot import from this server: it gets the glue
  // as one module, bundled here by esbuild.
  const vitBundle = (
    await build({ entryPoints: [join(ROOT, 'pkg', 'vitrine.js')], bundle: true, format: 'esm', write: false, logLevel: 'silent' })
  ).outputFiles[0].text;
  const r = await page.evaluate(async (vit) => {
    const shop = await fetch('/shopper.js').then((x) => x.text());
    const frame = document.createElement('iframe');
    frame.setAttribute('sandbox', 'allow-scripts');
    // The frame cannot fetch from this origin; it gets the two modules' sources and imports them from blob URLs.
    frame.srcdoc = `<script type="module">
      const rejections = [];
      addEventListener('unhandledrejection', (e) => rejections.push(String(e.reason)));
      addEventListener('message', async (ev) => {
        const out = [];
        try {
          const vitUrl = URL.createObjectURL(new Blob([ev.data.vit], { type: 'text/javascript' }));
          const shopSrc = ev.data.shop.replaceAll("from './vitrine.js'", 'from ' + JSON.stringify(vitUrl));
          const sh = await import(URL.createObjectURL(new Blob([shopSrc], { type: 'text/javascript' })));
          const model = { raw: { foldIn: () => ({ vector: new Float32Array(2) }) } };
          let direct = 'no throw';
          try { void localStorage.length; } catch (e) { direct = e.name; }
          for (const storage of [undefined, 'localStorage', 'indexeddb']) {
            const warnings = [];
            const s = sh.createShopper(model, { storage, onWarning: (w) => warnings.push(w.code) });
            await s.track({ type: 'view', item: 'item-1' });
            await s.track({ type: 'view', item: 'item-2' });
            out.push({ storage: storage ?? 'default', kind: s.storage, warnings, n: s.history().length, direct });
            await s.forget();
          }
        } catch (e) {
          out.push({ thrown: String(e && e.name) + ': ' + String(e && e.message) });
        }
        await new Promise((r) => setTimeout(r, 100));
        out.push({ rejections });
        parent.postMessage(out, '*');
      });
    <\/script>`;
    const result = new Promise((resolve) => addEventListener('message', (ev) => resolve(ev.data), { once: true }));
    await new Promise((resolve) => {
      frame.onload = resolve;
      document.body.append(frame);
    });
    frame.contentWindow.postMessage({ vit, shop }, '*');
    return result;
  }, vitBundle);
  assert.deepEqual(r, [
    { storage: 'default', kind: 'none', warnings: ['STORAGE_UNAVAILABLE'], n: 2, direct: 'SecurityError' },
    { storage: 'localStorage', kind: 'none', warnings: ['STORAGE_UNAVAILABLE'], n: 2, direct: 'SecurityError' },
    { storage: 'indexeddb', kind: 'none', warnings: ['STORAGE_UNAVAILABLE'], n: 2, direct: 'SecurityError' },
    { rejections: [] },
  ]);
  assert.deepEqual(errors, []);
  await page.close();
});
