#!/usr/bin/env bash
# `cargo deny check` with the pinned cargo-deny (installed by `make deny-tool`).
# Licenses, bans (duplicate versions, wildcards) and sources are checked
# always; advisories only when a local copy of the RustSec database exists,
# since it lives on GitHub, which CI machines may not reach. The skip is
# printed, never silent. VITRINE_DENY_FETCH=1 tries a fetch first.
set -euo pipefail
cd "$(dirname "$0")/.."
DENY=${CARGO_DENY:-$HOME/.cache/vitrine-tools/cargo-deny-${CARGO_DENY_VERSION:?}/bin/cargo-deny}
DB_ROOT=${CARGO_HOME:-$HOME/.cargo}/advisory-dbs
if [ "${VITRINE_DENY_FETCH:-0}" = 1 ]; then
  timeout 60 "$DENY" fetch db || echo "note: could not fetch the advisory database"
fi
# The crates themselves come from crates.io (reachable); after this fetch,
# --offline keeps cargo-deny from trying GitHub for the advisory database.
${CARGO:-cargo} fetch --quiet
if compgen -G "$DB_ROOT/*/crates" > /dev/null; then
  echo "cargo deny: advisories from the local database copy in $DB_ROOT"
  "$DENY" --offline check
else
  echo "note: cargo deny advisories SKIPPED: no RustSec database copy in $DB_ROOT" \
       "(GitHub unreachable here; run '$DENY fetch db' where it is, or VITRINE_DENY_FETCH=1)"
  "$DENY" --offline check licenses bans sources
fi
