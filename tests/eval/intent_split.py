#!/usr/bin/env python3
"""One place that writes the CrossWOZ intent split, so vitrine and the
scikit-learn baseline are scored on exactly the same rows.

Input: convlab 3.0.1's `auto_user_template_nlg.json` (act key -> utterances).
Only keys holding a single dialogue act are used (no '*'): 47 classes,
16,676 utterances. Slot placeholders such as `[Inform+景点+名称]` are kept
verbatim as text (both systems see the same tokens).

Output (in --out): train.csv, test.csv (text,intent; stratified 80/20, seed
fixed, classes with one utterance go to train), withheld.txt (10% of the
classes with >= 10 utterances, withheld from training in the open-set run).
"""
import argparse
import csv
import json
import os
import random
import sys
import tarfile

MEMBER = "convlab/nlg/template/crosswoz/auto_user_template_nlg.json"


def load(src):
    if src.endswith(".json"):
        with open(src, encoding="utf-8") as f:
            return json.load(f)
    with tarfile.open(src) as t:
        for m in t.getmembers():
            if m.name.endswith(MEMBER):
                return json.load(t.extractfile(m))
    sys.exit(f"{src}: {MEMBER} not found")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", required=True, help="convlab sdist (.tar.gz) or the json itself")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=20240517)
    ap.add_argument("--test-fraction", type=float, default=0.2)
    ap.add_argument("--withhold-fraction", type=float, default=0.1)
    a = ap.parse_args()

    data = load(a.src)
    single = {k: v for k, v in data.items() if k and "*" not in k}
    rng = random.Random(a.seed)
    train, test = [], []
    for intent in sorted(single):
        rows = list(single[intent])
        rng.shuffle(rows)
        k = 0 if len(rows) < 2 else max(1, round(len(rows) * a.test_fraction))
        test += [(t, intent) for t in rows[:k]]
        train += [(t, intent) for t in rows[k:]]
    eligible = sorted(k for k, v in single.items() if len(v) >= 10)
    n_withhold = max(1, round(len(single) * a.withhold_fraction))
    withheld = sorted(rng.sample(eligible, n_withhold))

    os.makedirs(a.out, exist_ok=True)
    for name, rows in (("train.csv", train), ("test.csv", test)):
        with open(os.path.join(a.out, name), "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["text", "intent"])
            w.writerows(rows)
    with open(os.path.join(a.out, "withheld.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(withheld) + "\n")
    print(f"crosswoz split: {len(single)} classes, {len(train)} train, {len(test)} test, "
          f"withheld {withheld}", file=sys.stderr)


if __name__ == "__main__":
    main()
