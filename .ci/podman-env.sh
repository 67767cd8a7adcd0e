# shellcheck shell=bash
# Source me (". .ci/podman-env.sh"): podman settings for this machine kind
# (no systemd on the host, hybrid cgroups, low hard rlimits). /etc/containers stays untouched.
CONTAINERS_CONF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/containers.conf"
export CONTAINERS_CONF
