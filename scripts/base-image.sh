#!/usr/bin/env bash
# Make sure the base image `debian:bookworm-slim` exists in the local Docker engine.
#
# Where Docker Hub is reachable a plain pull is enough. Where it is not (offline laptops, CI), the
# image is bootstrapped from Debian's own packages with debootstrap and imported, so every
# Dockerfile in this repo (`FROM debian:bookworm-slim`) builds the same way on both.
set -euo pipefail

IMAGE="${TIERLAB_BASE_IMAGE:-debian:bookworm-slim}"
SUITE="${TIERLAB_BASE_SUITE:-bookworm}"

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "base image $IMAGE: present"
    exit 0
fi

if timeout 60 docker pull "$IMAGE" >/dev/null 2>&1; then
    echo "base image $IMAGE: pulled"
    exit 0
fi

echo "base image $IMAGE: not pullable, bootstrapping it from Debian packages (about a minute)"
if ! command -v debootstrap >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        # A fresh machine may have no package lists yet.
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq debootstrap >/dev/null 2>&1 ||
            { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
    else
        echo "error: debootstrap is missing; install it with: sudo apt-get install -y debootstrap" >&2
        exit 1
    fi
fi

rootfs="$(mktemp -d /tmp/tierlab-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
debootstrap --variant=minbase "$SUITE" "$rootfs" >/tmp/tierlab-debootstrap.log 2>&1 || {
    echo "error: debootstrap failed; see /tmp/tierlab-debootstrap.log" >&2
    exit 1
}
# Slim it the way the official -slim image is: no docs, man pages, locales or apt lists.
rm -rf "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
       "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
find "$rootfs"/usr/share/locale -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} + 2>/dev/null || true
tar -C "$rootfs" -c . | docker import \
    --change 'CMD ["bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    - "$IMAGE" >/dev/null
echo "base image $IMAGE: bootstrapped"
