#!/usr/bin/env bash
# Installs everything the build and tests need. Idempotent: each step checks
# first and skips what is already there, so a second run takes seconds.
#
#   scripts/setup.sh            toolchain: wasm target, wasm-bindgen-cli, wasm-opt
#   scripts/setup.sh --browser  also Debian chromium (for browser tests and bench)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cache
say() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
apt_updated=0
apt_install() {
  command -v apt-get >/dev/null || { say "apt-get not available: install $* by hand"; return 1; }
  if [ $apt_updated = 0 ]; then $SUDO apt-get update -qq || true; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# 1. A Rust toolchain that can target wasm32. Normal path first: rustup.
#    Fallback (machines where rustup cannot download): Debian's rustc-web with
#    its std sources, building std for wasm32 with -Z build-std.
mode=""
if command -v rustup >/dev/null 2>&1; then
  if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    mode=rustup
  elif timeout 300 rustup target add wasm32-unknown-unknown >/dev/null 2>&1; then
    mode=rustup
  fi
fi
if [ -z "$mode" ]; then
  say "rustup cannot provide wasm32-unknown-unknown; using Debian rustc-web + build-std"
  if [ ! -x /usr/bin/rustc ] || ! dpkg -s rust-web-src >/dev/null 2>&1; then
    apt_install rustc-web cargo-web rust-web-src
  fi
  mode=debian
fi
echo "WASM_TOOLCHAIN=$mode" > .cache/toolchain.env
say "wasm toolchain: $mode"

# 2. wasm-bindgen-cli pinned to the crate's exact wasm-bindgen version.
want=$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)"/\1/p' Cargo.toml)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  say "installing wasm-bindgen-cli $want (have: ${have:-none})"
  cargo install wasm-bindgen-cli --version "$want"
fi

# 3. wasm-opt from npm's binaryen (Debian's is too old for wasm-bindgen's
#    externref table): shrinks the wasm ~20%.
BINARYEN=132.0.0
if [ ! -x .cache/tools/node_modules/.bin/wasm-opt ] || \
   ! grep -q "\"version\": \"$BINARYEN\"" .cache/tools/node_modules/binaryen/package.json 2>/dev/null; then
  say "installing binaryen $BINARYEN (wasm-opt) into .cache/tools"
  mkdir -p .cache/tools
  npm install --prefix .cache/tools --no-save --no-audit --no-fund --loglevel=error "binaryen@$BINARYEN" >/dev/null
fi

# 4. Chromium for browser tests and benchmarks.
if [ "${1:-}" = "--browser" ] && [ ! -x /usr/bin/chromium ]; then
  say "installing Debian chromium"
  apt_install chromium
fi
say "done"
