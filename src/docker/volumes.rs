//! Named volumes (the database's storage). tierlab creates and labels them itself instead of
//! relying on image `VOLUME` lines, which would leak anonymous volumes.

use std::collections::HashMap;

use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::{ListVolumesOptions, RemoveVolumeOptions};

use super::{DockerClient, DockerError, is_not_found};

impl DockerClient {
    /// Creates the volume if missing (creating an existing volume is a no-op in Docker).
    pub async fn ensure_volume(&self, name: &str, labels: HashMap<String, String>) -> Result<(), DockerError> {
        let request = VolumeCreateRequest {
            name: Some(name.to_string()),
            labels: Some(labels),
            ..Default::default()
        };
        self.inner
            .create_volume(request)
            .await
            .map_err(DockerError::op("create volume", name))?;
        Ok(())
    }

    pub async fn volume_exists(&self, name: &str) -> Result<bool, DockerError> {
        match self.inner.inspect_volume(name).await {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(DockerError::op("inspect volume", name)(e)),
        }
    }

    pub async fn list_volumes(&self, filters: HashMap<String, Vec<String>>) -> Result<Vec<String>, DockerError> {
        let options = ListVolumesOptions { filters: Some(filters) };
        let response = self
            .inner
            .list_volumes(Some(options))
            .await
            .map_err(DockerError::op("list volumes", "by label"))?;
        Ok(response.volumes.unwrap_or_default().into_iter().map(|v| v.name).collect())
    }

    /// Removes a volume; one that is already gone is not an error.
    pub async fn remove_volume(&self, name: &str) -> Result<(), DockerError> {
        match self.inner.remove_volume(name, None::<RemoveVolumeOptions>).await {
            Err(e) if !is_not_found(&e) => Err(DockerError::op("remove volume", name)(e)),
            _ => Ok(()),
        }
    }
}
