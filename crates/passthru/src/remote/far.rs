//! passthru on the far side: the same version from the remote PATH when there is
//! one, otherwise this binary uploaded (over the same SSH session) to a private
//! temporary directory (mode 0700), run there, and removed after.
//!
//! One session per call: the remote script says on its first line whether it runs
//! the installed passthru (`passthru-fleet: run`) or wants the binary
//! (`passthru-fleet: send`); only then is the binary written to its stdin.

use super::ssh::{drive, feed_file, quote, quote_words, RemoteOutput, SshOptions};
use super::target::Target;
use super::RemoteError;
use crate::host::model::{Host, SourceKind};
use std::path::Path;
use std::time::Instant;

/// What `passthru --version` prints for this build: only this exact version runs
/// remotely, so the snapshot format and the command line agree.
pub const VERSION_LINE: &str = concat!("passthru ", env!("CARGO_PKG_VERSION"));

const RUN: &str = "passthru-fleet: run";
const SEND: &str = "passthru-fleet: send";
const MISSING: &str = "passthru-fleet: missing";

/// The remote script for `passthru ARGS` (every word quoted).
fn script(args: &[String], upload: bool) -> String {
    let args = quote_words(args);
    let fallback = if upload {
        format!(
            "echo '{SEND}'\n\
             d=$(mktemp -d \"${{TMPDIR:-/tmp}}/passthru.XXXXXX\") || {{ echo 'passthru: cannot make a temporary directory on the remote host' >&2; exit 3; }}\n\
             trap 'rm -rf \"$d\"' EXIT\n\
             trap 'rm -rf \"$d\"; exit 3' HUP INT TERM\n\
             chmod 700 \"$d\" && cat > \"$d/passthru\" && chmod 700 \"$d/passthru\" || {{ echo 'passthru: cannot write the uploaded binary' >&2; exit 3; }}\n\
             \"$d/passthru\" {args}\n"
        )
    } else {
        format!("echo '{MISSING}'\necho \"found: ${{found:-nothing}}\" >&2\nexit 3\n")
    };
    format!(
        "v={v}\n\
         p=$(command -v passthru 2>/dev/null)\n\
         found=\n\
         if [ -n \"$p\" ]; then found=$(\"$p\" --version 2>/dev/null); fi\n\
         if [ \"$found\" = \"$v\" ]; then echo '{RUN}'; exec \"$p\" {args}; fi\n\
         {fallback}",
        v = quote(VERSION_LINE),
    )
}

/// Runs `passthru ARGS` on the target: the installed one of the same version, else
/// `upload` (normally `std::env::current_exe()`), else an error saying what to install.
pub fn run_passthru(
    opts: &SshOptions,
    target: &Target,
    args: &[String],
    upload: Option<&Path>,
) -> Result<RemoteOutput, RemoteError> {
    let child = opts
        .command(target, &script(args, upload.is_some()))
        .spawn()
        .map_err(RemoteError::Spawn)?;
    let up = upload.map(Path::to_path_buf);
    let mut on_first = |line: &str, stdin| {
        if line == SEND {
            if let Some(p) = up.clone() {
                feed_file(p, stdin);
            }
        }
    };
    let d = drive(child, Instant::now() + opts.timeout, Some(&mut on_first))
        .map_err(RemoteError::Spawn)?;
    let first = d.first_line.clone().unwrap_or_default();
    let out = opts.check(target, d)?;
    if first == MISSING {
        return Err(RemoteError::Remote {
            target: target.name.clone(),
            message: format!(
                "no {VERSION_LINE} on the remote PATH ({}); install it there, or let passthru upload itself",
                out.stderr.trim()
            ),
        });
    }
    if first != RUN && first != SEND {
        return Err(RemoteError::Remote {
            target: target.name.clone(),
            message: format!(
                "the remote shell did not run passthru's script (exit {:?}): {}",
                out.status,
                out.stderr.trim()
            ),
        });
    }
    Ok(out)
}

/// `passthru [--root DIR] ARGS` on the target.
pub fn run_rooted(
    opts: &SshOptions,
    target: &Target,
    remote_root: Option<&Path>,
    args: &[String],
    upload: Option<&Path>,
) -> Result<RemoteOutput, RemoteError> {
    let mut all = Vec::new();
    if let Some(r) = remote_root {
        all.push("--root".to_string());
        all.push(r.display().to_string());
    }
    all.extend(args.iter().cloned());
    run_passthru(opts, target, &all, upload)
}

/// A remote host's facts: `passthru snapshot` run there once, parsed here.
pub fn fetch_host(
    opts: &SshOptions,
    target: &Target,
    remote_root: Option<&Path>,
    upload: Option<&Path>,
) -> Result<Host, RemoteError> {
    let out = run_rooted(opts, target, remote_root, &["snapshot".to_string()], upload)?;
    if out.status != Some(0) {
        return Err(RemoteError::Remote {
            target: target.name.clone(),
            message: format!(
                "passthru snapshot failed there (exit {}): {}",
                out.status.map_or("signal".into(), |c| c.to_string()),
                last_error(&out.stderr)
            ),
        });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut host = crate::host::sources::snapshot::from_json(&text, Path::new(&target.name))
        .map_err(|e| RemoteError::Remote {
            target: target.name.clone(),
            message: format!("its snapshot does not parse: {e}"),
        })?;
    host.source.kind = SourceKind::Remote;
    host.source.location = target.name.clone();
    Ok(host)
}

/// The remote host's boot id (`proc/sys/kernel/random/boot_id` under the root):
/// it changes at every boot, so a reboot is seen even when it was quick.
pub fn boot_id(
    opts: &SshOptions,
    target: &Target,
    remote_root: Option<&Path>,
) -> Result<String, RemoteError> {
    let root = remote_root.map_or("/".to_string(), |r| r.display().to_string());
    let path = format!(
        "{}/proc/sys/kernel/random/boot_id",
        root.trim_end_matches('/')
    );
    let out = opts.run(target, &format!("cat {}", quote(&path)))?;
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status != Some(0) || id.is_empty() {
        return Err(RemoteError::Remote {
            target: target.name.clone(),
            message: format!("cannot read {path}: {}", last_error(&out.stderr)),
        });
    }
    Ok(id)
}

/// The last non-empty line of stderr (what passthru said went wrong).
pub fn last_error(stderr: &str) -> String {
    stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("no message")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_quotes_every_argument() {
        let s = script(&["show".into(), "x'; rm -rf / #".into()], true);
        assert!(s.contains(r#"show 'x'\''; rm -rf / #'"#), "{s}");
        assert!(s.contains("mktemp -d") && s.contains("chmod 700"), "{s}");
        let s = script(&["ls".into()], false);
        assert!(s.contains(MISSING) && !s.contains("mktemp"), "{s}");
    }
}
