//! Making sure every image the lab runs exists, building missing ones from their context.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use crate::config::Config;
use crate::docker::{BuildProgress, CONTEXT_HASH_LABEL, DockerClient, DockerError, context_hash};

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
    let bastions = config
        .bastions
        .values()
        .map(|b| (b.image.clone(), b.build.clone()));
    let mut images = BTreeMap::new();
    for (image, build) in tasks.chain(dbs).chain(bastions) {
        let entry: &mut Option<PathBuf> = images.entry(image).or_default();
        if entry.is_none() {
            *entry = build;
        }
    }
    images
}

/// Builds the images that are missing, and rebuilds those whose build context changed since they
/// were built (the image carries its context's hash). An image without a build context must
/// exist already.
pub async fn ensure_images(
    docker: &DockerClient,
    config: &Config,
    progress: &dyn Progress,
) -> Result<(), DockerError> {
    for (image, build) in images_of(config) {
        let labels = docker.image_labels(&image).await?;
        let Some(context) = build else {
            if labels.is_none() {
                return Err(DockerError::ImageMissing { image });
            }
            continue;
        };
        let hash = context_hash(&context).map_err(|source| DockerError::BuildContext {
            context: context.display().to_string(),
            source,
        })?;
        let built_from = labels.as_ref().map(|l| l.get(CONTEXT_HASH_LABEL).cloned());
        let why = match built_from {
            Some(Some(built)) if built == hash => continue,
            Some(_) => "rebuilding (its build context changed)",
            None => "building",
        };
        progress.begin(&format!("{why} image {image} from {}", context.display()));
        let started = std::time::Instant::now();
        let labels = HashMap::from([(CONTEXT_HASH_LABEL.to_string(), hash)]);
        docker
            .build_image(&image, &context, labels, |p| match p {
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
