#!/usr/bin/env python3
"""Trains `implicit` ALS on a RecBole .inter file's positives (rating >= 4, weight 1,
as `vitrine train` reads them) and writes what `vitrine import --from implicit`
reads, plus implicit's own top-k for the first N users (tests/spark_import.rs).

    implicit_train.py LOG OUT --factors 16 --iterations 15 --alpha 3 --regularization 0.05 --users 100

OUT/model.npz (model.save()), OUT/items.txt (one item id per line, factor-row
order), OUT/users.csv (implicit_id,user_id), OUT/recs.json ({user: [items]}).
implicit's confidence is alpha x value; on binary values that is 1 + (alpha - 1),
so vitrine's alpha is implicit's alpha - 1 (the importer's default).
"""
import argparse
import csv
import json
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from implicit.cpu.als import AlternatingLeastSquares  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("log")
p.add_argument("out")
p.add_argument("--factors", type=int, default=16)
p.add_argument("--iterations", type=int, default=15)
p.add_argument("--alpha", type=float, default=3.0)
p.add_argument("--regularization", type=float, default=0.05)
p.add_argument("--seed", type=int, default=42)
p.add_argument("--users", type=int, default=100)
p.add_argument("--k", type=int, default=10)
a = p.parse_args()

users, items, pairs = {}, {}, set()
with open(a.log, encoding="utf-8", errors="replace") as f:
    header = [h.split(":")[0].strip().lower() for h in f.readline().rstrip("\r\n").split("\t")]
    cu, ci, cr = header.index("user_id"), header.index("item_id"), header.index("rating")
    for line in f:
        x = line.rstrip("\r\n").split("\t")
        if len(x) <= max(cu, ci, cr) or float(x[cr]) < 4:
            continue
        u = users.setdefault(x[cu].strip(), len(users))
        i = items.setdefault(x[ci].strip(), len(items))
        pairs.add((u, i))
rows, cols = zip(*sorted(pairs))
ui = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(users), len(items)))

model = AlternatingLeastSquares(factors=a.factors, iterations=a.iterations, alpha=a.alpha,
                                regularization=a.regularization, random_state=a.seed, num_threads=1)
model.fit(ui, show_progress=False)
os.makedirs(a.out, exist_ok=True)
model.save(os.path.join(a.out, "model.npz"))
item_names = sorted(items, key=items.get)
user_names = sorted(users, key=users.get)
with open(os.path.join(a.out, "items.txt"), "w") as f:
    f.write("".join(i + "\n" for i in item_names))
with open(os.path.join(a.out, "users.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["implicit_id", "user_id"])
    w.writerows(enumerate(user_names))
n = min(a.users, len(user_names))
ids, _ = model.recommend(np.arange(n), ui[:n], N=a.k, filter_already_liked_items=False)
with open(os.path.join(a.out, "recs.json"), "w") as f:
    json.dump({user_names[u]: [item_names[i] for i in ids[u]] for u in range(n)}, f)
