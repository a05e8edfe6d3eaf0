#!/usr/bin/env bash
# bench/backups.sh: how long a snapshot and a point-in-time restore take for the demo data set.
#
# Starts a database-only lab (the default topology's VPC, security groups and flask-crud-db,
# fast profile) on the real Docker engine, loads BENCH_ROWS rows (default 10000, ~2.5 MB of
# row data), then BENCH_RUNS times (default 3):
#   snapshot  `aws rds create-db-snapshot` → the snapshot `available` (a mariadb-backup copy,
#             prepared, in the lab's RDS storage), through the real AWS CLI;
#   pitr      `aws rds restore-db-instance-to-point-in-time --use-latest-restorable-time` → the
#             new instance `available`: the automated backup restored into a new volume, a new
#             container, the archived binary logs replayed to T, then ready;
# and prints the median of each. Runs under the machine-wide Docker lock.
#
# Usage: bench/backups.sh            BENCH_RUNS=5 BENCH_ROWS=50000 bench/backups.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export TIERLAB_AWS_CLI=${TIERLAB_AWS_CLI:-$(scripts/aws-cli.sh)}
export BENCH_RUNS=${BENCH_RUNS:-3} BENCH_ROWS=${BENCH_ROWS:-10000}
flock /tmp/tierlab-docker.lock \
    cargo test --locked --test rds_backups bench_backup_and_point_in_time_restore \
    -- --ignored --nocapture 2>&1 | grep '^BENCH'
