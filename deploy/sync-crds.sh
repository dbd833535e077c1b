#!/usr/bin/env bash
# Copy the generated CRDs (crds/*.yaml, from `ssc-operator crd`) to the places
# that must carry an identical copy:
#   deploy/crds/                      (kustomize cannot load files outside deploy/)
#   charts/ssc-operator/files/crds/   (the chart's templates/crds.yaml renders them,
#                                      behind crds.enabled / crds.keep)
# Run it after every change to crds/; tests/deploy fails until you do.
# The chart has no crds/ directory: Helm would install a CRD found there
# once more, outside the release (and never upgrade it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
shopt -s nullglob
src=(crds/*.yaml)
if [ ${#src[@]} -eq 0 ]; then
  echo "sync-crds: crds/ has no *.yaml yet; generate it first:" >&2
  echo "  ssc-operator crd > crds/servicespecificcredentials.iam.ssc-operator.dev.yaml" >&2
  exit 1
fi
rm -rf charts/ssc-operator/crds
for dest in deploy/crds charts/ssc-operator/files/crds; do
  mkdir -p "$dest"
  rm -f "$dest"/*.yaml
  cp "${src[@]}" "$dest"/
done
# deploy/crds/kustomization.yaml names its files; restore it and list them.
{
  echo "# The CustomResourceDefinitions, a copy of the generated top-level crds/"
  echo "# (kustomize's load restrictor forbids files outside deploy/). Written by"
  echo "# deploy/sync-crds.sh; tests/deploy fails when the copies differ."
  echo "apiVersion: kustomize.config.k8s.io/v1beta1"
  echo "kind: Kustomization"
  echo "resources:"
  for f in "${src[@]}"; do echo "  - $(basename "$f")"; done
} > deploy/crds/kustomization.yaml
echo "sync-crds: copied ${src[*]} to deploy/crds/ and charts/ssc-operator/files/crds/"
