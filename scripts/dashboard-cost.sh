#!/usr/bin/env bash
# What the dashboard's live updates cost a running lab: CPU time and RSS of the `tierlab up`
# process over SECONDS with no dashboard connected, then over SECONDS with one connected to its
# event stream (curl reading the server-sent events, as a browser's EventSource does; the
# browser's own cost is the browser's). Run it next to a running `tierlab up`:
#
#   scripts/dashboard-cost.sh [-f emulator.toml] [SECONDS=60]
set -euo pipefail
BIN="${TIERLAB_BIN:-$(dirname "${BASH_SOURCE[0]}")/../target/release/tierlab}"
FILE=(); if [ "${1:-}" = "-f" ]; then FILE=(-f "$2"); shift 2; fi
SECONDS_EACH="${1:-60}"
url="$("$BIN" "${FILE[@]}" dashboard --print-url 2>/dev/null)"
base="${url%%\?*}"
token="${url##*token=}"
pid="$(python3 - "$base" <<'PY'
import sys, urllib.parse, subprocess
port = urllib.parse.urlparse(sys.argv[1]).port
out = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True).stdout
print(out.split("pid=")[1].split(",")[0])
PY
)"
tick="$(getconf CLK_TCK)"
cpu() { awk -v t="$tick" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$pid/stat"; }
rss() { awk '/VmRSS/ { print $2 }' "/proc/$pid/status"; }
window() {
    local c0 r0 c1 r1
    c0="$(cpu)"; r0="$(rss)"; sleep "$SECONDS_EACH"; c1="$(cpu)"; r1="$(rss)"
    printf '%-22s CPU %5.2fs in %ss (%4.1f%% of a core)   RSS %6d KiB -> %6d KiB\n' "$1" \
        "$(echo "$c1 - $c0" | bc)" "$SECONDS_EACH" "$(echo "($c1 - $c0) * 100 / $SECONDS_EACH" | bc -l)" "$r0" "$r1"
}
echo "tierlab up: pid $pid, dashboard $base"
window "no dashboard"
curl -sN -H "Authorization: Bearer $token" "${base}api/events" > /tmp/tierlab-dashboard-cost.sse &
reader=$!
window "one dashboard (SSE)"
kill "$reader"
echo "bytes streamed: $(wc -c < /tmp/tierlab-dashboard-cost.sse) in ${SECONDS_EACH}s"
rm -f /tmp/tierlab-dashboard-cost.sse
