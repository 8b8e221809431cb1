#!/usr/bin/env python3
"""Tuned-against-tuned comparison for one text-classification dataset
(`make eval-intent`): scikit-learn TF-IDF + LogisticRegression with its C and
n-gram range chosen on a validation split cut from the training data, vs the
predictions `vitrine intent eval --predictions` wrote for the same test rows
(vitrine chooses its own C by k-fold CV on the same training data).

Closed-set only: accuracy and macro-F1 without any rejection threshold, and
McNemar's exact test on the paired per-row correctness. The dataset name and
label column come from the arguments / vitrine's JSON, never from here.

Train/test files: CSV with `text` and the label column; with a `split`
column, training uses rows not marked `test` and testing rows marked `test`
(one file may hold both, as the English mood set does).
"""
import argparse
import csv
import hashlib
import json
import math
import os
import random
import time

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

C_GRID = [0.3, 1, 3, 10, 30, 100]
NGRAMS = [(1, 2), (1, 3), (1, 4)]


def read(path, label, test):
    rows = []
    with open(path, encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            if "split" in r and ((r["split"].strip() == "test") != test):
                continue
            t, y = r["text"].strip(), r[label].strip()
            if t and y and y not in ("_oos", "oos", "out_of_scope"):
                rows.append((t, y))
    return rows


def fit(texts, labels, c, ngram):
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=ngram, sublinear_tf=True)
    x = vec.fit_transform(texts)
    clf = LogisticRegression(C=c, max_iter=2000)
    clf.fit(x, labels)
    return vec, clf


def split(train, seed, frac=0.2):
    rng = random.Random(seed)
    by = {}
    for i, (_, y) in enumerate(train):
        by.setdefault(y, []).append(i)
    tr, va = [], []
    for y in sorted(by):
        idx = by[y][:]
        rng.shuffle(idx)
        k = 0 if len(idx) < 2 else min(len(idx) - 1, max(1, round(len(idx) * frac)))
        va += idx[:k]
        tr += idx[k:]
    return tr, va


def mcnemar_exact(a_right, b_right):
    """Two-sided exact McNemar p on the discordant pairs (binomial, p = 1/2)."""
    b = sum(1 for x, y in zip(a_right, b_right) if x and not y)
    c = sum(1 for x, y in zip(a_right, b_right) if y and not x)
    n = b + c
    if n == 0:
        return 1.0, b, c
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2.0 ** n
    return min(1.0, 2 * tail), b, c


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def run_sklearn(a, train, test):
    """Tunes and fits scikit-learn; with --sklearn-cache, a previous run on
    byte-identical train/test files (and the same grid and seed) is reused and
    marked `measured_in_this_run: false` (its times come from that run)."""
    key = {"train_sha256": sha256(a.train), "test_sha256": sha256(a.test), "label": a.label,
           "seed": a.seed, "c_grid": C_GRID, "ngrams": [list(n) for n in NGRAMS]}
    if a.sklearn_choice:
        key["choice"] = a.sklearn_choice
    # --sklearn-only measures afresh (it is the measurement), unless told
    # to reuse (INTENT_SK_CACHE=1).
    if a.sklearn_cache and os.path.exists(a.sklearn_cache) and (a.reuse or not a.sklearn_only):
        with open(a.sklearn_cache, encoding="utf-8") as f:
            cached = json.load(f)
        if cached.get("key") == key and len(cached.get("predictions", [])) == len(test):
            # Measured in this run when the same `make eval-intent`
            # invocation (its run id) wrote it, side by side with vitrine.
            cached["measured_in_this_run"] = bool(a.run_id) and cached.get("run_id") == a.run_id
            return cached
    t0, c0 = time.time(), time.process_time()
    grid = []
    if a.sklearn_choice:
        # The selection is deterministic (fixed split seed, lbfgs): a choice
        # recorded by an earlier full run on the same files can be reused
        # when the machine cannot afford the 18 selection fits again. Its
        # time is then not measured (select_seconds = None).
        c, lo, hi = a.sklearn_choice.split(",")
        best = {"c": float(c), "ngram": [int(lo), int(hi)], "reused_choice": True}
    else:
        tr, va = split(train, a.seed)
        for ngram in NGRAMS:
            for c in C_GRID:
                m = fit([train[i][0] for i in tr], [train[i][1] for i in tr], c, ngram)
                pred = m[1].predict(m[0].transform([train[i][0] for i in va]))
                grid.append({"c": c, "ngram": list(ngram),
                             "val_accuracy": accuracy_score([train[i][1] for i in va], pred)})
        best = max(grid, key=lambda g: g["val_accuracy"])
    select_seconds = None if a.sklearn_choice else time.time() - t0
    select_cpu = None if a.sklearn_choice else time.process_time() - c0
    t1, c1 = time.time(), time.process_time()
    vec, clf = fit([t for t, _ in train], [y for _, y in train], best["c"], tuple(best["ngram"]))
    fit_seconds = time.time() - t1
    fit_cpu = time.process_time() - c1
    out = {
        "key": key,
        "chosen": best,
        "grid": grid,
        "select_seconds": select_seconds,
        "final_fit_seconds": fit_seconds,
        "select_cpu_seconds": select_cpu,
        "final_fit_cpu_seconds": fit_cpu,
        "predictions": [str(p) for p in clf.predict(vec.transform([t for t, _ in test]))],
        "measured_in_this_run": True,
        "run_id": a.run_id,
    }
    if a.sklearn_cache:
        with open(a.sklearn_cache, "w", encoding="utf-8") as f:
            json.dump(out, f, ensure_ascii=False)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--label", default="intent")
    ap.add_argument("--vitrine", help="vitrine eval JSON")
    ap.add_argument("--vitrine-predictions")
    ap.add_argument("--out")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--sklearn-cache", help="reuse/store scikit-learn's run for identical inputs")
    ap.add_argument("--sklearn-choice", metavar="C,NMIN,NMAX",
                    help="skip the selection and fit this choice (from an earlier full run)")
    ap.add_argument("--run-id", help="id of the make invocation; a cache entry written under the "
                    "same id was measured in this run")
    ap.add_argument("--reuse", action="store_true",
                    help="with --sklearn-only: keep a cache entry for identical inputs")
    ap.add_argument("--sklearn-only", action="store_true",
                    help="only run (and cache) scikit-learn; needs --sklearn-cache")
    a = ap.parse_args()
    train = read(a.train, a.label, False)
    test = read(a.test, a.label, True)
    if a.sklearn_only:
        if not a.sklearn_cache:
            raise SystemExit("--sklearn-only needs --sklearn-cache")
        run_sklearn(a, train, test)
        return
    if not (a.vitrine and a.vitrine_predictions and a.out):
        raise SystemExit("--vitrine, --vitrine-predictions and --out are required")
    with open(a.vitrine, encoding="utf-8") as f:
        vit = json.load(f)
    with open(a.vitrine_predictions, encoding="utf-8", newline="") as f:
        vpred = list(csv.DictReader(f))
    if len(vpred) != len(test) or any(p["truth"] != y for p, (_, y) in zip(vpred, test)):
        raise SystemExit("vitrine predictions do not line up with the test rows")

    y_true = [y for _, y in test]
    sk_run = run_sklearn(a, train, test)
    sk, best = sk_run["predictions"], sk_run["chosen"]
    vp = [p["prediction"] for p in vpred]
    labels = sorted(set(y_true))
    sk_right = [p == y for p, y in zip(sk, y_true)]
    v_right = [p == y for p, y in zip(vp, y_true)]
    p, b, c = mcnemar_exact(v_right, sk_right)
    out = {
        "dataset": vit.get("dataset"),
        "train_file": a.train,
        "test_file": a.test,
        "run": vit.get("run"),
        "label_column": a.label,
        "n_train": len(train),
        "n_test": len(test),
        "classes": len(labels),
        "vitrine": {
            "accuracy": float(np.mean(v_right)),
            "macro_f1": f1_score(y_true, vp, labels=labels, average="macro", zero_division=0),
            "model_bytes": vit.get("model_bytes"),
            "train_seconds_with_cv": vit.get("train_seconds"),
            # Process CPU (all threads) of the same training: wall time
            # on a shared machine measures the other jobs as much as ours.
            "train_cpu_seconds_with_cv": vit.get("train_cpu_seconds"),
            "threads": vit.get("threads"),
            "selection": vit.get("selection"),
        },
        "sklearn": {
            "accuracy": float(np.mean(sk_right)),
            "macro_f1": f1_score(y_true, sk, labels=labels, average="macro", zero_division=0),
            "chosen": best,
            "grid": sk_run["grid"],
            "select_seconds": sk_run["select_seconds"],
            "final_fit_seconds": sk_run["final_fit_seconds"],
            "train_seconds_with_selection": None if sk_run["select_seconds"] is None
            else sk_run["select_seconds"] + sk_run["final_fit_seconds"],
            "select_cpu_seconds": sk_run.get("select_cpu_seconds"),
            "final_fit_cpu_seconds": sk_run.get("final_fit_cpu_seconds"),
            "train_cpu_seconds_with_selection": None
            if sk_run.get("select_cpu_seconds") is None
            else sk_run["select_cpu_seconds"] + sk_run["final_fit_cpu_seconds"],
            "measured_in_this_run": sk_run["measured_in_this_run"],
            # One process, fits one after another (lbfgs on sparse input
            # is single-threaded): CPU time is the fair comparison.
            "n_jobs": 1,
            "model": "TfidfVectorizer(char_wb, sublinear_tf) + LogisticRegression(lbfgs)",
        },
        "mcnemar": {"p": p, "vitrine_only_right": b, "sklearn_only_right": c},
    }
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=2, ensure_ascii=False)
    print(json.dumps({k: out[k] for k in ("dataset", "mcnemar")}, ensure_ascii=False),
          "vitrine", round(out["vitrine"]["accuracy"], 4), "sklearn", round(out["sklearn"]["accuracy"], 4))


if __name__ == "__main__":
    main()
