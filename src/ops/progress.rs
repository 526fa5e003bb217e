//! How far a long command has got (`chorus demo`, `chorus migrate`,
//! `chorus consent verify`): a progress bar on a terminal (indicatif), and
//! one plain line per finished stage otherwise, so logs and pipes stay
//! readable.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// What a long task reports as it goes: stages, each with its size, and
/// steps within the current stage.
pub trait Progress {
    /// A new stage of `total` steps begins (0: of unknown size).
    fn stage(&mut self, name: &str, total: u64);
    /// `steps` more steps of the current stage are done.
    fn advance(&mut self, steps: u64);
    /// The task is over.
    fn finish(&mut self) {}
}

/// Reports nothing: for tests and for work no one watches.
pub struct Quiet;

impl Progress for Quiet {
    fn stage(&mut self, _: &str, _: u64) {}
    fn advance(&mut self, _: u64) {}
}

/// The command line's report: a bar on standard error when it is a
/// terminal, otherwise a line on standard output as each stage ends.
pub struct CommandLine {
    bar: Option<ProgressBar>,
    current: Option<Stage>,
}

struct Stage {
    name: String,
    done: u64,
    started: Instant,
}

impl CommandLine {
    pub fn new() -> CommandLine {
        CommandLine {
            bar: None,
            current: None,
        }
    }

    /// Ends the current stage: its bar is cleared or its line printed.
    fn end_stage(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if let Some(stage) = self.current.take() {
            let seconds = stage.started.elapsed().as_secs_f64();
            if stage.done == 0 {
                println!("{}: done in {seconds:.1} s", stage.name);
            } else {
                println!(
                    "{}: {} done in {seconds:.1} s",
                    stage.name,
                    thousands(stage.done)
                );
            }
        }
    }
}

impl Default for CommandLine {
    fn default() -> Self {
        CommandLine::new()
    }
}

impl Progress for CommandLine {
    fn stage(&mut self, name: &str, total: u64) {
        self.end_stage();
        if std::io::stderr().is_terminal() {
            let bar = if total == 0 {
                ProgressBar::new_spinner()
            } else {
                ProgressBar::new(total)
            };
            let template = if total == 0 {
                "{spinner} {prefix}: {pos} {elapsed}"
            } else {
                "{prefix:>16} [{bar:32}] {pos}/{len} {percent}% (eta {eta})"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(name.to_string());
            bar.enable_steady_tick(Duration::from_millis(120));
            self.bar = Some(bar);
        }
        self.current = Some(Stage {
            name: name.to_string(),
            done: 0,
            started: Instant::now(),
        });
    }

    fn advance(&mut self, steps: u64) {
        if let Some(stage) = self.current.as_mut() {
            stage.done += steps;
        }
        if let Some(bar) = &self.bar {
            bar.inc(steps);
        }
    }

    fn finish(&mut self) {
        self.end_stage();
    }
}

/// 1234567 as "1,234,567".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_are_grouped_in_thousands() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(1_000), "1,000");
        assert_eq!(super::thousands(1_234_567), "1,234,567");
    }
}
