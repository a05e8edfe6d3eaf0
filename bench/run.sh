#!/usr/bin/env bash
# bench/run.sh: tierlab's load balancer against HAProxy and nginx, all on 127.0.0.1.
#
# Two identical backends (nginx, one worker each, a fixed 200 body) sit behind three round-robin
# proxies: tierlab (`tierlab -f bench/tierlab.toml up`), HAProxy and nginx, all with the same
# ECDSA P-256 certificate, TLS 1.3, keep-alive pools to the backends and no access logs. Every
# round runs each test against every setup in turn (direct, tierlab, haproxy, nginx), so slow
# drift of a shared machine hits all of them alike; the table shows medians over the rounds.
#
# Tests per round and setup (wrk, HTTP/1.1):
#   rps     keep-alive throughput, wrk -t2 -c64, HTTP and HTTPS
#   lat     latency at one connection, wrk -t1 -c1 --latency (p50, p99), HTTP and HTTPS
#   tlsnew  new TLS connections per second: HTTPS with `Connection: close`, wrk -t2 -c16
#   h2      HTTP/2 from the clients over TLS: h2load -c16 -m10 (the proxies only)
# and after them, once per proxy restarted fresh, the memory each of 10,000 idle keep-alive
# client connections takes (HTTP and HTTPS; bench/idle_clients.py holds them; fewer where the
# descriptor limit is lower, see IDLE_CONNS in lib.sh); plus, for the server under test (each
# proxy; backend1 for direct), its resident memory (sum of VmRSS over its processes, sampled
# under load) and the CPU time it spent per request.
#
# Usage: bench/run.sh                      (about 5 minutes on 2 cores, after the build)
#        ROUNDS=5 LOAD_SECS=8 bench/run.sh  (longer, steadier)
#        IDLE_CONNS=0 bench/run.sh          (without the idle connections' memory)
# Needs nginx, haproxy, wrk, openssl, curl, python3; installs the missing ones with apt-get when
# run as root. Starts and stops only its own processes (by PID). Output: the table on stdout,
# raw wrk outputs and logs in bench/.run/.
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

main() {
  mkdir -p "$RUN"
  ensure_tools
  check_ports_free
  rm -rf "$RUN/raw" "$RUN/tierlab-state"
  mkdir -p "$RUN/raw"
  # Descriptors for the idle connections: the proxies and the clients inherit this limit.
  ulimit -n "$NOFILE"

  build_and_start_all
  log "warm-up"
  for s in $SETUPS; do
    wrk -t2 -c64 -d"${WARMUP_SECS}s" "${HTTP_URL[$s]}" >/dev/null 2>&1
    wrk -t2 -c64 -d"${WARMUP_SECS}s" "${HTTPS_URL[$s]}" >/dev/null 2>&1
  done

  local round
  for round in $(seq "$ROUNDS"); do
    log "round $round/$ROUNDS"
    for s in $SETUPS; do measure "$round-$s-rps-http" "$s" -t2 -c64 -d"${LOAD_SECS}s" "${HTTP_URL[$s]}"; done
    for s in $SETUPS; do measure "$round-$s-rps-https" "$s" -t2 -c64 -d"${LOAD_SECS}s" "${HTTPS_URL[$s]}"; done
    for s in $SETUPS; do measure "$round-$s-lat-http" "$s" -t1 -c1 -d"${LATENCY_SECS}s" --latency "${HTTP_URL[$s]}"; done
    for s in $SETUPS; do measure "$round-$s-lat-https" "$s" -t1 -c1 -d"${LATENCY_SECS}s" --latency "${HTTPS_URL[$s]}"; done
    for s in $SETUPS; do measure "$round-$s-tlsnew" "$s" -t2 -c16 -d"${HANDSHAKE_SECS}s" -H "Connection: close" "${HTTPS_URL[$s]}"; done
    for s in $H2_SETUPS; do measure_h2 "$round-$s-h2" "$s" -c16 -m10 -t2 -D"$LOAD_SECS" "${HTTPS_URL[$s]}"; done
  done

  for s in $SETUPS; do
    echo "$(mem_kb "${PID_OF[$s]}" VmHWM)" >"$RUN/raw/$s.hwm"
  done
  # Last, on restarted proxies: what the load left in their heaps would hide what idle
  # connections cost, and what these leave would count as memory under load.
  if [ "$IDLE_CONNS" -gt 0 ]; then
    log "idle connections: $IDLE_CONNS per proxy, HTTP then HTTPS, each proxy restarted first"
    for s in $H2_SETUPS; do
      restart_proxy "$s"
      measure_idle "$s"
    done
  fi

  local cpus
  cpus=$(nproc)
  {
    echo "Command: \`bench/run.sh\` (ROUNDS=$ROUNDS, LOAD_SECS=$LOAD_SECS, LATENCY_SECS=$LATENCY_SECS, HANDSHAKE_SECS=$HANDSHAKE_SECS, IDLE_CONNS=$IDLE_CONNS) on $cpus CPUs, $(date -u +%Y-%m-%d);"
    echo "$(nginx -v 2>&1 | sed 's/.*: //'), HAProxy $(haproxy -v | awk 'NR==1{print $3}'), $(wrk -v 2>&1 | awk 'NR==1{print $1, $2}'), tierlab $(git -C "$ROOT" rev-parse --short HEAD)."
    echo
    python3 "$HERE/report.py" "$RUN/raw"
  } | tee "$RUN/table.md"
}

main "$@"
