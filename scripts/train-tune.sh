#!/bin/sh
# Hyperparameter sweep on a *validation* split (the latest 20% of each
# evaluated user's training positives), never on the test split. Both vitrine
# and implicit are trained with every setting; pick by their mean NDCG@10.
#
#   scripts/train-tune.sh DATA.inter [OUT.tsv]
set -eu
data=$1
out=${2:-target/eval/tune.tsv}
bin=${VITRINE_BIN:-target/release/vitrine}
py=${PY:-.venv/bin/python}
alphas=${ALPHAS:-"1 2 5 10 20 40"}
lambdas=${LAMBDAS:-"0.01 0.1 1"}
mkdir -p "$(dirname "$out")"
printf 'alpha\tlambda\tvitrine_ndcg10\tvitrine_recall10\timplicit_ndcg10\timplicit_recall10\n' > "$out"
for a in $alphas; do
  for l in $lambdas; do
    dir=$(mktemp -d)
    "$bin" eval "$data" --format recbole --validation --quiet --dtypes f32 \
      --factors "${FACTORS:-64}" --iterations "${ITERATIONS:-15}" --threads 2 --seed 42 \
      --alpha "$a" --lambda "$l" --implicit-python "$py" --out-dir "$dir" > /dev/null
    "$py" - "$dir/metrics.json" "$a" "$l" >> "$out" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
get = lambda p: next(x["metrics"] for x in m["models"] if x["name"].startswith(p))
v, i = get("vitrine ALS (f32)"), get("implicit")
print(f"{sys.argv[2]}\t{sys.argv[3]}\t{v['ndcg']:.5f}\t{v['recall']:.5f}\t{i['ndcg']:.5f}\t{i['recall']:.5f}")
PY
    rm -rf "$dir"
    tail -n 1 "$out"
  done
done
