#!/usr/bin/env bash
# bench/compare.sh: tierlab builds or settings side by side with HAProxy, for a data-plane
# change's before/after. Each round runs every variant in turn (started, measured, stopped) and
# HAProxy once, so drift hits all alike; prints medians of keep-alive req/s and CPU µs per
# request over HTTP and HTTPS, as ratios to HAProxy.
#
#   bench/compare.sh LABEL:BINARY[:CONFIG] ...
#   bench/compare.sh before:/tmp/tierlab-main after:target/release/tierlab
#   bench/compare.sh logs-on:target/release/tierlab:bench/tierlab-access-logs.toml
#
# CONFIG (default bench/tierlab.toml) must keep its listeners on tierlab's ports of lib.sh.
# Same backends, certificate and HAProxy config as bench/run.sh (bench/lib.sh); ROUNDS and
# LOAD_SECS as there.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -ge 1 ] || die "usage: bench/compare.sh LABEL:BINARY[:CONFIG] ..."

measure_variant() { # $1 label, $2 round
  local label=$1 round=$2 setup=tierlab proto url
  [ "$label" = haproxy ] && setup=haproxy
  for proto in http https; do
    if [ "$proto" = http ]; then url=${HTTP_URL[$setup]}; else url=${HTTPS_URL[$setup]}; fi
    wrk -t2 -c64 -d"${WARMUP_SECS}s" "$url" >/dev/null 2>&1 || true
    measure "cmp-$label-$proto-$round" "$setup" -t2 -c64 -d"${LOAD_SECS}s" "$url"
  done
}

start_variant() { # $1 binary, $2 config
  start tierlab env TIERLAB_LOG=warn "$1" -f "$2" up
  wait_ok "${HTTP_URL[tierlab]}" tierlab
  wait_ok "${HTTPS_URL[tierlab]}" tierlab
}

stop_variant() {
  local pid=${PID_OF[tierlab]}
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  # Forgotten by exact PID, so the exit cleanup does not signal it (or its reused number).
  local kept=() p
  for p in "${STARTED[@]}"; do [ "$p" = "$pid" ] || kept+=("$p"); done
  STARTED=("${kept[@]}")
}

main() {
  ensure_tools
  check_ports_free
  mkdir -p "$RUN/raw"
  rm -f "$RUN"/raw/cmp-*
  make_cert
  write_backend_conf backend1 "$BACKEND1" "$BACKEND1_TLS"
  write_backend_conf backend2 "$BACKEND2"
  write_haproxy_conf
  start backend1 nginx -p "$RUN/backend1" -c "$RUN/backend1/nginx.conf" -e "$RUN/backend1/error.log"
  start backend2 nginx -p "$RUN/backend2" -c "$RUN/backend2/nginx.conf" -e "$RUN/backend2/error.log"
  wait_ok "${HTTP_URL[direct]}"
  wait_ok "http://127.0.0.1:$BACKEND2/"
  start haproxy haproxy -db -f "$RUN/haproxy.cfg"
  wait_ok "${HTTP_URL[haproxy]}" haproxy
  local labels=(haproxy) round spec label rest binary config
  for spec in "$@"; do labels+=("${spec%%:*}"); done
  for round in $(seq "$ROUNDS"); do
    log "round $round of $ROUNDS"
    measure_variant haproxy "$round"
    for spec in "$@"; do
      label=${spec%%:*}
      rest=${spec#*:}
      binary=${rest%%:*}
      config=$HERE/tierlab.toml
      [ "$rest" != "$binary" ] && config=${rest#*:}
      [ -x "$binary" ] || die "$label: $binary is not an executable"
      [ -f "$config" ] || die "$label: no config $config"
      start_variant "$binary" "$config"
      measure_variant "$label" "$round"
      stop_variant
    done
  done
  echo "Command: \`bench/compare.sh $*\` (ROUNDS=$ROUNDS, LOAD_SECS=$LOAD_SECS) on $(nproc) CPUs, $(date -u +%Y-%m-%d)."
  echo
  python3 "$HERE/compare_report.py" "$RUN/raw" "${labels[@]}"
}

main "$@"
