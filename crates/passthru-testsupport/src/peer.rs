//! One rule for tests that need a real peer (lspci, sshd, ansible, nova, Chromium,
//! /dev/fuse, ...): when the peer is missing the test says why it skipped, except under
//! CI (`CI=true`) or `PASSTHRU_REQUIRE_PEERS=1`, where a missing peer fails the test, so
//! CI can never pass without having run it.

use std::path::PathBuf;

/// Whether a missing peer must fail the test instead of skipping it.
pub fn required() -> bool {
    let on = |k: &str| std::env::var(k).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    on("CI") || on("PASSTHRU_REQUIRE_PEERS")
}

/// `Ok(())` when the peer is there; otherwise `false` after printing why the test skips,
/// or a panic when peers are [`required`]. Use as `if !peer::require("sshd", probe) { return; }`.
pub fn require(peer: &str, probe: Result<(), String>) -> bool {
    match probe {
        Ok(()) => true,
        Err(why) if required() => panic!(
            "{peer} is needed by this test but missing ({why}); CI=true / PASSTHRU_REQUIRE_PEERS=1 turn a skip into a failure"
        ),
        Err(why) => {
            eprintln!("SKIPPED: {peer} is missing ({why}); set CI=true to fail instead");
            false
        }
    }
}

/// The path of `program` on `PATH` (or `program` itself when it has a slash and exists).
pub fn find_program(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return p.exists().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// [`require`] for a program looked up on `PATH`; returns its path when present.
pub fn require_program(program: &str) -> Option<PathBuf> {
    let found = find_program(program);
    let probe = match &found {
        Some(_) => Ok(()),
        None => Err(format!("`{program}` is not on PATH")),
    };
    if require(program, probe) {
        found
    } else {
        None
    }
}

/// [`require_program`] for every program a test runs; `false` (the test skips, saying
/// which is missing) when one is not on `PATH`. Use as
/// `if !peer::require_programs(&["virsh", "xmllint"]) { return; }`.
pub fn require_programs(programs: &[&str]) -> bool {
    programs.iter().all(|p| require_program(p).is_some())
}
