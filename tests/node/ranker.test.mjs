// The learned ranker on the device: a bundle's RANKER section orders the
// shopper's recommend / rerank (reasons from the largest feature
// contribution), `info().ranker` says which ranker is active, and a refused
// section (NaN weight, another feature spec) falls back to exactly the blend.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { load } from '../../pkg/node.js';
import { createShopper } from '../../www/shopper.js';
import { CLI, ROOT, tempDir } from './helpers.mjs';

const T0 = Date.UTC(2026, 0, 5, 12, 0, 0);

/** The same synthetic catalogue, with or without a RANKER section. */
function bundle(ranker) {
  const out = join(tempDir(), `ranker-${ranker ?? 'none'}.vtr`);
  if (!existsSync(out)) {
    const args = ['session', 'synth', '--items', '600', '--dim', '16', '--seed', '4', '--out', out];
    if (ranker) args.push('--ranker', ranker);
    execFileSync(CLI, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  }
  return out;
}

/** Every item id, by index. */
const idsOf = (v) => Array.from({ length: v.info().nItems }, (_, i) => v.itemId(i));

const FEATURE_KINDS = {
  neighbour_session: 'neighbour',
  neighbour_rank: 'neighbour',
  neighbour_log: 'neighbour',
  in_session: 'history',
  session_recency: 'history',
  last_position: 'history',
  popularity: 'popular',
};

/** A shopper that viewed `items` one minute apart, ending now. */
function shopperOn(v, items) {
  const s = createShopper(v, { storage: 'none', now: () => T0 });
  items.forEach((item, k) => s.track({ type: 'view', item, ts: T0 - (items.length - k) * 60_000 }));
  return s;
}

test('ranker: info says which ranker is active', async () => {
  const learned = await load(bundle('trained'));
  assert.deepEqual(learned.info().ranker, { active: 'learned', reason: null });
  assert.ok(learned.info().sections.some((x) => x.name === 'RANKER'));
  assert.deepEqual((await load(bundle())).info().ranker, { active: 'blend', reason: null });
  const nan = (await load(bundle('nan'))).info().ranker;
  assert.equal(nan.active, 'fallback');
  assert.match(nan.reason, /not finite/);
  const other = (await load(bundle('other-spec'))).info().ranker;
  assert.equal(other.active, 'fallback');
  assert.match(other.reason, /spec mismatch/);
});

test('ranker: a bundle with the older 15-feature spec is used by name and says so', async () => {
  // Written before co_purchase and trend existed (src/ranker/tests.rs says how).
  const v = await load(join(ROOT, 'tests', 'fixtures', 'v1.2-ranker15.vtr'));
  const info = v.info().ranker;
  assert.equal(info.active, 'learned');
  assert.match(info.reason, /older feature spec: co_purchase, trend computed but weighted 0/);
  const ids = idsOf(v);
  const r = shopperOn(v, [ids[10], ids[11], ids[40]]).recommend({ k: 10 });
  assert.equal(r.ranker, 'learned');
  assert.equal(r.items.length, 10);
});

test('ranker: recommend and rerank use the RANKER section, reasons name the top feature', async () => {
  const v = await load(bundle('trained'));
  const blendOnly = await load(bundle());
  const ids = idsOf(v);
  const viewed = [ids[10], ids[11], ids[12]];
  const s = shopperOn(v, viewed);
  const r = s.recommend({ k: 20, excludeViewed: false });
  assert.equal(r.ranker, 'learned');
  assert.equal(r.items.length, 20);
  for (const it of r.items) {
    assert.equal(typeof it.reason.feature, 'string', JSON.stringify(it));
    const kind = FEATURE_KINDS[it.reason.feature];
    if (kind) assert.equal(it.reason.kind, kind, JSON.stringify(it));
    if (it.reason.feature === 'in_session') assert.equal(it.reason.item, it.id, 'seen in this session: the item itself');
  }
  // Scores are the logits, in order.
  for (let k = 1; k < r.items.length; k++) assert.ok(r.items[k - 1].score >= r.items[k].score);
  // `ranker: false` is the blend, the same list a bundle without RANKER gives.
  const b = s.recommend({ k: 20, excludeViewed: false, ranker: false });
  const plain = shopperOn(blendOnly, viewed).recommend({ k: 20, excludeViewed: false });
  assert.equal(b.ranker, 'blend');
  assert.deepEqual(b, plain);
  assert.ok(b.items.every((it) => it.reason.feature === undefined));
  assert.notDeepEqual(
    r.items.map((x) => x.id),
    b.items.map((x) => x.id),
    'the learned ranker orders differently from the blend',
  );
  // rerank: the same scorer over the caller's list.
  const cands = ids.slice(0, 200);
  const rr = s.rerank(cands, { excludeViewed: false });
  assert.equal(rr.ranker, 'learned');
  assert.equal(rr.items.length, 200);
  assert.ok(rr.items.every((it) => typeof it.reason.feature === 'string'));
  const rb = s.rerank(cands, { excludeViewed: false, ranker: false });
  assert.equal(rb.ranker, 'blend');
  // Merchandising rules still apply on the ranker's path.
  const pinned = s.recommend({ k: 10, pin: { [ids[500]]: 0 }, bury: [r.items[0].id] });
  assert.equal(pinned.items[0].id, ids[500]);
  assert.equal(pinned.items[0].reason.kind, 'pinned');
  assert.ok(!pinned.items.slice(0, 9).some((x) => x.id === r.items[0].id));
  // Bad option type: a typed error, not a silent default.
  assert.throws(() => s.recommend({ ranker: 'yes' }), { code: 'INVALID_ARGUMENT' });
});

test('ranker: a refused section ranks exactly as the blend', async () => {
  const ids = idsOf(await load(bundle()));
  const viewed = [ids[3], ids[4]];
  const plain = shopperOn(await load(bundle()), viewed).recommend({ k: 15 });
  for (const kind of ['nan', 'other-spec']) {
    const got = shopperOn(await load(bundle(kind)), viewed).recommend({ k: 15 });
    assert.equal(got.ranker, 'blend', kind);
    assert.deepEqual(got, plain, kind);
  }
});
