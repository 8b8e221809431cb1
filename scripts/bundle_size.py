#!/usr/bin/env python3
"""Exact `.vtr` bundle size from the format's layout rule (docs/format.md), for
catalogue sizes too large to write on a build machine in a test.

    python3 scripts/bundle_size.py                 # the table in docs/trainer.md
    python3 scripts/bundle_size.py --check FILE N DTYPE [--residual]   # vs a real `vitrine synth` file

Two bundles per size, d = 64:
- "import": what `vitrine import` writes: ids, id index, factors (+ scales,
  + residual), popularity, the Gram matrix, meta (~400 bytes).
- "synth": what `vitrine synth` writes (adds bias, category, price, stock
  flags and titles; no Gram above 200k items). Its titles are random words, so
  their bytes come from the measured 1M file (mean title length) and the 10M
  figure is an estimate to within the titles' length; every other section is exact.
Ids are `item-<n>` as `vitrine synth` writes them.
"""
import sys

HEADER, ENTRY = 64, 32


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


def sections(n, d, dtype, residual, kind, meta_len, title_mean=None):
    stride = (d + 15) // 16 * 16
    s = [("MODEL", 32), ("META", meta_len), ("ITEM_IDS", strings(id_bytes(n), n)), ("ID_INDEX", 4 * n)]
    s.append(("FACTORS", n * stride * {"f32": 4, "f16": 2, "int8": 1}[dtype]))
    if dtype == "int8":
        s.append(("SCALES", 4 * n))
        if residual:
            s.append(("RESIDUAL", n * stride))
    if kind == "synth":
        s += [("BIAS", 4 * n), ("POPULARITY", 4 * n), ("CATEGORY", 4 * n), ("CATEGORY_NAMES", 85),
              ("PRICE", 4 * n), ("FLAGS", n), ("TITLES", strings(round(title_mean * n), n))]
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


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--check":
        path, n, dtype = sys.argv[2], int(sys.argv[3]), sys.argv[4]
        residual = "--residual" in sys.argv
        import os
        real = os.path.getsize(path)
        # synth's META is 117-118 bytes; within one 64-byte slot either way.
        est = total(sections(n, 64, dtype, residual, "synth", 118, TITLE_MEAN_1M))
        print(f"{path}: real {real}, formula {est}, diff {real - est}")
        return
    print("| items | f32 | int8 | int8 + residual | (synth bundle with titles etc.: f32 / int8 / int8 + residual) |")
    print("|---:|---:|---:|---:|---:|")
    for n in [10_000, 100_000, 1_000_000, 10_000_000]:
        imp = [total(sections(n, 64, dt, r, "import", 420)) for dt, r in [("f32", 0), ("int8", 0), ("int8", 1)]]
        syn = [total(sections(n, 64, dt, r, "synth", 118, TITLE_MEAN_1M)) for dt, r in [("f32", 0), ("int8", 0), ("int8", 1)]]
        mb = lambda x: f"{x / 1e6:,.1f} MB"
        print(f"| {n:,} | {mb(imp[0])} | {mb(imp[1])} | {mb(imp[2])} | {' / '.join(mb(x) for x in syn)} |")


if __name__ == "__main__":
    main()
