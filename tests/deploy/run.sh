#!/usr/bin/env bash
# Packaging tests: deploy/ (kustomize + kubectl), charts/ssc-operator (Helm v4 via
# helm-sdkpy), RBAC, the Argo CD health check, the CRD copies, docs, Dockerfile.
# Idempotent: creates the repo-root .venv when missing, installs
# tests/deploy/requirements.txt into it and helm-sdkpy into .venv/helm-sdkpy,
# extracts promtool into .venv/promtool unless one is on PATH, then runs
# pytest. Needs kubectl (for kustomize); no cluster, no Docker, no cargo
# build. Extra arguments go to pytest.
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

# promtool (Prometheus' `check rules` and `test rules`) for test_alert_rules.py: the one on PATH, else
# the one from Debian's prometheus package, extracted into .venv/promtool. Not `apt-get install
# prometheus`: its postinst adds a system user and starts the Prometheus daemon (invoke-rc.d, and
# fails the install when that start fails), and it pulls a dozen JavaScript packages; promtool is a
# single binary needing only libc. `apt-get download` fetches the .deb, verified against the signed
# package lists, without installing anything; `apt-get update` only when the lists are missing or
# stale (a 404; that refreshes /var/lib/apt/lists). Nothing is started or installed outside .venv.
PROMTOOL_DIR="$VENV/promtool"
# The unit tests' expectations follow Prometheus 2.x (3.x made range selectors left-open, which moves
# samples on a window's edge): a promtool on PATH is used only when it is 2.x.
promtool_2() { "$1" --version 2>&1 | grep -qE 'promtool, version 2\.'; }
PROMTOOL=""
if command -v promtool >/dev/null 2>&1 && promtool_2 "$(command -v promtool)"; then
  PROMTOOL="$(command -v promtool)"
else
  if [ ! -x "$PROMTOOL_DIR/usr/bin/promtool" ]; then
    deb_dir="$(mktemp -d)"
    # As root, apt would download as _apt, which cannot write to the mktemp directory (and warns).
    fetch_deb() { (cd "$deb_dir" && apt-get download -qq -o APT::Sandbox::User="$(id -un)" prometheus); }
    if command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1 &&
       { fetch_deb || { apt-get update -qq && fetch_deb; }; }; then
      rm -rf "$PROMTOOL_DIR" && mkdir -p "$PROMTOOL_DIR"
      dpkg-deb --fsys-tarfile "$deb_dir"/prometheus_*.deb | tar -x -C "$PROMTOOL_DIR" ./usr/bin/promtool
    fi
    rm -rf "$deb_dir"
  fi
  if [ -x "$PROMTOOL_DIR/usr/bin/promtool" ] && promtool_2 "$PROMTOOL_DIR/usr/bin/promtool"; then
    PROMTOOL="$PROMTOOL_DIR/usr/bin/promtool"
  elif [ -n "${CI:-}" ]; then
    echo "tests/deploy: promtool 2.x is required (tests/deploy/test_alert_rules.py) and could not be" \
      "fetched from Debian's prometheus package (apt-get download prometheus); put it on PATH" >&2
    exit 1
  else
    echo "tests/deploy: no promtool 2.x (and none could be fetched): the alert-rule tests are skipped" >&2
  fi
fi
export PROMTOOL

export HELM_SDKPY_DIR="$SDK"
# Keep Helm's cache/config/data out of the user's home.
export HELM_CACHE_HOME="$VENV/helm-home/cache" HELM_CONFIG_HOME="$VENV/helm-home/config" \
  HELM_DATA_HOME="$VENV/helm-home/data"
export PYTHONDONTWRITEBYTECODE=1
exec "$VENV/bin/python" -m pytest tests/deploy -q -p no:cacheprovider "$@"
