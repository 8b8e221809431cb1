// The hostile-argument probe (tests/node/probe.test.mjs) in worker mode, in
// real Chromium: a model from `loadInWorker()` (async methods) and a shopper
// over it, every method with each hostile value at each argument position
// (options keys are the Node probe's; here the arguments themselves, many of
// which cannot even be posted to a worker: functions, Symbols, Proxies).
// Each call must resolve to a well-formed answer or reject with a
// VitrineError of a documented code (never INTERNAL), and the worker must
// answer a fixed query exactly as before after every call.

import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { startServer } from '../../scripts/serve.mjs';
import { ROOT, synthWithIntent } from '../node/helpers.mjs';
import { launch, newPage } from './chromium.mjs';

// With an intent model (the default intent set), so that the intent methods
// and the IntentModel from loadIntent() are probed too.
const bundle = synthWithIntent({ items: 500, dim: 8, dtype: 'f32', seed: 5 }).withIntent;

/** The documented codes (docs/errors.md's code tables). */
function documentedCodes() {
  const codes = [];
  let inTable = false;
  for (const l of readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8').split('\n')) {
    if (/^\| code \|/.test(l)) inTable = true;
    else if (!l.startsWith('|')) inTable = false;
    else if (inTable) {
      const m = l.match(/^\| `([A-Z_]+)` \|/);
      if (m) codes.push(m[1]);
    }
  }
  return codes;
}

let srv;
let browser;
test.before(async () => {
  srv = await startServer({ mounts: { '/t/': dirname(bundle), '/tests/': import.meta.dirname ?? dirname(new URL(import.meta.url).pathname) }, quiet: true });
  browser = await launch();
});
test.after(async () => {
  await browser?.close();
  await srv?.close();
});

test('worker mode: every async method with every hostile argument is typed and leaves the worker answering as before', async () => {
  const { page, errors } = await newPage(browser.context, `${srv.url}/tests/blank.html`);
  const out = await page.evaluate(
    async ({ url, codes }) => {
      const v = await import('/pkg/vitrine.js');
      const { createShopper } = await import('/pkg/shopper.js');
      const m = await v.loadInWorker(url, { threads: 1 });
      const dim = m.dim;
      const thrower = () => {
        throw new Error('hostile getter');
      };
      const withGetters = {};
      for (const k of ['k', 'exclude', 'length', '0', 'type', 'item', 'then']) Object.defineProperty(withGetters, k, { get: thrower, enumerable: true });
      const sparse = ['item-1'];
      sparse[4] = 'item-1';
      const nan = new Float32Array(dim).fill(0.1);
      nan[1] = NaN;
      const values = [
        ['undefined', undefined], ['null', null], ['NaN', NaN], ['Infinity', Infinity], ['-Infinity', -Infinity], ['-0', -0],
        ['1e308', 1e308], ['-1', -1], ['2**31', 2 ** 31], ['2**32', 2 ** 32], ['2**53+2', 2 ** 53 + 2], ['0.5', 0.5],
        ["''", ''], ["'abc'", 'abc'], ["'12'", '12'], ['true', true], ['{}', {}], ['[]', []], ['[NaN]', [NaN]], ["[1,'x']", [1, 'x']],
        ['sparse', sparse], ['F32(0)', new Float32Array(0)], ['F32(dim-1)', new Float32Array(dim - 1)], ['F32(dim+1)', new Float32Array(dim + 1)],
        ['F32 NaN', nan], ['F64(dim)', new Float64Array(dim)], ['I8(dim)', new Int8Array(dim)], ['1n', 1n], ['Symbol', Symbol('x')],
        ['function', () => {}], ['Proxy get throws', new Proxy({}, { get: thrower })], ['getters throw', withGetters],
        ['1e6 entries', new Array(1e6).fill(0)], ['10 MB string', 'x'.repeat(10 * 1024 * 1024)], ['lone surrogate', '\uD800'],
        ['Object.create(null)', Object.create(null)], ['__proto__ keys', JSON.parse('{"__proto__": {"k": 1}}')], ['Date', new Date(0)], ['Map', new Map()],
      ];
      const u = new Float32Array(dim).fill(0.25);
      const baseline = async () => JSON.stringify([await m.recommend(u, { k: 5 }), await m.similar('item-2', { k: 3 }), Array.from((await m.recommendIndices(u, 4)).indices)]);
      const before = await baseline();
      const shopper = createShopper(m, { storage: 'none', now: () => 1e12 });
      shopper.track({ type: 'view', item: 'item-3', ts: 1e12 - 1000 });
      const methods = {
        recommend: [u, { k: 5 }], recommendIndices: [u, 5], similar: ['item-2', { k: 5 }], popular: [{ k: 5 }],
        item: ['item-2'], has: ['item-2'], itemIndex: ['item-2'], itemId: [2], itemVector: ['item-2'], info: [], simdEnabled: [],
        matchIntent: ['where is my order 12345'], redact: ['call 13800138000'], loadIntent: [], resetConversation: [],
      };
      const calls = [];
      const failures = [];
      for (const [name, args] of Object.entries(methods)) {
        for (let pos = 0; pos < Math.max(args.length, 1); pos++) {
          for (const [label, value] of values) {
            const a = args.slice();
            a[pos] = value;
            calls.push([`VitrineWorker.${name} arg${pos}=${label}`, () => m[name](...a)]);
          }
        }
      }
      for (const [name, args] of Object.entries({ recommend: [{ k: 5 }], rerank: [['item-1', 'item-2', 'item-4'], { k: 2 }], explain: ['item-2'], userVector: [], tasteSegment: [] })) {
        for (let pos = 0; pos < Math.max(args.length, 1); pos++) {
          for (const [label, value] of values) {
            const a = args.slice();
            a[pos] = value;
            calls.push([`AsyncShopper.${name} arg${pos}=${label}`, () => shopper[name](...a)]);
          }
        }
      }
      // What loadIntent() resolves to: a refused threshold leaves it as it was.
      const im = await m.loadIntent();
      for (const name of ['setThreshold', 'resetConversation']) {
        for (const [label, value] of values) {
          calls.push([`WorkerIntentModel.${name} arg0=${label}`, () => {
            const th = im.threshold;
            return im[name](value).catch((e) => {
              if (im.threshold !== th) failures.push(`WorkerIntentModel.${name} arg0=${label}: a refused call changed the threshold`);
              throw e;
            });
          }]);
        }
      }
      // The raw entry points the shopper uses, with hostile arguments posted as they are.
      for (const method of ['foldIn', 'recommendFor', 'rerank', 'segment', 'explain', 'behaviourSegment']) {
        for (const [label, value] of values) calls.push([`VitrineWorker.shopperCall ${method} arg1=${label}`, () => m.shopperCall(method, value, { now: 1e12 })]);
      }
      let n = 0;
      for (const [label, f] of calls) {
        n++;
        let r;
        try {
          r = f();
          if (!(r instanceof Promise)) failures.push(`${label}: returned ${typeof r}, not a Promise`);
          await r;
        } catch (e) {
          if (!(e instanceof v.VitrineError)) failures.push(`${label}: rejected with ${e?.constructor?.name}: ${String(e?.message).slice(0, 100)}`);
          else if (!codes.includes(e.code) || e.code === 'INTERNAL') failures.push(`${label}: ${e.code}: ${e.message.slice(0, 120)}`);
        }
        const now = await baseline().catch((e) => `threw ${e.code}`);
        if (now !== before) {
          failures.push(`${label}: the worker answers differently afterwards`);
          break;
        }
      }
      const proto = Object.getOwnPropertyNames(Object.getPrototypeOf(m)).filter((k) => k !== 'constructor' && !k.startsWith('_') && typeof Object.getOwnPropertyDescriptor(Object.getPrototypeOf(m), k).value === 'function');
      const imKeys = Object.keys(im).sort();
      await im.setThreshold(0.25);
      const imBefore = [im.threshold, im.intents.length];
      await m.dispose();
      const code = async (f) => {
        try {
          await f();
          return 'answered';
        } catch (e) {
          return e instanceof v.VitrineError ? e.code : String(e);
        }
      };
      const afterDispose = [await code(() => im.intents), await code(() => im.threshold), await code(() => im.setThreshold(0.5)), await code(() => im.resetConversation())];
      return { n, failures, proto, probed: [...Object.keys(methods), 'shopperCall'], imKeys, imBefore, afterDispose };
    },
    { url: `/t/${basename(bundle)}`, codes: documentedCodes() },
  );
  assert.deepEqual(out.failures, [], out.failures.join('\n'));
  // Every method of the worker proxy is probed here, or skipped with a reason
  // (the node probe checks the prototype against vitrine.d.ts).
  const skipped = { dispose: 'ends the probe' };
  assert.deepEqual([...out.probed, ...Object.keys(skipped)].sort(), out.proto.sort());
  // The worker's IntentModel: the page's members; the threshold as the wasm stores it (f32).
  assert.deepEqual(out.imKeys, ['intents', 'resetConversation', 'setThreshold', 'threshold']);
  assert.deepEqual(out.imBefore, [0.25, 10]);
  assert.deepEqual(out.afterDispose, ['DISPOSED', 'DISPOSED', 'DISPOSED', 'DISPOSED']);
  assert.ok(out.n > 800, `only ${out.n} calls`);
  assert.deepEqual(errors, []);
});
