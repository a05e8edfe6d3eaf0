#!/usr/bin/env bash
# The real AWS CLI (v1, from PyPI) in a virtual environment, for the tests that drive a lab
# through it. Prints the path of the `aws` executable.
#
#   scripts/aws-cli.sh            # creates or reuses the venv; TIERLAB_AWS_VENV overrides where
#
# The version is pinned so CI and laptops run the same client; bump it deliberately.
set -euo pipefail
AWSCLI_VERSION="1.46.3"
venv="${TIERLAB_AWS_VENV:-$HOME/.cache/tierlab/awscli-venv}"

if [ -x "$venv/bin/aws" ] && "$venv/bin/aws" --version 2>&1 | grep -q "aws-cli/$AWSCLI_VERSION "; then
    echo "$venv/bin/aws"
    exit 0
fi
if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    echo "aws-cli.sh: installing python3-venv" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >&2
fi
rm -rf "$venv"
python3 -m venv "$venv" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check "awscli==$AWSCLI_VERSION" >&2
"$venv/bin/aws" --version >&2
echo "$venv/bin/aws"
