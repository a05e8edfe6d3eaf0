#!/usr/bin/env bash
# Measures, with images already built, over N runs of the default stack (emulator.toml):
#   - `tierlab up` started → first HTTP 200 through the load balancer (HTTPS);
#   - `docker kill` of one task → its replacement registered healthy (service back to 2/2).
# Prints each run and the medians.   Usage: scripts/measure.sh [RUNS=5]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RUNS="${1:-5}"
cargo build --release --quiet
BIN=target/release/tierlab
export TIERLAB_STATE_DIR="$(mktemp -d /tmp/tierlab-measure.XXXXXX)"
trap '"$BIN" down --volumes >/dev/null 2>&1 || true; rm -rf "$TIERLAB_STATE_DIR"' EXIT
CA="$TIERLAB_STATE_DIR/ca/ca.pem"
now() { date +%s.%N; }
json() { "$BIN" status --json | python3 -c "import json,sys; d=json.load(sys.stdin); $1"; }

# Fresh data: this state directory's generated passwords must match the volume (run 1 includes
# the database's first initialisation; later runs reuse the volume, as `up` after `down` does).
"$BIN" down --volumes >/dev/null 2>&1 || true
ups=(); heals=()
for run in $(seq 1 "$RUNS"); do
    t0=$(now)
    "$BIN" up >"$TIERLAB_STATE_DIR/up-$run.log" 2>&1 &
    up_pid=$!
    until [ -f "$CA" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" https://127.0.0.1:8443/ || true)" = 200 ]; do
        kill -0 "$up_pid" 2>/dev/null || { cat "$TIERLAB_STATE_DIR/up-$run.log"; exit 1; }
        sleep 0.05
    done
    t1=$(now)
    until [ "$(json 'print(d["services"][0]["running_count"])' 2>/dev/null)" = 2 ]; do sleep 0.1; done
    victim=$(json 'print(d["services"][0]["tasks"][0]["container_id"])')
    t2=$(now)
    docker kill "$victim" >/dev/null
    until [ "$(json 's=d["services"][0]; print(s["running_count"]==2 and all(t["container_id"]!="'"$victim"'" for t in s["tasks"]))')" = True ]; do
        sleep 0.05
    done
    t3=$(now)
    up_s=$(python3 -c "print(f'{$t1-$t0:.2f}')"); heal_s=$(python3 -c "print(f'{$t3-$t2:.2f}')")
    echo "run $run: up → first 200: ${up_s} s; docker kill → replacement healthy: ${heal_s} s"
    ups+=("$up_s"); heals+=("$heal_s")
    kill -TERM "$up_pid"; wait "$up_pid" || true
done
median() { printf '%s\n' "$@" | sort -n | python3 -c "import sys,statistics; print(f'{statistics.median(float(l) for l in sys.stdin):.2f}')"; }
echo "median over $RUNS runs: up → first 200: $(median "${ups[@]}") s; docker kill → replacement healthy: $(median "${heals[@]}") s"
