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

impl DockerClient {
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
            ..Default::default()
        };
        let mut stream = self
            .inner
            .build_image(options, None, Some(bollard::body_full(tarball.into())));
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| build_error(image, &context_name, e.to_string()))?;
            if let Some(message) = info.error_detail.and_then(|d| d.message) {
                return Err(build_error(image, &context_name, message));
            }
            if let Some(line) = info.stream.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
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
    let hint = if message.contains("bookworm-slim") || message.contains("pull access") || message.contains("manifest") {
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
fn tar_directory(dir: &Path) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    builder.append_dir_all(".", dir)?;
    builder.into_inner()
}
