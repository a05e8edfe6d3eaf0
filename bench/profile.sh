#!/usr/bin/env bash
# bench/profile.sh: what one request costs each proxy below its own code, side by side: system
# calls (`strace -c -f` on every thread of the proxy), context switches (voluntary and not,
# from /proc/PID/task/*/status) and calls to libc's malloc (a perf uprobe), per request, with the CPU time per request, over HTTP and HTTPS
# keep-alive (wrk -t2 -c64). The setup is bench/run.sh's (same backends, configs and ports).
#
# Three runs per proxy and protocol: one plain (context switches, CPU), one under strace (system
# calls; strace slows the proxy, but what it counts per request is the same work), one with
# libc's malloc counted (a perf uprobe).
#
# Usage: bench/profile.sh                  (about a minute after the build)
#        LOAD_SECS=6 bench/profile.sh
# Output: the table on stdout; raw outputs in bench/.run/profile/.
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
LOAD_SECS=${LOAD_SECS:-4}
PROXIES="tierlab haproxy nginx"

# Every thread of the proxy's processes (nginx: master and workers).
threads_of() { # $1 pid
  local p
  for p in $(proc_tree "$1"); do
    ls /proc/"$p"/task 2>/dev/null || true
  done
}

ctx_switches() { # $1 pid: "voluntary nonvoluntary", summed over every thread
  local vol=0 invol=0 t v n
  for p in $(proc_tree "$1"); do
    for t in /proc/"$p"/task/*; do
      v=$(awk '$1=="voluntary_ctxt_switches:"{print $2}' "$t/status" 2>/dev/null || true)
      n=$(awk '$1=="nonvoluntary_ctxt_switches:"{print $2}' "$t/status" 2>/dev/null || true)
      vol=$((vol + ${v:-0}))
      invol=$((invol + ${n:-0}))
    done
  done
  echo "$vol $invol"
}

requests_of() { # $1 wrk output file
  awk '/requests in/{print $1}' "$1"
}

# A plain run: the requests, the context switches and the CPU ticks the proxy spent.
plain_run() { # $1 setup, $2 http|https, $3 url
  local pid=${PID_OF[$1]} out=$RUN/profile/$1-$2 before after cpu0
  before=$(ctx_switches "$pid")
  cpu0=$(cpu_ticks "$pid")
  wrk -t2 -c64 -d"${LOAD_SECS}s" "$3" >"$out.wrk" 2>&1
  after=$(ctx_switches "$pid")
  echo "$(requests_of "$out.wrk") $before $after $(($(cpu_ticks "$pid") - cpu0)) $(getconf CLK_TCK)" >"$out.plain"
}

# wrk against $3 into $1 while a tracer (the rest) watches the proxy: the tracer starts first
# and gets $2 seconds to attach, then is stopped with SIGINT so it writes its summary.
traced_wrk() { # $1 wrk output, $2 seconds to attach, $3 url, rest: tracer command
  local out=$1 attach=$2 url=$3 tracer_pid
  shift 3
  "$@" &
  tracer_pid=$!
  sleep "$attach"
  wrk -t2 -c64 -d"${LOAD_SECS}s" "$url" >"$out" 2>&1
  kill -INT "$tracer_pid"
  wait "$tracer_pid" || true
}

# A run with libc's `malloc` counted (a perf uprobe; `perf probe` needs root): allocations the
# proxy asks of the C allocator per request (HAProxy and nginx mostly use their own pools).
malloc_run() { # $1 setup, $2 http|https, $3 url
  local pid=${PID_OF[$1]} out=$RUN/profile/$1-$2 pids
  pids=$(proc_tree "$pid" | paste -sd, -)
  traced_wrk "$out.malloc-wrk" 0.5 "$3" perf stat -x, -e probe_libc:malloc -p "$pids" -o "$out.malloc"
}

# Where tierlab's CPU goes under keep-alive HTTP: a flat profile (`perf record -e cpu-clock`,
# the only event this VM's perf supports), the 25 hottest symbols with their share.
tierlab_hot_symbols() {
  local out=$RUN/profile/tierlab-perf
  traced_wrk "$out.wrk" 0.5 "${HTTP_URL[tierlab]}" \
    perf record -q -e cpu-clock -F 2000 -p "${PID_OF[tierlab]}" -o "$out.data"
  perf report -q -i "$out.data" --no-children --sort dso --stdio 2>/dev/null \
    | awk 'NF' >"$out.dso"
  perf report -q -i "$out.data" --no-children --sort dso,symbol --stdio 2>/dev/null \
    | awk 'NF && ++n <= 25 { sub(/[ -]+$/, ""); print }' >"$out.txt"
}

# Adds the uprobe on libc's malloc once (it stays until `perf probe -d probe_libc:malloc`).
malloc_probe() {
  perf probe -l 2>/dev/null | grep -q 'probe_libc:malloc' && return 0
  local libc
  libc=$(ldconfig -p | awk '/libc.so.6 .*x86-64/{print $NF; exit}')
  perf probe -q -x "$libc" --add malloc
}

# A run under strace: every system call of every thread, counted.
strace_run() { # $1 setup, $2 http|https, $3 url
  local pid=${PID_OF[$1]} out=$RUN/profile/$1-$2 args=() t
  for t in $(threads_of "$pid"); do args+=(-p "$t"); done
  traced_wrk "$out.strace-wrk" 1 "$3" strace -c -f -q -o "$out.strace" "${args[@]}"
}

main() {
  mkdir -p "$RUN"
  ensure_tools strace:strace perf:linux-perf
  local mallocs=yes
  malloc_probe || { log "perf cannot add a uprobe on malloc here: no allocation counts"; mallocs=no; }
  check_ports_free
  rm -rf "$RUN/raw" "$RUN/profile" "$RUN/tierlab-state"
  mkdir -p "$RUN/raw" "$RUN/profile"
  build_and_start_all
  local s
  log "warm-up"
  for s in $PROXIES; do wrk -t2 -c64 -d1s "${HTTP_URL[$s]}" >/dev/null 2>&1; done
  for s in $PROXIES; do
    log "profiling $s"
    plain_run "$s" http "${HTTP_URL[$s]}"
    plain_run "$s" https "${HTTPS_URL[$s]}"
    strace_run "$s" http "${HTTP_URL[$s]}"
    strace_run "$s" https "${HTTPS_URL[$s]}"
    if [ "$mallocs" = yes ]; then
      malloc_run "$s" http "${HTTP_URL[$s]}"
      malloc_run "$s" https "${HTTPS_URL[$s]}"
    fi
  done
  log "profiling tierlab's user space"
  tierlab_hot_symbols
  {
    echo "Command: \`bench/profile.sh\` (LOAD_SECS=$LOAD_SECS) on $(nproc) CPUs, $(date -u +%Y-%m-%d); $(strace -V | head -1), tierlab $(git -C "$ROOT" rev-parse --short HEAD)."
    echo
    python3 "$HERE/profile_report.py" "$RUN/profile"
    echo
    echo "tierlab under wrk -t2 -c64 over HTTP, \`perf record -e cpu-clock\`: its samples by object, then the hottest symbols."
    echo
    echo '```'
    cat "$RUN/profile/tierlab-perf.dso"
    echo
    cat "$RUN/profile/tierlab-perf.txt"
    echo '```'
  } | tee "$RUN/profile/table.md"
}

main "$@"
