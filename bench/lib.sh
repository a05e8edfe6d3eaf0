#!/usr/bin/env bash
# bench/lib.sh: what bench/run.sh and bench/profile.sh share: ports, the backends' and proxies'
# configs, starting and stopping exactly this script's processes, and reading a process tree's
# memory and CPU time. Sourced, not run.

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
RUN=$HERE/.run
ROUNDS=${ROUNDS:-3}
LOAD_SECS=${LOAD_SECS:-4}
LATENCY_SECS=${LATENCY_SECS:-4}
HANDSHAKE_SECS=${HANDSHAKE_SECS:-3}
WARMUP_SECS=${WARMUP_SECS:-1}
# Idle keep-alive client connections held open at once for the memory test (0: no test):
# 10,000, or fewer when the descriptor limit cannot hold that many in every proxy. tierlab
# admits (limit - reserve) / 2 client connections (src/alb/limits.rs), so 10,000 needs a hard
# limit of about 22,000; a container without CAP_SYS_RESOURCE cannot raise a lower one.
NOFILE=$(ulimit -Hn)
[ "$NOFILE" = unlimited ] && NOFILE=1048576
IDLE_DEFAULT=$((NOFILE * 2 / 5))
[ "$IDLE_DEFAULT" -gt 10000 ] && IDLE_DEFAULT=10000
IDLE_CONNS=${IDLE_CONNS:-$IDLE_DEFAULT}

# Ports: backends, then HTTP/HTTPS per setup. tierlab's are also in bench/tierlab.toml.
BACKEND1=18081 BACKEND2=18082 BACKEND1_TLS=18091
TIERLAB_HTTP=18180 TIERLAB_HTTPS=18543
HAPROXY_HTTP=18280 HAPROXY_HTTPS=18643
NGINX_HTTP=18380 NGINX_HTTPS=18743
ALL_PORTS="$BACKEND1 $BACKEND2 $BACKEND1_TLS $TIERLAB_HTTP $TIERLAB_HTTPS $HAPROXY_HTTP $HAPROXY_HTTPS $NGINX_HTTP $NGINX_HTTPS"
SETUPS="direct tierlab haproxy nginx"
# HTTP/2 from the clients: the proxies (the backends speak HTTP/1.1 only).
H2_SETUPS="tierlab haproxy nginx"

declare -A HTTP_URL=(
  [direct]=http://127.0.0.1:$BACKEND1/ [tierlab]=http://127.0.0.1:$TIERLAB_HTTP/
  [haproxy]=http://127.0.0.1:$HAPROXY_HTTP/ [nginx]=http://127.0.0.1:$NGINX_HTTP/
)
declare -A HTTPS_URL=(
  [direct]=https://127.0.0.1:$BACKEND1_TLS/ [tierlab]=https://127.0.0.1:$TIERLAB_HTTPS/
  [haproxy]=https://127.0.0.1:$HAPROXY_HTTPS/ [nginx]=https://127.0.0.1:$NGINX_HTTPS/
)
declare -A PID_OF=()
STARTED=()

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Stops exactly the processes this script started, newest first.
cleanup() {
  local i pid
  for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
    pid=${STARTED[i]}
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. Tools: Debian's packages, installed only when missing. Arguments: more `command:package`.
ensure_tools() {
  local missing=() tool
  for tool in nginx:nginx haproxy:haproxy wrk:wrk h2load:nghttp2-client openssl:openssl curl:curl python3:python3 "$@"; do
    command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return
  [ "$(id -u)" -eq 0 ] || die "missing: ${missing[*]} (apt-get install ${missing[*]})"
  log "installing ${missing[*]}"
  # policy-rc.d (present in Debian images) keeps the packages' own services from starting.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >"$RUN/apt.log" 2>&1 \
    || { apt-get update -q >>"$RUN/apt.log" 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >>"$RUN/apt.log" 2>&1; } \
    || die "apt-get failed, see $RUN/apt.log"
}

check_ports_free() {
  local p
  for p in $ALL_PORTS; do
    if [ -n "$(ss -Htln "sport = :$p")" ]; then die "port $p is in use"; fi
  done
}

# 2. Certificate shared by every TLS listener (tierlab.toml points at these files).
make_cert() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$RUN/key.pem" -out "$RUN/cert.pem" -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1
  cat "$RUN/cert.pem" "$RUN/key.pem" >"$RUN/combined.pem"
}

# 3. Configs. Same choices everywhere: 2 workers/threads, keep-alive to clients and backends
# with no request limit, X-Forwarded-For/Proto/Port added (tierlab always adds them), no logs.
write_backend_conf() { # $1 name, $2 port, $3 optional TLS port
  local tls=""
  [ -n "${3:-}" ] && tls="listen 127.0.0.1:$3 ssl; ssl_certificate $RUN/cert.pem; ssl_certificate_key $RUN/key.pem; ssl_protocols TLSv1.3;"
  mkdir -p "$RUN/$1"
  cat >"$RUN/$1/nginx.conf" <<EOF
worker_processes 1;
pid $RUN/$1/nginx.pid;
error_log $RUN/$1/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  server {
    listen 127.0.0.1:$2 reuseport;
    $tls
    location / {
      default_type text/plain;
      add_header X-Backend $1;
      return 200 "hello from a tierlab bench backend: 64 bytes of body, the same on both.\n";
    }
  }
}
EOF
}

# Every proxy admits IDLE_CONNS client connections and more (HAProxy's maxconn, nginx's
# worker_connections per worker, tierlab's budget from the descriptor limit, which run.sh
# raises to the hard one for all of them).
write_nginx_proxy_conf() {
  mkdir -p "$RUN/nginx-proxy"
  cat >"$RUN/nginx-proxy/nginx.conf" <<EOF
worker_processes 2;
worker_rlimit_nofile $NOFILE;
pid $RUN/nginx-proxy/nginx.pid;
error_log $RUN/nginx-proxy/error.log warn;
daemon off;
events { worker_connections $((IDLE_CONNS + 1024)); }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  upstream backends {
    server 127.0.0.1:$BACKEND1;
    server 127.0.0.1:$BACKEND2;
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$NGINX_HTTP;
    listen 127.0.0.1:$NGINX_HTTPS ssl http2;
    ssl_certificate $RUN/cert.pem;
    ssl_certificate_key $RUN/key.pem;
    ssl_protocols TLSv1.3;
    location / {
      proxy_pass http://backends;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header X-Forwarded-Port \$server_port;
    }
  }
}
EOF
}

write_haproxy_conf() {
  cat >"$RUN/haproxy.cfg" <<EOF
global
  nbthread 2
  maxconn $((IDLE_CONNS + 1024))
  ssl-default-bind-options ssl-min-ver TLSv1.3
defaults
  mode http
  timeout connect 10s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s
  option http-keep-alive
  option forwardfor
  # Like tierlab's and nginx's pools: an idle backend connection serves any client.
  http-reuse always
frontend fe
  bind 127.0.0.1:$HAPROXY_HTTP
  bind 127.0.0.1:$HAPROXY_HTTPS ssl crt $RUN/combined.pem alpn h2,http/1.1
  http-request set-header X-Forwarded-Proto https if { ssl_fc }
  http-request set-header X-Forwarded-Proto http if !{ ssl_fc }
  http-request set-header X-Forwarded-Port %[dst_port]
  default_backend be
backend be
  balance roundrobin
  server b1 127.0.0.1:$BACKEND1
  server b2 127.0.0.1:$BACKEND2
EOF
}

# 4. Processes. Each runs in the foreground of a background job, so $! is the process itself.
start() { # $1 name, rest: command
  local name=$1; shift
  "$@" >"$RUN/$name.out" 2>&1 &
  PID_OF[$name]=$!
  STARTED+=("$!")
}

wait_ok() { # $1 url, $2 setup: until it answers 200 (30 s at most) or the process exits
  local pid=""
  [ -n "${2:-}" ] && pid=${PID_OF[$2]:-}
  for _ in $(seq 300); do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then die "${2} exited; see $RUN/${2}.out"; fi
    [ "$(curl -sk -o /dev/null -w '%{http_code}' "$1" || true)" = 200 ] && return 0
    sleep 0.1
  done
  die "$1 did not answer 200 within 30s (logs in $RUN)"
}

# Both backends must get traffic through each proxy: four requests on one connection.
check_round_robin() { # $1 setup
  local url=${HTTP_URL[$1]} seen
  seen=$(curl -s -D - -o /dev/null "$url" "$url" "$url" "$url" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-backend"{print $2}' | sort -u | tr '\n' ' ')
  [ "$seen" = "backend1 backend2 " ] || die "$1 did not spread requests over both backends (saw: $seen)"
}

# The process and its children (nginx workers); enough for the one level these servers use.
proc_tree() {
  echo "$1"
  cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | sed '/^$/d' || true
}

mem_kb() { # $1 pid, $2 VmRSS|VmHWM: summed over the process tree
  local total=0 p v
  for p in $(proc_tree "$1"); do
    v=$(awk -v k="$2:" '$1==k{print $2}' /proc/"$p"/status 2>/dev/null || true)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}

cpu_ticks() { # $1 pid: user + system CPU time of the process tree, in clock ticks
  local total=0 p v
  for p in $(proc_tree "$1"); do
    # Fields 14 and 15 of /proc/PID/stat, counted after the ")" that ends the command name.
    v=$(sed 's/.*) //' /proc/"$p"/stat 2>/dev/null | awk '{print $12 + $13}' || true)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}

# Runs wrk into $RUN/raw/$1.txt, and writes what the server under test used meanwhile: the
# highest VmRSS seen ($1.rss, kB) and its CPU time ($1.cpu, clock ticks). For `direct` the
# server is backend1.
measure() { # $1 file stem, $2 setup, rest: wrk arguments
  local stem=$1 setup=$2; shift 2
  local pid=${PID_OF[$setup]} max=0 now wrk_pid cpu0
  cpu0=$(cpu_ticks "$pid")
  wrk "$@" >"$RUN/raw/$stem.txt" 2>&1 &
  wrk_pid=$!
  while kill -0 "$wrk_pid" 2>/dev/null; do
    now=$(mem_kb "$pid" VmRSS)
    [ "$now" -gt "$max" ] && max=$now
    sleep 0.25
  done
  wait "$wrk_pid" || log "wrk failed for $stem (see $RUN/raw/$stem.txt)"
  echo "$max" >"$RUN/raw/$stem.rss"
  echo "$(($(cpu_ticks "$pid") - cpu0)) $(getconf CLK_TCK)" >"$RUN/raw/$stem.cpu"
}

# The same for HTTP/2 from the clients: h2load over TLS (ALPN h2) into $RUN/raw/$1.h2.
measure_h2() { # $1 file stem, $2 setup, rest: h2load arguments
  local stem=$1 setup=$2; shift 2
  local pid=${PID_OF[$setup]} cpu0
  cpu0=$(cpu_ticks "$pid")
  h2load "$@" >"$RUN/raw/$stem.h2" 2>&1 || log "h2load failed for $stem (see $RUN/raw/$stem.h2)"
  echo "$(($(cpu_ticks "$pid") - cpu0)) $(getconf CLK_TCK)" >"$RUN/raw/$stem.h2cpu"
}

start_proxy() { # $1 tierlab|haproxy|nginx
  case $1 in
    tierlab) start tierlab env TIERLAB_LOG=warn "$ROOT/target/release/tierlab" -f "$HERE/tierlab.toml" up ;;
    haproxy) start haproxy haproxy -db -f "$RUN/haproxy.cfg" ;;
    nginx) start nginx nginx -p "$RUN/nginx-proxy" -c "$RUN/nginx-proxy/nginx.conf" -e "$RUN/nginx-proxy/error.log" ;;
  esac
}

# Stops a proxy (by its PID, as cleanup would), starts it again and waits until it answers:
# a fresh process, with nothing kept from earlier tests.
restart_proxy() { # $1 tierlab|haproxy|nginx
  local old=${PID_OF[$1]} kept=() pid
  kill -TERM "$old" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$old" 2>/dev/null || true
  wait "$old" 2>/dev/null || true
  # Forgotten, so that cleanup never signals whatever process gets this PID next.
  for pid in "${STARTED[@]}"; do [ "$pid" = "$old" ] || kept+=("$pid"); done
  STARTED=("${kept[@]}")
  start_proxy "$1"
  wait_ok "${HTTP_URL[$1]}" "$1"
  wait_ok "${HTTPS_URL[$1]}" "$1"
}

# Memory per idle keep-alive client connection: $IDLE_CONNS connections that have each been
# through one request, held open by bench/idle_clients.py while the proxy's VmRSS is read,
# then checked with a second request each (all must still be open). Run on a fresh proxy
# (restart_proxy), HTTP then HTTPS, both against the RSS it had before the first: an allocator keeps what the HTTP
# connections freed and the HTTPS ones reuse it, so the HTTPS figure is what the proxy needs
# for those, not what it grew by a second time. Writes $RUN/raw/idle-<setup>-<http|https>.idle:
# "<connections asked> <open> <RSS before kB> <RSS with them kB> <checked ok> <failed>".
measure_idle() { # $1 setup
  local setup=$1 pid=${PID_OF[$1]} before proto url from to answer opened after checked
  before=$(mem_kb "$pid" VmRSS)
  for proto in http https; do
    if [ "$proto" = http ]; then url=${HTTP_URL[$setup]}; else url=${HTTPS_URL[$setup]}; fi
    coproc IDLE { python3 "$HERE/idle_clients.py" "$url" "$IDLE_CONNS" 2>"$RUN/raw/idle-$setup-$proto.err"; }
    # Own copies of the pipes: bash forgets IDLE's once the clients exit.
    exec {from}<&"${IDLE[0]}" {to}>&"${IDLE[1]}"
    read -r -t 120 answer opened <&"$from" || die "idle clients for $setup $proto did not get ready (see $RUN/raw/idle-$setup-$proto.err)"
    [ "$answer" = ready ] || die "idle clients for $setup $proto: unexpected '$answer'"
    sleep 1
    after=$(mem_kb "$pid" VmRSS)
    echo >&"$to"
    read -r -t 120 answer checked <&"$from" || die "idle clients for $setup $proto did not check their connections"
    wait "$IDLE_PID" 2>/dev/null || true
    exec {from}<&- {to}>&-
    echo "$IDLE_CONNS $opened $before $after $checked" >"$RUN/raw/idle-$setup-$proto.idle"
    log "idle $setup $proto: $opened open, RSS $before -> $after kB, checked (ok failed): $checked"
  done
}

# Builds tierlab (release), writes the certificate and configs, starts the backends and the
# three proxies, and waits until each answers and spreads requests over both backends.
build_and_start_all() {
  log "building tierlab (release)"
  (cd "$ROOT" && cargo build --release --quiet --bin tierlab)

  make_cert
  write_backend_conf backend1 "$BACKEND1" "$BACKEND1_TLS"
  write_backend_conf backend2 "$BACKEND2"
  write_nginx_proxy_conf
  write_haproxy_conf

  log "starting backends and proxies"
  start backend1 nginx -p "$RUN/backend1" -c "$RUN/backend1/nginx.conf" -e "$RUN/backend1/error.log"
  start backend2 nginx -p "$RUN/backend2" -c "$RUN/backend2/nginx.conf" -e "$RUN/backend2/error.log"
  PID_OF[direct]=${PID_OF[backend1]}
  wait_ok "${HTTP_URL[direct]}"
  wait_ok "http://127.0.0.1:$BACKEND2/"
  local s
  for s in tierlab haproxy nginx; do start_proxy "$s"; done
  for s in $SETUPS; do
    wait_ok "${HTTP_URL[$s]}" "$s"
    wait_ok "${HTTPS_URL[$s]}" "$s"
  done
  for s in tierlab haproxy nginx; do check_round_robin "$s"; done
}
