// matchIntent through a bundle's INTENT section, from Node: the default intent
// set trained with a title index over the bundle's own catalogue, so product
// mentions come back as item ids that chain into similar().
import test from 'node:test';
import assert from 'node:assert/strict';
import { load } from '../../pkg/node.js';
import { synthWithIntent } from './helpers.mjs';

test('matchIntent: intents in both languages, slots, product mentions with ids', async () => {
  const { plain, withIntent } = synthWithIntent({ items: 400, dim: 16, dtype: 'int8', seed: 11 });

  const m = await load(withIntent);
  assert.equal(m.info().hasIntent, true);

  const order = await m.matchIntent('where is my order 12345');
  assert.equal(order.intent, 'order_status');
  assert.deepEqual(order.slots.orderNumbers, ['12345']);
  assert.ok(order.confidence > 0 && order.confidence <= 1);
  assert.ok(order.alternatives.length <= 3);

  const zh = await m.matchIntent('运费多少');
  assert.equal(zh.intent, 'shipping');

  const title = m.item('item-42').title;
  const similar = await m.matchIntent(`something like ${title} but cheaper`);
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
    const r = await m.matchIntent(weird);
    assert.ok(r.intent === null || typeof r.intent === 'string');
  }
  assert.equal((await m.matchIntent('a'.repeat(5000))).truncated, true);
  // The intent module is a second wasm instance, fetched once and kept.
  const im = await m.loadIntent();
  assert.equal(im, await m.loadIntent());
  assert.ok(im.intents.includes('order_status'));
  assert.ok(im.threshold > 0 && im.threshold < 1);
  m.dispose();
  await assert.rejects(m.matchIntent('hello'), (e) => e.name === 'VitrineError' && e.code === 'DISPOSED');
  await assert.rejects(m.loadIntent(), (e) => e.code === 'DISPOSED', 'a rejection, not a synchronous throw');

  const none = await load(plain);
  await assert.rejects(none.matchIntent('hello'), (e) => e.name === 'VitrineError' && e.code === 'NO_INTENT_MODEL');
  await assert.rejects(none.loadIntent(), (e) => e.code === 'NO_INTENT_MODEL');
  none.dispose();
});

test('matchIntent: mood and escalate fields, redact and resetConversation through the glue', async () => {
  const { withIntent } = synthWithIntent({ items: 400, dim: 16, dtype: 'int8', seed: 11 });
  const m = await load(withIntent);
  const r = await m.matchIntent('where is my order 12345');
  assert.ok('mood' in r, 'mood is always present (null without a mood head)');
  assert.equal(typeof r.escalate, 'boolean');
  const human = await m.matchIntent('I want to talk to a human agent');
  assert.equal(human.escalate, true, JSON.stringify(human));
  await m.resetConversation();

  const red = await m.redact('mail me at jane.doe@example.com or call +1 415 555 0134 about order 12345');
  assert.ok(!red.includes('jane.doe@example.com'), red);
  assert.ok(!red.includes('555 0134'), red);
  assert.ok(red.includes('12345'), `order numbers stay: ${red}`);
  await assert.rejects(m.redact(42), (e) => e.code === 'INVALID_ARGUMENT');
});
