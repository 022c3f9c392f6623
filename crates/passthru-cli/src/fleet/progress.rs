//! Progress of a fleet run on stderr: hosts done / total, the slow ones named; only
//! on a terminal, never with --json or into a pipe.

use passthru::remote::pool::Observer;
use passthru::remote::Target;
use std::sync::Mutex;

/// A progress bar, or nothing when stderr is not a terminal.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    names: Vec<String>,
    running: Mutex<Vec<usize>>,
}

impl Progress {
    /// A bar for these hosts; `show` false (JSON) or stderr not a terminal: silent.
    pub fn new(targets: &[Target], what: &str, show: bool) -> Progress {
        let tty = rustix::termios::isatty(std::io::stderr());
        let bar = (show && tty).then(|| {
            let b = indicatif::ProgressBar::new(targets.len() as u64);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} hosts {elapsed} {wide_msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            b.set_prefix(what.to_string());
            b.enable_steady_tick(std::time::Duration::from_millis(200));
            b
        });
        Progress {
            bar,
            names: targets.iter().map(|t| t.name.clone()).collect(),
            running: Mutex::new(Vec::new()),
        }
    }

    fn show_running(&self) {
        if let (Some(b), Ok(r)) = (&self.bar, self.running.lock()) {
            let mut names: Vec<&str> = r.iter().map(|i| self.names[*i].as_str()).collect();
            let more = names.len().saturating_sub(4);
            names.truncate(4);
            let mut m = if names.is_empty() {
                String::new()
            } else {
                format!("waiting for {}", names.join(", "))
            };
            if more > 0 {
                m.push_str(&format!(" and {more} more"));
            }
            b.set_message(m);
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Observer for Progress {
    fn started(&self, i: usize) {
        if let Ok(mut r) = self.running.lock() {
            r.push(i);
        }
        self.show_running();
    }
    fn finished(&self, i: usize, _failed: bool) {
        if let Ok(mut r) = self.running.lock() {
            r.retain(|x| *x != i);
        }
        if let Some(b) = &self.bar {
            b.inc(1);
        }
        self.show_running();
    }
}
