// The shopper demo page in headless Chromium: on-device storage survives a
// reload (localStorage and IndexedDB), corrupted records are discarded with a
// warning and never crash the page, forget() wipes everything.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startServer } from '../../scripts/serve.mjs';
import { CLI, tempDir } from '../node/helpers.mjs';
import { launch, newPage } from './chromium.mjs';

let srv;
let browser;

test.before(async () => {
  const dir = tempDir();
  // Named demo.vtr: the page's default model URL.
  execFileSync(CLI, ['session', 'synth', '--items', '800', '--dim', '16', '--seed', '5', '--out', join(dir, 'demo.vtr')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  srv = await startServer({ models: dir, quiet: true });
  browser = await launch();
});

test.after(async () => {
  await browser?.close();
  await srv?.close();
});

async function openDemo(page, storage) {
  await page.goto(`${srv.url}/demo/shopper.html?storage=${storage}`);
  // A cold wasm compile and model load: seconds on a loaded 2-core machine.
  await page.waitForSelector('body[data-ready="1"], #error:not([hidden])', { timeout: 60_000 });
}

const historyLen = (page) => page.evaluate(() => window.vitrineShopper.history().length);

for (const storage of ['localStorage', 'indexeddb']) {
  test(`shopper demo (${storage}): history survives reload, forget wipes it`, async () => {
    const { page, errors } = await newPage(browser.context);
    await openDemo(page, storage);
    assert.equal(await page.locator('#error').isHidden(), true, await page.locator('#error').textContent());
    assert.equal(await page.locator('#recs li').count(), 8);
    await page.locator('#grid li button[data-act="view"]').first().click();
    await page.locator('#grid li button[data-act="cart"]').nth(2).click();
    await page.waitForFunction(() => window.vitrineShopper.history().length === 2);
    // Reasons now reference the history (once the page has re-rendered after the stored track).
    await page
      .waitForFunction(() => [...document.querySelectorAll('#recs .why')].some((e) => /because you|often viewed with/.test(e.textContent ?? '')), null, { timeout: 60_000 })
      .catch(() => {});
    const whys = await page.locator('#recs .why').allTextContents();
    assert.ok(whys.some((w) => /because you|often viewed with/.test(w)), whys.join(' | '));
    await page.reload();
    await page.waitForSelector('body[data-ready="1"]', { timeout: 60_000 });
    assert.equal(await historyLen(page), 2, 'history survived the reload');
    assert.equal(await page.locator('#history li').count(), 2);
    await page.locator('#forget').click();
    await page.waitForFunction(() => window.vitrineShopper.history().length === 0);
    await page.reload();
    await page.waitForSelector('body[data-ready="1"]', { timeout: 60_000 });
    assert.equal(await historyLen(page), 0, 'forget() wiped storage');
    if (storage === 'localStorage') assert.equal(await page.evaluate(() => localStorage.getItem('vitrine.history')), null);
    assert.deepEqual(errors, []);
    await page.close();
  });
}

test('shopper demo: a corrupted localStorage record → warning, empty profile, no crash', async () => {
  const { page, errors } = await newPage(browser.context);
  await openDemo(page, 'localStorage');
  await page.evaluate(() => localStorage.setItem('vitrine.history', '{"schema":"vitrine.history","version":1,"events":[{"type":"view","item":"item-1","ts":"x"}]}'));
  const warned = page.waitForEvent('console', (m) => m.type() === 'warning' && /discarded/.test(m.text()));
  await page.reload();
  await page.waitForSelector('body[data-ready="1"]');
  await warned;
  assert.equal(await historyLen(page), 0);
  assert.match(await page.locator('#error').textContent(), /CORRUPT_RECORD/);
  assert.equal(await page.locator('#recs li').count(), 8, 'cold-start recommendations still render');
  assert.equal(await page.evaluate(() => localStorage.getItem('vitrine.history')), null, 'bad record removed');
  assert.deepEqual(errors, []);
  await page.close();
});

test('shopper demo: a foreign IndexedDB record → warning, empty profile', async () => {
  const { page, errors } = await newPage(browser.context);
  await openDemo(page, 'indexeddb');
  await page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        // The shopper's database for the default key (www/shopper.js: DB_PREFIX + key).
        const req = indexedDB.open('vitrine.shopper/vitrine.history', 1);
        req.onupgradeneeded = () => req.result.createObjectStore('history');
        req.onsuccess = () => {
          const tx = req.result.transaction('history', 'readwrite');
          tx.objectStore('history').put({ schema: 'someone.else', version: 7, events: 'nope' }, 'record');
          tx.oncomplete = () => {
            req.result.close();
            resolve(null);
          };
          tx.onerror = () => reject(tx.error);
        };
        req.onerror = () => reject(req.error);
      }),
  );
  await page.reload();
  await page.waitForSelector('body[data-ready="1"]');
  assert.equal(await historyLen(page), 0);
  assert.match(await page.locator('#error').textContent(), /CORRUPT_RECORD/);
  assert.deepEqual(errors, []);
  await page.close();
});
