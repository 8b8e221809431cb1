// Fixture for tests/consumers/node-esm: the installed package from an ES module.
import { load, VitrineError } from 'vitrine';

const [url, u, intentUrl] = [process.argv[2], JSON.parse(process.argv[3]), process.argv[4]];
const m = await load(url);
const mi = await load(intentUrl);
const plain = (list) => [...list].map((x) => ({ id: x.id, score: x.score }));
const rec = plain(m.recommend(u, { k: 5 }));
const out = {
  variant: m.variant,
  rec,
  similar: plain(m.similar(rec[0].id, { k: 5 })),
  popular: plain(m.popular({ k: 5, priceMax: null })),
  item: m.item(rec[0].id),
  intent: (await mi.matchIntent('where is my order 12345')).intent,
};
try {
  m.item('no-such-item');
} catch (e) {
  out.error = `${e instanceof VitrineError}:${e.code}`;
}
m.dispose();
mi.dispose();
console.log(JSON.stringify(out));
