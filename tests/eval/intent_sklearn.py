#!/usr/bin/env python3
"""scikit-learn baseline for `make eval-intent`, and the merge step that
writes target/eval/intent.json next to vitrine's own numbers.

Baseline: TfidfVectorizer(analyzer='char_wb', ngram_range=(1, 3)) +
LogisticRegression (defaults, max_iter raised so lbfgs converges), on the
split written by intent_split.py. The open-set run uses the same protocol as
`vitrine intent eval --withhold`: withheld classes are removed from training;
the rejection threshold on max predict_proba is chosen on a stratified 20%
validation split of the training part, with 10% of the remaining classes
hidden from the calibration model to play out-of-scope, maximizing
(accepted-and-correct in-scope rate + out-of-scope rejection rate); then the
model is refitted on the whole training part.
"""
import argparse
import csv
import json
import math
import os
import pickle
import random
import time

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score


def read(path):
    with open(path, encoding="utf-8", newline="") as f:
        r = csv.DictReader(f)
        return [(row["text"], row["intent"]) for row in r]


def fit(texts, labels):
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3))
    x = vec.fit_transform(texts)
    clf = LogisticRegression(max_iter=2000)
    clf.fit(x, labels)
    return vec, clf


def predict(model, texts):
    vec, clf = model
    p = clf.predict_proba(vec.transform(texts))
    best = p.argmax(axis=1)
    return clf.classes_[best], p[np.arange(len(texts)), best]


def choose_threshold(in_scope, oos):
    """in_scope: list of (confidence, correct); oos: confidences."""
    if not in_scope or not oos:
        return 0.0
    cands = sorted(set([0.0] + [p for p, _ in in_scope] + list(oos)))

    def score(t):
        acc = sum(1 for p, ok in in_scope if ok and p >= t) / len(in_scope)
        rec = sum(1 for p in oos if p < t) / len(oos)
        return acc + rec

    best_t, best_j = 0.0, score(0.0)
    for a, b in zip(cands, cands[1:]):
        t = 0.5 * (a + b)
        j = score(t)
        if j > best_j + 1e-6:
            best_t, best_j = t, j
    return best_t


def calibrate(train, seed):
    rng = random.Random(seed)
    by = {}
    for i, (_, y) in enumerate(train):
        by.setdefault(y, []).append(i)
    tr, va = [], []
    for y in sorted(by):
        idx = by[y][:]
        rng.shuffle(idx)
        k = 0 if len(idx) < 2 else min(len(idx) - 1, max(1, round(len(idx) * 0.2)))
        va += idx[:k]
        tr += idx[k:]
    classes = sorted(by)
    k = min(len(classes) - 2, max(1, round(len(classes) * 0.1)))
    hidden = set(rng.sample(classes, k))
    sub = [train[i] for i in tr if train[i][1] not in hidden]
    model = fit([t for t, _ in sub], [y for _, y in sub])
    va_set = set(va)
    in_rows = [train[i] for i in va if train[i][1] not in hidden]
    oos_rows = [train[i] for i in range(len(train)) if train[i][1] in hidden]
    pred, conf = predict(model, [t for t, _ in in_rows])
    in_scope = [(c, p == y) for (_, y), p, c in zip(in_rows, pred, conf)]
    _, oos_conf = predict(model, [t for t, _ in oos_rows])
    del va_set
    return choose_threshold(in_scope, list(oos_conf)), sorted(hidden)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", required=True, help="directory from intent_split.py")
    ap.add_argument("--vitrine", required=True, help="vitrine closed-set eval JSON")
    ap.add_argument("--vitrine-oos", required=True, help="vitrine open-set eval JSON")
    ap.add_argument("--default-set", help="vitrine eval JSON for the default intent set")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()

    train = read(os.path.join(a.split, "train.csv"))
    test = read(os.path.join(a.split, "test.csv"))
    with open(os.path.join(a.split, "withheld.txt"), encoding="utf-8") as f:
        withheld = [l.strip() for l in f if l.strip()]

    t0 = time.time()
    model = fit([t for t, _ in train], [y for _, y in train])
    train_seconds = time.time() - t0
    y_true = [y for _, y in test]
    t1 = time.time()
    y_pred, _ = predict(model, [t for t, _ in test])
    eval_seconds = time.time() - t1
    labels = sorted(set(y_true))
    acc = float(np.mean([p == y for p, y in zip(y_pred, y_true)]))
    macro = float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))
    model_bytes = len(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
    vec, clf = model
    coef_nonzero = int(np.count_nonzero(clf.coef_))

    # Open set.
    wh = set(withheld)
    train_in = [r for r in train if r[1] not in wh]
    threshold, hidden = calibrate(train_in, a.seed)
    m2 = fit([t for t, _ in train_in], [y for _, y in train_in])
    pred, conf = predict(m2, [t for t, _ in test])
    in_ok = [p == y and c >= threshold for (_, y), p, c in zip(test, pred, conf) if y not in wh]
    oos_rej = [c < threshold for (_, y), c in zip(test, conf) if y in wh]

    with open(a.vitrine, encoding="utf-8") as f:
        vit = json.load(f)
    with open(a.vitrine_oos, encoding="utf-8") as f:
        vit_oos = json.load(f)
    sk = {
        "accuracy": acc,
        "macro_f1": macro,
        "model_bytes": model_bytes,
        "model_bytes_note": "pickle of the fitted TfidfVectorizer + LogisticRegression",
        "vocabulary": len(vec.vocabulary_),
        "coef_nonzero": coef_nonzero,
        "train_seconds": train_seconds,
        "eval_seconds": eval_seconds,
        "oos": {
            "threshold": float(threshold),
            "pseudo_oos_classes": hidden,
            "in_scope_accuracy": float(np.mean(in_ok)),
            "oos_recall": float(np.mean(oos_rej)),
        },
    }
    out = {
        # Named from the input (vitrine's JSON names it from the test file's
        # directory), never hard-coded.
        "dataset": vit.get("dataset") or os.path.basename(os.path.normpath(a.split)),
        "classes": len(set(y for _, y in train) | set(y_true)),
        "n_train": len(train),
        "n_test": len(test),
        "withheld_classes": withheld,
        "vitrine": {
            "accuracy": vit["accuracy"],
            "macro_f1": vit["macro_f1"],
            "model_bytes": vit["model_bytes"],
            "features": vit["features"],
            "weights": vit["weights"],
            "train_seconds": vit["train_seconds"],
            "eval_seconds": vit["eval_seconds"],
            "oos": {
                "threshold": vit_oos["threshold"],
                "in_scope_accuracy": vit_oos["in_scope_accuracy"],
                "oos_recall": vit_oos["oos_recall"],
                "closed_set_accuracy_on_in_scope": vit_oos["accuracy"],
                "calibration": vit_oos.get("calibration"),
            },
        },
        "sklearn": sk,
        # When and where: copied from vitrine's run (README tables name it).
        "run": vit.get("run"),
        "goals": {
            "accuracy_ge_sklearn": vit["accuracy"] >= acc,
            "macro_f1_ge_sklearn": vit["macro_f1"] >= macro,
            "model_le_1mb": vit["model_bytes"] <= 1 << 20,
        },
    }
    if a.default_set:
        with open(a.default_set, encoding="utf-8") as f:
            d = json.load(f)
        out["default_set"] = {
            "note": "vitrine on src/intent/data/default_test.csv (held out) + default_oos.csv test rows",
            "accuracy": d["accuracy"],
            "macro_f1": d["macro_f1"],
            "by_lang": d["by_lang"],
            "oos_recall": d["oos_recall"],
            "in_scope_accuracy": d["in_scope_accuracy"],
            "threshold": d["threshold"],
            "model_bytes": d["model_bytes"],
        }
        out["goals"]["default_set_ge_90_per_language"] = all(
            v["accuracy"] >= 0.9 for v in d["by_lang"].values())
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=2, ensure_ascii=False)
    print(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
