// The demo storefront in headless Chromium, by mouse and by keyboard:
// home (recently viewed, buy it again, trending + rising categories), a
// product page (bought together, viewed together, similar), the cart with
// "complete your cart", the promotions switch, the offer banner chosen from
// the shopper's behaviour segment, and axe-core on every demo page: no
// critical or serious violation.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { startServer } from '../../scripts/serve.mjs';
import { CLI, tempDir } from '../node/helpers.mjs';
import { load } from '../../pkg/node.js';
import { launch, newPage } from './chromium.mjs';

const require = createRequire(import.meta.url);
const AXE = require.resolve('axe-core/axe.min.js');
const K = 6;

let srv;
let browser;
let storePath;

test.before(async () => {
  const dir = tempDir();
  const run = (args) => execFileSync(CLI, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  run(['session', 'synth', '--items', '600', '--dim', '16', '--seed', '5', '--out', join(dir, 'demo.vtr')]);
  run(['session', 'synth', '--items', '600', '--dim', '16', '--seed', '7', '--out', join(dir, 'base.vtr')]);
  run(['placements', 'build', '--bundle', join(dir, 'base.vtr'), '--synthetic-baskets', '6000',
    '--trending-half-life', '3', '--out', join(dir, 'store.vtr')]);
  // Behaviour segments from a simulated population, as `make store-demo` does.
  run(['session', 'segments', '--synthetic-users', '2000', '--k', '4', '--bundle', join(dir, 'store.vtr'),
    '--bundle-out', join(dir, 'store.vtr')]);
  storePath = join(dir, 'store.vtr');
  srv = await startServer({ models: dir, quiet: true });
  browser = await launch();
});

test.after(async () => {
  await browser?.close();
  await srv?.close();
});

/** Critical and serious axe violations on the page as it is now. */
async function axe(page) {
  await page.addScriptTag({ path: AXE });
  const v = await page.evaluate(async () => {
    // @ts-ignore
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((x) => ({ id: x.id, impact: x.impact, nodes: x.nodes.map((n) => n.target.join(' ')).slice(0, 3) }));
  });
  return v.filter((x) => x.impact === 'critical' || x.impact === 'serious');
}

async function ready(page) {
  // A cold wasm compile and model load: seconds on a loaded 2-core machine.
  await page.waitForSelector('body[data-ready]', { timeout: 60_000 });
  assert.equal(await page.getAttribute('body', 'data-ready'), '1', await page.locator('#error').textContent());
}

/** Presses Tab until `selector` has focus (it must be reachable by keyboard). */
async function tabTo(page, selector, max = 120) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
  }
  assert.fail(`${selector} is not reachable with Tab`);
}

const reasons = (page, list) => page.locator(`#${list} li`).evaluateAll((els) => els.map((e) => e.dataset.reason));
const ids = (page, list) => page.locator(`#${list} li`).evaluateAll((els) => els.map((e) => e.dataset.id));

test('demo storefront: keyboard and mouse walk, placements with reasons, axe clean', async () => {
  const { page, errors } = await newPage(browser.context);
  await page.goto(`${srv.url}/demo/store.html`);
  await ready(page);
  assert.deepEqual(await axe(page), [], 'home page');
  // A new visitor still gets exactly k items per strip, each with a reason.
  for (const list of ['recent', 'trending', 'again']) {
    const r = await reasons(page, list);
    assert.equal(r.length, K, list);
    assert.ok(r.every((x) => typeof x === 'string' && x.length > 0), `${list}: ${r}`);
  }
  assert.ok((await reasons(page, 'trending')).every((x) => x === 'trending' || x === 'popular'));
  assert.match(await page.locator('#facets').textContent(), /Rising: /);
  // Trending in one category, chosen by keyboard.
  await tabTo(page, '#trend-cat');
  await page.keyboard.press('ArrowDown');
  await page.waitForFunction(() => /** @type {HTMLSelectElement} */ (document.getElementById('trend-cat')).value !== '');
  const cat = await page.locator('#trend-cat').inputValue();
  await page.waitForFunction(
    (c) => [...document.querySelectorAll('#trending .meta')].every((m) => m.textContent?.startsWith(`${c} ·`)),
    cat,
  );
  assert.equal((await ids(page, 'trending')).length, K);
  // The scrollable strip is reachable, then its first product opened with Enter.
  await tabTo(page, '#trending');
  await tabTo(page, '#trending li a');
  await Promise.all([page.waitForURL(/product\.html/), page.keyboard.press('Enter')]);
  await ready(page);
  assert.deepEqual(await axe(page), [], 'product page');
  const first = new URL(page.url()).searchParams.get('id');
  for (const list of ['together', 'viewed', 'similar']) {
    assert.equal((await ids(page, list)).length, K, list);
    assert.ok(!(await ids(page, list)).includes(first), `${list} never suggests the product itself`);
  }
  assert.equal((await reasons(page, 'together'))[0], 'bought_together');
  // Add to cart by keyboard.
  await tabTo(page, '#add');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('.cart-count')?.textContent === '1');
  // Then by mouse: a bought-together product, added too.
  // From one product page to another: waitForURL(/product\.html/) would
  // return at once on the page being left; wait for another product's address.
  await Promise.all([
    page.waitForURL((url) => url.pathname.endsWith('/product.html') && url.searchParams.get('id') !== first),
    page.locator('#together li a').first().click(),
  ]);
  await ready(page);
  const second = new URL(page.url()).searchParams.get('id');
  assert.notEqual(second, first);
  await page.locator('#add').click();
  await page.waitForFunction(() => document.querySelector('.cart-count')?.textContent === '2');

  // The cart, reached by keyboard through the navigation.
  await tabTo(page, 'nav a[href="cart.html"]');
  await Promise.all([page.waitForURL(/cart\.html/), page.keyboard.press('Enter')]);
  await ready(page);
  assert.deepEqual(await axe(page), [], 'cart page');
  assert.equal(await page.locator('#lines li').count(), 2);
  const complete = await ids(page, 'complete');
  assert.equal(complete.length, K);
  assert.ok(!complete.includes(first) && !complete.includes(second), 'the cart is never suggested');
  assert.ok((await reasons(page, 'complete')).includes('bought_together'));
  // Promotions switch (keyboard: Space), a quarter of the slots promoted.
  await tabTo(page, '#promo');
  await page.keyboard.press('Space');
  await page.waitForFunction(() => [...document.querySelectorAll('#complete li')].some((l) => l.dataset.reason === 'promoted'));
  const promoted = (await reasons(page, 'complete')).filter((r) => r === 'promoted').length;
  assert.ok(promoted >= Math.ceil(K * 0.25), `promoted ${promoted}`);
  assert.deepEqual(await axe(page), [], 'cart page with promotions');
  await page.locator('#promo').click(); // and off again, by mouse
  // Buy, then the home page offers them again.
  await page.locator('#checkout').click();
  await page.waitForFunction(() => document.querySelector('.cart-count')?.textContent === '0');
  await page.goto(`${srv.url}/demo/store.html`);
  await ready(page);
  const again = await ids(page, 'again');
  assert.equal(again.length, K);
  assert.deepEqual(new Set(again.slice(0, 2)), new Set([first, second]), 'bought items come back first');
  assert.deepEqual((await reasons(page, 'again')).slice(0, 2), ['buy_again', 'buy_again']);
  // Recently viewed: both were viewed, then bought, so neither is "continue shopping".
  const recent = await ids(page, 'recent');
  assert.ok(!recent.includes(first) && !recent.includes(second));
  assert.deepEqual(await axe(page), [], 'home page with history');
  assert.deepEqual(errors, []);
});

for (const path of ['index.html', 'shopper.html']) {
  test(`axe: ${path} has no critical or serious violations`, async () => {
    const { page } = await newPage(browser.context);
    await page.goto(`${srv.url}/demo/${path}`);
    // Each page renders all it shows in the task that sets this marker (no
    // transition, no later fetch), so axe runs on the finished page without a sleep.
    await page.waitForSelector('body[data-ready="1"], #error:not([hidden]), #info:not(:empty)', { timeout: 60_000 });
    assert.deepEqual(await axe(page), [], path);
  });
}

/** The store's items below / at or above their category's median price. */
async function priceHalves() {
  const v = await load(storePath);
  const byCat = new Map();
  const items = [];
  for (let i = 0, n = v.info().nItems; i < n; i++) {
    const it = v.item(v.itemId(i));
    if (typeof it.price !== 'number' || !it.category) continue;
    items.push(it);
    if (!byCat.has(it.category)) byCat.set(it.category, []);
    byCat.get(it.category).push(it.price);
  }
  v.dispose();
  const median = new Map([...byCat].map(([c, p]) => [c, p.sort((a, b) => a - b)[Math.floor(p.length / 2)]]));
  return {
    cheap: items.filter((x) => x.price < median.get(x.category)).map((x) => x.id),
    dear: items.filter((x) => x.price >= median.get(x.category)).map((x) => x.id),
  };
}

/** Purchases: `visits` visits `every` days apart, the last `ago` days before now. */
function habit({ visits, every, size, ago, pool }) {
  const DAY = 86_400_000;
  const now = Date.now();
  const out = [];
  for (let v = 0; v < visits; v++) {
    const day = now - (ago + (visits - 1 - v) * every) * DAY;
    for (let k = 0; k < size; k++) out.push({ type: 'purchase', item: pool[(v * size + k) % pool.length], ts: day + k * 60_000 });
  }
  return out;
}

test('demo storefront: the offer banner follows the behaviour segment computed on the device', async () => {
  const { cheap, dear } = await priceHalves();
  const cases = [
    ['membership', habit({ visits: 18, every: 5, size: 4, ago: 1, pool: dear })],
    ['coupons', habit({ visits: 8, every: 12, size: 2, ago: 3, pool: cheap })],
    ['win-back', habit({ visits: 1, every: 1, size: 1, ago: 150, pool: dear })],
  ];
  const { page, errors } = await newPage(browser.context);
  await page.goto(`${srv.url}/demo/store.html`);
  await page.evaluate(() => localStorage.clear()); // the walk above left a history
  await page.reload();
  await ready(page);
  // A new visitor: no segment (NO_HISTORY), no banner.
  assert.equal(await page.locator('#offer').isHidden(), true);
  assert.equal(await page.getAttribute('#offer', 'data-strategy'), 'none');
  const seen = new Set();
  for (const [strategy, events] of cases) {
    await page.evaluate((evs) => {
      localStorage.clear();
      localStorage.setItem('vitrine.history', JSON.stringify({ schema: 'vitrine.history', version: 1, events: evs }));
    }, events);
    await page.reload();
    await ready(page);
    assert.equal(await page.getAttribute('#offer', 'data-strategy'), strategy, await page.locator('#offer-why').textContent());
    assert.equal(await page.locator('#offer').isVisible(), true);
    assert.ok((await page.locator('#h-offer').textContent()).length > 0);
    assert.match(await page.locator('#offer-why').textContent(), /on this device/);
    seen.add(await page.getAttribute('#offer', 'data-segment'));
    assert.deepEqual(await axe(page), [], `home page with the ${strategy} banner`);
  }
  assert.equal(seen.size, 3, 'three habits, three segments');
  await page.evaluate(() => localStorage.clear());
  assert.deepEqual(errors, []);
});
