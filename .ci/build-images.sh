#!/usr/bin/env bash
# Build the local test-host image (no container registry needed):
#   mmdebstrap (Debian bookworm rootfs, as a tar) -> podman import
#   => localhost/smtls-host:bookworm   systemd as PID 1, python3 (+cryptography, apt),
#      OpenJDK 17 + cacerts, tomcat10 installed but NOT enabled (the web-tier role enables it).
#
# Usage:  source .ci/podman-env.sh && .ci/build-images.sh        (skips if the image exists)
#         FORCE=1 .ci/build-images.sh                             (rebuild)
# Env:    IMAGE=...            image name (default localhost/smtls-host:bookworm)
#         EXTRA_PACKAGES="a,b" more packages for the rootfs (comma separated)
#         USE_DEBOOTSTRAP=1    use the (slower) debootstrap path even if mmdebstrap exists
#         EATMYDATA=1          run dpkg under eatmydata (mmdebstrap hook; no gain measured here)
#         MMDEBSTRAP_VERBOSE=1 show apt/dpkg output of the bootstrap
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self="$here/$(basename "${BASH_SOURCE[0]}")"
SUITE=bookworm
PACKAGES=python3,python3-cryptography,python3-apt,systemd,systemd-sysv,dbus,procps,iproute2,ca-certificates,openjdk-17-jre-headless,tomcat10,openssl,curl,less

# Units that make no sense in a container (no ttys, no udev, no logind seats, no
# unattended apt runs that would race with Ansible's apt tasks).
MASK_UNITS="getty.target console-getty.service systemd-logind.service
  systemd-udevd.service systemd-udevd-kernel.socket systemd-udevd-control.socket
  systemd-networkd-wait-online.service apt-daily.timer apt-daily-upgrade.timer
  fstrim.timer e2scrub_all.timer"

# Kept in the image (/etc/dpkg/dpkg.cfg.d/01-nodoc): later apt installs skip docs too.
DPKG_NODOC='path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
path-exclude=/usr/share/lintian/*'

# ---------------------------------------------------------------------------
# Customize stage: runs as an mmdebstrap --customize-hook ("$0 --customize ROOTFS"),
# after all packages are installed and while /proc, /sys, /dev are still mounted.
# ---------------------------------------------------------------------------
customize() {
  local r=$1 u n
  [ -d "$r/etc" ] || { echo "customize: $r is not a rootfs" >&2; exit 1; }

  # apt sources of the image = the ones used for the build (written by us, not mmdebstrap's copy)
  rm -f "$r/etc/apt/sources.list" "$r"/etc/apt/sources.list.d/0000*
  cp "$SMTLS_SOURCES" "$r/etc/apt/sources.list.d/debian.sources"
  chmod 0644 "$r/etc/apt/sources.list.d/debian.sources"
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    > "$r/etc/apt/apt.conf.d/99no-recommends"

  for u in $MASK_UNITS; do
    ln -sfn /dev/null "$r/etc/systemd/system/$u"
  done

  # Tomcat is installed but must not start at boot: the web-tier role enables it.
  # "disable" (not mask) keeps "systemctl start tomcat10" working.
  chroot "$r" systemctl disable --quiet tomcat10.service
  if [ -n "$(find "$r/etc/systemd/system" -name tomcat10.service -path '*.wants/*')" ]; then
    echo "customize: tomcat10 is still wanted by a target" >&2; exit 1
  fi

  # Each container must get its own machine-id: systemd fills an EMPTY /etc/machine-id
  # from podman's container_uuid at boot; a fixed /var/lib/dbus/machine-id would be
  # copied into every host instead.
  : > "$r/etc/machine-id"
  mkdir -p "$r/var/lib/dbus"
  ln -sfn /etc/machine-id "$r/var/lib/dbus/machine-id"
  echo localhost > "$r/etc/hostname"          # mmdebstrap copies the build host's name

  # Java trust store: ca-certificates-java builds it in a trigger that needs a
  # working JVM (and /proc). Fail the build if it did not happen.
  if [ ! -s "$r/etc/ssl/certs/java/cacerts" ]; then
    echo "customize: /etc/ssl/certs/java/cacerts missing or empty" >&2; exit 1
  fi
  n=$(chroot "$r" keytool -list -cacerts -storepass changeit 2>/dev/null | grep -c trustedCertEntry || true)
  echo "customize: java cacerts: $(stat -c %s "$r/etc/ssl/certs/java/cacerts") bytes, $n trusted certs"
  [ "$n" -ge 100 ] || { echo "customize: too few certificates in java cacerts" >&2; exit 1; }

  # what the essential packages unpacked before the nodoc config applied
  find "$r/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
  find "$r/usr/share/man" "$r/usr/share/info" "$r/usr/share/lintian" -mindepth 1 -type f -delete
  find "$r/usr/share/locale" -mindepth 1 -type f ! -name locale.alias -delete
  find "$r/usr/share/man" "$r/usr/share/info" "$r/usr/share/locale" "$r/usr/share/lintian" \
    -mindepth 1 -type d -empty ! -path '*/man/man1' -delete

  # Empty apt lists with an OLD mtime: a fresh mtime would make Ansible's
  # apt cache_valid_time believe the (empty) cache is current -> "No package matching".
  chroot "$r" apt-get clean
  rm -rf "$r"/var/lib/apt/lists/*
  mkdir -p "$r/var/lib/apt/lists/partial"
  touch -d @0 "$r/var/lib/apt/lists"
  rm -rf "$r"/var/cache/apt/*.bin "$r"/var/cache/debconf/*-old "$r"/var/lib/dpkg/*-old
}

# Setup stage (mmdebstrap --setup-hook, before any package is unpacked).
setup() {
  local r=$1
  mkdir -p "$r/etc/dpkg/dpkg.cfg.d" "$r/usr/share/man/man1"  # openjdk's postinst needs man1
  printf '%s\n' "$DPKG_NODOC" > "$r/etc/dpkg/dpkg.cfg.d/01-nodoc"
}

case "${1:-}" in
  --setup) setup "$2"; exit 0 ;;
  --customize) customize "$2"; exit 0 ;;
esac

# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------
source "$here/podman-env.sh"
IMAGE=${IMAGE:-localhost/smtls-host:bookworm}
t_all=$SECONDS
step() { echo "::timing:: $1 -> $((SECONDS - $2))s"; }

if [ "${FORCE:-0}" != 1 ] && podman image exists "$IMAGE"; then
  echo "image $IMAGE exists (FORCE=1 to rebuild)"
  exit 0
fi

work=$(mktemp -d /var/tmp/smtls-image.XXXXXX)
cleanup() {
  # mmdebstrap runs in its own mount namespace (below), so nothing can stay mounted
  # in $work; --one-file-system is a second safety net against deleting through mounts.
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP     # run the EXIT trap on signals too

# Debian mirrors = the ones the host's apt already uses (no host names hard-coded).
# The security archive is recognised by a "-security" suite.
mirror="" sec_mirror=""
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  read -r mirror sec_mirror < <(awk '
    function flush() { if (uri != "") { if (suites ~ /-security/) { if (sec == "") sec = uri } else if (main == "") main = uri }
                       uri = ""; suites = "" }
    /^[[:space:]]*$/ { flush(); next }
    $1 == "URIs:"   { uri = $2 }
    $1 == "Suites:" { suites = $0 }
    END { flush(); print main, sec }' /etc/apt/sources.list.d/debian.sources)
fi
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror=$(awk '$1 == "deb" && $2 !~ /^\[/ && $3 !~ /-security/ {print $2; exit}' /etc/apt/sources.list)
  sec_mirror=$(awk '$1 == "deb" && $2 !~ /^\[/ && $3 ~ /-security/ {print $2; exit}' /etc/apt/sources.list)
fi
[ -n "$mirror" ] || { echo "no Debian mirror found in the host's apt sources" >&2; exit 1; }

export SMTLS_SOURCES="$work/debian.sources"
{
  printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$mirror" "$SUITE" "$SUITE"
  if [ -n "$sec_mirror" ]; then
    printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$sec_mirror" "$SUITE"
  fi
} > "$SMTLS_SOURCES"
echo "apt sources for $IMAGE:"; sed 's/^/  /' "$SMTLS_SOURCES"

pkgs=$PACKAGES${EXTRA_PACKAGES:+,$EXTRA_PACKAGES}
hook_self=$(printf '%q' "$self")
t=$SECONDS
if [ "${USE_DEBOOTSTRAP:-0}" != 1 ] && command -v mmdebstrap >/dev/null; then
  opts=(
    --mode=root --variant=minbase --format=tar ${MMDEBSTRAP_VERBOSE:+--verbose}
    # merged /usr via directory symlinks (like debootstrap) instead of the usrmerge
    # package, which would drag in perl (~50 MB) and convert the tree afterwards
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
    # apt lists + cache are emptied by our customize hook: mmdebstrap's own cleanup
    # runs apt-get afterwards, which re-creates lists/lock and so bumps the mtime
    # of /var/lib/apt/lists that the hook set to 0 (see there)
    --skip=cleanup/apt
    --include="$pkgs"
    --aptopt='Acquire::Languages "none"'
    --aptopt='APT::Install-Recommends "false"'
    # No docs/man pages/translations: a dpkg config file written by the setup hook, NOT
    # --dpkgopt=path-exclude (that pipes every essential .deb through the Python
    # mmtarfilter: +10-16 s). The customize hook removes what the essential set left.
    --setup-hook="$hook_self --setup \"\$1\""
    --customize-hook="$hook_self --customize \"\$1\""
  )
  # Opt-in: dpkg without fsync. Measured no gain on this VM (fsync is cheap here);
  # the hook needs dpkg-architecture (dpkg-dev) on the host.
  if [ "${EATMYDATA:-0}" = 1 ]; then
    opts+=(--hook-dir=/usr/share/mmdebstrap/hooks/eatmydata)
  fi
  # Own mount namespace: the chroot's /proc, /sys, /dev mounts vanish with the process
  # even if it is killed. TMPDIR: mmdebstrap's temporary rootfs lives inside $work.
  TMPDIR=$work unshare --mount --propagation private \
    mmdebstrap "${opts[@]}" "$SUITE" "$work/rootfs.tar" "$SMTLS_SOURCES"
  step mmdebstrap $t
else
  echo "using debootstrap (slower; mmdebstrap missing or USE_DEBOOTSTRAP=1)" >&2
  rootfs="$work/rootfs"
  mkdir "$rootfs"
  # shellcheck disable=SC2016  # the script gets its values as positional parameters
  unshare --mount --propagation private sh -euc '
    pkgs=$1 suite=$2 r=$3 mirror=$4 sources=$5 self=$6
    debootstrap --variant=minbase "$suite" "$r" "$mirror"
    "$self" --setup "$r"
    cp "$sources" "$r/etc/apt/sources.list.d/debian.sources"; rm -f "$r/etc/apt/sources.list"
    printf "#!/bin/sh\nexit 101\n" > "$r/usr/sbin/policy-rc.d"; chmod +x "$r/usr/sbin/policy-rc.d"
    mount -t proc proc "$r/proc"
    export DEBIAN_FRONTEND=noninteractive
    chroot "$r" apt-get -qq -o Acquire::Languages=none update
    chroot "$r" apt-get -y -qq -o Dpkg::Use-Pty=0 dist-upgrade
    chroot "$r" apt-get -y -qq -o Dpkg::Use-Pty=0 --no-install-recommends install $(echo "$pkgs" | tr , " ")
    chroot "$r" apt-get clean
    rm -f "$r/usr/sbin/policy-rc.d"
    "$self" --customize "$r"
    umount "$r/proc"
  ' sh "$pkgs" "$SUITE" "$rootfs" "$mirror" "$SMTLS_SOURCES" "$self"
  step debootstrap $t
  t=$SECONDS
  tar --numeric-owner --xattrs --xattrs-include='*' -C "$rootfs" -cf "$work/rootfs.tar" .
  rm -rf --one-file-system "$rootfs"
  step "tar rootfs" $t
fi
ls -l "$work/rootfs.tar"

t=$SECONDS
podman import --quiet \
  --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' \
  --message "smtls test host: Debian $SUITE + systemd + python3 + openjdk17 + tomcat10" \
  "$work/rootfs.tar" "$IMAGE"
step "podman import" $t

podman image prune -f >/dev/null   # drop the image that FORCE=1 just replaced
step "total build-images" $t_all
podman images --filter reference="$IMAGE"
