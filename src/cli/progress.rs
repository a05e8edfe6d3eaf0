//! Spinners for long steps when stderr is a terminal; log lines otherwise.

use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::lab::Progress;

/// Shows one spinner per step: its detail line updates in place, and it ends with a check mark.
pub struct Spinners {
    current: Mutex<Option<ProgressBar>>,
}

impl Spinners {
    pub fn new() -> Spinners {
        Spinners { current: Mutex::new(None) }
    }
}

impl Progress for Spinners {
    fn begin(&self, step: &str) {
        let bar = ProgressBar::new_spinner();
        bar.set_style(ProgressStyle::with_template("{spinner} {prefix} {wide_msg:.dim}").expect("valid template"));
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
