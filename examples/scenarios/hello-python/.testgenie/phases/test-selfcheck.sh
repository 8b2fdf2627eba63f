#!/usr/bin/env bash
# A custom phase: runs in full runs (no preset) or when asked for by name ("phases": ["selfcheck"]).
set -euo pipefail
test -n "${TESTGENIE_EXECUTION_ID}"
python -m hello Genie | grep -q "Hello, Genie!"
echo "selfcheck ok"
