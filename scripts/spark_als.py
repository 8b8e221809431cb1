#!/usr/bin/env python3
"""Implicit-feedback ALS on Apache Spark, for catalogues too big for one machine.

Reads the interaction logs `vitrine train` reads (CSV/TSV with a header, RecBole
`.inter`; ratings with a threshold, or event types with weights), trains Spark
MLlib ALS with the same confidence as vitrine's trainer (c = 1 + alpha * r, r the
summed weight of a user-item pair), and writes what `vitrine import --from spark`
reads:

    OUT/model/       ALSModel.save(): metadata/, itemFactors/, userFactors/ (Parquet)
    OUT/als/         ALS.save(): the estimator's metadata (regParam, alpha, implicitPrefs)
    OUT/items/       id map, CSV part files: spark_id,item_id,popularity
    OUT/users/       id map, CSV part files: spark_id,user_id
    OUT/params.json  what was run, row counts, training seconds

The same command runs on a laptop and on a cluster:

    python scripts/spark_als.py events.csv --event-weights view=1,cart=3,purchase=5 --out out/
    spark-submit --master yarn --deploy-mode client scripts/spark_als.py \\
        hdfs:///logs/events.csv --event-weights view=1,cart=3,purchase=5 --out hdfs:///models/shop

(without spark-submit the script starts `local[*]`; under spark-submit it takes the
master it is given). One difference from vitrine's trainer is Spark's own: it
scales lambda by each user's (and item's) number of positives (ALS-WR); the
bundle records this and the on-device fold-in does the same.
"""

import argparse
import json
import math
import os
import sys
import time


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("log", help="interaction log (any path Spark reads: file, hdfs://, s3a://)")
    p.add_argument("--out", required=True, help="output directory (model/, items/, users/, params.json)")
    p.add_argument("--format", choices=["recbole"], help="preset for RecBole .inter files (tab-separated)")
    p.add_argument("--delimiter", default="auto", help="auto | tab | comma | semicolon | pipe | one character")
    p.add_argument("--no-header", action="store_true", help="first line is data; columns are 0-based indices")
    p.add_argument("--user-col", default="user_id")
    p.add_argument("--item-col", default="item_id")
    p.add_argument("--value-col", default="rating", help="rating or event column; 'none' = every row weighs 1")
    p.add_argument("--time-col", default="timestamp", help="rows whose time is neither a number nor an ISO-8601 date are dropped; 'none'")
    p.add_argument("--min-rating", type=float, default=4.0, help="ratings below are not positives")
    p.add_argument("--rating-weight", action="store_true", help="use the rating itself as r")
    p.add_argument("--event-weights", help="e.g. view=1,cart=3,purchase=5; unknown events are dropped")
    p.add_argument("--encoding", default="auto",
                   help="auto (the first file's byte-order mark: UTF-16 as spreadsheets save 'Unicode text', "
                        "else UTF-8) or a Java charset, e.g. ISO-8859-1 for Latin-1 logs")
    p.add_argument("--factors", type=int, default=64)
    p.add_argument("--iterations", type=int, default=15)
    p.add_argument("--alpha", type=float, default=2.0)
    p.add_argument("--lambda", dest="lam", type=float, default=0.01,
                   help="Spark's regParam; Spark multiplies it by each row's number of positives")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--blocks", type=int, default=0, help="numUserBlocks = numItemBlocks (0: Spark's default, 10)")
    p.add_argument("--master", help="Spark master (default: spark-submit's, else local[*])")
    p.add_argument("--driver-memory", default="2g", help="for local runs")
    p.add_argument("--recommend-users", type=int, default=0,
                   help="also write Spark's own top-k (recommendForUserSubset) for the first N users")
    p.add_argument("--recommend-k", type=int, default=10)
    p.add_argument("--recommend-out", help="JSON file for --recommend-users (local path)")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    if a.format == "recbole" and a.delimiter == "auto":
        a.delimiter = "tab"
    if a.factors <= 0 or a.iterations <= 0:
        p.error("--factors and --iterations must be > 0")
    if not (math.isfinite(a.alpha) and a.alpha >= 0 and math.isfinite(a.lam) and a.lam >= 0):
        p.error("--alpha and --lambda must be finite and >= 0")
    if a.recommend_users and not a.recommend_out:
        p.error("--recommend-users needs --recommend-out")
    return a


DELIMS = {"tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}


def detect_delimiter(first):
    # Same order as vitrine's loader (src/train/data.rs).
    for d in ["\t", ",", ";", "|"]:
        if d in first:
            return d
    return ","


def resolve(header, spec):
    """Header name (case-insensitive; also RecBole's `name:type`) or 0-based index."""
    if header is not None:
        want = spec.strip().lower()
        for i, name in enumerate(header):
            n = name.strip().lower()
            if n == want or n.split(":")[0] == want:
                return i
    try:
        return int(spec)
    except ValueError:
        raise SystemExit(f"spark_als: no column named {spec!r}; header has {header!r}")


def parse_event_weights(s):
    out = {}
    for part in s.split(","):
        if not part.strip():
            continue
        k, sep, v = part.partition("=")
        w = float(v) if sep else float("nan")
        if not sep or not k.strip() or not math.isfinite(w) or w < 0:
            raise SystemExit(f"spark_als: --event-weights {part!r} is not event=weight (weight >= 0)")
        out[k.strip().lower()] = w
    return out


def log_files(spark, path):
    """The files Spark will read for `path` (a file, a folder of part files or
    a glob; local, `hdfs://`, `s3a://`), through Hadoop's FileSystem, in
    name order; none is an error naming the path, not Spark's traceback."""
    p = spark._jvm.org.apache.hadoop.fs.Path(path)
    fs = p.getFileSystem(spark._jsc.hadoopConfiguration())
    files = []
    for st in fs.globStatus(p) or []:
        inside = fs.listStatus(st.getPath()) if st.isDirectory() else [st]
        # Spark skips names starting with '_' or '.' (_SUCCESS, .crc files).
        files += [f for f in inside if f.isFile() and not f.getPath().getName().startswith(("_", "."))]
    if not files:
        raise SystemExit(f"spark_als: no file to read at {path}")
    return fs, sorted((f.getPath() for f in files), key=lambda q: q.toString())


def sniff_encoding(spark, path):
    """`--encoding auto`: the byte-order mark of the first file Spark will
    read, else UTF-8; one charset then reads every file, as Spark's reader
    does. Remote paths are sniffed like local ones."""
    fs, files = log_files(spark, path)
    stream = fs.open(files[0])
    try:
        head = bytes(b for b in (stream.read(), stream.read()) if b >= 0)
    finally:
        stream.close()
    if head in (b"\xff\xfe", b"\xfe\xff"):
        # Java's "UTF-16" reads the mark, takes its byte order and drops it.
        return "UTF-16"
    return "UTF-8"


def wide(encoding):
    """Charsets whose newline is not the byte 0x0A. Spark's text source reads
    every file as UTF-8 whatever its options say, and its CSV source decodes
    another charset line by line only after splitting the bytes at 0x0A:
    such files are read in multiLine mode, where the CSV parser decodes the
    whole stream (one task per file: these are spreadsheet exports)."""
    e = encoding.upper().replace("_", "-")
    return e.startswith("UTF-16") or e.startswith("UTF-32") or e in ("UNICODE", "UCS-2")


def split_header(line, delim):
    import csv
    if delim == "\t":
        return line.split("\t")
    return next(csv.reader([line], delimiter=delim, quotechar='"'))


def session(a):
    from pyspark.sql import SparkSession
    b = SparkSession.builder.appName("vitrine-spark-als")
    b = b.config("spark.ui.showConsoleProgress", "false")
    # Under spark-submit (which starts the JVM first and passes its gateway
    # port) the master and resources are spark-submit's; run with plain python
    # it is a laptop run in local[*] unless --master says otherwise.
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ
    master = a.master or (None if submitted else "local[*]")
    if master:
        b = b.master(master)
    if master and master.startswith("local"):
        b = (b.config("spark.driver.memory", a.driver_memory).config("spark.ui.enabled", "false")
             .config("spark.sql.shuffle.partitions", "8"))
    return b.getOrCreate()


def positives(spark, a):
    """The (user, item, weight) positives, duplicates merged: vitrine's loader in Spark SQL."""
    from pyspark.sql import functions as F

    if a.encoding.lower() == "auto":
        a.encoding = sniff_encoding(spark, a.log)
    else:
        log_files(spark, a.log)
    enc = a.encoding
    multiline = wide(enc)
    if multiline:
        # The first line as one field: no separator or quote that text has.
        first = (spark.read.option("encoding", enc).option("multiLine", "true").option("sep", "\u0001")
                 .option("quote", "\u0000").option("header", "false").csv(a.log).first())
    else:
        first = spark.read.text(a.log).first()
    if first is None:
        raise SystemExit(f"spark_als: {a.log} is empty")
    first = (first[0] or "").lstrip("\ufeff").rstrip("\r")
    if "\x00" in first:
        raise SystemExit(f"spark_als: the first line of {a.log} has NUL characters, as UTF-16 read as "
                         f"{enc} has (a file without a byte-order mark): name its charset, "
                         "e.g. --encoding UTF-16LE")
    delim = detect_delimiter(first) if a.delimiter == "auto" else DELIMS.get(a.delimiter, a.delimiter)
    if len(delim) != 1:
        raise SystemExit(f"spark_als: --delimiter {a.delimiter!r} is not one character")
    header = None if a.no_header else split_header(first, delim)
    cu, ci = resolve(header, a.user_col), resolve(header, a.item_col)
    events = parse_event_weights(a.event_weights) if a.event_weights else None
    cv = None if a.value_col == "none" else resolve(header, a.value_col)
    ct = None if a.time_col == "none" else resolve(header, a.time_col)

    reader = (spark.read.option("sep", delim).option("header", "false").option("encoding", enc)
              .option("multiLine", "true" if multiline else "false")
              .option("mode", "PERMISSIVE").option("ignoreLeadingWhiteSpace", "false"))
    # Tab-separated files treat quotes as text, like vitrine's loader.
    reader = reader.option("quote", "\u0000") if delim == "\t" else reader.option("quote", '"').option("escape", '"')
    df = reader.csv(a.log)
    cols = df.columns
    need = max(c for c in [cu, ci, cv, ct] if c is not None)
    if need >= len(cols):
        raise SystemExit(f"spark_als: column {need} is past the {len(cols)} columns of {a.log}")
    if header is not None:
        # Drop the header line (and any repeat of it, which vitrine counts as malformed).
        # A byte-order mark the charset kept (UTF-16LE named explicitly) stays
        # on the first field; the comparison goes past it.
        def unmarked(c):
            return F.regexp_replace(F.col(c), "^\ufeff", "")
        df = df.filter(~((unmarked(cols[cu]) == header[cu]) & (unmarked(cols[ci]) == header[ci])))
    df = df.select(
        F.trim(F.col(cols[cu])).alias("user"),
        F.trim(F.col(cols[ci])).alias("item"),
        (F.trim(F.col(cols[cv])) if cv is not None else F.lit(None).cast("string")).alias("value"),
        (F.trim(F.col(cols[ct])) if ct is not None else F.lit("0")).alias("time"),
    ).filter((F.col("user") != "") & (F.col("item") != "") & F.col("user").isNotNull() & F.col("item").isNotNull())
    # Rows vitrine's loader would refuse for their time are dropped here too:
    # a number, or text that starts like an ISO-8601 date (ALS needs no time,
    # so the date itself is not read further).
    df = df.filter(F.expr("try_cast(time AS DOUBLE)").isNotNull() | F.col("time").rlike(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"))
    if events is not None:
        if cv is None:
            raise SystemExit("spark_als: --event-weights needs a value column")
        m = F.create_map(*[x for k, w in events.items() for x in (F.lit(k), F.lit(float(w)))])
        df = df.withColumn("weight", m[F.lower(F.col("value"))]).filter(F.col("weight").isNotNull())
    elif cv is None:
        df = df.withColumn("weight", F.lit(1.0))
    else:
        v = F.col("value").cast("double")
        df = df.filter(v.isNotNull() & ~F.isnan(v) & (F.abs(v) != float("inf")) & (v >= a.min_rating))
        df = df.withColumn("weight", v if a.rating_weight else F.lit(1.0))
    return df.groupBy("user", "item").agg(F.sum("weight").alias("weight"))


def main(argv):
    a = parse_args(argv)
    spark = session(a)
    spark.sparkContext.setLogLevel("ERROR")
    from pyspark.ml.feature import StringIndexer
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import functions as F

    pos = positives(spark, a).cache()
    n_pos = pos.count()
    if n_pos == 0:
        raise SystemExit(f"spark_als: no positive interactions in {a.log}")
    # Integer ids for ALS (ints, so < 2^31 distinct ids); alphabetical so a rerun
    # on the same data gives the same maps.
    idx = StringIndexer(inputCols=["user", "item"], outputCols=["u", "i"], stringOrderType="alphabetAsc").fit(pos)
    data = idx.transform(pos).select(F.col("u").cast("int"), F.col("i").cast("int"), "weight", "user", "item").cache()
    out = a.out.rstrip("/")

    items = data.groupBy("i", "item").agg(F.sum("weight").alias("popularity"))
    (items.select(F.col("i").alias("spark_id"), F.col("item").alias("item_id"), "popularity").orderBy("spark_id")
     .coalesce(1).write.mode("overwrite").option("header", "true").option("quote", '"').option("escape", '"')
     .csv(out + "/items"))
    users = data.select("u", "user").distinct()
    (users.select(F.col("u").alias("spark_id"), F.col("user").alias("user_id")).orderBy("spark_id")
     .coalesce(1).write.mode("overwrite").option("header", "true").option("quote", '"').option("escape", '"')
     .csv(out + "/users"))

    als = ALS(rank=a.factors, maxIter=a.iterations, regParam=a.lam, alpha=a.alpha, implicitPrefs=True,
              userCol="u", itemCol="i", ratingCol="weight", seed=a.seed, nonnegative=False,
              coldStartStrategy="drop")
    if a.blocks > 0:
        als = als.setNumUserBlocks(a.blocks).setNumItemBlocks(a.blocks)
    t0 = time.time()
    model = als.fit(data.select("u", "i", "weight"))
    model.itemFactors.count()  # fit is lazy on the last half-step; time all of it
    train_s = time.time() - t0
    model.write().overwrite().save(out + "/model")
    # A fitted ALSModel does not record regParam, alpha or implicitPrefs; the
    # estimator does, and `vitrine import` reads them from here.
    als.write().overwrite().save(out + "/als")

    n_users = users.count()
    n_items = items.count()
    params = {
        "log": a.log, "factors": a.factors, "iterations": a.iterations, "alpha": a.alpha, "regParam": a.lam,
        "seed": a.seed, "encoding": a.encoding, "positives": n_pos, "users": n_users, "items": n_items, "train_seconds": train_s,
        "spark": spark.version, "master": spark.sparkContext.master,
        "confidence": "1 + alpha * r", "lambda_scaling": "positives",
    }
    if a.recommend_users:
        subset = data.select("u").distinct().orderBy("u").limit(a.recommend_users)
        recs = model.recommendForUserSubset(subset, a.recommend_k).collect()
        label_u = dict(users.select("u", "user").collect())
        label_i = dict(items.select("i", "item").collect())
        res = {label_u[r["u"]]: [label_i[x["i"]] for x in r["recommendations"]] for r in recs}
        with open(a.recommend_out, "w") as f:
            json.dump(res, f)
    if "://" not in out or out.startswith("file://"):
        path = out.replace("file://", "")
        with open(os.path.join(path, "params.json"), "w") as f:
            json.dump(params, f, indent=1)
    if not a.quiet:
        print(f"spark_als: {n_pos} positives, {n_users} users x {n_items} items, rank {a.factors}, "
              f"{a.iterations} iterations in {train_s:.1f} s ({spark.sparkContext.master}) -> {out}", file=sys.stderr)
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
