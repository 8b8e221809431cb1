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

// Hostile input through the public glue (Vitrine.matchIntent / redact):
// non-strings are a typed INVALID_ARGUMENT; any string gives a sane result
// (never a wasm trap), and the matcher still answers correctly afterwards.
test('matchIntent and redact: hostile input', async () => {
  const { withIntent } = synthWithIntent({ items: 400, dim: 16, dtype: 'int8', seed: 11 });
  const m = await load(withIntent);
  const ten = 'a'.repeat(10 * 1024 * 1024);
  const strings = {
    tenMB: ten,
    tenMBcjk: '我的电话'.repeat(2.5 * 1024 * 1024),
    loneHigh: '\ud800',
    loneLow: 'order \udc00 12345',
    surrogates: '\ud800\udbff\udc00x\udfff'.repeat(1000),
    nul: 'where\0is\0my order\0',
    nulOnly: '\0'.repeat(1000),
    empty: '',
    whitespace: ' \t\n\r\u00a0\u3000\u2028'.repeat(100),
    emoji: '😀🙃👍🏽👨‍👩‍👧‍👦🇨🇳'.repeat(200),
    combining: 'e\u0301\u0308\u0323'.repeat(500) + 'ordér 12345',
    zalgo: 'o̵̢̧̪̦͇̬̻̐̈́̀r̸͎̓̑d̶e̷r̴'.repeat(300),
    rtl: 'أين طلبي رقم 12345؟ \u202eorder\u202c שלום',
    bom: '\ufeffwhere is my order 12345',
    controls: Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).join('').repeat(50),
    nonchars: '\uffff\ufffe\ufdd0'.repeat(100),
  };
  for (const [name, s] of Object.entries(strings)) {
    const r = await m.matchIntent(s);
    assert.ok(r.intent === null || typeof r.intent === 'string', name);
    assert.ok(Number.isFinite(r.confidence) && r.confidence >= 0 && r.confidence <= 1, `${name}: ${r.confidence}`);
    assert.equal(typeof r.truncated, 'boolean', name);
    assert.equal(typeof r.escalate, 'boolean', name);
    const red = await m.redact(s);
    assert.equal(typeof red, 'string', name);
    // Nothing to mask: the text comes back as it went in (lone surrogates
    // reach the wasm as U+FFFD, like any JS string passed to it).
    if (!/[0-9@]/.test(s)) assert.ok(red === s.toWellFormed(), `${name}: changed without PII`);
  }
  assert.equal((await m.matchIntent(ten)).truncated, true);
  assert.equal(await m.redact(ten), ten, 'a 10 MB string without PII comes back unchanged');
  // A 10 MB paste full of PII is masked item by item, not refused or cut.
  const unit = 'mail a1@b.cd or 138-0013-8000, order 12345; ';
  const masked = 'mail [email] or [phone], order 12345; ';
  const n = Math.floor((10 * 1024 * 1024) / unit.length);
  assert.ok((await m.redact(unit.repeat(n))) === masked.repeat(n), '10 MB of PII masked item by item');
  // NUL and lone surrogates next to PII do not hide it.
  const nulPii = await m.redact('\0jane@example.com\0 \ud800 13800138000\udc00');
  assert.ok(!nulPii.includes('jane@example.com') && !nulPii.includes('13800138000'), nulPii);

  for (const bad of [42, 0, NaN, null, undefined, {}, { toString: () => 'order 12345' }, ['order 12345'], Symbol('x'), 10n, true, () => 'x', new String('order 12345'), new Uint8Array(4)]) {
    const label = typeof bad === 'symbol' ? 'Symbol' : typeof bad === 'bigint' ? 'BigInt' : String(bad);
    await assert.rejects(m.matchIntent(bad), (e) => e.name === 'VitrineError' && e.code === 'INVALID_ARGUMENT', `matchIntent(${label})`);
    await assert.rejects(m.redact(bad), (e) => e.name === 'VitrineError' && e.code === 'INVALID_ARGUMENT', `redact(${label})`);
  }

  // Still answering correctly after all of it.
  const order = await m.matchIntent('where is my order 12345');
  assert.equal(order.intent, 'order_status');
  assert.deepEqual(order.slots.orderNumbers, ['12345']);
  assert.equal((await m.matchIntent('运费多少')).intent, 'shipping');
  assert.equal(await m.redact('call 13800138000 about order 12345'), 'call [phone] about order 12345');
  m.dispose();
});

// What loadIntent() resolves to: the matcher's settings, checked like the
// model's methods (tests/node/probe.test.mjs probes them with every hostile
// value). The wasm object, whose matchIntent has no checks and no item ids,
// is not reachable from it.
test('the IntentModel from loadIntent(): copies, checked settings, DISPOSED', async () => {
  const { withIntent } = synthWithIntent({ items: 400, dim: 16, dtype: 'int8', seed: 11 });
  const m = await load(withIntent);
  const im = await m.loadIntent();
  assert.equal(im, await m.loadIntent(), 'one object per model');
  assert.deepEqual(Object.keys(im).sort(), ['intents', 'resetConversation', 'setThreshold', 'threshold']);
  assert.ok(!('matchIntent' in im) && !('free' in im) && !('__wbg_ptr' in im), 'the raw wasm object stays inside');
  assert.equal(Object.getPrototypeOf(im), Object.prototype);

  // intents: a copy each time; changing it changes nothing.
  const names = im.intents;
  assert.equal(names.length, 10);
  assert.notEqual(im.intents, names, 'a fresh array on each read');
  names.length = 0;
  im.intents.push('hacked');
  assert.equal(im.intents.length, 10);
  assert.throws(() => {
    'use strict';
    im.intents = [];
  }, TypeError);
  assert.equal(im.intents.length, 10);

  // setThreshold drives matchIntent's out-of-scope answer.
  const calibrated = im.threshold;
  assert.ok(calibrated > 0 && calibrated < 1);
  const q = 'tell me a joke about the weather';
  im.setThreshold(1);
  assert.equal(im.threshold, 1);
  assert.equal((await m.matchIntent(q)).intent, null, 'threshold 1: nothing is confident enough');
  im.setThreshold(0);
  assert.equal(typeof (await m.matchIntent(q)).intent, 'string', 'threshold 0: never null');
  im.setThreshold(calibrated);
  assert.equal(im.threshold, calibrated);
  for (const bad of [NaN, -0.01, 1.01, Infinity, -Infinity, '0.5', 1n, Symbol('t'), null, undefined, {}, [0.5], new Number(0.5), { valueOf: () => 0.5 }, new Proxy({}, { get() { throw new Error('trap'); } })]) {
    assert.throws(() => im.setThreshold(bad), (e) => e.name === 'VitrineError' && e.code === 'INVALID_ARGUMENT', String(typeof bad));
    assert.equal(im.threshold, calibrated, 'a refused threshold changes nothing');
  }

  assert.equal(im.resetConversation(), undefined);

  m.dispose();
  const disposed = (e) => e.name === 'VitrineError' && e.code === 'DISPOSED';
  assert.throws(() => im.intents, disposed);
  assert.throws(() => im.threshold, disposed);
  assert.throws(() => im.setThreshold(0.5), disposed);
  assert.throws(() => im.resetConversation(), disposed);
  await assert.rejects(m.resetConversation(), disposed);
});
