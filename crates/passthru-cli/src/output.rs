//! Shared output helpers: JSON printing and the exit codes.

use serde::Serialize;
use std::cell::RefCell;
use std::process::ExitCode;

thread_local! {
    /// Where this thread's command output goes instead of stdout/stderr: a fleet run
    /// reasons about each remote host in its own thread and collects what the
    /// single-host command printed, to show it under that host.
    static CAPTURE: RefCell<Option<Captured>> = const { RefCell::new(None) };
}

/// What a command printed while captured.
#[derive(Default, Debug)]
pub struct Captured {
    /// Its standard output.
    pub stdout: Vec<u8>,
    /// Its warnings (what would have gone to stderr).
    pub stderr: String,
}

/// Runs `f` with this thread's output captured, returning its result and the output.
pub fn capture<R>(f: impl FnOnce() -> R) -> (R, Captured) {
    CAPTURE.with(|c| *c.borrow_mut() = Some(Captured::default()));
    let r = f();
    let out = CAPTURE.with(|c| c.borrow_mut().take()).unwrap_or_default();
    (r, out)
}

/// Writes to the capture when there is one; `false` when output goes to the terminal.
fn captured(bytes: &[u8], err: bool) -> bool {
    CAPTURE.with(|c| match c.borrow_mut().as_mut() {
        Some(cap) if err => {
            cap.stderr.push_str(&String::from_utf8_lossy(bytes));
            true
        }
        Some(cap) => {
            cap.stdout.extend_from_slice(bytes);
            true
        }
        None => false,
    })
}

/// What a command found, mapped to the documented exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// All good: exit 0.
    Ok,
    /// Warnings: exit 1.
    Warn,
    /// Failures found: exit 2.
    Fail,
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> Self {
        ExitCode::from(match o {
            Outcome::Ok => 0,
            Outcome::Warn => 1,
            Outcome::Fail => 2,
        })
    }
}

/// Prints a value as pretty JSON on stdout, streamed through a buffer: a listing of
/// thousands of VFs is megabytes, and building it as one string first costs more
/// than reading the host did.
pub fn print_json<T: Serialize>(v: &T) -> anyhow::Result<()> {
    use std::io::Write;
    if CAPTURE.with(|c| c.borrow().is_some()) {
        let mut buf = serde_json::to_vec_pretty(v)?;
        buf.push(b'\n');
        captured(&buf, false);
        return Ok(());
    }
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    // Back to io::Error, so a closed pipe is recognised as one.
    serde_json::to_writer_pretty(&mut out, v).map_err(std::io::Error::from)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

/// Prints what went wrong while reading a host without stopping the scan (a device
/// that vanished or could not be read), on stderr so JSON on stdout stays whole.
pub fn print_warnings(host: &passthru::Host) {
    for w in &host.warnings {
        let line = format!("passthru: warning: {w}\n");
        if !captured(line.as_bytes(), true) {
            eprint!("{line}");
        }
    }
}

/// Writes text to stdout; a closed pipe (`| head`) is reported as an error the
/// caller turns into a quiet exit, never a panic.
pub fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    if captured(text.as_bytes(), false) {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}
