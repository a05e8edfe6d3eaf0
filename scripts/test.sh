#!/usr/bin/env bash
# The test command: a Docker engine, the base image and the lab's images, then `cargo test`.
#
#   scripts/test.sh [cargo test args...]      e.g. scripts/test.sh --lib health
#
# The integration tests build missing images through tierlab itself; building them here first
# keeps the tests' own timings predictable (a first build takes about a minute).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/docker-engine.sh
scripts/base-image.sh

# build_if_missing TAG CONTEXT: the image/build pairs of emulator.toml.
build_if_missing() {
    local tag="$1" context="$2"
    grep -qF "\"$tag\"" emulator.toml ||
        echo "warning: $tag is not in emulator.toml any more; update scripts/test.sh" >&2
    if docker image inspect "$tag" >/dev/null 2>&1; then
        echo "image $tag: present"
        return
    fi
    echo "image $tag: building from $context"
    local started=$SECONDS
    # Quiet unless it fails: the legacy builder's deprecation banner is noise in CI logs.
    local out
    if ! out="$(docker build -t "$tag" "$context" 2>&1)"; then
        echo "$out" | tail -n 40 >&2
        echo "error: docker build -t $tag $context failed" >&2
        exit 1
    fi
    echo "image $tag: built in $((SECONDS - started)) s"
}
build_if_missing flask-crud-app:latest examples/flask-crud
build_if_missing tierlab/mysql:8.0-compat images/mysql

exec cargo test --locked "$@"
