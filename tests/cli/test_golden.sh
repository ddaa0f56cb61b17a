#!/usr/bin/env bash
# test_golden.sh - every fixture's full verdict (tests/fixtures/**/NAME.eml, NAME.mbox) equals
# its golden NAME.json beside it; a difference fails with a unified diff, golden first. A
# verdict meant to change: scripts/update-golden.sh, then review the diff (docs/testing.md).
set -u
: "${BOUNCER:?}" "${BH_SOURCE_DIR:?}"
exec python3 "$BH_SOURCE_DIR/tests/lib/golden.py" check "$BOUNCER" "$BH_SOURCE_DIR/tests/fixtures"
