//! A read replica's server options that must outlive a restart: `read_only`. A file in the
//! lab's RDS storage (`conf/<identifier>.cnf`), mounted read-only into the replica's container
//! among the server's option files, so a replica restarted in place (or recreated on its volume)
//! comes back read-only, and a promoted one writable: promotion rewrites the file in place (a
//! single-file bind mount keeps its inode), with nothing to recreate.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Where the file is mounted: read after the image's own `90-tierlab.cnf`.
pub const MOUNT: &str = "/etc/mysql/mariadb.conf.d/95-tierlab-role.cnf";

/// The file of `identifier` under the lab's RDS storage (host path).
pub fn path(storage: &Path, identifier: &str) -> PathBuf {
    storage.join("conf").join(format!("{identifier}.cnf"))
}

/// The file's text.
pub fn contents(read_only: bool) -> String {
    let value = if read_only { "ON" } else { "OFF" };
    format!(
        "# Written by tierlab: a read replica is read-only until it is promoted.\n[mysqld]\nread_only = {value}\n"
    )
}

/// Writes the file, in place when it exists (a running container sees the change). Mode 0644:
/// the server reads it as its own user, and ignores world-writable option files.
pub fn write(storage: &Path, identifier: &str, read_only: bool) -> std::io::Result<()> {
    let path = path(storage, identifier);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)?;
    file.write_all(contents(read_only).as_bytes())?;
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_says_read_only_and_is_rewritten_in_place() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "r", true).unwrap();
        let path = path(dir.path(), "r");
        assert_eq!(path, dir.path().join("conf/r.cnf"));
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("[mysqld]\nread_only = ON\n")
        );
        use std::os::unix::fs::MetadataExt;
        let inode = std::fs::metadata(&path).unwrap().ino();
        write(dir.path(), "r", false).unwrap();
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("read_only = OFF")
        );
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(
            meta.ino(),
            inode,
            "rewritten in place, as a bind mount needs"
        );
        assert_eq!(meta.mode() & 0o777, 0o644);
    }
}
