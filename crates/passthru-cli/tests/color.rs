//! Colour where people look: FAIL red, WARN yellow, PASS green, on a terminal only
//! (a real pseudo-terminal from util-linux `script`), off with NO_COLOR or `--color
//! never`, never in pipes unless `--color always`, never in `--json`. Coloured text
//! is the plain text plus escapes: the columns stay where they were.

use passthru_testsupport::{peer, scenarios, FakeHost};
use std::path::Path;
use std::process::{Command, Stdio};

const RED_FAIL: &str = "\u{1b}[1m\u{1b}[31mFAIL\u{1b}[0m";
const YELLOW_WARN: &str = "\u{1b}[1m\u{1b}[33mWARN\u{1b}[0m";
const GREEN_PASS: &str = "\u{1b}[1m\u{1b}[32mPASS\u{1b}[0m";

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_passthru")
}

/// Runs passthru with stdout on a pipe.
fn piped(root: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let o = Command::new(bin())
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    String::from_utf8(o.stdout).unwrap()
}

/// Runs passthru with stdout on a pseudo-terminal (`script`), TERM=xterm.
fn on_terminal(script: &Path, root: &Path, args: &str, env: &[(&str, &str)]) -> String {
    let cmd = format!("{} --root {} {args}", bin(), root.display());
    let o = Command::new(script)
        .args(["-qec", &cmd, "/dev/null"])
        .env("TERM", "xterm")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CI")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    String::from_utf8(o.stdout).unwrap().replace("\r\n", "\n")
}

fn strip(s: &str) -> String {
    let mut out = String::new();
    let mut esc = false;
    for c in s.chars() {
        match (esc, c) {
            (false, '\u{1b}') => esc = true,
            (true, 'm') => esc = false,
            (true, _) => {}
            (false, c) => out.push(c),
        }
    }
    out
}

#[test]
fn severities_are_coloured_on_a_terminal_only() {
    let t = FakeHost::new(scenarios::i350()).write_temp().unwrap();
    let root = t.path();
    // The seed host: /dev/kvm missing (FAIL), PFs without carrier (WARN), passes.
    let plain = piped(root, &["doctor"], &[]);
    assert!(!plain.contains('\u{1b}'), "a pipe gets no colour:\n{plain}");
    assert!(plain.contains(": FAIL (") && plain.contains(": WARN (") && plain.contains(": PASS ("));
    let forced = piped(root, &["--color", "always", "doctor"], &[]);
    for want in [RED_FAIL, YELLOW_WARN, GREEN_PASS] {
        assert!(forced.contains(want), "{want:?} in:\n{forced}");
    }
    assert_eq!(
        strip(&forced),
        plain,
        "colour adds escapes and nothing else"
    );
    let json = piped(root, &["--color", "always", "--json", "doctor"], &[]);
    assert!(!json.contains('\u{1b}'));
    serde_json::from_str::<serde_json::Value>(&json).expect("JSON stays JSON");
    let never = piped(
        root,
        &["--color", "never", "doctor"],
        &[("CLICOLOR_FORCE", "1")],
    );
    assert_eq!(never, plain);

    let Some(script) = peer::require_program("script") else {
        return;
    };
    let tty = on_terminal(&script, root, "doctor", &[]);
    assert!(tty.contains(RED_FAIL) && tty.contains(GREEN_PASS), "{tty}");
    assert_eq!(strip(&tty), plain);
    let no_color = on_terminal(&script, root, "doctor", &[("NO_COLOR", "1")]);
    assert!(!no_color.contains('\u{1b}'), "NO_COLOR:\n{no_color}");
    let never = on_terminal(&script, root, "--color never doctor", &[]);
    assert!(!never.contains('\u{1b}'));
    let json = on_terminal(&script, root, "--json doctor", &[]);
    assert!(!json.contains('\u{1b}'), "--json on a terminal:\n{json}");
    // why and verify colour their verdicts the same way.
    let why = on_terminal(&script, root, "why 07:10.7", &[]);
    assert!(why.contains("\u{1b}[1m\u{1b}[31mBROKEN\u{1b}[0m"), "{why}");
}
