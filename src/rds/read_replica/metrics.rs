//! `ReplicaLag` in Prometheus text format, for the lab's `GET /metrics`: named and labelled as
//! CloudWatch's `AWS/RDS` metric (`ReplicaLag`, dimension `DBInstanceIdentifier`), as the load
//! balancers' metrics carry CloudWatch's `AWS/ApplicationELB` names.

use std::fmt::Write as _;

/// Appends the `ReplicaLag` gauge of each `(replica, lag seconds)`; nothing when there is no
/// read replica.
pub fn render(out: &mut String, replicas: &[(String, i64)]) {
    if replicas.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "# HELP ReplicaLag Seconds a read replica is behind its source (Seconds_Behind_Master); -1 when replication is not running."
    );
    let _ = writeln!(out, "# TYPE ReplicaLag gauge");
    for (identifier, lag) in replicas {
        let _ = writeln!(
            out,
            "ReplicaLag{{DBInstanceIdentifier=\"{identifier}\"}} {lag}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_lag_is_a_gauge_per_replica() {
        let mut out = String::new();
        render(&mut out, &[("r1".into(), 3), ("r2".into(), -1)]);
        assert_eq!(
            out,
            "# HELP ReplicaLag Seconds a read replica is behind its source (Seconds_Behind_Master); -1 when replication is not running.\n\
             # TYPE ReplicaLag gauge\n\
             ReplicaLag{DBInstanceIdentifier=\"r1\"} 3\n\
             ReplicaLag{DBInstanceIdentifier=\"r2\"} -1\n"
        );
        let mut none = String::new();
        render(&mut none, &[]);
        assert!(none.is_empty());
    }
}
