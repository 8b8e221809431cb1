// Type-checked by tests/pkg/types.test.mjs with `tsc --strict`: the
// documented placements example (docs/placements.md, pkg/README.md), plus
// mistakes the types must catch.

import { load } from 'vitrine';
import { createShopper } from 'vitrine/shopper';
import {
  withPlacements,
  createImpressionLog,
  boughtTogether,
  REASONS,
  type Placement,
  type PlacementReason,
} from 'vitrine/placements';

declare const cartIds: string[];

export async function placements(): Promise<void> {
  const model = await load('/models/store.vtr');
  const impressions = createImpressionLog();
  const shopper = withPlacements(createShopper(model), model, { impressions });
  const together: Placement = shopper.boughtTogether(cartIds, { k: 6, mode: 'strict' });
  const first: PlacementReason | undefined = together.items[0]?.reason;
  void first;
  shopper.buyAgain({ k: 8 });
  shopper.recentlyViewed({ k: 8 });
  shopper.trending({ k: 8, category: 'shoes' });
  const facets = shopper.trendingFacets({ k: 3 });
  const rise: number | undefined = facets[0]?.rise;
  void rise;
  impressions.shown(together.items.map((i) => i.id));
  void boughtTogether(model, 'sku-1', { k: 4 });
  void REASONS;
  // the shopper's own methods are still there, with the business options
  shopper.recommend({ k: 10 });
  const promoted = shopper.recommend({ k: 8, price: 'low', preferPrice: 'lower', promotion: { categories: ['sale'], share: 0.25 } });
  const isPromotedItem: true | undefined = promoted.items[0]?.promoted;
  void isPromotedItem;
  shopper.rerank(cartIds, { rotation: impressions.rotation({ rate: 0.3 }) });
  const user = model.itemVector('sku-1');
  const recs = model.recommend(user, { k: 10, price: 'high', promotion: { items: ['sku-2'] }, now: Date.now() });
  const isPromoted: true | undefined = recs[0]?.promoted;
  void isPromoted;

  // @ts-expect-error: the business options are not options of popular
  model.popular({ price: 'low' });
  // @ts-expect-error: preferPrice is 'higher' | 'lower'
  shopper.recommend({ preferPrice: 'cheaper' });

  // @ts-expect-error: mode is 'strict' | 'relaxed'
  shopper.boughtTogether(cartIds, { mode: 'loose' });
  // @ts-expect-error: price levels are none | low | medium | high
  shopper.trending({ price: 'max' });
  // @ts-expect-error: a placement needs the model, not an id list
  boughtTogether(cartIds, 'sku-1');
}
