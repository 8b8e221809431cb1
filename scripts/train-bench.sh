#!/bin/sh
# Repeat `vitrine eval` over several seeds (same seed for both libraries in
# each run) and summarise quality and training wall time for vitrine ALS and
# implicit: mean ± sd of NDCG@10 / Recall@10, median training seconds, peak RSS.
# A single seed cannot settle "which is better": seed noise on ml-1m is about
# ±0.001 NDCG@10.
#
#   scripts/train-bench.sh DATA.inter [OUT.tsv]   (env: SEEDS, ALPHA, LAMBDA, ...)
set -eu
data=$1
out=${2:-target/eval/bench.tsv}
bin=${VITRINE_BIN:-target/release/vitrine}
py=${PY:-.venv/bin/python}
seeds=${SEEDS:-"1 2 3 4 5"}
mkdir -p "$(dirname "$out")"
printf 'seed\tmodel\tndcg10\trecall10\ttrain_seconds\ttrain_cpu_seconds\tpeak_rss_mib\n' > "$out"
for s in $seeds; do
  dir=$(mktemp -d)
  "$bin" eval "$data" --format recbole --quiet --dtypes f32,int8 --knn 10 \
    --factors "${FACTORS:-64}" --iterations "${ITERATIONS:-15}" --threads "${THREADS:-2}" \
    --alpha "${ALPHA:-2}" --lambda "${LAMBDA:-0.1}" --seed "$s" \
    --implicit-python "$py" --out-dir "$dir" > /dev/null 2>&1
  "$py" - "$dir/metrics.json" "$s" >> "$out" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
for x in m["models"]:
    if x["name"].startswith(("vitrine", "implicit")):
        t = x["metrics"]
        print(f"{sys.argv[2]}\t{x['name']}\t{t['ndcg']:.5f}\t{t['recall']:.5f}\t{x['train_seconds']:.3f}\t{x['train_cpu_seconds']:.2f}\t{x['peak_rss_bytes'] / 2**20:.1f}")
PY
  rm -rf "$dir"
done
"$py" - "$out" <<'PY'
import csv, statistics as st, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
print(f"{'model':<24} {'runs':>4} {'NDCG@10 mean±sd':>18} {'Recall@10 mean±sd':>18} {'train s median':>14} {'CPU s median':>12} {'RSS MiB':>8}")
for name in dict.fromkeys(r["model"] for r in rows):
    rs = [r for r in rows if r["model"] == name]
    f = lambda k: [float(r[k]) for r in rs]
    sd = lambda v: st.stdev(v) if len(v) > 1 else 0.0
    print(f"{name:<24} {len(rs):>4} {st.mean(f('ndcg10')):>10.5f}±{sd(f('ndcg10')):.5f} {st.mean(f('recall10')):>10.5f}±{sd(f('recall10')):.5f} {st.median(f('train_seconds')):>14.3f} {st.median(f('train_cpu_seconds')):>12.2f} {max(f('peak_rss_mib')):>8.0f}")
PY
