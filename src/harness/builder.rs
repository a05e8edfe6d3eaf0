//! [`LabBuilder`]: `Lab::builder().config(...).start().await`, a lab isolated from every other.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use tokio_util::sync::CancellationToken;

use crate::config::{self, Config};
use crate::docker::DockerClient;
use crate::error::Error;
use crate::lab::{Lab, Progress, Reaper, StartOptions};

use super::isolate::{Isolation, isolate, listener_ports};
use super::vpc_block::Claim;
use super::{Extras, HarnessError};

/// The default topology (the reference architecture), as the crate ships it.
pub const DEFAULT_TOPOLOGY: &str = include_str!("../../emulator.toml");
/// Where the default topology's relative paths (its image build contexts) resolve.
pub const DEFAULT_BASE_DIR: &str = env!("CARGO_MANIFEST_DIR");
/// Longest lab name the config accepts (it prefixes every Docker name).
const MAX_NAME_LEN: usize = 32;

/// Labs this process has named (the second half of a unique name, with the pid).
static NEXT: AtomicU32 = AtomicU32::new(0);

/// Where a lab's config comes from.
#[derive(Debug, Clone, Default)]
pub enum LabConfig {
    /// `emulator.toml` as the crate ships it: the reference architecture.
    #[default]
    Default,
    /// A config file.
    File(PathBuf),
    /// TOML text; relative paths (build contexts) resolve against `base_dir`.
    Toml { text: String, base_dir: PathBuf },
    /// A config already parsed.
    Parsed(Box<Config>),
}

impl LabConfig {
    /// A config file.
    pub fn file(path: impl Into<PathBuf>) -> LabConfig {
        LabConfig::File(path.into())
    }

    /// TOML text whose relative paths resolve against the current directory (a crate's root
    /// under `cargo test`).
    pub fn toml(text: impl Into<String>) -> LabConfig {
        LabConfig::Toml {
            text: text.into(),
            base_dir: std::env::current_dir().unwrap_or_default(),
        }
    }

    /// The default topology changed by `edit` (say, `multi-az = true` or a desired count of 1).
    pub fn default_with(edit: impl FnOnce(&str) -> String) -> LabConfig {
        LabConfig::Toml {
            text: edit(DEFAULT_TOPOLOGY),
            base_dir: PathBuf::from(DEFAULT_BASE_DIR),
        }
    }

    fn load(self) -> Result<Config, Error> {
        Ok(match self {
            LabConfig::Default => parse(DEFAULT_TOPOLOGY, Path::new(DEFAULT_BASE_DIR))?,
            LabConfig::File(path) => config::load(&path)?,
            LabConfig::Toml { text, base_dir } => parse(&text, &base_dir)?,
            LabConfig::Parsed(config) => *config,
        })
    }
}

impl From<Config> for LabConfig {
    fn from(config: Config) -> Self {
        LabConfig::Parsed(Box::new(config))
    }
}

fn parse(text: &str, base_dir: &Path) -> Result<Config, config::ConfigError> {
    config::parse(text, &base_dir.join("emulator.toml"), base_dir)
}

/// Builds and starts an isolated lab. Defaults: the default topology, a temporary state
/// directory, the reaper found next to the test binary ([`Reaper::Auto`]), waiting until
/// every service is steady, a fresh cancellation token.
#[derive(Default)]
pub struct LabBuilder {
    config: LabConfig,
    state_dir: Option<PathBuf>,
    reaper: Reaper,
    progress: Option<Arc<dyn Progress>>,
    no_wait: bool,
    shutdown: Option<CancellationToken>,
}

impl LabBuilder {
    /// The config to start from (its name, VPC and ports are replaced; see [`super::isolate`]).
    pub fn config(mut self, config: impl Into<LabConfig>) -> Self {
        self.config = config.into();
        self
    }

    /// Keep the lab's state (CA, secrets, logs) in `dir`, and its data volumes after it stops.
    /// Without it the state directory is temporary and everything goes with the lab.
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// The watchdog that cleans up if the test process dies (default: [`Reaper::Auto`]).
    pub fn reaper(mut self, reaper: Reaper) -> Self {
        self.reaper = reaper;
        self
    }

    /// Where start progress goes (default: tracing).
    pub fn progress(mut self, progress: Arc<dyn Progress>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Return once the controllers run, without waiting for healthy tasks.
    pub fn no_wait(mut self) -> Self {
        self.no_wait = true;
        self
    }

    /// The lab's root token: cancelling it stops the lab.
    pub fn shutdown(mut self, token: CancellationToken) -> Self {
        self.shutdown = Some(token);
        self
    }

    /// Loads the config, isolates it and starts the lab.
    pub async fn start(self) -> Result<Lab, Error> {
        let config = self.config.load()?;
        // 1. A VPC block no Docker network overlaps (a lab without containers needs no Docker).
        let runs_containers = !config.services.is_empty()
            || !config.databases.is_empty()
            || !config.bastions.is_empty();
        let taken = if runs_containers {
            DockerClient::connect().await?.network_subnets().await?
        } else {
            Vec::new()
        };
        let claim = Claim::take(&taken).ok_or_else(|| HarnessError::NoFreeBlock {
            lab: config.lab.name.clone(),
        })?;
        // 2. Free ports for its listeners, and a unique name.
        let mut ports = BTreeMap::new();
        for port in listener_ports(&config) {
            let free =
                super::tunnel::free_port().map_err(|source| HarnessError::Port { port, source })?;
            ports.insert(port, free);
        }
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let isolation = Isolation {
            name: unique_name(&config.lab.name, std::process::id(), n),
            block: claim.block(),
            ports,
        };
        let config = isolate(config, &isolation).map_err(HarnessError::from)?;
        // 3. Its state directory: temporary (and the lab ephemeral) unless given.
        let temp_state = match &self.state_dir {
            Some(_) => None,
            None => Some(
                tempfile::Builder::new()
                    .prefix("tierlab-lab-")
                    .tempdir()
                    .map_err(HarnessError::TempDir)?,
            ),
        };
        let state_dir = self
            .state_dir
            .clone()
            .or_else(|| temp_state.as_ref().map(|t| t.path().to_path_buf()));
        let mut options = StartOptions {
            state_dir,
            wait_for_steady_services: !self.no_wait,
            reaper: self.reaper,
            ephemeral: temp_state.is_some(),
            ..StartOptions::default()
        };
        if let Some(progress) = self.progress {
            options.progress = progress;
        }
        let shutdown = self.shutdown.unwrap_or_default();
        let mut lab = Lab::start(config, options, shutdown).await?;
        lab.harness = Extras {
            claim: Some(claim),
            temp_state,
            ..Extras::default()
        };
        Ok(lab)
    }
}

/// `<base>-<pid>-<n>`, the base shortened so the whole fits a lab name (32 characters).
pub fn unique_name(base: &str, pid: u32, n: u32) -> String {
    let suffix = format!("-{pid}-{n}");
    let room = MAX_NAME_LEN.saturating_sub(suffix.len());
    let base: String = base.chars().take(room).collect();
    format!("{}{suffix}", base.trim_end_matches('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_pid_and_a_counter_and_fit_32_characters() {
        assert_eq!(unique_name("flask-app", 4242, 0), "flask-app-4242-0");
        // A cut that ends on a hyphen does not leave two in a row.
        let long = unique_name("a-very-long-lab-name-for-a-test-suite", 4194304, 17);
        assert_eq!(long, "a-very-long-lab-name-4194304-17");
        assert!(long.len() <= MAX_NAME_LEN, "{long}");
        assert_eq!(
            unique_name("abcdefghijklmnopqrst-xyz", 4194304, 17),
            "abcdefghijklmnopqrst-4194304-17"
        );
    }

    #[test]
    fn the_default_topology_parses() {
        let config = LabConfig::Default.load().unwrap();
        assert_eq!(config.lab.name, "flask-app");
        let edited = LabConfig::default_with(|t| t.replace("multi-az = false", "multi-az = true"))
            .load()
            .unwrap();
        assert!(edited.databases["flask-crud-db"].multi_az);
    }
}
