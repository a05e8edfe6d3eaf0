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

# The bastion tests (and `tierlab ssh`/`db shell`/`db tunnel`) use the system ssh client.
if ! command -v ssh >/dev/null; then
    echo "installing openssh-client (the bastion tests use the real ssh client)"
    if [ "$(id -u)" = 0 ]; then apt-get install -y openssh-client >/dev/null ||
        { apt-get update >/dev/null && apt-get install -y openssh-client >/dev/null; }
    else sudo apt-get install -y openssh-client >/dev/null; fi
fi

# The dashboard's browser tests drive headless Chromium and Firefox (scripts/browser.sh).
scripts/browser.sh

# context_hash DIR: a hash of every file in a build context (names and contents), so an image
# built from an older context is rebuilt, not reused.
context_hash() {
    (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16
}

# build_if_missing TAG CONTEXT: the image/build pairs of emulator.toml; rebuilt when its context
# changed since it was built (the image carries the context's hash as a label).
build_if_missing() {
    local tag="$1" context="$2"
    grep -qF "\"$tag\"" emulator.toml ||
        echo "warning: $tag is not in emulator.toml any more; update scripts/test.sh" >&2
    local hash built
    hash="$(context_hash "$context")"
    built="$(docker image inspect -f '{{ index .Config.Labels "tierlab.context-hash" }}' "$tag" 2>/dev/null || true)"
    if [ "$built" = "$hash" ]; then
        echo "image $tag: present (context $hash)"
        return
    fi
    echo "image $tag: building from $context (context $hash${built:+, was $built})"
    local started=$SECONDS
    # Quiet unless it fails: the legacy builder's deprecation banner is noise in CI logs.
    local out
    if ! out="$(docker build --label "tierlab.context-hash=$hash" -t "$tag" "$context" 2>&1)"; then
        echo "$out" | tail -n 40 >&2
        echo "error: docker build -t $tag $context failed" >&2
        exit 1
    fi
    echo "image $tag: built in $((SECONDS - started)) s"
}
# The real AWS CLI for the tests that drive a lab through it (tests/aws_api).
TIERLAB_AWS_CLI="$(scripts/aws-cli.sh)"
export TIERLAB_AWS_CLI

build_if_missing flask-crud-app:latest examples/flask-crud
build_if_missing tierlab/mysql:8.0-compat images/mysql
build_if_missing tierlab/bastion:latest images/bastion

exec cargo test --locked "$@"
