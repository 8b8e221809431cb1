"""Train `implicit` ALS on the split written by `vitrine eval` and return its
top-K recommendations, training wall time and peak memory.

Usage: implicit_als.py SPLIT_DIR OUT_JSON

SPLIT_DIR holds train.tsv (user, item, weight r; 0-based indices shared with
vitrine), test_users.txt (one user index per line) and params.json.

Objective parity with vitrine: implicit 0.7 uses the stored matrix values as
the confidence c_ui directly (its `alpha` only multiplies them), and its
regularisation is a plain lambda * I. vitrine uses c = 1 + alpha * r with the
same plain lambda. So we store 1 + alpha * r and pass alpha=1.0.
"""

import json
import os
import resource
import sys
import time

import numpy as np
import scipy.sparse as sp


def main() -> int:
    split_dir, out_path = sys.argv[1], sys.argv[2]
    with open(os.path.join(split_dir, "params.json")) as f:
        p = json.load(f)

    import implicit
    from implicit.cpu.als import AlternatingLeastSquares

    tr = np.loadtxt(os.path.join(split_dir, "train.tsv"), delimiter="\t", dtype=np.float64, ndmin=2)
    users = tr[:, 0].astype(np.int64)
    items = tr[:, 1].astype(np.int64)
    conf = (1.0 + p["alpha"] * tr[:, 2]).astype(np.float32)
    ui = sp.csr_matrix((conf, (users, items)), shape=(p["n_users"], p["n_items"]), dtype=np.float32)
    test_users = np.loadtxt(os.path.join(split_dir, "test_users.txt"), dtype=np.int64, ndmin=1)

    model = AlternatingLeastSquares(
        factors=p["factors"],
        regularization=p["lambda"],
        alpha=1.0,
        iterations=p["iterations"],
        num_threads=p["threads"],
        random_state=p["seed"],
        calculate_training_loss=False,
    )
    t0, c0 = time.perf_counter(), time.process_time()
    model.fit(ui, show_progress=False)
    train_seconds = time.perf_counter() - t0
    train_cpu_seconds = time.process_time() - c0  # all threads of this process
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB

    ids, _scores = model.recommend(
        test_users, ui[test_users], N=p["k"], filter_already_liked_items=True
    )
    recs = [[int(i) for i in row if i >= 0] for row in np.atleast_2d(ids)]
    out = {
        "train_seconds": train_seconds,
        "train_cpu_seconds": train_cpu_seconds,
        "peak_rss_bytes": int(peak),
        "version": implicit.__version__,
        "recs": recs,
    }
    tmp = out_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f)
    os.replace(tmp, out_path)
    print(f"implicit {implicit.__version__}: trained in {train_seconds:.3f}s, peak RSS {peak / 2**20:.0f} MiB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
