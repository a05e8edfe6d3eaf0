//! Files put into a container before it starts (a tar archive through the engine's API), so a
//! key reaches the container as a file with its owner and mode, never through its environment
//! or command line, and whatever the engine's host is (no bind mount of a local path).

use bollard::query_parameters::{DownloadFromContainerOptions, UploadToContainerOptions};
use futures_util::StreamExt;

use super::{DockerClient, DockerError};

/// One file to copy in: its absolute path in the container, owner and mode. Parent
/// directories must exist in the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerFile {
    pub path: String,
    pub uid: u64,
    pub gid: u64,
    pub mode: u32,
    pub contents: Vec<u8>,
}

impl DockerClient {
    /// Copies `files` into the (created, not necessarily started) container.
    pub async fn copy_files(&self, id: &str, files: &[ContainerFile]) -> Result<(), DockerError> {
        let archive = tar_of(files).map_err(|e| DockerError::Archive {
            context: id.to_string(),
            source: e,
        })?;
        let options = UploadToContainerOptions {
            path: "/".into(),
            ..Default::default()
        };
        self.inner
            .upload_to_container(id, Some(options), bollard::body_full(archive.into()))
            .await
            .map_err(DockerError::op("copy files into container", id))
    }
}

impl DockerClient {
    /// The contents of the regular file at `path` in the (created, not necessarily started)
    /// container, e.g. its image's `/etc/passwd`; `None` when there is no such file.
    pub async fn read_file(&self, id: &str, path: &str) -> Result<Option<Vec<u8>>, DockerError> {
        let options = DownloadFromContainerOptions {
            path: path.to_string(),
        };
        let mut stream = self.inner.download_from_container(id, Some(options));
        let mut archive = Vec::new();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(bytes) => archive.extend_from_slice(&bytes),
                Err(e) if super::is_not_found(&e) => return Ok(None),
                Err(e) => return Err(DockerError::op("read file from container", id)(e)),
            }
        }
        first_file_of(&archive).map_err(|e| DockerError::Archive {
            context: format!("{id}:{path}"),
            source: e,
        })
    }
}

/// The contents of the first regular file in a tar archive.
fn first_file_of(archive: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let mut archive = tar::Archive::new(archive);
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.header().entry_type() == tar::EntryType::Regular {
            let mut contents = Vec::new();
            entry.read_to_end(&mut contents)?;
            return Ok(Some(contents));
        }
    }
    Ok(None)
}

/// A tar archive of `files`, paths relative to `/`.
fn tar_of(files: &[ContainerFile]) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for file in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(file.contents.len() as u64);
        header.set_mode(file.mode);
        header.set_uid(file.uid);
        header.set_gid(file.gid);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        let path = file.path.trim_start_matches('/');
        builder.append_data(&mut header, path, file.contents.as_slice())?;
    }
    builder.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_file_of_an_archive_is_read_back() {
        let file = ContainerFile {
            path: "/etc/passwd".into(),
            uid: 0,
            gid: 0,
            mode: 0o644,
            contents: b"root:x:0:0::/root:/bin/sh\n".to_vec(),
        };
        let bytes = tar_of(&[file]).unwrap();
        assert_eq!(
            first_file_of(&bytes).unwrap().as_deref(),
            Some(&b"root:x:0:0::/root:/bin/sh\n"[..])
        );
        assert_eq!(first_file_of(&tar_of(&[]).unwrap()).unwrap(), None);
    }

    #[test]
    fn files_keep_their_path_owner_and_mode() {
        let file = ContainerFile {
            path: "/home/ec2-user/.ssh/authorized_keys".into(),
            uid: 1000,
            gid: 1000,
            mode: 0o600,
            contents: b"ssh-ed25519 AAAA x\n".to_vec(),
        };
        let bytes = tar_of(&[file]).unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let entry = archive.entries().unwrap().next().unwrap().unwrap();
        let header = entry.header();
        assert_eq!(
            entry.path().unwrap().to_str(),
            Some("home/ec2-user/.ssh/authorized_keys")
        );
        assert_eq!(
            (
                header.uid().unwrap(),
                header.mode().unwrap(),
                header.size().unwrap()
            ),
            (1000, 0o600, 19)
        );
    }
}
