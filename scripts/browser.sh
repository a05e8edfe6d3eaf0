#!/usr/bin/env bash
# Headless Chromium and its WebDriver for the dashboard's browser test (tests/dashboard.rs):
# Debian's `chromium` and `chromium-driver`, installed once (idempotent).
set -euo pipefail

if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    exit 0
fi
echo "installing chromium and chromium-driver (the dashboard's browser test)"
sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
export DEBIAN_FRONTEND=noninteractive
sudo_if_needed apt-get install -y --no-install-recommends chromium chromium-driver >/dev/null ||
    { sudo_if_needed apt-get update >/dev/null &&
        sudo_if_needed apt-get install -y --no-install-recommends chromium chromium-driver >/dev/null; }
command -v chromium >/dev/null && command -v chromedriver >/dev/null
