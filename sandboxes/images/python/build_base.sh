#!/bin/sh
# Build the sandbox's base image without a Docker registry: debootstrap a minimal
# Debian bookworm with python3 (and g++ for C++ suites) and `docker import` it.
#
#   sandboxes/images/python/build_base.sh [TAG]      (default r1-verifiers/debian-python:bookworm)
#
# Needs root, debootstrap and a reachable Debian mirror (DEBIAN_MIRROR, default deb.debian.org).
# WITH_CXX=0 leaves g++ out (smaller, faster; C++ suites then report an error).
# Where a registry is reachable you do not need this: build the sandbox image from
# python:3.12-slim instead (see the Dockerfile).
set -eu

TAG="${1:-r1-verifiers/debian-python:bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE="${DEBIAN_SUITE:-bookworm}"
PACKAGES="python3-minimal,libpython3-stdlib"
if [ "${WITH_CXX:-1}" = "1" ]; then
    PACKAGES="$PACKAGES,g++"
fi

ROOTFS="$(mktemp -d /tmp/r1v-rootfs.XXXXXX)"
trap 'rm -rf "$ROOTFS"' EXIT

debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR" >&2

# Nothing in the sandbox needs apt's caches, docs or locales: drop them to keep the image small.
chroot "$ROOTFS" apt-get clean
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* \
       "$ROOTFS"/usr/share/locale/* "$ROOTFS"/usr/share/info/* "$ROOTFS"/var/cache/debconf/*-old

tar -C "$ROOTFS" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    - "$TAG" >&2
echo "$TAG"
