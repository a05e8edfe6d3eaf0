#!/usr/bin/env bash
# Make sure a Docker engine answers `docker info`; safe to run any number of times.
#
#   1. An engine already answers: nothing to do.
#   2. dockerd is missing: as root with apt-get, install Debian's docker.io; otherwise say what
#      to install and stop.
#   3. Start dockerd in the background (no systemd needed; CI machines have none), logging to
#      /var/log/tierlab-dockerd.log (or $TMPDIR when /var/log is not writable), and wait up to
#      TIERLAB_DOCKERD_TIMEOUT seconds (60) for it. On failure print the log's tail and exit 1.
set -euo pipefail

TIMEOUT="${TIERLAB_DOCKERD_TIMEOUT:-60}"

# Bounded: a daemon that accepts on its socket but hangs must not hang this script.
engine_up() { command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1; }

server_version() { docker version --format '{{.Server.Version}}' 2>/dev/null || echo unknown; }

if engine_up; then
    echo "docker engine: running ($(server_version))"
    exit 0
fi

is_root() { [ "$(id -u)" = 0 ]; }

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    if is_root && command -v apt-get >/dev/null 2>&1; then
        echo "docker engine: not installed; installing Debian's docker.io"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq docker.io >/dev/null
    else
        cat >&2 <<'MSG'
error: no Docker engine is running and dockerd is not installed.
  Debian/Ubuntu: sudo apt-get install -y docker.io && sudo dockerd &   (or: sudo systemctl start docker)
  elsewhere:     install Docker Engine (https://docs.docker.com/engine/install/) and start it
MSG
        exit 1
    fi
fi

if ! is_root; then
    # A non-root user can neither start the system daemon nor, usually, use a socket it does not
    # own: the fix is outside this script.
    echo "error: the Docker engine does not answer \`docker info\`:" >&2
    docker info 2>&1 | tail -n 3 >&2 || true
    echo "  start it as root (sudo dockerd &, or sudo systemctl start docker), and make sure" \
        "this user may use /var/run/docker.sock (the docker group)" >&2
    exit 1
fi

if [ -w /var/log ]; then
    LOG=/var/log/tierlab-dockerd.log
else
    LOG="${TMPDIR:-/tmp}/tierlab-dockerd.log"
fi

# The pid of a live dockerd according to its pid file, if any. A stale pid file left by a
# daemon that was killed is ignored here and replaced by the new dockerd.
running_dockerd() {
    local pid
    pid="$(cat /var/run/docker.pid 2>/dev/null || true)"
    if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]; then
        echo "$pid"
    fi
}

# A dockerd that is already starting (an earlier run of this script, or the package's init
# script right after installing it) is waited for, not started a second time.
pid="$(running_dockerd)"
if [ -n "$pid" ]; then
    echo "docker engine: dockerd (pid $pid) is starting; waiting for it"
else
    echo "docker engine: starting dockerd (log: $LOG)"
    # setsid + nohup: the daemon outlives this script and the shell that ran it.
    setsid nohup dockerd >>"$LOG" 2>&1 </dev/null &
    pid=$!
fi

fail() {
    echo "error: $1; last lines of $LOG:" >&2
    tail -n 30 "$LOG" >&2 2>/dev/null || true
    exit 1
}

deadline=$((SECONDS + TIMEOUT))
until engine_up; do
    if ! kill -0 "$pid" 2>/dev/null; then
        # Lost a start race against another dockerd (it holds the pid file): wait for that one.
        other="$(running_dockerd)"
        [ -n "$other" ] || fail "dockerd (pid $pid) exited"
        pid="$other"
    fi
    [ "$SECONDS" -lt "$deadline" ] || fail "dockerd did not answer \`docker info\` within ${TIMEOUT} s"
    sleep 0.5
done
echo "docker engine: running ($(server_version)), dockerd pid $pid"
