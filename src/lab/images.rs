//! Making sure every image the lab runs exists, building missing ones from their context.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::config::Config;
use crate::docker::{BuildProgress, DockerClient, DockerError};

use super::Progress;

/// Each image the lab runs, with its build context if it has one.
fn images_of(config: &Config) -> BTreeMap<String, Option<PathBuf>> {
    let tasks = config
        .services
        .values()
        .map(|s| &config.task_definitions[&s.task_definition].container)
        .map(|c| (c.image.clone(), c.build.clone()));
    let dbs = config
        .databases
        .values()
        .map(|db| (db.image.clone(), db.build.clone()));
    let mut images = BTreeMap::new();
    for (image, build) in tasks.chain(dbs) {
        let entry: &mut Option<PathBuf> = images.entry(image).or_default();
        if entry.is_none() {
            *entry = build;
        }
    }
    images
}

/// Builds the images that are missing. An image without a build context must exist already.
pub async fn ensure_images(
    docker: &DockerClient,
    config: &Config,
    progress: &dyn Progress,
) -> Result<(), DockerError> {
    for (image, build) in images_of(config) {
        if docker.image_exists(&image).await? {
            continue;
        }
        let Some(context) = build else {
            return Err(DockerError::ImageMissing { image });
        };
        progress.begin(&format!(
            "building image {image} from {}",
            context.display()
        ));
        let started = std::time::Instant::now();
        docker
            .build_image(&image, &context, |p| match p {
                BuildProgress::Step(step) => progress.detail(&step),
                BuildProgress::Output(line) => tracing::trace!("{line}"),
            })
            .await?;
        progress.finish(&format!(
            "built image {image} in {:.1}s",
            started.elapsed().as_secs_f64()
        ));
    }
    Ok(())
}
