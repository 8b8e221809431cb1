"""Spark MLlib ALS (implicitPrefs) on the split written by `vitrine eval`, in place of
the implicit script (same interface: SPLIT_DIR OUT_JSON; `make eval-spark`).

SPLIT_DIR holds train.tsv (user, item, weight r; 0-based indices shared with
vitrine), test_users.txt and params.json. Spark's confidence is 1 + alpha * r, as
vitrine's; its regParam is multiplied by each row's positives (ALS-WR), so the
plain lambda of params.json is not comparable: SPARK_REG_PARAM (default 0.01)
sets it. Top-k excludes each test user's training items, scored with numpy
from Spark's factors (recommendForUserSubset cannot exclude). Train time is
`ALS.fit` plus collecting both factor tables, in local[THREADS] mode; CPU time and
peak RSS add the JVM's (from /proc) to the Python driver's.
"""

import json
import os
import resource
import sys
import time

import numpy as np


def jvm_stats(pid):
    """(CPU seconds, peak RSS bytes) of the local-mode JVM, which does the work."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        cpu = (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")
        with open(f"/proc/{pid}/status") as f:
            hwm = next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmHWM:"))
        return cpu, hwm
    except (OSError, IndexError, StopIteration, ValueError):
        return float("nan"), 0


def main() -> int:
    split_dir, out_path = sys.argv[1], sys.argv[2]
    with open(os.path.join(split_dir, "params.json")) as f:
        p = json.load(f)
    reg = float(os.environ.get("SPARK_REG_PARAM", "0.01"))
    from pyspark.sql import SparkSession
    from pyspark.ml.recommendation import ALS
    import pyspark

    threads = p["threads"] or os.cpu_count()
    spark = (SparkSession.builder.master(f"local[{threads}]").appName("vitrine-eval-spark")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .config("spark.driver.memory", "4g").config("spark.sql.shuffle.partitions", str(threads))
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    tr = np.loadtxt(os.path.join(split_dir, "train.tsv"), delimiter="\t", dtype=np.float64, ndmin=2)
    users, items, w = tr[:, 0].astype(np.int64), tr[:, 1].astype(np.int64), tr[:, 2]
    df = spark.createDataFrame([(int(u), int(i), float(r)) for u, i, r in zip(users, items, w)], ["u", "i", "r"])
    df = df.repartition(threads).cache()
    df.count()
    als = ALS(rank=p["factors"], maxIter=p["iterations"], regParam=reg, alpha=p["alpha"], implicitPrefs=True,
              userCol="u", itemCol="i", ratingCol="r", seed=p["seed"], numUserBlocks=threads,
              numItemBlocks=threads)
    # spark-submit's launcher execs the JVM, so the gateway's process is the JVM.
    jvm = spark.sparkContext._gateway.proc.pid
    jc0, _ = jvm_stats(jvm)
    t0, c0 = time.perf_counter(), time.process_time()
    model = als.fit(df)
    uf = {r["id"]: r["features"] for r in model.userFactors.collect()}
    itf = {r["id"]: r["features"] for r in model.itemFactors.collect()}
    train_seconds = time.perf_counter() - t0
    jc1, jvm_peak = jvm_stats(jvm)
    train_cpu_seconds = (jc1 - jc0) + (time.process_time() - c0)
    d = p["factors"]
    U = np.zeros((p["n_users"], d), dtype=np.float32)
    V = np.zeros((p["n_items"], d), dtype=np.float32)
    for k, v in uf.items():
        U[k] = v
    for k, v in itf.items():
        V[k] = v
    seen = {}
    for u, i in zip(users, items):
        seen.setdefault(int(u), []).append(int(i))
    test_users = np.loadtxt(os.path.join(split_dir, "test_users.txt"), dtype=np.int64, ndmin=1)
    recs = []
    for u in test_users:
        s = V @ U[u]
        s[seen.get(int(u), [])] = -np.inf
        top = np.argpartition(-s, p["k"])[: p["k"]]
        top = top[np.argsort(-s[top], kind="stable")]
        recs.append([int(i) for i in top if np.isfinite(s[i])])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 + jvm_peak
    out = {
        "train_seconds": train_seconds,
        "train_cpu_seconds": train_cpu_seconds if train_cpu_seconds == train_cpu_seconds else 0.0,
        "peak_rss_bytes": int(peak),
        "version": pyspark.__version__,
        "name": f"Spark {pyspark.__version__} ALS (implicitPrefs)",
        "note": f"same split, factors, alpha, confidence 1+α·r, iterations; regParam {reg} "
                f"x positives (ALS-WR); local[{threads}]; CPU s and peak RSS: JVM + Python driver",
        "recs": recs,
    }
    tmp = out_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f)
    os.replace(tmp, out_path)
    print(f"spark {pyspark.__version__}: trained in {train_seconds:.3f}s", file=sys.stderr)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
