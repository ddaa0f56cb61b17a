#!/usr/bin/env bash
# update-golden.sh - rewrite tests/fixtures/**/NAME.json, the full `bouncer classify` verdict of
# each NAME.eml (and NAME.mbox) beside it, after a change that is meant to change verdicts.
#
#   scripts/update-golden.sh [BOUNCER]      # default: build/bouncer
#
# Then review `git diff tests/fixtures`: every changed line is a verdict that changed, and the
# commit says why (docs/testing.md, Golden verdicts). tests/cli/test_golden.sh checks them.
# A fixture without a golden gets one; a golden without its fixture is removed.
set -euo pipefail
cd "$(dirname "$0")/.."
bouncer=${1:-build/bouncer}
if [ ! -x "$bouncer" ]; then
	echo "update-golden: $bouncer: not built (cmake -S . -B build && make -C build bouncer)" >&2
	exit 1
fi
python3 tests/lib/golden.py write "$bouncer" tests/fixtures
git status --short -- tests/fixtures
