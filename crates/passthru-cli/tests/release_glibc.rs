//! The binary `--host` uploads must run on the compute nodes operators have (glibc
//! 2.28: RHEL 8, Ubuntu 20.04): scripts/check-glibc.sh reads the highest GLIBC_
//! symbol version a binary needs (objdump, a real peer) and refuses one above the
//! limit. Checked on this build (dynamic, Debian's glibc), and on the static release
//! build of scripts/release-build.sh when it has been built.

use passthru_testsupport::peer;
use std::path::Path;
use std::process::Command;

fn check(bin: &Path, limit: &str) -> (bool, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/check-glibc.sh");
    let o = Command::new(script).arg(bin).arg(limit).output().unwrap();
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

#[test]
fn the_glibc_check_reads_the_highest_symbol_version() {
    if peer::require_program("objdump").is_none() {
        return;
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_passthru"));
    // This debug build links Debian 12's glibc: it needs some GLIBC_2.x above 2.0.
    let (ok, out) = check(bin, "2.0");
    assert!(!ok, "{out}");
    let needs = out
        .split("needs GLIBC_")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or_else(|| panic!("{out}"))
        .to_string();
    // At exactly that limit it passes, one minor version below it fails.
    let (ok, out) = check(bin, &needs);
    assert!(
        ok && out.contains(&format!("highest GLIBC_ symbol version {needs}")),
        "{out}"
    );
    let (major, minor) = needs.split_once('.').unwrap();
    let below = format!("{major}.{}", minor.parse::<u32>().unwrap() - 1);
    assert!(!check(bin, &below).0);

    // The static release binary, when built (scripts/release-build.sh): no glibc at all.
    let release = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/x86_64-unknown-linux-musl/release/passthru");
    if release.exists() {
        let (ok, out) = check(&release, "2.28");
        assert!(ok && out.contains("static"), "{out}");
    } else {
        eprintln!(
            "note: {} is not built (scripts/release-build.sh); checked this build only",
            release.display()
        );
    }
}
