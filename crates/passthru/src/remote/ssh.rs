//! One command on one target through the OpenSSH client, with a deadline.

use super::target::Target;
use super::{Failure, RemoteError};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How to reach hosts.
#[derive(Clone, Debug)]
pub struct SshOptions {
    /// `ssh -F FILE` (the user's `~/.ssh/config` otherwise).
    pub config_file: Option<PathBuf>,
    /// Seconds allowed for one host's command (connection included).
    pub timeout: Duration,
}

impl Default for SshOptions {
    fn default() -> Self {
        SshOptions {
            config_file: None,
            timeout: Duration::from_secs(120),
        }
    }
}

/// What a remote command did.
#[derive(Clone, Debug, Default)]
pub struct RemoteOutput {
    /// Its exit code (`None`: killed by a signal).
    pub status: Option<i32>,
    /// Its standard output.
    pub stdout: Vec<u8>,
    /// Its standard error.
    pub stderr: String,
}

/// Quotes one word for the remote POSIX shell (the same rule as the journal's
/// command lines).
pub fn quote(word: &str) -> String {
    crate::change::plan::shell_word(word)
}

/// A remote command line from words, each quoted.
pub fn quote_words<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

impl SshOptions {
    /// `ssh` for a target and one remote shell script (run by `/bin/sh -c`, whatever
    /// the login shell is). Strict host keys, no prompts, no tty.
    pub fn command(&self, target: &Target, script: &str) -> Command {
        let mut c = Command::new("ssh");
        if let Some(f) = &self.config_file {
            c.arg("-F").arg(f);
        }
        let connect = self.timeout.as_secs().clamp(1, 30);
        c.args([
            "-T",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            &format!("ConnectTimeout={connect}"),
            "-o",
            "ServerAliveInterval=5",
            "-o",
            "ServerAliveCountMax=3",
        ]);
        c.args(target.ssh_args());
        c.arg(format!("exec /bin/sh -c {}", quote(script)));
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    /// Runs a script on the target and collects its output, within the timeout.
    pub fn run(&self, target: &Target, script: &str) -> Result<RemoteOutput, RemoteError> {
        let child = self
            .command(target, script)
            .spawn()
            .map_err(RemoteError::Spawn)?;
        let out = drive(child, Instant::now() + self.timeout, None).map_err(RemoteError::Spawn)?;
        self.check(target, out)
    }

    /// Turns an ssh-level failure (exit 255, a timeout) into its error; anything
    /// else is the remote command's own result.
    pub fn check(&self, target: &Target, d: Driven) -> Result<RemoteOutput, RemoteError> {
        if d.timed_out {
            return Err(RemoteError::Timeout {
                target: target.name.clone(),
                secs: self.timeout.as_secs(),
            });
        }
        if d.out.status == Some(255) {
            return Err(classify(target, &d.out.stderr));
        }
        Ok(d.out)
    }
}

/// ssh's exit 255, said in a line with its fix.
pub fn classify(target: &Target, stderr: &str) -> RemoteError {
    let last = stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("ssh failed without a message")
        .trim_end_matches('.')
        .to_string();
    let has = |s: &str| stderr.contains(s);
    let (failure, message) = if has("IDENTIFICATION HAS CHANGED") {
        (
            Failure::HostKey,
            "host key CHANGED (refused; if the host was reinstalled, remove its old key with `ssh-keygen -R HOST` and check the new one)".to_string(),
        )
    } else if has("Host key verification failed")
        || has("No ED25519 host key is known")
        || has("host key is known")
    {
        (
            Failure::HostKey,
            "host key unknown (refused; add it to known_hosts after checking its fingerprint, e.g. `ssh HOST` once)".to_string(),
        )
    } else if has("Permission denied") {
        (
            Failure::Auth,
            format!("login refused: {last} (check the user, key and agent)"),
        )
    } else if has("Connection timed out") || has("timed out") {
        (Failure::Timeout, format!("unreachable: {last}"))
    } else {
        (Failure::Unreachable, format!("unreachable: {last}"))
    };
    RemoteError::Ssh {
        target: target.name.clone(),
        failure,
        message,
    }
}

/// A finished (or killed) child's output.
#[derive(Debug, Default)]
pub struct Driven {
    /// The output.
    pub out: RemoteOutput,
    /// Killed at the deadline.
    pub timed_out: bool,
    /// The first stdout line when a handler took it (it is not in `out.stdout`).
    pub first_line: Option<String>,
}

/// Called with the first line of stdout and the child's stdin (closed when dropped).
pub type FirstLine<'a> = &'a mut dyn FnMut(&str, ChildStdin);

/// Runs a spawned child (stdin, stdout, stderr piped) to its end or the deadline,
/// draining its output in threads. Without a handler stdin is closed at once.
pub fn drive(
    mut child: Child,
    deadline: Instant,
    mut first: Option<FirstLine<'_>>,
) -> std::io::Result<Driven> {
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let err_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(mut e) = stderr {
            let _ = e.read_to_end(&mut s);
        }
        String::from_utf8_lossy(&s).into_owned()
    });
    let (tx, rx) = mpsc::channel::<String>();
    let want_first = first.is_some();
    let out_t = std::thread::spawn(move || {
        let mut rest = Vec::new();
        if let Some(o) = stdout {
            let mut r = BufReader::new(o);
            if want_first {
                let mut line = Vec::new();
                let _ = r.read_until(b'\n', &mut line);
                let _ = tx.send(String::from_utf8_lossy(&line).trim_end().to_string());
            }
            let _ = r.read_to_end(&mut rest);
        }
        rest
    });
    let mut d = Driven::default();
    let mut stdin = stdin;
    if first.is_none() {
        drop(stdin.take());
    }
    loop {
        if let Some(h) = first.as_mut() {
            if let Ok(line) = rx.try_recv() {
                if let Some(i) = stdin.take() {
                    h(&line, i);
                }
                d.first_line = Some(line);
                first = None;
            }
        }
        match child.try_wait()? {
            Some(st) => {
                d.out.status = st.code();
                break;
            }
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                d.timed_out = true;
                break;
            }
            None => std::thread::sleep(Duration::from_millis(15)),
        }
    }
    drop(stdin);
    d.out.stdout = out_t.join().unwrap_or_default();
    d.out.stderr = err_t.join().unwrap_or_default();
    if d.first_line.is_none() && want_first {
        d.first_line = rx.try_recv().ok();
    }
    Ok(d)
}

/// Copies a file into a child's stdin in a thread (an upload), then closes it.
pub fn feed_file(path: PathBuf, mut stdin: ChildStdin) {
    std::thread::spawn(move || {
        if let Ok(mut f) = std::fs::File::open(&path) {
            let _ = std::io::copy(&mut f, &mut stdin);
        }
        let _ = stdin.flush();
    });
}
