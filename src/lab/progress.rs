//! Progress of long steps (image builds, waits). The CLI shows spinners; the library logs.

/// Receives progress of `Lab::start`. Implementations must be cheap: they are called per build
/// output line.
pub trait Progress: Send + Sync {
    /// A long step begins (`building image flask-crud-app:latest`).
    fn begin(&self, step: &str);
    /// A detail of the current step (a Dockerfile step, a wait's condition).
    fn detail(&self, message: &str);
    /// The current step finished.
    fn finish(&self, summary: &str);
}

/// Progress as tracing events (the default for library use and tests).
#[derive(Debug, Default, Clone, Copy)]
pub struct LogProgress;

impl Progress for LogProgress {
    fn begin(&self, step: &str) {
        tracing::info!("{step}");
    }

    fn detail(&self, message: &str) {
        tracing::debug!("{message}");
    }

    fn finish(&self, summary: &str) {
        tracing::info!("{summary}");
    }
}
