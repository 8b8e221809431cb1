// Minimal storefront demo: everything below runs in the page, against the
// model bundle, with no server beyond static files.

import { load } from '../vitrine.js';

const $ = (sel) => /** @type {HTMLElement} */ (document.querySelector(sel));
const params = new URLSearchParams(location.search);
/** `?model=` wins; otherwise the trained demo bundle, else the synthetic one `make demo` always builds. */
const CANDIDATES = params.get('model') ? [params.get('model')] : ['/models/demo.vtr'];
let modelUrl = CANDIDATES[0];

/** @type {import('../vitrine.js').Vitrine} */
let model;
/** ids the shopper clicked, most recent first */
let history = [];
const fmtPrice = (p) => (typeof p === 'number' ? `€${p.toFixed(2)}` : '');

function showError(e) {
  const el = $('#error');
  el.hidden = false;
  el.textContent = `${e.code ? `[${e.code}] ` : ''}${e.message}`;
  $('#status').textContent = 'failed';
}

/** @param {HTMLElement} list @param {{id: string, score?: number}[]} rows */
function renderList(list, rows, { scores = true } = {}) {
  list.replaceChildren();
  for (const row of rows) {
    const it = model.item(row.id);
    const li = document.createElement('li');
    li.dataset.id = row.id;
    if (history.includes(row.id)) li.classList.add('seen');
    const title = document.createElement('span');
    title.className = 'title';
    title.textContent = it.title || it.id;
    title.title = it.id;
    const score = document.createElement('span');
    score.className = 'score';
    score.textContent = scores && typeof row.score === 'number' ? row.score.toFixed(3) : '';
    const meta = document.createElement('span');
    meta.className = 'meta';
    const stock = it.inStock === false ? ' · out of stock' : '';
    meta.textContent = [it.category, fmtPrice(it.price)].filter(Boolean).join(' · ') + stock;
    if (it.inStock === false) meta.classList.add('out');
    li.append(title, score, meta);
    list.append(li);
  }
  if (rows.length === 0) {
    const li = document.createElement('li');
    li.className = 'hint';
    li.textContent = 'no items match';
    list.append(li);
  }
}

function currentFilters() {
  /** @type {import('../vitrine.js').RecOptions} */
  const f = {};
  const cat = /** @type {HTMLSelectElement} */ ($('#category')).value;
  if (cat) f.categories = [cat];
  const max = /** @type {HTMLInputElement} */ ($('#max-price')).value;
  if (max !== '' && Number.isFinite(Number(max))) f.priceMax = Number(max);
  if (/** @type {HTMLInputElement} */ ($('#in-stock')).checked) f.inStockOnly = true;
  return f;
}

/** Mean of the clicked items' vectors: a stand-in for the real fold-in. */
function userVector() {
  const u = new Float32Array(model.dim);
  for (const id of history) {
    const v = model.itemVector(id);
    for (let j = 0; j < u.length; j++) u[j] += v[j] / history.length;
  }
  return u;
}

function renderRecs() {
  const f = currentFilters();
  const list = $('#recs');
  list.dataset.filters = Object.keys(f).length ? JSON.stringify(f) : '';
  $('#history').textContent = history.length
    ? `Viewed: ${history.map((id) => model.item(id).title || id).join(', ')}`
    : 'Nothing viewed yet — showing popular items.';
  const t0 = performance.now();
  let rows;
  try {
    rows = history.length
      ? model.recommend(userVector(), { k: 20, exclude: history, ...f })
      : model.popular({ k: 20, ...f });
  } catch (e) {
    showError(e);
    return;
  }
  const ms = performance.now() - t0;
  renderList(list, rows);
  $('#timing').textContent = `${history.length ? 'scored' : 'ranked'} ${model.nItems.toLocaleString('en-US')} items in ${ms.toFixed(2)} ms (${model.variant} wasm)`;
}

function select(id) {
  $('#similar-to').textContent = model.item(id).title || id;
  renderList($('#similar'), model.similar(id, { k: 12 }));
  history = [id, ...history.filter((h) => h !== id)].slice(0, 20);
  renderRecs();
  for (const li of document.querySelectorAll('#items li')) {
    li.classList.toggle('seen', history.includes(/** @type {HTMLElement} */ (li).dataset.id ?? ''));
  }
}

function catalogue(query = '') {
  const q = query.trim();
  let rows;
  if (!q) {
    try {
      rows = model.popular({ k: 50 });
    } catch {
      rows = Array.from({ length: Math.min(50, model.nItems) }, (_, i) => ({ id: model.itemId(i) }));
    }
  } else if (model.has(q)) {
    rows = [{ id: q }];
  } else {
    // A linear scan is fine for a demo; a real store searches server-side.
    rows = [];
    const needle = q.toLowerCase();
    const limit = Math.min(model.nItems, 20000);
    for (let i = 0; i < limit && rows.length < 50; i++) {
      const id = model.itemId(i);
      const title = model.item(id).title ?? '';
      if (id.toLowerCase().includes(needle) || title.toLowerCase().includes(needle)) rows.push({ id });
    }
  }
  renderList($('#items'), rows, { scores: false });
}

function renderInfo() {
  const info = model.info();
  /** @type {[string, string][]} [bold part, plain part]; built as text nodes since meta comes from the bundle */
  const parts = [
    [info.nItems.toLocaleString('en-US'), ' items'],
    ['dim ', String(info.dim)],
    [info.dtype, ''],
    [String(info.categories.length), ' categories'],
    ['format ', `v${info.formatVersion}`],
    [model.variant, ' wasm'],
  ];
  for (const [k, v] of Object.entries(info.meta ?? {}).slice(0, 4)) parts.push([`${k}: `, String(v)]);
  const el = $('#info');
  el.replaceChildren();
  parts.forEach(([a, b], i) => {
    if (i) el.append(' · ');
    const strong = document.createElement('b');
    strong.textContent = a;
    el.append(strong, b);
  });
  const sel = /** @type {HTMLSelectElement} */ ($('#category'));
  for (const c of info.categories) sel.append(new Option(c, c));
}

async function main() {
  const progress = /** @type {HTMLProgressElement} */ ($('#progress'));
  const t0 = performance.now();
  for (const url of CANDIDATES) {
    modelUrl = url;
    if (url === CANDIDATES[CANDIDATES.length - 1]) break; // the last one reports its own error
    const head = await fetch(url, { method: 'HEAD' }).catch(() => null);
    if (head && head.ok) break;
  }
  try {
    model = await load(modelUrl, {
      onProgress: ({ loaded, total }) => {
        if (total) {
          progress.max = total;
          progress.value = loaded;
        } else {
          progress.removeAttribute('value');
        }
        $('#status').textContent = `${(loaded / 1e6).toFixed(1)} MB${total ? ` / ${(total / 1e6).toFixed(1)} MB` : ''}`;
      },
    });
  } catch (e) {
    showError(e);
    return;
  }
  progress.max = 1;
  progress.value = 1;
  $('#status').textContent = `loaded ${modelUrl} in ${Math.round(performance.now() - t0)} ms`;
  renderInfo();
  catalogue();
  renderRecs();
  const onPick = (ev) => {
    const li = /** @type {HTMLElement} */ (ev.target).closest('li[data-id]');
    if (li) select(/** @type {HTMLElement} */ (li).dataset.id ?? '');
  };
  for (const sel of ['#items', '#similar', '#recs']) $(sel).addEventListener('click', onPick);
  $('#search').addEventListener('input', (ev) => catalogue(/** @type {HTMLInputElement} */ (ev.target).value));
  for (const sel of ['#category', '#max-price', '#in-stock']) {
    $(sel).addEventListener('input', renderRecs);
    $(sel).addEventListener('change', renderRecs);
  }
  $('#reset').addEventListener('click', () => {
    history = [];
    renderRecs();
    catalogue(/** @type {HTMLInputElement} */ ($('#search')).value);
  });
}

main();
