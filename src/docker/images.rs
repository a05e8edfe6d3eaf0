//! Images: presence check and builds from a local context, with progress.

use std::path::Path;

use bollard::query_parameters::BuildImageOptions;
use futures_util::StreamExt;

use super::{DockerClient, DockerError, is_not_found};

/// One step of a build, for progress displays.
#[derive(Debug, Clone, PartialEq)]
pub enum BuildProgress {
    /// A Dockerfile step started (`Step 3/7 : RUN apt-get ...`).
    Step(String),
    /// Any other output line.
    Output(String),
}

/// An image's `ENTRYPOINT`, `CMD` and `USER` (empty when unset).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageRunConfig {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub user: String,
}

/// The label that records which build context an image was built from ([`context_hash`]).
pub const CONTEXT_HASH_LABEL: &str = "tierlab.context-hash";

impl DockerClient {
    /// The image's labels, or `None` when there is no such image.
    pub async fn image_labels(
        &self,
        image: &str,
    ) -> Result<Option<std::collections::HashMap<String, String>>, DockerError> {
        match self.inner.inspect_image(image).await {
            Ok(inspect) => Ok(Some(
                inspect.config.and_then(|c| c.labels).unwrap_or_default(),
            )),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(DockerError::op("inspect image", image)(e)),
        }
    }

    /// The image's ID (`sha256:…`, the digest of its configuration), or `None` when there is
    /// no such image.
    pub async fn image_id(&self, image: &str) -> Result<Option<String>, DockerError> {
        match self.inner.inspect_image(image).await {
            Ok(inspect) => Ok(inspect.id),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(DockerError::op("inspect image", image)(e)),
        }
    }

    /// Tags image `source` (a name or ID) as `repo:tag`.
    pub async fn tag_image(&self, source: &str, repo: &str, tag: &str) -> Result<(), DockerError> {
        let options = bollard::query_parameters::TagImageOptions {
            repo: Some(repo.to_string()),
            tag: Some(tag.to_string()),
        };
        self.inner
            .tag_image(source, Some(options))
            .await
            .map_err(DockerError::op(
                "tag image",
                &format!("{source} as {repo}:{tag}"),
            ))
    }

    /// What the image runs and as whom (`ENTRYPOINT`, `CMD`, `USER`), for a container that
    /// must start the same program through a launcher.
    pub async fn image_run_config(&self, image: &str) -> Result<ImageRunConfig, DockerError> {
        let inspect = self
            .inner
            .inspect_image(image)
            .await
            .map_err(DockerError::op("inspect image", image))?;
        let config = inspect.config.unwrap_or_default();
        Ok(ImageRunConfig {
            entrypoint: config.entrypoint.unwrap_or_default(),
            cmd: config.cmd.unwrap_or_default(),
            user: config.user.unwrap_or_default(),
        })
    }

    pub async fn image_exists(&self, image: &str) -> Result<bool, DockerError> {
        match self.inner.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(DockerError::op("inspect image", image)(e)),
        }
    }

    /// Builds `image` from the directory `context` (its `Dockerfile`), reporting progress.
    pub async fn build_image(
        &self,
        image: &str,
        context: &Path,
        labels: std::collections::HashMap<String, String>,
        mut on_progress: impl FnMut(BuildProgress),
    ) -> Result<(), DockerError> {
        let context_name = context.display().to_string();
        let tarball = tar_directory(context).map_err(|source| DockerError::BuildContext {
            context: context_name.clone(),
            source,
        })?;
        let options = BuildImageOptions {
            dockerfile: "Dockerfile".into(),
            t: Some(image.to_string()),
            rm: true,
            forcerm: true,
            labels: Some(labels),
            ..Default::default()
        };
        let mut stream =
            self.inner
                .build_image(options, None, Some(bollard::body_full(tarball.into())));
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| build_error(image, &context_name, e.to_string()))?;
            if let Some(message) = info.error_detail.and_then(|d| d.message) {
                return Err(build_error(image, &context_name, message));
            }
            if let Some(line) = info
                .stream
                .as_deref()
                .map(str::trim)
                .filter(|l| !l.is_empty())
            {
                if line.starts_with("Step ") {
                    on_progress(BuildProgress::Step(line.to_string()));
                } else {
                    on_progress(BuildProgress::Output(line.to_string()));
                }
            }
        }
        Ok(())
    }
}

fn build_error(image: &str, context: &str, message: String) -> DockerError {
    // The usual cause offline: the base image cannot be pulled from Docker Hub.
    let hint = if message.contains("bookworm-slim")
        || message.contains("pull access")
        || message.contains("manifest")
    {
        "\nhint: the base image debian:bookworm-slim is missing and Docker Hub is unreachable; \
         run `scripts/base-image.sh` to bootstrap it from Debian packages"
    } else {
        ""
    };
    DockerError::Build {
        image: image.to_string(),
        context: context.to_string(),
        message: message.trim().to_string(),
        hint,
    }
}

/// The build context as an uncompressed tar archive, in memory (contexts here are small).
/// A hash of every file of a build context, names and contents, so an image built from an older
/// context is rebuilt rather than reused. The same value as `scripts/test.sh`'s `context_hash`
/// (`find . -type f | sort | xargs sha256sum | sha256sum`, first 16 hex digits), so an image the
/// test script built is not built again by the lab.
pub fn context_hash(dir: &Path) -> std::io::Result<String> {
    use ring::digest::{SHA256, digest};
    let mut files = Vec::new();
    collect_files(dir, Path::new("."), &mut files)?;
    // `sort -z` under LC_ALL=C: byte order of the `./relative/path` names.
    files.sort();
    let mut listing = String::new();
    for relative in &files {
        let bytes = std::fs::read(dir.join(relative))?;
        let digest = hex::encode(digest(&SHA256, &bytes));
        listing.push_str(&format!("{digest}  {}\n", relative.display()));
    }
    let whole = hex::encode(digest(&SHA256, listing.as_bytes()));
    Ok(whole[..16].to_string())
}

/// Every regular file under `dir`, as paths starting with `prefix` (`find -type f`: symlinks are
/// not followed and not listed).
fn collect_files(
    dir: &Path,
    prefix: &Path,
    files: &mut Vec<std::path::PathBuf>,
) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let name = prefix.join(entry.file_name());
        if kind.is_dir() {
            collect_files(&entry.path(), &name, files)?;
        } else if kind.is_file() {
            files.push(name);
        }
    }
    Ok(())
}

fn tar_directory(dir: &Path) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    builder.append_dir_all(".", dir)?;
    builder.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_context_hash_is_the_test_scripts() {
        // The value `scripts/test.sh` computes for the same files:
        //   printf 'FROM x\n' > Dockerfile; mkdir d; printf 'a' > d/f
        //   find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM x\n").unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        std::fs::write(dir.path().join("d/f"), "a").unwrap();
        let expected = std::process::Command::new("sh")
            .arg("-c")
            .arg("find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16")
            .current_dir(dir.path())
            .output()
            .unwrap();
        let expected = String::from_utf8(expected.stdout).unwrap();
        assert_eq!(context_hash(dir.path()).unwrap(), expected.trim());
    }

    #[test]
    fn any_change_in_the_context_changes_the_hash() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM x\n").unwrap();
        let before = context_hash(dir.path()).unwrap();
        std::fs::write(dir.path().join("extra.cnf"), "").unwrap();
        let added = context_hash(dir.path()).unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM y\n").unwrap();
        let edited = context_hash(dir.path()).unwrap();
        assert_ne!(before, added);
        assert_ne!(added, edited);
    }
}
