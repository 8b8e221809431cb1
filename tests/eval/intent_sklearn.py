#!/usr/bin/env python3
"""Open-set (rejection) figures for `make eval-intent`, reported apart from
the closed-set table: vitrine and scikit-learn on CrossWOZ with some classes
withheld from training (their test rows play out-of-scope), plus vitrine's
default intent set with its own out-of-scope test questions.

scikit-learn fits with the settings its closed-set tuning chose
(TfidfVectorizer(char_wb, sublinear_tf) n-gram range and C, read from the
tuned run's cache JSON, intent_tuned.py), so tuned meets tuned here too.
Both use the same threshold protocol as `vitrine intent eval --withhold`:
withheld classes are removed from training; in each of several draws
(vitrine's default 5), the classes vitrine's calibration hid in that draw
(read from its JSON, so both sides face the same pretend out-of-scope
classes) are hidden from a calibration model fitted on a stratified 80% of
the other classes' rows, and the threshold on the top probability maximizes
the mean over draws of (accepted-and-correct in-scope rate + out-of-scope
rejection rate) on the remaining 20% plus the hidden classes' rows; then the
model is refitted on the whole training part. The test file is scored once.
"""
import argparse
import csv
import json
import os
import random
import time

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression


def read(path):
    with open(path, encoding="utf-8", newline="") as f:
        r = csv.DictReader(f)
        return [(row["text"], row["intent"]) for row in r]


def fit(texts, labels, c=1.0, ngram=(1, 3)):
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(ngram), sublinear_tf=True)
    x = vec.fit_transform(texts)
    clf = LogisticRegression(C=c, max_iter=2000)
    clf.fit(x, labels)
    return vec, clf


def predict(model, texts):
    vec, clf = model
    p = clf.predict_proba(vec.transform(texts))
    best = p.argmax(axis=1)
    return clf.classes_[best], p[np.arange(len(texts)), best]


def choose_threshold(draws):
    """draws: list of (in_scope [(score, correct)], oos [score]); the
    threshold maximizing the mean objective over draws, and that mean."""
    draws = [(i, o) for i, o in draws if i and o]
    if not draws:
        return 0.0, 0.0
    prep = [(np.sort([p for p, ok in i if ok]), len(i), np.sort(o)) for i, o in draws]

    def score(t):
        j = 0.0
        for ok, n_in, o in prep:
            j += (len(ok) - np.searchsorted(ok, t, "left")) / n_in
            j += np.searchsorted(o, t, "left") / len(o)
        return j / len(prep)

    cands = sorted(set([0.0] + [p for i, o in draws for p, _ in i] + [p for _, o in draws for p in o]))
    best_t, best_j = 0.0, score(0.0)
    for a, b in zip(cands, cands[1:]):
        t = 0.5 * (a + b)
        j = score(t)
        if j > best_j + 1e-6:
            best_t, best_j = t, j
    return best_t, best_j


def scores(model, texts):
    """Top probability and margin between the two top probabilities."""
    vec, clf = model
    p = clf.predict_proba(vec.transform(texts))
    order = np.argsort(-p, axis=1)
    rows = np.arange(len(texts))
    top, second = p[rows, order[:, 0]], p[rows, order[:, 1]]
    return clf.classes_[order[:, 0]], top, top - second


def calibration_draw(train, seed, hidden, c, ngram):
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
    hidden = set(hidden)
    sub = [train[i] for i in tr if train[i][1] not in hidden]
    model = fit([t for t, _ in sub], [y for _, y in sub], c, ngram)
    in_rows = [train[i] for i in va if train[i][1] not in hidden]
    oos_rows = [r for r in train if r[1] in hidden]
    pred, conf, marg = scores(model, [t for t, _ in in_rows])
    _, oconf, omarg = scores(model, [t for t, _ in oos_rows])
    ok = [p == y for (_, y), p in zip(in_rows, pred)]
    return ((list(zip(conf, ok)), list(oconf)), (list(zip(marg, ok)), list(omarg)))


def calibrate(train, seed, draws_hidden, c, ngram):
    """Threshold over several pretend out-of-scope draws (the classes each
    draw hides come from vitrine's calibration, so both sides face the same
    ones); returns the threshold, its mean objective and the margin score's."""
    draws = [calibration_draw(train, seed + d, h, c, ngram) for d, h in enumerate(draws_hidden)]
    t, j = choose_threshold([p for p, _ in draws])
    _, jm = choose_threshold([m for _, m in draws])
    return t, j, jm


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", required=True, help="directory from intent_split.py")
    ap.add_argument("--vitrine-oos", required=True, help="vitrine open-set eval JSON (--withhold)")
    ap.add_argument("--sklearn-tuned", required=True,
                    help="scikit-learn's closed-set tuned run on the same train.csv (its `chosen`)")
    ap.add_argument("--default-set", help="vitrine eval JSON for the default intent set with --oos")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()

    train = read(os.path.join(a.split, "train.csv"))
    test = read(os.path.join(a.split, "test.csv"))
    with open(os.path.join(a.split, "withheld.txt"), encoding="utf-8") as f:
        withheld = [l.strip() for l in f if l.strip()]
    with open(a.sklearn_tuned, encoding="utf-8") as f:
        chosen = json.load(f)["chosen"]
    c, ngram = float(chosen["c"]), tuple(chosen["ngram"])

    with open(a.vitrine_oos, encoding="utf-8") as f:
        vit = json.load(f)
    draws_hidden = (vit.get("calibration") or {}).get("pseudo_oos_classes") or []
    if not draws_hidden or not all(isinstance(h, list) and h for h in draws_hidden):
        raise SystemExit("vitrine's open-set JSON names no pretend out-of-scope draws")

    wh = set(withheld)
    train_in = [r for r in train if r[1] not in wh]
    t0, c0 = time.time(), time.process_time()
    threshold, objective, margin_objective = calibrate(train_in, a.seed, draws_hidden, c, ngram)
    m2 = fit([t for t, _ in train_in], [y for _, y in train_in], c, ngram)
    train_seconds, train_cpu = time.time() - t0, time.process_time() - c0
    pred, conf = predict(m2, [t for t, _ in test])
    in_rows = [(p == y, cf) for (_, y), p, cf in zip(test, pred, conf) if y not in wh]
    in_ok = [ok and cf >= threshold for ok, cf in in_rows]
    oos_rej = [cf < threshold for (_, y), cf in zip(test, conf) if y in wh]

    if vit.get("n_oos") != len(oos_rej) or vit.get("n_in_scope") != len(in_ok):
        raise SystemExit("vitrine's open-set run does not score the same rows "
                         f"({vit.get('n_in_scope')}/{vit.get('n_oos')} vs {len(in_ok)}/{len(oos_rej)})")
    out = {
        # Named from the input (vitrine's JSON names it), never hard-coded.
        "dataset": vit.get("dataset") or os.path.basename(os.path.normpath(a.split)),
        "train_file": os.path.join(a.split, "train.csv"),
        "test_file": os.path.join(a.split, "test.csv"),
        "run": vit.get("run"),
        "protocol": "classes in withheld.txt removed from training; their test rows must be rejected",
        "classes_trained": len(set(y for _, y in train_in)),
        "n_train": len(train_in),
        "n_test_in_scope": len(in_ok),
        "n_test_oos": len(oos_rej),
        "withheld_classes": withheld,
        "vitrine": {
            "threshold": vit["threshold"],
            "in_scope_accuracy": vit["in_scope_accuracy"],
            "oos_recall": vit["oos_recall"],
            "closed_set_accuracy_on_in_scope": vit["accuracy"],
            "model_bytes": vit["model_bytes"],
            "train_seconds": vit.get("train_seconds"),
            "train_cpu_seconds": vit.get("train_cpu_seconds"),
            "selection": vit.get("selection"),
            "calibration": vit.get("calibration"),
        },
        "sklearn": {
            "c": c,
            "ngram": list(ngram),
            "settings_from": "its closed-set tuning on the full train.csv (validation split)",
            "threshold": float(threshold),
            "pseudo_oos_classes": draws_hidden,
            "calibration_draws": len(draws_hidden),
            "calibration_objective": float(objective),
            "calibration_margin_objective": float(margin_objective),
            "in_scope_accuracy": float(np.mean(in_ok)),
            "oos_recall": float(np.mean(oos_rej)),
            "closed_set_accuracy_on_in_scope": float(np.mean([ok for ok, _ in in_rows])),
            "train_seconds": train_seconds,
            "train_cpu_seconds": train_cpu,
        },
    }
    if a.default_set:
        with open(a.default_set, encoding="utf-8") as f:
            d = json.load(f)
        out["default_set"] = {
            "dataset": d.get("dataset"),
            "note": "vitrine only: trained with the calib out-of-scope rows, scored on the held-out "
                    "test file and the out-of-scope test rows",
            "n_in_scope": d["n_in_scope"],
            "n_oos": d["n_oos"],
            "accuracy": d["accuracy"],
            "macro_f1": d["macro_f1"],
            "by_lang": d["by_lang"],
            "oos_recall": d["oos_recall"],
            "in_scope_accuracy": d["in_scope_accuracy"],
            "threshold": d["threshold"],
            "model_bytes": d["model_bytes"],
            "calibration": d.get("calibration"),
        }
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=2, ensure_ascii=False)
    print(json.dumps({k: out[k] for k in ("dataset", "n_test_in_scope", "n_test_oos")}),
          "vitrine", out["vitrine"]["in_scope_accuracy"], out["vitrine"]["oos_recall"],
          "sklearn", out["sklearn"]["in_scope_accuracy"], out["sklearn"]["oos_recall"])


if __name__ == "__main__":
    main()
