//! `tierlab db backups [ID]`: the lab's snapshots (manual and automated) from the state
//! directory, whether or not the lab runs.

use crate::config::Config;
use crate::error::Error;
use crate::rds::backups::{SnapshotMeta, Store};
use crate::state::StateDir;

pub fn run(config: &Config, id: Option<&str>, json: bool) -> Result<(), Error> {
    let state = StateDir::resolve(config.lab.state_dir.as_deref());
    let store = Store::at(crate::rds::storage_dir(&state, &config.lab.name));
    let snapshots: Vec<SnapshotMeta> = store
        .snapshots()
        .into_iter()
        .filter(|s| id.is_none_or(|i| s.instance == i))
        .collect();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&snapshots).expect("snapshots serialise")
        );
        return Ok(());
    }
    if snapshots.is_empty() {
        println!(
            "no snapshots{} (under {})",
            id.map(|i| format!(" of {i}")).unwrap_or_default(),
            store.root().join("snapshots").display()
        );
        return Ok(());
    }
    print!("{}", super::table::render(&HEADERS, &rows(&snapshots)));
    Ok(())
}

const HEADERS: [&str; 7] = [
    "SNAPSHOT",
    "TYPE",
    "INSTANCE",
    "STATUS",
    "TIME (UTC)",
    "SIZE",
    "GTID",
];

fn rows(snapshots: &[SnapshotMeta]) -> Vec<Vec<String>> {
    snapshots
        .iter()
        .map(|s| {
            vec![
                s.id.clone(),
                s.kind.as_str().to_string(),
                s.instance.clone(),
                s.status.as_str().to_string(),
                crate::rds::backups::pitr::iso(s.started_at),
                size(s.size_bytes),
                s.gtid
                    .clone()
                    .filter(|g| !g.is_empty())
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect()
}

/// Bytes as people read them (`12.3 MiB`).
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_read_them() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(79 * 1024 * 1024), "79.0 MiB");
    }
}
