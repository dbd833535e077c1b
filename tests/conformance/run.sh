#!/usr/bin/env bash
# Conformance tests: drive `ssc-operator emulator` with the AWS CLI and boto3 from PyPI.
# Idempotent: creates .venv at the repo root when missing, installs the pinned clients,
# builds the debug binary, runs pytest. Extra arguments go to pytest.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r tests/conformance/requirements.txt

cargo build --bin ssc-operator

export PYTHONDONTWRITEBYTECODE=1
"$VENV/bin/python" -m pytest tests/conformance -q -p no:cacheprovider "$@"
