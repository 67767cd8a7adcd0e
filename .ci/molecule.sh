#!/usr/bin/env bash
# Runs every Molecule scenario, one after the other, on locally built podman hosts.
set -euo pipefail
cd "$(dirname "$0")/.."
t() { local s=$SECONDS; "$@"; echo "::timing:: $* -> $((SECONDS - s))s"; }

.ci/host-deps.sh
source .ci/podman-env.sh

cleanup() {  # never leave test hosts behind (only what our create.yml labelled)
  local ids
  ids=$(podman ps -aq --filter label=owner=molecule || true)
  [ -z "$ids" ] || podman rm -f -t 5 $ids >/dev/null || true
}
trap cleanup EXIT
cleanup

t .ci/build-images.sh
for scenario in ${MOLECULE_SCENARIOS:-encryption client_auth trusted_clients trusted_signon}; do
  t molecule test -s "$scenario"
done
