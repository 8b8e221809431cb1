// matchIntent through a bundle's INTENT section, from Node: the default intent
// set trained with a title index over the bundle's own catalogue, so product
// mentions come back as item ids that chain into similar().
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { load } from '../../pkg/node.js';
import { CLI, ROOT, synth, tempDir } from './helpers.mjs';

const DATA = join(ROOT, 'src', 'intent', 'data');

test('matchIntent: intents in both languages, slots, product mentions with ids', async () => {
  const dir = tempDir();
  const plain = synth({ items: 400, dim: 16, dtype: 'int8', seed: 11, dir });
  const vti = join(dir, 'intent.vti');
  execFileSync(CLI, ['intent', 'train', '--data', join(DATA, 'default_train.csv'), '--oos', join(DATA, 'default_oos.csv'),
    '--config', join(DATA, 'default_intents.csv'), '--c', '30', '--titles-from', plain, '--out', vti], { stdio: 'ignore' });
  const withIntent = join(dir, 'with-intent.vtr');
  execFileSync(CLI, ['synth', '--items', '400', '--dim', '16', '--dtype', 'int8', '--seed', '11', '--intent', vti, '--out', withIntent], { stdio: 'ignore' });

  const m = await load(withIntent);
  assert.equal(m.info().hasIntent, true);

  const order = m.matchIntent('where is my order 12345');
  assert.equal(order.intent, 'order_status');
  assert.deepEqual(order.slots.orderNumbers, ['12345']);
  assert.ok(order.confidence > 0 && order.confidence <= 1);
  assert.ok(order.alternatives.length <= 3);

  const zh = m.matchIntent('运费多少');
  assert.equal(zh.intent, 'shipping');

  const title = m.item('item-42').title;
  const similar = m.matchIntent(`something like ${title} but cheaper`);
  assert.equal(similar.slots.price.cheaper, true);
  assert.ok(similar.slots.products.length >= 1, JSON.stringify(similar.slots));
  const mention = similar.slots.products[0];
  assert.equal(typeof mention.id, 'string');
  assert.equal(m.itemIndex(mention.id), mention.item);
  // The mention chains into similar() with a price filter.
  const price = m.item(mention.id).price;
  const cheaper = m.similar(mention.id, { k: 5, priceMax: price });
  assert.ok(cheaper.every((r) => m.item(r.id).price <= price));

  for (const weird of ['', '   ', '😀😀', 'a'.repeat(5000), '\ud800 lone surrogate']) {
    const r = m.matchIntent(weird);
    assert.ok(r.intent === null || typeof r.intent === 'string');
  }
  assert.equal(m.matchIntent('a'.repeat(5000)).truncated, true);
  m.dispose();

  const none = await load(plain);
  assert.throws(() => none.matchIntent('hello'), (e) => e.name === 'VitrineError' && e.code === 'NO_INTENT_MODEL');
  none.dispose();
});
