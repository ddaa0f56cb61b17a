#!/usr/bin/env bash
# test_verp_many.sh - tests/cli/test_verp.sh with 5000 random recipients instead of 300.
set -euo pipefail
: "${BH_SOURCE_DIR:?}"
N_RANDOM=5000 exec bash "$BH_SOURCE_DIR/tests/cli/test_verp.sh"
