#!/usr/bin/env python3
"""Bundle size per catalogue size (d = 64), for the tables in README.md and
docs/trainer.md: generated, never typed.

    python3 scripts/bundle_size.py measure [--cli target/release/vitrine]
        writes docs/numbers/bundle-size.json: the layout formula for every size,
        real `vitrine synth` files for 10k, 100k and 1M items, and real sharded
        bundles (`vitrine shard --synth-items N --by category --max-shard-bytes 16M`)
        for 1M and 10M items (temp files, deleted)
    python3 scripts/bundle_size.py render
        rewrites the blocks between <!-- bundle-size:begin --> and
        <!-- bundle-size:end --> in README.md and docs/trainer.md from that JSON
    python3 scripts/bundle_size.py check [--cli target/release/vitrine]   (make test)
        fails if a block differs from the JSON's rendering, if the JSON's formula
        figures differ from the formula now (the format changed: measure again),
        or if the formula misses a real 10k-item `vitrine synth` file by a byte
    python3 scripts/bundle_size.py table        the formula table on stdout

"import" is what `vitrine import` writes: ids `item-<n>`, id index, factors
(+ scales, + residual), popularity, stock flags, the Gram matrix, meta (~420
bytes). "synth" is what `vitrine synth` writes (adds bias, category, prices and
random titles; no Gram above 200k items): measured up to 1M items, the formula
with the 1M file's mean title length at 10M.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

HEADER, ENTRY = 64, 32
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
SNAPSHOT = os.path.join(ROOT, "docs", "numbers", "bundle-size.json")
DOCS = [os.path.join(ROOT, "README.md"), os.path.join(ROOT, "docs", "trainer.md")]
BEGIN, END = "<!-- bundle-size:begin -->", "<!-- bundle-size:end -->"
SIZES = [10_000, 100_000, 1_000_000, 10_000_000]
DTYPES = [("f32", False), ("int8", False), ("int8", True)]
SHARD_MAX = "16M"


def align(x):
    return (x + 63) // 64 * 64


def strings(lengths_sum, count):
    return 4 + 4 * (count + 1) + lengths_sum


def id_bytes(n):
    # sum of len("item-<i>") for i < n
    total, lo, digits = 5 * n, 0, 1
    while lo < n:
        hi = min(n, 10 ** digits)
        total += (hi - lo) * digits
        lo, digits = hi, digits + 1
    return total


def sections(n, d, dtype, residual, kind, meta_len, title_mean=None, title_bytes=None):
    stride = (d + 15) // 16 * 16
    s = [("MODEL", 32), ("META", meta_len), ("ITEM_IDS", strings(id_bytes(n), n)), ("ID_INDEX", 4 * n)]
    s.append(("FACTORS", n * stride * {"f32": 4, "f16": 2, "int8": 1}[dtype]))
    if dtype == "int8":
        s.append(("SCALES", 4 * n))
        if residual:
            s.append(("RESIDUAL", n * stride))
    if kind == "synth":
        titles = title_bytes if title_bytes is not None else strings(round(title_mean * n), n)
        s += [("BIAS", 4 * n), ("POPULARITY", 4 * n), ("CATEGORY", 4 * n), ("CATEGORY_NAMES", 85),
              ("PRICE", 4 * n), ("PRICE_F64", 8 * n), ("FLAGS", n), ("TITLES", titles)]
        if n <= 200_000:
            s.append(("GRAM", 16 + 4 * d * d))
    else:
        s += [("POPULARITY", 4 * n), ("FLAGS", n), ("GRAM", 16 + 4 * d * d)]
    return s


def total(secs):
    off = align(HEADER + ENTRY * len(secs))
    for _, length in secs:
        off = align(off) + length
    return off


# Measured on `vitrine synth --items 1000000 --dim 64` (seed 1): TITLES is
# 24,422,331 bytes = 4 + 4·(n+1) + Σ len(title).
TITLE_MEAN_1M = (24_422_331 - 4 - 4 * 1_000_001) / 1_000_000


def name(dtype, residual):
    return dtype + ("+residual" if residual else "")


def formula():
    return {
        str(n): {
            "import": {name(dt, r): total(sections(n, 64, dt, r, "import", 420)) for dt, r in DTYPES},
            "synth": {name(dt, r): total(sections(n, 64, dt, r, "synth", 118, TITLE_MEAN_1M)) for dt, r in DTYPES},
        }
        for n in SIZES
    }


def synth_args(cli, n, dt, r, out, seed=1):
    a = [cli, "synth", "--items", str(n), "--dim", "64", "--dtype", dt, "--seed", str(seed), "--out", out]
    return a + (["--residual"] if r else [])


def measure(cli):
    out = {"formula": formula(), "synth_measured": {}, "sharded": {}}
    with tempfile.TemporaryDirectory(prefix="vitrine-size-") as tmp:
        for n in SIZES[:3]:
            row = {}
            for dt, r in DTYPES:
                p = os.path.join(tmp, "b.vtr")
                subprocess.run(synth_args(cli, n, dt, r, p), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                row[name(dt, r)] = os.path.getsize(p)
                os.remove(p)
            out["synth_measured"][str(n)] = row
        for n in SIZES[2:]:
            d = os.path.join(tmp, f"shards-{n}")
            t0 = time.time()
            s = subprocess.run([cli, "shard", "--synth-items", str(n), "--dim", "64", "--dtype", "int8",
                                "--categories", "20", "--by", "category", "--max-shard-bytes", SHARD_MAX,
                                "--json", "-o", d], check=True, capture_output=True, text=True)
            j = json.loads(s.stdout)
            out["sharded"][str(n)] = {k: j[k] for k in ["head_items", "head_bytes", "shard_bytes", "largest_shard_bytes"]}
            out["sharded"][str(n)]["shards"] = len(j["shards"])
            out["sharded"][str(n)]["seconds"] = round(time.time() - t0, 1)
            subprocess.run(["rm", "-rf", d], check=True)
    out["sharded_by"] = f"category (20), --max-shard-bytes {SHARD_MAX}, int8, --synth-items (ids, factors, scales, popularity, category, stock flags)"
    out["run"] = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "host": os.uname().nodename,
                  "vitrine": cli}
    os.makedirs(os.path.dirname(SNAPSHOT), exist_ok=True)
    with open(SNAPSHOT, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    print(f"wrote {SNAPSHOT}")


def mb(x):
    return f"{x / 1e6:,.1f} MB"


def render_block(j):
    f, m, sh = j["formula"], j["synth_measured"], j["sharded"]
    lines = [
        f"_Generated by `scripts/bundle_size.py` from `docs/numbers/bundle-size.json` (run of {j['run']['date']} on {j['run']['host']}): "
        "import columns from the layout formula; synth columns measured up to 1M items, the formula at 10M; "
        f"sharded: `vitrine shard --by category --max-shard-bytes {SHARD_MAX}` of an int8 catalogue, measured._",
        "",
        "| items | import f32 | import int8 | import int8 + residual | synth f32 / int8 / int8 + residual | sharded int8: head + shards (largest) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for n in SIZES:
        k = str(n)
        imp = [mb(f[k]["import"][name(dt, r)]) for dt, r in DTYPES]
        if k in m:
            syn = " / ".join(mb(m[k][name(dt, r)]) for dt, r in DTYPES) + " (measured)"
        else:
            syn = " / ".join(mb(f[k]["synth"][name(dt, r)]) for dt, r in DTYPES) + " (formula)"
        if k in sh:
            s = sh[k]
            shard = f"{mb(s['head_bytes'])} + {s['shards']} × ≤ {mb(s['largest_shard_bytes'])} = {mb(s['shard_bytes'])}"
        else:
            shard = "one bundle"
        lines.append(f"| {n:,} | {' | '.join(imp)} | {syn} | {shard} |")
    return "\n".join(lines)


def load_snapshot():
    with open(SNAPSHOT) as fh:
        return json.load(fh)


def splice(text, block):
    a, b = text.find(BEGIN), text.find(END)
    if a < 0 or b < a:
        return None
    return text[: a + len(BEGIN)] + "\n" + block + "\n" + text[b:]


def render():
    block = render_block(load_snapshot())
    for p in DOCS:
        with open(p) as fh:
            t = fh.read()
        new = splice(t, block)
        if new is None:
            sys.exit(f"{p}: no {BEGIN} … {END} block")
        if new != t:
            with open(p, "w") as fh:
                fh.write(new)
            print(f"rewrote the bundle-size block of {os.path.relpath(p, ROOT)}")


def check(cli):
    j = load_snapshot()
    block = render_block(j)
    bad = []
    for p in DOCS:
        with open(p) as fh:
            t = fh.read()
        if splice(t, block) != t:
            bad.append(f"{os.path.relpath(p, ROOT)}: the bundle-size block is not the rendering of docs/numbers/bundle-size.json (run `python3 scripts/bundle_size.py render`)")
    if j["formula"] != formula():
        bad.append("the formula gives other sizes than the snapshot: the format changed; run `python3 scripts/bundle_size.py measure` and `render`")
    # The formula against real files (exact for everything but titles, whose
    # measured length is passed in).
    with tempfile.TemporaryDirectory(prefix="vitrine-size-") as tmp:
        for dt, r in DTYPES:
            p = os.path.join(tmp, "b.vtr")
            subprocess.run(synth_args(cli, 10_000, dt, r, p), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            info = json.loads(subprocess.run([cli, "inspect", "--json", p], check=True, capture_output=True, text=True).stdout)
            lens = {s["name"]: s["length"] for s in info["sections"]}
            est = total(sections(10_000, 64, dt, r, "synth", lens["META"], title_bytes=lens["TITLES"]))
            real = os.path.getsize(p)
            if est != real:
                bad.append(f"formula {est} bytes, `vitrine synth --items 10000 --dtype {name(dt, r)}` wrote {real}")
    if bad:
        sys.exit("\n".join(bad))
    print("bundle-size tables: ok")


def main():
    args = sys.argv[1:]
    cmd = args[0] if args else "table"
    cli = os.path.join(ROOT, "target", "release", "vitrine")
    if "--cli" in args:
        cli = args[args.index("--cli") + 1]
    if cmd == "measure":
        measure(cli)
    elif cmd == "render":
        render()
    elif cmd == "check":
        check(cli)
    elif cmd == "table":
        f = formula()
        print("| items | import f32 | import int8 | import int8 + residual | synth f32 / int8 / int8 + residual (formula) |")
        print("|---:|---:|---:|---:|---:|")
        for n in SIZES:
            k = str(n)
            print(f"| {n:,} | {' | '.join(mb(f[k]['import'][name(dt, r)]) for dt, r in DTYPES)} | "
                  f"{' / '.join(mb(f[k]['synth'][name(dt, r)]) for dt, r in DTYPES)} |")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
