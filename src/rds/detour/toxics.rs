//! What the task → database path meets while a fault is on it, and the settings file that tells
//! the path's proxy (`toxic-proxy.pl`) so. Pure.

use std::time::Duration;

/// The faults on one instance's path together, as Toxiproxy's toxics on one route.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PathToxics {
    /// Added to each chunk of the database's answers.
    pub latency: Duration,
    /// Up to this much more, uniformly.
    pub jitter: Duration,
    /// The fraction of new connections reset at once (0 to 1).
    pub reset_rate: f64,
    /// Each direction's limit; `None`: no limit.
    pub bytes_per_second: Option<u64>,
}

impl PathToxics {
    /// No fault at all: the path needs no proxy.
    pub fn is_empty(&self) -> bool {
        self.latency.is_zero()
            && self.jitter.is_zero()
            && self.reset_rate <= 0.0
            && self.bytes_per_second.is_none()
    }

    /// The proxy's settings file: forward to `upstream` (`host:port`) with these toxics; the
    /// last line, `end`, tells the proxy it read the whole file.
    pub fn settings_file(&self, upstream: &str) -> String {
        format!(
            "upstream {upstream}\nlatency_ms {}\njitter_ms {}\nreset_rate {}\nbytes_per_second {}\nend 1\n",
            self.latency.as_millis(),
            self.jitter.as_millis(),
            self.reset_rate.clamp(0.0, 1.0),
            self.bytes_per_second.unwrap_or(0),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_file_names_the_upstream_and_every_toxic() {
        let toxics = PathToxics {
            latency: Duration::from_millis(150),
            jitter: Duration::from_millis(20),
            reset_rate: 0.25,
            bytes_per_second: Some(65_536),
        };
        assert_eq!(
            toxics.settings_file("tierlab-lab-db-2:3306"),
            "upstream tierlab-lab-db-2:3306\nlatency_ms 150\njitter_ms 20\nreset_rate 0.25\nbytes_per_second 65536\nend 1\n"
        );
        let none = PathToxics::default();
        assert!(none.is_empty() && !toxics.is_empty());
        assert!(
            none.settings_file("db:3306")
                .contains("bytes_per_second 0\n")
        );
    }
}
