#!/usr/bin/env python3
"""Merges the intent evaluation pieces into target/eval/intent.json:
`closed_set` (tuned vitrine vs tuned scikit-learn per dataset, no rejection,
McNemar's p; from intent_tuned.py), `open_set` (rejection figures, from
intent_sklearn.py and vitrine's default-set run) and `mood`. Every dataset is
named by its own JSON."""
import argparse
import json
import os
import time


def load(p):
    with open(p, encoding="utf-8") as f:
        return json.load(f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--closed", nargs="*", default=[])
    ap.add_argument("--mood", nargs="*", default=[])
    ap.add_argument("--open", nargs="*", default=[])
    ap.add_argument("--size", help="size/accuracy trade-off JSON lines")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    out = {
        "closed_set": [load(p) for p in a.closed],
        "mood": [load(p) for p in a.mood],
        "open_set": [load(p) for p in a.open],
    }
    # The run as the other docs/numbers/*.json describe it: vitrine's own
    # record (date, host, cpu, cpus, version) from its first closed-set
    # evaluation, the merge time, and every dataset with its input files.
    runs = [d["run"] for d in out["closed_set"] + out["mood"] if d.get("run")]
    run = dict(runs[0]) if runs else {"host": os.uname().nodename, "cpus": os.cpu_count()}
    run["merged"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if runs:
        run["started"] = min(r.get("date", "") for r in runs)
    run["datasets"] = [{"dataset": d["dataset"], "train_file": d.get("train_file"),
                        "test_file": d.get("test_file")} for d in out["closed_set"] + out["mood"]]
    out = {"run": run, **out}
    if a.size:
        with open(a.size, encoding="utf-8") as f:
            out["size_tradeoff"] = [json.loads(l) for l in f if l.strip()]
    out["goals"] = {
        d["dataset"]: {
            "accuracy_ge_sklearn_tuned": d["vitrine"]["accuracy"] >= d["sklearn"]["accuracy"],
            "macro_f1_ge_sklearn_tuned": d["vitrine"]["macro_f1"] >= d["sklearn"]["macro_f1"],
            "model_le_1mb": (d["vitrine"]["model_bytes"] or 0) <= 1_000_000,
            # vitrine's whole training (CV selection + final fit) against
            # scikit-learn's selection + final fit on the same data.
            # None when either side's selection did not run (scikit-learn's
            # choice reused, or vitrine trained at a given C: no CV to time).
            "train_time_le_sklearn": None
            if d["sklearn"]["train_seconds_with_selection"] is None
            or not d["vitrine"].get("selection")
            else (d["vitrine"].get("train_seconds_with_cv") or float("inf"))
            <= d["sklearn"]["train_seconds_with_selection"],
            # The same in process CPU seconds (all threads counted).
            "train_cpu_le_sklearn": None
            if d["sklearn"].get("train_cpu_seconds_with_selection") is None
            or not d["vitrine"].get("selection")
            or d["vitrine"].get("train_cpu_seconds_with_cv") is None
            else d["vitrine"]["train_cpu_seconds_with_cv"]
            <= d["sklearn"]["train_cpu_seconds_with_selection"],
            "sklearn_time_measured_in_this_run": d["sklearn"].get("measured_in_this_run", True),
        }
        for d in out["closed_set"] + out["mood"]
    }
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=2, ensure_ascii=False)
    for d in out["closed_set"] + out["mood"]:
        v, s = d["vitrine"], d["sklearn"]
        print(f'{d["dataset"]:>20}: vitrine acc {v["accuracy"]:.4f} F1 {v["macro_f1"]:.4f} '
              f'{v.get("train_seconds_with_cv") or 0:.0f} s ({v.get("train_cpu_seconds_with_cv") or 0:.0f} s CPU) '
              f'| sklearn acc {s["accuracy"]:.4f} F1 {s["macro_f1"]:.4f} '
              f'{s["train_seconds_with_selection"] or 0:.0f} s ({s.get("train_cpu_seconds_with_selection") or 0:.0f} s CPU) '
              f'| McNemar p {d["mcnemar"]["p"]:.3g}')


if __name__ == "__main__":
    main()
