#!/usr/bin/env bash
# Headless browsers for the dashboard's browser tests: Debian's `chromium` and `chromium-driver`
# (tests/dashboard.rs, tests/dashboard_alb_only.rs) and `firefox-esr` (tests/dashboard_firefox.rs,
# driven over its own Marionette protocol, so no geckodriver), each installed once (idempotent).
set -euo pipefail

packages=()
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    packages+=(chromium chromium-driver)
fi
if ! command -v firefox-esr >/dev/null; then
    packages+=(firefox-esr)
fi
if [ "${#packages[@]}" = 0 ]; then
    exit 0
fi
echo "installing ${packages[*]} (the dashboard's browser tests)"
sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
export DEBIAN_FRONTEND=noninteractive
sudo_if_needed apt-get install -y --no-install-recommends "${packages[@]}" >/dev/null ||
    { sudo_if_needed apt-get update >/dev/null &&
        sudo_if_needed apt-get install -y --no-install-recommends "${packages[@]}" >/dev/null; }
command -v chromium >/dev/null && command -v chromedriver >/dev/null && command -v firefox-esr >/dev/null
