#!/usr/bin/env bash
# Set up the virtualenv with the test dependencies and run the whole test suite.
# Extra arguments go to pytest. DATABASE_URL=postgres://... runs it on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
exec .venv/bin/python -m pytest "$@"
