//! `tierlab status --watch`: the table redrawn every interval until Ctrl-C or the lab stops.
//! On a terminal each frame is drawn over the last one with ANSI cursor moves (scrollback and
//! what was on screen above stay as they were); otherwise each table is printed after a blank
//! line, so a log of the output reads as a series of snapshots.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::time::{Duration, SystemTime};

use tokio::time::MissedTickBehavior;

use crate::config::Config;
use crate::error::Error;

use super::{Poll, poll, print_report, table};

/// Polls in a row that the endpoint does not answer (its control file still there) before the
/// watch says the lab stopped: one miss can be a busy moment of a loaded machine, two are a lab
/// that is stopping (its endpoint closes first) or was killed.
const MISSES_BEFORE_STOPPED: u32 = 2;

pub async fn run(config: &Config, interval: Duration) -> Result<(), Error> {
    let first = poll(config).await?;
    if !matches!(first, Poll::Status(_)) {
        // Nothing to watch: say what `status` says (not running, and what is left of it).
        return print_report(config, first, false).await;
    }
    let mut stdout = std::io::stdout();
    let mut frames = Frames::new(stdout.is_terminal());
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    ticker.tick().await;
    let mut misses = 0;
    let mut current = first;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        match step(&config.lab.name, &current, &mut misses) {
            Step::Draw(status) => {
                let (footer, size) = if frames.in_place {
                    (footer(interval, SystemTime::now()), terminal_size())
                } else {
                    (String::new(), None)
                };
                let frame = frames.next(&table::render(status), &footer, size);
                if stdout
                    .write_all(frame.as_bytes())
                    .and_then(|()| stdout.flush())
                    .is_err()
                {
                    // Nobody reads any more (`status -w | head`, a closed terminal): done.
                    return Ok(());
                }
            }
            Step::Wait => {}
            Step::Stopped(message) => {
                println!("\n{message}");
                return Ok(());
            }
        }
        tokio::select! {
            _ = &mut ctrl_c => return Ok(()),
            next = async { ticker.tick().await; poll(config).await } => current = next?,
        }
    }
}

/// What the watch does after one poll.
#[derive(Debug, PartialEq)]
pub enum Step<'a> {
    Draw(&'a crate::lab::LabStatus),
    /// Keep the last frame and poll again.
    Wait,
    /// Print this and exit 0.
    Stopped(String),
}

/// Decides what a poll of lab `lab` means, counting consecutive misses in `misses`.
pub fn step<'a>(lab: &str, poll: &'a Poll, misses: &mut u32) -> Step<'a> {
    match poll {
        Poll::Status(status) => {
            *misses = 0;
            Step::Draw(status)
        }
        Poll::NoControlFile => Step::Stopped(format!("lab `{lab}` stopped.")),
        Poll::NoAnswer(error) => {
            *misses += 1;
            if *misses >= MISSES_BEFORE_STOPPED {
                Step::Stopped(format!(
                    "lab `{lab}` stopped: {}",
                    crate::error::chain(error)
                ))
            } else {
                Step::Wait
            }
        }
    }
}

/// The last line of a frame on a terminal: when it was taken and how to stop.
pub fn footer(interval: Duration, now: SystemTime) -> String {
    format!(
        "\nevery {}, last {}; Ctrl-C stops\n",
        humantime::format_duration(interval),
        humantime::format_rfc3339_seconds(now)
    )
}

/// A terminal's size in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TermSize {
    pub cols: usize,
    pub rows: usize,
}

/// Turns each frame's text into what to write: drawn over the previous frame, or appended.
#[derive(Debug)]
pub struct Frames {
    in_place: bool,
    /// Rows the last frame took on screen; `None` before the first frame.
    drawn: Option<usize>,
}

impl Frames {
    pub fn new(in_place: bool) -> Frames {
        Frames {
            in_place,
            drawn: None,
        }
    }

    /// The bytes that show `body` then `footer` as the next frame. In place, every line clears
    /// the rest of its row and the frame clears below it, so a shorter frame leaves nothing of
    /// a longer one.
    pub fn next(&mut self, body: &str, footer: &str, size: Option<TermSize>) -> String {
        let previous = self.drawn.replace(0);
        if !self.in_place {
            let separator = if previous.is_some() { "\n" } else { "" };
            return format!("{separator}{body}{footer}");
        }
        let mut out = String::new();
        if let Some(rows) = previous.filter(|rows| *rows > 0) {
            let _ = write!(out, "\x1b[{rows}A\r");
        }
        let lines = fit(body, footer, size);
        for line in &lines {
            out.push_str(line);
            out.push_str("\x1b[K\n");
        }
        out.push_str("\x1b[J");
        self.drawn = Some(lines.len());
        out
    }
}

/// Cuts a frame to the terminal so that each line takes exactly one row: lines to one column
/// less than its width (a line filling the last column would wrap, or have its last character
/// erased by the clear-to-end that follows), and the frame to one row less than its height (a
/// full screen scrolls, and the next frame could not move back up to its top). The body gives
/// way, never the footer.
fn fit(body: &str, footer: &str, size: Option<TermSize>) -> Vec<String> {
    let mut lines: Vec<String> = body.lines().map(str::to_string).collect();
    let footer: Vec<String> = footer.lines().map(str::to_string).collect();
    let Some(size) = size else {
        lines.extend(footer);
        return lines;
    };
    let height = size.rows.saturating_sub(1).max(1);
    let room = height.saturating_sub(footer.len()).max(1);
    if lines.len() > room {
        let kept = room - 1;
        let hidden = lines.len() - kept;
        lines.truncate(kept);
        lines.push(format!(
            "… {hidden} more lines (a taller terminal shows them)"
        ));
    }
    lines.extend(footer);
    let width = size.cols.saturating_sub(1).max(1);
    for line in &mut lines {
        if line.chars().count() > width {
            *line = line.chars().take(width).collect();
        }
    }
    lines
}

/// Standard output's terminal size, when it is a terminal that knows it.
fn terminal_size() -> Option<TermSize> {
    // SAFETY: TIOCGWINSZ only writes a `winsize` into the struct we pass.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) };
    (rc == 0 && size.ws_col > 0 && size.ws_row > 0).then_some(TermSize {
        cols: usize::from(size.ws_col),
        rows: usize::from(size.ws_row),
    })
}

#[cfg(test)]
mod tests {
    use super::super::sample;
    use super::*;
    use crate::control::ControlError;

    fn no_answer() -> Poll {
        Poll::NoAnswer(ControlError::Request {
            addr: ([127, 0, 0, 1], 1).into(),
            message: "Connection refused".into(),
        })
    }

    #[test]
    fn a_status_is_drawn_and_resets_the_misses() {
        let poll = Poll::Status(Box::new(sample::lab_status()));
        let mut misses = 1;
        assert!(matches!(step("lab", &poll, &mut misses), Step::Draw(_)));
        assert_eq!(misses, 0);
    }

    #[test]
    fn one_miss_waits_two_in_a_row_stop() {
        let mut misses = 0;
        assert_eq!(step("lab", &no_answer(), &mut misses), Step::Wait);
        let Step::Stopped(message) = step("lab", &no_answer(), &mut misses) else {
            panic!("second miss did not stop");
        };
        assert!(
            message.starts_with("lab `lab` stopped: the control endpoint"),
            "{message}"
        );
        assert!(message.contains("Connection refused"), "{message}");
    }

    #[test]
    fn a_removed_control_file_stops_at_once() {
        let mut misses = 0;
        assert_eq!(
            step("lab", &Poll::NoControlFile, &mut misses),
            Step::Stopped("lab `lab` stopped.".into())
        );
    }

    #[test]
    fn without_a_terminal_frames_follow_each_other_after_a_blank_line() {
        let mut frames = Frames::new(false);
        assert_eq!(frames.next("a\nb\n", "", None), "a\nb\n");
        assert_eq!(frames.next("c\n", "", None), "\nc\n");
    }

    #[test]
    fn on_a_terminal_each_frame_is_drawn_over_the_last() {
        let mut frames = Frames::new(true);
        let first = frames.next("one\ntwo\n", "three\n", None);
        assert_eq!(first, "one\x1b[K\ntwo\x1b[K\nthree\x1b[K\n\x1b[J");
        // Up three rows to the first frame's top; the shorter frame clears what is below it.
        let second = frames.next("1\n", "", None);
        assert_eq!(second, "\x1b[3A\r1\x1b[K\n\x1b[J");
        let third = frames.next("x\ny\n", "", None);
        assert!(third.starts_with("\x1b[1A\r"), "{third:?}");
    }

    #[test]
    fn frames_are_cut_to_the_terminal() {
        let size = Some(TermSize { cols: 6, rows: 4 });
        let body = "abcdefgh\n2\n3\n4\n5\n";
        assert_eq!(
            fit(body, "", size),
            vec!["abcde", "2", "… 3 m"],
            "width - 1 columns, height - 1 rows, the last saying what is hidden"
        );
        assert_eq!(fit("a\nb\n", "", size), vec!["a", "b"]);
        assert_eq!(fit(body, "", None).len(), 5);
        let mut frames = Frames::new(true);
        frames.next(body, "", size);
        assert!(frames.next("", "", size).starts_with("\x1b[3A"));
    }

    #[test]
    fn the_footer_stays_when_the_body_is_cut() {
        let size = Some(TermSize { cols: 80, rows: 5 });
        assert_eq!(
            fit("1\n2\n3\n4\n", "\nfoot\n", size),
            vec![
                "1",
                "… 3 more lines (a taller terminal shows them)",
                "",
                "foot"
            ]
        );
        assert_eq!(fit("1\n", "\nfoot\n", size), vec!["1", "", "foot"]);
    }

    #[test]
    fn footer_says_when_and_how_often() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_169_600);
        assert_eq!(
            footer(Duration::from_secs(2), at),
            "\nevery 2s, last 2026-12-02T00:00:00Z; Ctrl-C stops\n"
        );
    }
}
