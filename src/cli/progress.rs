//! Spinners for long steps when stderr is a terminal; log lines otherwise.

use std::io::Write;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::lab::Progress;

/// All spinners live here, so log lines can be printed above them instead of through them.
static BARS: LazyLock<MultiProgress> = LazyLock::new(MultiProgress::new);

/// A `tracing` writer that hides the spinners while a log line is printed, then redraws them.
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        BARS.suspend(|| std::io::stderr().write_all(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Shows one spinner per step: its detail line updates in place, and it ends with a check mark.
#[derive(Default)]
pub struct Spinners {
    current: Mutex<Option<ProgressBar>>,
}

impl Spinners {
    /// No spinner yet; the first step starts one.
    pub fn new() -> Spinners {
        Spinners::default()
    }
}

impl Progress for Spinners {
    fn begin(&self, step: &str) {
        let bar = BARS.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix} {wide_msg:.dim}")
                .expect("valid template"),
        );
        bar.set_prefix(step.to_string());
        bar.enable_steady_tick(Duration::from_millis(100));
        if let Some(old) = self.current.lock().unwrap().replace(bar) {
            old.finish_and_clear();
        }
    }

    fn detail(&self, message: &str) {
        if let Some(bar) = self.current.lock().unwrap().as_ref() {
            bar.set_message(message.to_string());
        }
    }

    fn finish(&self, summary: &str) {
        if let Some(bar) = self.current.lock().unwrap().take() {
            bar.set_style(ProgressStyle::with_template("✔ {msg}").expect("valid template"));
            bar.finish_with_message(summary.to_string());
        }
    }
}

impl Drop for Spinners {
    /// A step that never finished (the start failed or was interrupted) leaves no spinner behind.
    fn drop(&mut self) {
        if let Some(bar) = self.current.lock().unwrap().take() {
            bar.finish_and_clear();
        }
    }
}
