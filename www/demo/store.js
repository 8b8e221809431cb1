// Demo storefront (store.html, product.html, cart.html): every strip is a
// placement computed in this tab from the bundle and the shopper's own
// history (www/placements.js). The cart and the promotions switch live in
// localStorage; nothing is sent anywhere.

import { load } from '../vitrine.js';
import { createShopper } from '../shopper.js';
import { withPlacements, createImpressionLog } from '../placements.js';

const params = new URLSearchParams(location.search);
const MODEL = params.get('model') ?? '/models/store.vtr';
const CART_KEY = 'vitrine.demo.cart';
const PROMO_KEY = 'vitrine.demo.promo';
const K = 6;
const page = document.body.dataset.page;
const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @type {any} */
let model;
/** @type {any} */
let shopper;
const impressions = createImpressionLog();

const REASON_TEXT = {
  bought_together: 'bought together',
  viewed_together: 'viewed together',
  similar: 'similar',
  buy_again: 'buy again',
  recently_viewed: 'you viewed this',
  trending: 'trending',
  popular: 'popular',
  promoted: 'Promoted',
  catalogue: 'in our catalogue',
  history: 'for you',
  segment: 'shoppers like you',
};

/** @returns {string[]} */
function cart() {
  try {
    const v = JSON.parse(localStorage.getItem(CART_KEY) ?? '[]');
    return Array.isArray(v) ? v.filter((x) => typeof x === 'string' && model.has(x)) : [];
  } catch {
    return [];
  }
}

function setCart(/** @type {string[]} */ ids) {
  localStorage.setItem(CART_KEY, JSON.stringify(ids));
  for (const el of document.querySelectorAll('.cart-count')) el.textContent = String(ids.length);
}

function promoOn() {
  return localStorage.getItem(PROMO_KEY) === '1';
}

/** Common options: the promotion (when switched on) reserves a quarter of the slots. */
function opts(/** @type {Record<string, any>} */ extra = {}) {
  const o = { k: K, ...extra };
  if (promoOn()) {
    const cats = model.info().categories;
    if (cats.length) o.promotion = { categories: [cats[cats.length - 1]], share: 0.25 };
  }
  return o;
}

function item(/** @type {string} */ id) {
  return model.item(id);
}

function money(/** @type {number | undefined} */ p) {
  return p === undefined ? '' : `$${p.toFixed(2)}`;
}

/**
 * @param {string} listId
 * @param {{items: {id: string, reason: string, because?: string}[]}} r
 */
function strip(listId, r) {
  const ol = $(listId);
  ol.replaceChildren(
    ...r.items.map((x) => {
      const it = item(x.id);
      const li = document.createElement('li');
      li.className = 'card';
      li.dataset.id = x.id;
      li.dataset.reason = x.reason;
      const a = document.createElement('a');
      a.href = `product.html?id=${encodeURIComponent(x.id)}${params.get('model') ? `&model=${encodeURIComponent(MODEL)}` : ''}`;
      a.textContent = it.title ?? x.id;
      a.addEventListener('click', () => impressions.clicked(x.id));
      const meta = document.createElement('span');
      meta.className = 'meta';
      meta.textContent = `${it.category ?? ''} · ${money(it.price)}`;
      const why = document.createElement('span');
      why.className = `reason ${x.reason}`;
      why.textContent = REASON_TEXT[/** @type {keyof typeof REASON_TEXT} */ (x.reason)] ?? x.reason;
      if (x.because) why.title = `because of ${item(x.because).title ?? x.because}`;
      li.append(a, meta, why);
      return li;
    }),
  );
  impressions.shown(r.items.map((x) => x.id));
}

/**
 * The storefront's own mapping from a behaviour segment to an offer. The
 * bundle only says what the segment does (its generated label and this
 * history's features); which offer that earns is the merchant's choice:
 * lapsed shoppers get a win-back, deal seekers coupons, frequent or big
 * spenders membership perks, everyone else no banner.
 * @param {any} seg a `shopper.segment()` result with an id
 * @returns {'win-back' | 'coupons' | 'membership' | null}
 */
function strategyFor(seg) {
  const label = String(seg.label);
  const f = seg.features ?? {};
  if (/inactive for a while|rare visitors/.test(label)) return 'win-back';
  if (/discount seekers/.test(label) || (typeof f.cheaper_share === 'number' && f.cheaper_share >= 0.75)) return 'coupons';
  if (/frequent visitors|big spenders|large baskets|repeat buyers/.test(label)) return 'membership';
  return null;
}

const OFFERS = {
  membership: ['Members save more', 'Join the membership: free delivery and early access, because you shop with us often.'],
  coupons: ['Your coupon: 15% off', 'Use code SAVE15 at checkout on any item in the catalogue.'],
  'win-back': ['We missed you', 'Welcome back: here is 20% off your next order, valid for a week.'],
};

/** The behaviour-segment banner: computed in this tab; nothing is sent. */
function offerBanner() {
  const box = $('offer');
  /** @type {any} */
  let seg;
  try {
    seg = shopper.segment();
  } catch (e) {
    // A bundle without behaviour segments (NO_SECTION): no banner, no error.
    if (/** @type {any} */ (e)?.code !== 'NO_SECTION') showError(e);
    box.hidden = true;
    return;
  }
  const strategy = seg.segment === null ? null : strategyFor(seg);
  box.dataset.strategy = strategy ?? 'none';
  box.dataset.segment = seg.segment === null ? '' : String(seg.id);
  if (!strategy) {
    box.hidden = true;
    return;
  }
  const [title, text] = OFFERS[strategy];
  $('h-offer').textContent = title;
  $('offer-text').textContent = text;
  $('offer-why').textContent = `Chosen on this device from your shopping pattern ("${seg.label}"); your history was not sent anywhere.`;
  box.hidden = false;
}

function homePage() {
  offerBanner();
  strip('recent', shopper.recentlyViewed({ k: K }));
  try {
    strip('again', shopper.buyAgain(opts()));
  } catch (e) {
    showError(e);
  }
  const sel = /** @type {HTMLSelectElement} */ ($('trend-cat'));
  if (sel.options.length === 1) {
    for (const c of model.info().categories) sel.add(new Option(c, c));
    sel.addEventListener('change', () => renderTrending());
  }
  const facets = shopper.trendingFacets({ k: 3 });
  $('facets').textContent = facets.length ? `Rising: ${facets.map((f) => `${f.category} (×${f.rise.toFixed(2)})`).join(', ')}` : '';
  renderTrending();
}

function renderTrending() {
  const cat = /** @type {HTMLSelectElement} */ ($('trend-cat')).value;
  strip('trending', shopper.trending(opts(cat ? { category: cat } : {})));
}

function productId() {
  return params.get('id') ?? model.popular({ k: 1 })[0].id;
}

function productSetup() {
  const id = productId();
  const it = item(id);
  document.title = `vitrine store · ${it.title ?? id}`;
  $('title').textContent = it.title ?? id;
  $('meta').textContent = `${it.category ?? ''}${it.inStock === false ? ' · out of stock' : ''}`;
  $('price').textContent = money(it.price);
  shopper.track({ type: 'view', item: id });
  $('add').addEventListener('click', () => {
    const c = cart();
    if (!c.includes(id)) c.push(id);
    setCart(c);
    shopper.track({ type: 'cart', item: id });
    $('added').textContent = `Added ${it.title ?? id} to your cart.`;
  });
}

function productPage() {
  const id = productId();
  strip('together', shopper.boughtTogether([id], opts()));
  strip('viewed', shopper.viewedTogether([id], opts()));
  strip('similar', { items: model.similar(id, { k: K }).map((/** @type {any} */ x) => ({ id: x.id, reason: 'similar' })) });
}

function cartPage() {
  const c = cart();
  $('empty').hidden = c.length > 0;
  /** @type {HTMLButtonElement} */ ($('checkout')).disabled = c.length === 0;
  $('lines').replaceChildren(
    ...c.map((id) => {
      const it = item(id);
      const li = document.createElement('li');
      const name = document.createElement('span');
      name.textContent = it.title ?? id;
      const price = document.createElement('span');
      price.className = 'price';
      price.textContent = money(it.price);
      const rm = document.createElement('button');
      rm.type = 'button';
      rm.textContent = 'Remove';
      rm.setAttribute('aria-label', `Remove ${it.title ?? id}`);
      rm.addEventListener('click', () => {
        setCart(cart().filter((x) => x !== id));
        render();
      });
      li.append(name, price, rm);
      return li;
    }),
  );
  // "Complete your cart": bought together with everything in it, the cart excluded.
  strip('complete', c.length ? shopper.boughtTogether(c, opts()) : shopper.trending(opts()));
}

function cartSetup() {
  $('checkout').addEventListener('click', async () => {
    const c = cart();
    for (const id of c) await shopper.track({ type: 'purchase', item: id });
    setCart([]);
    $('bought').textContent = `Thank you: ${c.length} item${c.length === 1 ? '' : 's'} bought.`;
    render();
  });
}

function showError(/** @type {any} */ e) {
  const el = $('error');
  el.hidden = false;
  el.textContent = `${e && e.code ? e.code + ': ' : ''}${e && e.message ? e.message : e}`;
}

async function main() {
  try {
    model = await load(MODEL);
    shopper = withPlacements(createShopper(model, { storage: 'localStorage' }), model, { impressions, rotationRate: 0.1 });
    await shopper.ready;
    const promo = /** @type {HTMLInputElement} */ ($('promo'));
    promo.checked = promoOn();
    promo.addEventListener('change', () => {
      localStorage.setItem(PROMO_KEY, promo.checked ? '1' : '0');
      render();
    });
    setCart(cart());
    if (page === 'product') productSetup();
    if (page === 'cart') cartSetup();
    render();
    $('status').textContent = `${model.nItems} products · computed on this device`;
    document.body.dataset.ready = '1';
  } catch (e) {
    showError(e);
    $('status').textContent = '';
    document.body.dataset.ready = 'error';
  }
}

function render() {
  if (page === 'home') homePage();
  else if (page === 'product') productPage();
  else if (page === 'cart') cartPage();
}

main();
