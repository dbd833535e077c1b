#!/usr/bin/env bash
# Packaging tests: deploy/ (kustomize + kubectl), charts/ssc-operator (Helm v4 via
# helm-sdkpy), RBAC, the Argo CD health check, the CRD copies, docs, Dockerfile.
# Idempotent: creates the repo-root .venv when missing, installs
# tests/deploy/requirements.txt into it and helm-sdkpy into .venv/helm-sdkpy,
# then runs pytest. Needs kubectl (for kustomize); no cluster, no Docker, no
# cargo build. Extra arguments go to pytest.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r tests/deploy/requirements.txt

# helm-sdkpy declares Requires-Python >=3.12 but works on 3.11: install the
# pure-Python wheel (with its bundled Go shared library) into its own target
# directory, without dependencies (cffi comes from requirements.txt, built for
# this interpreter). --ignore-requires-python: older pips ignore
# --python-version when checking Requires-Python.
HELM_SDKPY_VERSION=0.1.32
SDK="$VENV/helm-sdkpy"
if [ ! -f "$SDK/helm_sdkpy-$HELM_SDKPY_VERSION.dist-info/METADATA" ]; then
  rm -rf "$SDK"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    --python-version 3.12 --only-binary=:all: --ignore-requires-python --no-deps \
    --target "$SDK" "helm-sdkpy==$HELM_SDKPY_VERSION"
fi

if ! command -v kubectl >/dev/null 2>&1; then
  echo "tests/deploy: kubectl is required (kubectl kustomize, kubectl apply); install the kubectl package" >&2
  exit 1
fi

export HELM_SDKPY_DIR="$SDK"
# Keep Helm's cache/config/data out of the user's home.
export HELM_CACHE_HOME="$VENV/helm-home/cache" HELM_CONFIG_HOME="$VENV/helm-home/config" \
  HELM_DATA_HOME="$VENV/helm-home/data"
export PYTHONDONTWRITEBYTECODE=1
exec "$VENV/bin/python" -m pytest tests/deploy -q -p no:cacheprovider "$@"
