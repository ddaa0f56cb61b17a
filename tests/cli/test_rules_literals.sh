#!/usr/bin/env bash
# test_rules_literals.sh - the reason engine's prefilter literals are exact: random texts drawn
# from every built-in pattern never match without one of the row's literals (rules_literals.py).
set -u
command -v python3 >/dev/null || { echo "no python3: skipped"; exit 77; }
exec python3 "$BH_SOURCE_DIR/tests/cli/rules_literals.py" "$BOUNCER" 1000
