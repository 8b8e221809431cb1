// Shopper demo: a tiny storefront whose personalization runs in this tab.
// Clicks are tracked on-device (www/shopper.js), folded into a user vector
// by the wasm model, and used to re-rank the category page and fill
// "Recommended for you" — with a reason for every item.

import { load } from '../vitrine.js';
import { createShopper } from '../shopper.js';

const params = new URLSearchParams(location.search);
const CANDIDATES = params.get('model') ? [params.get('model')] : ['/models/demo.vtr'];
const storage = /** @type {any} */ (params.get('storage') ?? 'indexeddb');
const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @type {any} */
let model;
/** @type {ReturnType<typeof createShopper>} */
let shopper;
/** @type {Map<string, {id: string, title: string, category: string, price?: number, popularity?: number}>} */
const items = new Map();
/** @type {Map<string, string[]>} category → ids in store (popularity) order */
const byCategory = new Map();

function showError(/** @type {any} */ e) {
  const el = $('error');
  el.hidden = false;
  el.textContent = `${e && e.code ? e.code + ': ' : ''}${e && e.message ? e.message : e}`;
}

async function open() {
  let last;
  for (const url of CANDIDATES) {
    try {
      return { m: await load(url), url };
    } catch (e) {
      last = e;
    }
  }
  throw last;
}

function title(/** @type {string} */ id) {
  return items.get(id)?.title ?? id;
}

const VERB = { view: 'viewed', cart: 'added', purchase: 'bought', search: 'searched for' };

function why(/** @type {any} */ r) {
  const h = shopper.history();
  switch (r.kind) {
    case 'history': {
      const last = h.filter((e) => e.item === r.item).at(-1);
      return `because you ${VERB[last ? last.type : 'view']} ${title(r.item)}`;
    }
    case 'neighbour':
      return `often viewed with ${title(r.item)}`;
    case 'segment':
      return 'popular with shoppers like you';
    case 'pinned':
      return 'featured';
    default:
      return 'popular right now';
  }
}

function card(/** @type {string} */ id, /** @type {string} */ reason, /** @type {string} */ extra = '') {
  const it = items.get(id);
  const li = document.createElement('li');
  li.className = 'card';
  li.dataset.id = id;
  const price = it && it.price !== undefined ? `$${it.price.toFixed(2)}` : '';
  li.innerHTML = `<span class="title"></span><span class="meta"></span><span class="price">${price}</span><span class="why"></span>${extra}
    <span class="actions"><button data-act="view">View</button><button data-act="cart">Add to cart</button><button data-act="purchase">Buy</button></span>`;
  /** @type {HTMLElement} */ (li.querySelector('.title')).textContent = it ? it.title : id;
  /** @type {HTMLElement} */ (li.querySelector('.meta')).textContent = it ? it.category : '';
  /** @type {HTMLElement} */ (li.querySelector('.why')).textContent = reason;
  return li;
}

function renderRecs() {
  // The strip shows new things: nothing the shopper already interacted with.
  const seen = [...new Set(shopper.history().map((e) => e.item))];
  const r = shopper.recommend({ k: 8, exclude: seen });
  const ol = $('recs');
  ol.replaceChildren(...r.items.map((x) => card(x.id, why(x.reason))));
  const seg = shopper.history().length ? safe(() => shopper.tasteSegment()) : null;
  $('segment').textContent = seg ? `· your segment: ${seg.name} (distance ${seg.distance.toFixed(2)})` : '· new visitor: popular picks';
}

function safe(/** @type {() => any} */ f) {
  try {
    return f();
  } catch {
    return null;
  }
}

function renderGrid() {
  const cat = /** @type {HTMLSelectElement} */ ($('category')).value;
  const listing = (byCategory.get(cat) ?? []).slice(0, 24);
  const ol = $('grid');
  if (!/** @type {HTMLInputElement} */ ($('rerank')).checked) {
    ol.replaceChildren(...listing.map((id) => card(id, 'store order')));
    return;
  }
  const diverse = /** @type {HTMLInputElement} */ ($('diverse')).checked;
  const r = shopper.rerank(listing, { excludePurchased: false, ...(diverse ? { mmrLambda: 0.6 } : {}) });
  ol.replaceChildren(
    ...r.items.map((x, pos) => {
      const was = listing.indexOf(x.id);
      const moved = was > pos ? `<span class="moved">▲ ${was - pos} from store order</span>` : '';
      return card(x.id, why(x.reason), moved);
    }),
  );
}

function renderHistory() {
  $('storage').textContent = shopper.storage;
  const h = shopper.history().slice().reverse();
  const ol = $('history');
  if (!h.length) {
    const li = document.createElement('li');
    li.className = 'hint';
    li.textContent = 'Nothing yet. Browse a little.';
    ol.replaceChildren(li);
    return;
  }
  ol.replaceChildren(
    ...h.slice(0, 50).map((e) => {
      const li = document.createElement('li');
      li.textContent = `${VERB[e.type]} ${title(e.item)} · ${new Date(e.ts).toLocaleTimeString()}`;
      return li;
    }),
  );
}

/** The help box: intent, slots, and for product questions, matching items. */
async function answer(/** @type {string} */ text) {
  const out = $('answer');
  const list = $('answer-items');
  list.replaceChildren();
  if (!text.trim()) {
    out.textContent = '';
    return;
  }
  let r;
  try {
    r = await model.matchIntent(text);
  } catch (e) {
    out.textContent = /** @type {any} */ (e).code === 'NO_INTENT_MODEL' ? 'This model has no intent section.' : String(e);
    return;
  }
  const slots = [];
  if (r.slots.orderNumbers.length) slots.push(`order ${r.slots.orderNumbers.join(', ')}`);
  if (r.slots.price && r.slots.price.max != null) slots.push(`up to ${r.slots.price.max}`);
  if (r.slots.price && r.slots.price.cheaper) slots.push('cheaper');
  const mention = r.slots.products[0];
  if (mention) slots.push(`about “${title(mention.id)}”`);
  out.textContent = r.intent
    ? `${r.intent} (${(r.confidence * 100).toFixed(0)}%)${slots.length ? ' · ' + slots.join(' · ') : ''}${r.response ? ' — ' + r.response : ''}`
    : `Not something this shop handles (best guess: ${r.alternatives[0]?.intent ?? '—'}). Try the order status, returns or shipping.`;
  // Product intents chain into the recommender: similar items, cheaper if asked.
  const base = mention?.id ?? shopper.history().at(-1)?.item;
  if (base && (r.intent === 'similar_cheaper' || r.intent === 'product_search')) {
    const price = items.get(base)?.price;
    const max = r.slots.price?.max ?? (r.slots.price?.cheaper && price !== undefined ? price : undefined);
    const recs = safe(() => model.similar(base, { k: 5, ...(max !== undefined ? { priceMax: max } : {}) })) ?? [];
    list.replaceChildren(...recs.map((x) => card(x.id, `similar to ${title(base)}`)));
  }
}

function render() {
  try {
    renderRecs();
    renderGrid();
    renderHistory();
  } catch (e) {
    showError(e);
  }
}

async function main() {
  const { m, url } = await open();
  model = m;
  $('status').textContent = `${url} · ${m.nItems} items · d=${m.dim} · ${m.variant}`;
  for (let i = 0; i < m.nItems; i++) {
    const it = m.item(m.itemId(i));
    items.set(it.id, { id: it.id, title: it.title ?? it.id, category: it.category ?? 'all', price: it.price, popularity: it.popularity });
  }
  const sorted = [...items.values()].sort((a, b) => (b.popularity ?? 0) - (a.popularity ?? 0));
  for (const it of sorted) {
    if (!byCategory.has(it.category)) byCategory.set(it.category, []);
    /** @type {string[]} */ (byCategory.get(it.category)).push(it.id);
  }
  const sel = /** @type {HTMLSelectElement} */ ($('category'));
  for (const c of [...byCategory.keys()].sort()) sel.add(new Option(c, c));
  shopper = createShopper(model, { storage, onWarning: (w) => showError({ code: w.code, message: w.message }) });
  await shopper.ready;
  /** @type {any} */ (window).vitrineShopper = shopper;
  document.body.addEventListener('click', async (ev) => {
    const btn = /** @type {HTMLElement} */ (ev.target).closest('button[data-act]');
    if (!btn) return;
    const id = /** @type {HTMLElement} */ (btn.closest('[data-id]')).dataset.id;
    await shopper.track({ type: /** @type {any} */ (btn.getAttribute('data-act')), item: /** @type {string} */ (id) });
    render();
  });
  for (const id of ['category', 'rerank', 'diverse']) $(id).addEventListener('change', render);
  $('ask-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    answer(/** @type {HTMLInputElement} */ ($('ask')).value).catch(showError);
  });
  // The intent matcher is a separate wasm module: fetch it once the shopper
  // heads for the help box, so the first answer does not wait for it.
  $('ask').addEventListener('focus', () => model.loadIntent().catch(() => {}), { once: true });
  $('forget').addEventListener('click', async () => {
    await shopper.forget();
    render();
  });
  render();
  document.body.dataset.ready = '1';
}

main().catch(showError);
