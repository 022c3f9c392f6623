//! `passthru completions` and `passthru man` come from the one clap definition: the
//! real bash accepts the script, the real man (man-db + groff) renders the pages
//! without a warning, and both know every command.

use passthru_testsupport::peer;
use std::process::{Command, Output, Stdio};

fn passthru(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_passthru"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run passthru")
}

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).expect("utf-8")
}

/// The top-level commands, as `passthru --help` lists them.
fn commands() -> Vec<String> {
    let help = stdout(&passthru(&["--help"]));
    let list = help
        .split("Commands:\n")
        .nth(1)
        .expect("--help lists the commands");
    list.lines()
        .take_while(|l| l.starts_with("  "))
        // A wrapped description continues on a line indented further.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_accepts_the_completion_script_and_it_completes_every_command() {
    let Some(bash) = peer::require_program("bash") else {
        return;
    };
    let script = stdout(&passthru(&["completions", "bash"]));
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("passthru.bash");
    std::fs::write(&f, &script).unwrap();
    let o = Command::new(&bash).arg("-n").arg(&f).output().unwrap();
    assert!(
        o.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Loaded into a real bash (called as bash calls it: command, word, previous word),
    // the function completes `passthru d` to doctor and
    // `passthru doctor --q` to --quiet.
    let complete = |words: &str| -> String {
        let cmd = format!(
            "source {f}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}}-1)); COMP_LINE='{words}'; COMP_POINT=${{#COMP_LINE}}; _passthru passthru \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            f = f.display()
        );
        let o = Command::new(&bash).args(["-c", &cmd]).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let top = complete("passthru ''");
    for c in commands() {
        assert!(top.lines().any(|l| l == c), "{c} not completed: {top}");
    }
    assert_eq!(complete("passthru doc").trim(), "doctor");
    assert!(complete("passthru doctor --q")
        .lines()
        .any(|l| l == "--quiet"));
}

#[test]
fn zsh_and_fish_scripts_name_every_command() {
    let cmds = commands();
    assert!(cmds.len() >= 14, "{cmds:?}");
    for shell in ["zsh", "fish"] {
        let script = stdout(&passthru(&["completions", shell]));
        for c in &cmds {
            assert!(script.contains(c.as_str()), "{shell}: {c} missing");
        }
    }
    let o = passthru(&["completions", "tcsh-or-so"]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "an unknown shell is a usage error"
    );
}

/// Renders a roff page with the real man; returns the text.
fn man_render(man: &std::path::Path, page: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("page.1");
    std::fs::write(&f, page).unwrap();
    let o = Command::new(man)
        .arg("-l")
        .arg(&f)
        .env("MANWIDTH", "80")
        // groff's warnings (a bad request, an unknown escape) go to stderr.
        .env("MANROFFOPT", "-ww")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "man -l: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.trim().is_empty(), "man -l warned: {err}");
    // Bold and underline come as overstrikes (`N\bN`, `_\bx`): keep the last letter.
    let raw = String::from_utf8_lossy(&o.stdout);
    let mut text = String::new();
    for c in raw.chars() {
        if c == '\u{8}' {
            text.pop();
        } else {
            text.push(c);
        }
    }
    text
}

#[test]
fn man_renders_the_page_and_a_page_per_command() {
    let Some(man) = peer::require_program("man") else {
        return;
    };
    let text = man_render(&man, &stdout(&passthru(&["man"])));
    assert!(text.contains("passthru(1)"), "{text}");
    for c in commands() {
        assert!(
            text.contains(&format!("passthru-{c}(1)")),
            "{c} not in the page"
        );
    }
    // The exit codes of after_help are on the page.
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("Exit codes: 0 all good"), "{text}");
    let doctor = man_render(&man, &stdout(&passthru(&["man", "doctor"])));
    assert!(doctor.contains("passthru-doctor(1)"));
    assert!(doctor.contains("--quiet"), "{doctor}");
    assert!(
        doctor.contains("--root"),
        "global options are on every page"
    );
    let nova = man_render(&man, &stdout(&passthru(&["man", "render", "nova"])));
    assert!(nova.contains("--alias"), "{nova}");
    let o = passthru(&["man", "nosuch"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("pages exist for: ls, show"));
}
