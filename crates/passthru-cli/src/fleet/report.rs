//! A fleet run's output: one row or section per host, then one summary line; or the
//! documented JSON (`{"hosts": {TARGET: {"ok": ..}}, "summary": {..}}`).

use passthru::remote::{Failure, Target};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Exit code a host that could not be reached counts as.
pub const EXIT_UNREACHABLE: u8 = 3;

/// What happened on one host.
#[derive(Debug)]
pub enum Outcome {
    /// The command ran: its exit code and what it printed.
    Done {
        /// Exit code (0 pass, 1 warn, 2 fail, 3 error).
        exit: u8,
        /// Its output (text, or JSON with --json).
        stdout: Vec<u8>,
        /// Its warnings and error messages.
        stderr: String,
    },
    /// The host could not be reached or the command could not run.
    Failed {
        /// The kind of failure.
        failure: Failure,
        /// The message.
        error: String,
    },
}

/// One host's result.
#[derive(Debug)]
pub struct HostResult {
    /// The host.
    pub target: Target,
    /// What happened.
    pub outcome: Outcome,
    /// `--reboot`: the reboot and wait, when one was attempted.
    pub reboot: Option<super::reboot::RebootReport>,
}

impl HostResult {
    /// The exit code this host counts as.
    pub fn exit(&self) -> u8 {
        match &self.outcome {
            Outcome::Done { exit, .. } => *exit,
            Outcome::Failed { .. } => EXIT_UNREACHABLE,
        }
    }

    /// Whether it failed outright (for `--max-fail`).
    pub fn failed(&self) -> bool {
        self.exit() >= 2
    }
}

/// Counts per verdict.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// Hosts in the run.
    pub hosts: usize,
    /// Exit 0.
    pub pass: usize,
    /// Exit 1.
    pub warn: usize,
    /// Exit 2.
    pub fail: usize,
    /// The command itself failed there (exit 3: bad argument for that host, refusal).
    pub error: usize,
    /// Not reached (SSH refused, host key, timeout, passthru could not run).
    pub unreachable: usize,
    /// Not started (`--max-fail` reached).
    pub skipped: usize,
}

impl Summary {
    /// Counts results; `skipped` hosts were never started.
    pub fn of(results: &[HostResult], skipped: usize) -> Summary {
        let mut s = Summary {
            hosts: results.len() + skipped,
            skipped,
            ..Default::default()
        };
        for r in results {
            match &r.outcome {
                Outcome::Failed { .. } => s.unreachable += 1,
                Outcome::Done { exit: 0, .. } => s.pass += 1,
                Outcome::Done { exit: 1, .. } => s.warn += 1,
                Outcome::Done { exit: 2, .. } => s.fail += 1,
                Outcome::Done { .. } => s.error += 1,
            }
        }
        s
    }

    /// `12 hosts: 9 pass, 2 warn, 1 fail, 0 unreachable` (error and skipped when any).
    pub fn line(&self) -> String {
        let mut s = format!(
            "{} host{}: {} pass, {} warn, {} fail",
            self.hosts,
            if self.hosts == 1 { "" } else { "s" },
            self.pass,
            self.warn,
            self.fail
        );
        if self.error > 0 {
            let _ = write!(s, ", {} error", self.error);
        }
        let _ = write!(s, ", {} unreachable", self.unreachable);
        if self.skipped > 0 {
            let _ = write!(s, ", {} skipped (--max-fail)", self.skipped);
        }
        s
    }
}

/// The worst host's exit code (0 for an empty run).
pub fn worst(results: &[HostResult]) -> u8 {
    results.iter().map(HostResult::exit).max().unwrap_or(0)
}

#[derive(Serialize)]
#[serde(untagged)]
enum HostJson<'a> {
    Ok {
        ok: bool,
        exit: u8,
        result: serde_json::Value,
        #[serde(skip_serializing_if = "Option::is_none")]
        reboot: Option<&'a super::reboot::RebootReport>,
    },
    Err {
        ok: bool,
        failure: Failure,
        error: String,
    },
}

/// The fleet JSON document.
pub fn json(results: &[HostResult], summary: &Summary) -> serde_json::Value {
    let mut hosts = BTreeMap::new();
    for r in results {
        let v = match &r.outcome {
            Outcome::Done {
                exit,
                stdout,
                stderr,
            } => {
                let result = serde_json::from_slice(stdout).unwrap_or_else(|_| {
                    // A command that failed before printing JSON: its message.
                    serde_json::json!({ "error": last_line(stderr) })
                });
                HostJson::Ok {
                    ok: true,
                    exit: *exit,
                    result,
                    reboot: r.reboot.as_ref(),
                }
            }
            Outcome::Failed { failure, error } => HostJson::Err {
                ok: false,
                failure: *failure,
                error: error.clone(),
            },
        };
        hosts.insert(r.target.name.clone(), v);
    }
    serde_json::json!({ "hosts": hosts, "summary": summary })
}

fn last_line(s: &str) -> String {
    passthru::remote::far::last_error(s)
}

/// One section per host: `== TARGET (exit N) ==`, its output, its warnings.
pub fn sections(results: &[HostResult]) -> String {
    let mut s = String::new();
    for r in results {
        match &r.outcome {
            Outcome::Done {
                exit,
                stdout,
                stderr,
            } => {
                let _ = writeln!(s, "== {} ({}) ==", r.target, verdict(*exit));
                s.push_str(&String::from_utf8_lossy(stdout));
                for l in stderr.lines().filter(|l| !l.trim().is_empty()) {
                    let _ = writeln!(s, "  [stderr] {l}");
                }
                if let Some(rb) = &r.reboot {
                    let _ = writeln!(s, "{}", rb.line());
                }
            }
            Outcome::Failed { error, .. } => {
                let _ = writeln!(s, "== {} (unreachable) ==\n  {error}", r.target);
            }
        }
        s.push('\n');
    }
    s
}

fn verdict(exit: u8) -> &'static str {
    match exit {
        0 => "pass",
        1 => "warn",
        2 => "fail",
        _ => "error",
    }
}

/// One table for every host, a HOST column first. Each host's table is laid out in
/// fixed-width columns under its header; the columns are cut at the header's word
/// starts and laid out again together. Hosts that failed get one row with their error.
pub fn merged_table(results: &[HostResult]) -> String {
    let mut header: Option<Vec<String>> = None;
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut notes = String::new();
    for r in results {
        match &r.outcome {
            Outcome::Done { stdout, stderr, .. } => {
                let text = String::from_utf8_lossy(stdout);
                let mut lines = text.lines();
                let Some(h) = lines.next() else { continue };
                let starts = column_starts(h);
                let cells = |l: &str| split_at_columns(l, &starts);
                let hc = cells(h);
                if header.as_ref().is_some_and(|x| x[1..] != hc[..]) {
                    // Another layout (a different table): fall back to this host's text.
                    let _ = writeln!(notes, "== {} ==\n{text}", r.target);
                    continue;
                }
                if header.is_none() {
                    let mut x = vec!["HOST".to_string()];
                    x.extend(hc);
                    header = Some(x);
                }
                for l in lines {
                    let mut row = vec![r.target.name.clone()];
                    row.extend(cells(l));
                    rows.push(row);
                }
                for l in stderr.lines().filter(|l| !l.trim().is_empty()) {
                    let _ = writeln!(notes, "{}: {l}", r.target);
                }
            }
            Outcome::Failed { error, .. } => {
                rows.push(vec![r.target.name.clone(), format!("unreachable: {error}")]);
            }
        }
    }
    let header = header.unwrap_or_else(|| vec!["HOST".into(), "RESULT".into()]);
    let ncol = header.len();
    let mut w = vec![0usize; ncol];
    for r in std::iter::once(&header).chain(rows.iter()) {
        // An error row spans the table: it does not widen the columns.
        if r.len() < ncol && r.len() == 2 {
            w[0] = w[0].max(r[0].chars().count());
            continue;
        }
        for (i, c) in r.iter().enumerate().take(ncol) {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let mut s = String::new();
    for r in std::iter::once(&header).chain(rows.iter()) {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(c);
            } else {
                let _ = write!(line, "{c:<width$} ", width = w[i]);
            }
        }
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s.push_str(&notes);
    s
}

/// Char offsets where the header's columns start.
fn column_starts(header: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut prev = ' ';
    for (i, c) in header.chars().enumerate() {
        if c != ' ' && prev == ' ' {
            starts.push(i);
        }
        prev = c;
    }
    starts
}

fn split_at_columns(line: &str, starts: &[usize]) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let mut out = Vec::new();
    for (k, &st) in starts.iter().enumerate() {
        let end = starts
            .get(k + 1)
            .copied()
            .unwrap_or(chars.len())
            .min(chars.len());
        let st = st.min(chars.len());
        out.push(chars[st..end].iter().collect::<String>().trim().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(name: &str, exit: u8, out: &str) -> HostResult {
        HostResult {
            target: Target::parse(name).unwrap(),
            outcome: Outcome::Done {
                exit,
                stdout: out.as_bytes().to_vec(),
                stderr: String::new(),
            },
            reboot: None,
        }
    }

    #[test]
    fn tables_merge_under_one_header_with_a_host_column() {
        let a = "ADDRESS IDS       NAME\n06:00.0 8086:1521 I350 Gigabit\n";
        let b = "ADDRESS IDS       NAME\n81:00.0 15b3:1017 MT27800 Family [ConnectX-5]\n";
        let down = HostResult {
            target: Target::parse("node3").unwrap(),
            outcome: Outcome::Failed {
                failure: Failure::Unreachable,
                error: "Connection refused".into(),
            },
            reboot: None,
        };
        let t = merged_table(&[done("node1", 0, a), done("n2", 0, b), down]);
        assert_eq!(
            t,
            "HOST  ADDRESS IDS       NAME\n\
             node1 06:00.0 8086:1521 I350 Gigabit\n\
             n2    81:00.0 15b3:1017 MT27800 Family [ConnectX-5]\n\
             node3 unreachable: Connection refused\n"
        );
    }

    #[test]
    fn summary_counts_and_worst_exit() {
        let down = HostResult {
            target: Target::parse("x").unwrap(),
            outcome: Outcome::Failed {
                failure: Failure::HostKey,
                error: "changed".into(),
            },
            reboot: None,
        };
        let rs = vec![done("a", 0, ""), done("b", 1, ""), done("c", 2, ""), down];
        let s = Summary::of(&rs, 0);
        assert_eq!(s.line(), "4 hosts: 1 pass, 1 warn, 1 fail, 1 unreachable");
        assert_eq!(worst(&rs), 3);
        assert_eq!(worst(&rs[..2]), 1);
        let j = json(&rs, &s);
        assert_eq!(j["hosts"]["x"]["ok"], false);
        assert_eq!(j["hosts"]["x"]["failure"], "host_key");
        assert_eq!(j["summary"]["unreachable"], 1);
    }
}
