#!/usr/bin/env bash
# bench/replica.sh: read replica lag under a steady write load.
#
# Starts the default topology with a read replica of flask-crud-db (`read-replicas`) that the
# Flask app reads from (DATABASE_READ_URL), on the real Docker engine; then POSTs entries through
# the load balancer at BENCH_WRITES_PER_SEC (default 10) for BENCH_SECONDS (default 20).
# Measured: ReplicaLag (Seconds_Behind_Master, what RDS reports; whole seconds) sampled every
# 250 ms, and for every write the time from its acknowledgement until the app, reading from the
# replica, returns it (GET /api/entries/ID through the load balancer, polled every 2 ms).
# Runs under the machine-wide Docker lock.
#
# Usage: bench/replica.sh            BENCH_WRITES_PER_SEC=50 BENCH_SECONDS=30 bench/replica.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
scripts/docker-engine.sh >/dev/null
flock /tmp/tierlab-docker.lock \
    cargo test --locked --test rds_replica bench_replica_lag -- --ignored --nocapture 2>&1 | grep '^BENCH'
