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

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: Serialize>(v: &T) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(v)?;
    text.push('\n');
    emit(&text)
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
