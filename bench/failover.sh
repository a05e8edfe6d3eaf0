#!/usr/bin/env bash
# bench/failover.sh: how long a Multi-AZ failover keeps writes from succeeding, and whether any
# acknowledged write is lost.
#
# Starts the default topology (Flask app behind the load balancer, flask-crud-db with
# multi-az = true, fast profile) on the real Docker engine, then BENCH_RUNS times (default 5):
# 4 writers POST entries through the load balancer every 20 ms each; `aws rds reboot-db-instance
# --force-failover` (the real AWS CLI); measured: from that call to the first successful write
# after writes began failing; then every acknowledged (2xx) entry is looked up through the app.
# Prints each run and the median; fails if an acknowledged write is lost. The instance fails
# over A -> B -> A ... (the old primary is rebuilt as the standby between runs).
# Runs under the machine-wide Docker lock.
#
# Usage: bench/failover.sh            BENCH_RUNS=9 bench/failover.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export TIERLAB_AWS_CLI=${TIERLAB_AWS_CLI:-$(scripts/aws-cli.sh)}
export BENCH_RUNS=${BENCH_RUNS:-5}
flock /tmp/tierlab-docker.lock \
    cargo test --locked --test rds_failover bench_failover -- --ignored --nocapture 2>&1 | grep '^BENCH'
