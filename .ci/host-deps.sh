#!/usr/bin/env bash
# Installs the machine packages the tests need when they are missing (Debian 12, as root):
# a JDK (keytool, javac) for the interop tests, podman + mmdebstrap for the Molecule hosts,
# Chromium to render the fleet report's HTML page headless (tests/playbooks/test_fleet_report.py),
# and Pebble and BIND for the ACME tests (tests/modules/test_acme.py, tests/playbooks/test_acme.py).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=()
for tool in java javac keytool; do
  command -v "$tool" >/dev/null || { packages+=(openjdk-17-jdk-headless); break; }
done
for tool in podman runc mmdebstrap unshare; do
  command -v "$tool" >/dev/null || {
    packages+=(podman runc netavark aardvark-dns iptables mmdebstrap debootstrap uidmap util-linux)
    break
  }
done
command -v chromium >/dev/null || packages+=(chromium)
# Pebble, Let's Encrypt's RFC 8555 test server (and its DNS double): the ACME CA of the ACME tests
command -v pebble-challtestsrv >/dev/null || packages+=(pebble)
# BIND's named: the DNS server that takes the dns-01 tests' RFC 2136 updates
command -v named >/dev/null || [ -x /usr/sbin/named ] || packages+=(bind9)
[ ${#packages[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing packages: ${packages[*]} - install them (apt-get install ...) or run as root" >&2
  exit 1
fi
apt-get update -qq
apt-get install -y -qq -o=Dpkg::Use-Pty=0 "${packages[@]}"
