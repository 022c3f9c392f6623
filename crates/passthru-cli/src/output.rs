//! Shared output helpers: JSON printing and the exit codes.

use serde::Serialize;
use std::process::ExitCode;

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
        eprintln!("passthru: warning: {w}");
    }
}

/// Writes text to stdout; a closed pipe (`| head`) is reported as an error the
/// caller turns into a quiet exit, never a panic.
pub fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}
