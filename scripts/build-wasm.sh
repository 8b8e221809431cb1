#!/usr/bin/env bash
# Builds the wasm modules and runs wasm-bindgen (and wasm-opt when present):
#   pkg/wasm/relaxed/vitrine_core...                    the engine, SIMD128 + relaxed-SIMD
#                                                       int8 kernel (picked where it validates)
#   pkg/wasm/simd/vitrine_core{.js,_bg.wasm,.d.ts}    the engine, SIMD128 kernels
#   pkg/wasm/scalar/vitrine_core...                     the engine, scalar twins
#   pkg/wasm/intent/vitrine_intent...                   the intent matcher (no SIMD
#     needed: one question is ~10 µs), fetched by the glue on first use
#   pkg/wasm/{relaxed,simd,scalar}-lean/vitrine_core_bg.wasm  the same engine
#     builds without the shopper and placements (feature `lean`, ≤ 200 KB):
#     only the .wasm, run by the full build's glue (its imports are a subset),
#     for pages that only recommend (`wasmUrl: {relaxed: '…/relaxed-lean/…'}`)
# Uses the toolchain chosen by scripts/setup.sh (.cache/toolchain.env).
# Env: VITRINE_WASM_OUT (output root, default pkg/wasm), VITRINE_INLINE_THRESHOLD
#   (the engine builds' LLVM inline threshold, default 100; empty: LLVM's
#   default).
set -euo pipefail
script="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$0")/.."
[ -f .cache/toolchain.env ] || scripts/setup.sh
# shellcheck disable=SC1091
. .cache/toolchain.env
WASM_TOOLCHAIN=${VITRINE_WASM_TOOLCHAIN:-$WASM_TOOLCHAIN}   # override to test the fallback
out_root=${VITRINE_WASM_OUT:-pkg/wasm}
variants=${*:-relaxed simd scalar intent relaxed-lean simd-lean scalar-lean}

for v in $variants; do
  # --stack-first (rustc's default for wasm, stated here because the
  # wasm-opt flags below rely on it): the stack sits below the data.
  flags="-C link-arg=--stack-first -C target-feature=+bulk-memory,+nontrapping-fptoint,+sign-ext,+mutable-globals"
  # Panic locations name source files; keep the build machine's home out of
  # the module every shopper downloads.
  remap=""
  case "$HOME" in *[[:space:]]*) ;; /*) remap="--remap-path-prefix=$HOME=~" ;; esac
  base=${v%-lean}
  [ "$base" = simd ] && flags="$flags,+simd128"
  [ "$base" = relaxed ] && flags="$flags,+simd128,+relaxed-simd"
  # A lower LLVM inline threshold (LLVM's default is 225) for the engine:
  # cold code (the bundle checks, the bindings' conversions, the ranker's
  # load) stops being copied into its callers, -3.3% to -3.6% raw (relaxed
  # full 380,903 -> 367,464 bytes; relaxed-lean 201,052 -> 194,583, under
  # the 200 KB target). `TopK::new` is `#[inline(always)]` for it: left out
  # of line, it reshuffled `scan_part` (the A/B put the f32 scan at 1M ~5%
  # slower, within this host's noise there); with it `scan_part` and the
  # kernels come out the same as at the default (wasm-dis, local names erased). tests/bench/wasm-ab.mjs is the scan A/B
  # (pkg/README.md has the figures). 100 was the smallest of 50 / 75 / 100 /
  # 150 (relaxed-lean 198,378 / 194,838 / 194,352 / 197,951, before the
  # attribute). VITRINE_INLINE_THRESHOLD=N builds with another threshold,
  # VITRINE_INLINE_THRESHOLD= (empty) with LLVM's default, for A/B runs. The
  # intent module keeps LLVM's default: it has its own budget.
  threshold=""
  [ "$v" = intent ] || threshold=${VITRINE_INLINE_THRESHOLD-100}
  [ -z "$threshold" ] || flags="$flags -C llvm-args=-inline-threshold=$threshold"
  name=vitrine_core features=""
  [ "$v" = intent ] && name=vitrine_intent features="--features intent-module"
  [ "$v" != "$base" ] && features="--features lean"
  # Each build has its own target dir: other RUSTFLAGS rebuild everything,
  # and a lean build beside its full twin would overwrite the one
  # `vitrine.wasm` a cdylib gets (no hash in its name), so each would
  # recompile the crate whenever the other ran (2 min of every `make wasm`
  # that changed nothing). A new lean dir starts as a copy of its full
  # twin's: the dependencies are the same, only the crate is compiled.
  target_dir="target/wasm-$v"
  [ "$WASM_TOOLCHAIN" = rustup ] || target_dir="$target_dir-buildstd"
  [ -z "$threshold" ] || target_dir="$target_dir-it$threshold"
  twin=${target_dir/-lean/}
  if [ "$v" != "$base" ] && [ ! -d "$target_dir" ] && [ -d "$twin" ]; then
    cp -a "$twin" "$target_dir"
  fi
  if [ "$WASM_TOOLCHAIN" = rustup ]; then
    RUSTFLAGS="$flags $remap" CARGO_TARGET_DIR="$target_dir" \
      cargo build --lib --profile wasm --target wasm32-unknown-unknown --quiet $features
  else
    lld="$(rustc --print sysroot 2>/dev/null)/lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld"
    [ -x "$lld" ] || lld=$(command -v rust-lld || command -v lld || echo rust-lld)
    RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc RUSTFLAGS="$flags $remap" CARGO_TARGET_DIR="$target_dir" \
      CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$lld" \
      /usr/bin/cargo build --lib --profile wasm --target wasm32-unknown-unknown --quiet \
      -Z build-std=std,panic_abort $features
  fi
  out="$out_root/$v"
  wasm_opt=.cache/tools/node_modules/.bin/wasm-opt
  # wasm-bindgen and wasm-opt -O3 take most of a no-change rebuild (`make
  # demo`, `make test` again). They are skipped when the stamp, kept beside
  # cargo's output (never in pkg/, which is packed), says these outputs came
  # from this very module, script and tools, and the outputs still hash as
  # written.
  input="$target_dir/wasm32-unknown-unknown/wasm/vitrine.wasm"
  stamp="$PWD/$target_dir/post-$v.stamp"
  key=$({ sha256sum "$input" "$script" | cut -d' ' -f1
          wasm-bindgen --version
          [ -x "$wasm_opt" ] && "$wasm_opt" --version
          echo "$out"; } | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(head -n 1 "$stamp")" = "$key" ] && [ -d "$out" ] &&
     (cd "$out" && tail -n +2 "$stamp" | sha256sum --check --status 2>/dev/null); then
    printf '[wasm] %-12s %7d bytes raw, %7d gzip (unchanged)\n' "$v" \
      "$(wc -c < "$out/${name}_bg.wasm")" "$(gzip -9 -c "$out/${name}_bg.wasm" | wc -c)"
    continue
  fi
  rm -f "$stamp"
  rm -rf "$out"
  mkdir -p "$out"
  wasm-bindgen --target web --out-dir "$out" --out-name $name "$input"
  if [ -x "$wasm_opt" ]; then
    feats="--enable-reference-types --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals"
    [ "$base" = simd ] && feats="$feats --enable-simd"
    [ "$base" = relaxed ] && feats="$feats --enable-simd --enable-relaxed-simd"
    # --low-memory-unused lets `optimize-added-constants` fold `p + C` into a
    # load's offset immediate (LLVM leaves most kernel addresses as separate
    # adds, and V8 cannot fold a wrapping i32 add into an x64 address: one
    # extra instruction per load). The fold differs only where p + C wraps
    # to below 1 KiB; with --stack-first the 1 MiB stack grows down to 0,
    # so that is the bottom of a stack that has already overflowed.
    feats="$feats --low-memory-unused --optimize-added-constants-propagate"
    # The producers and target_features sections (283 bytes) only describe
    # the build; engines ignore them, and the features are set above.
    feats="$feats --strip-producers --strip-target-features"
    # shellcheck disable=SC2086
    "$wasm_opt" -O3 $feats "$out/${name}_bg.wasm" -o "$out/${name}_bg.wasm"
  fi
  # A lean build ships only its .wasm: the full build's glue runs it.
  [ "$v" != "$base" ] && rm -f "$out/${name}.js" "$out/${name}.d.ts" "$out/${name}_bg.wasm.d.ts"
  { echo "$key"; (cd "$out" && sha256sum -- *); } > "$stamp.tmp" && mv "$stamp.tmp" "$stamp"
  printf '[wasm] %-12s %7d bytes raw, %7d gzip\n' "$v" \
    "$(wc -c < "$out/${name}_bg.wasm")" "$(gzip -9 -c "$out/${name}_bg.wasm" | wc -c)"
done
