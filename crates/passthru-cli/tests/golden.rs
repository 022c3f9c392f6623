//! Golden text: what `ls`, `show`, `doctor`, `why` and `verify` print on the seed host
//! (the first seed's quad-port I350 with its VFs, `scenarios::i350`, and the seed's
//! guest), compared byte for byte with the files in `tests/golden/`. A change of
//! wording is then a reviewed diff: regenerate with
//!
//! ```sh
//! PASSTHRU_BLESS=1 cargo test -p passthru-cli --test golden
//! ```
//!
//! and read `git diff tests/golden` before committing (as mdevctl's test suite does).
//! Every case runs with `COLUMNS=100` and colour off, so the terminal running the
//! tests does not matter; a golden file without a case fails too.

use passthru_testsupport::{scenarios, FakeHost};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const PCI_IDS: &str = "\
8086  Intel Corporation
\t1520  I350 Ethernet Controller Virtual Function
\t1521  I350 Gigabit Network Connection
\t2f00  Xeon E7 v3/Xeon E5 v3/Core i7 DMI2
\t8d10  C610/X99 series chipset PCI Express Root Port #1
C 02  Network controller
\t00  Ethernet controller
C 06  Bridge
\t00  Host bridge
\t04  PCI bridge
";

/// (golden file name, arguments, standard input).
const CASES: &[(&str, &[&str], Option<&str>)] = &[
    ("ls.txt", &["ls"], None),
    ("ls-tree-net.txt", &["ls", "--tree", "--class", "net"], None),
    ("show-vf.txt", &["show", "07:10.7"], None),
    ("show-pf.txt", &["show", "eno4"], None),
    ("groups.txt", &["groups"], None),
    ("doctor.txt", &["doctor"], None),
    ("doctor-q.txt", &["doctor", "-q"], None),
    ("doctor-vfs.txt", &["doctor", "8086:1520"], None),
    ("why-vf.txt", &["why", "07:10.7"], None),
    ("why-igbvf-all.txt", &["why", "07:10.3", "--all"], None),
    (
        "verify-seed-guest.txt",
        &["verify", "-"],
        Some("seed-instance-00000001.xml"),
    ),
];

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden")
}

fn blessing() -> bool {
    std::env::var_os("PASSTHRU_BLESS").is_some_and(|v| v == "1")
}

/// Runs one case on the seed host; the text is stdout, then the exit code.
fn run(root: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_passthru"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env("COLUMNS", "100")
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run passthru");
    if let Some(name) = stdin {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../passthru/tests/fixtures/libvirt")
            .join(name);
        let xml = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        child.stdin.take().unwrap().write_all(&xml).unwrap();
    }
    let o = child.wait_with_output().unwrap();
    let code = o.status.code().unwrap_or(-1);
    assert!(
        code <= 2,
        "passthru {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8(o.stdout).expect("utf-8");
    let text = text.replace(&root.display().to_string(), "<ROOT>");
    format!("{text}[exit {code}]\n")
}

/// A short line diff: the first lines that differ, with their numbers.
fn diff(want: &str, got: &str) -> String {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let mut out = String::new();
    let mut shown = 0;
    for i in 0..w.len().max(g.len()) {
        let (a, b) = (w.get(i), g.get(i));
        if a != b && shown < 8 {
            shown += 1;
            out.push_str(&format!(
                "line {}:\n  golden: {}\n  now:    {}\n",
                i + 1,
                a.unwrap_or(&"<none>"),
                b.unwrap_or(&"<none>")
            ));
        }
    }
    out
}

#[test]
fn text_output_on_the_seed_host_matches_the_golden_files() {
    let t = FakeHost::new(scenarios::i350().file("usr/share/misc/pci.ids", PCI_IDS))
        .write_temp()
        .unwrap();
    let dir = golden_dir();
    let bless = blessing();
    if bless {
        std::fs::create_dir_all(&dir).unwrap();
    }
    let mut stale = Vec::new();
    for (name, args, stdin) in CASES {
        let got = run(t.path(), args, *stdin);
        let path = dir.join(name);
        if bless {
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(want) if want == got => {}
            Ok(want) => stale.push(format!(
                "{name} (passthru {}):\n{}",
                args.join(" "),
                diff(&want, &got)
            )),
            Err(e) => stale.push(format!("{name}: {e}")),
        }
    }
    assert!(
        stale.is_empty(),
        "text output differs from tests/golden/ (if the change is intended, run\n  PASSTHRU_BLESS=1 cargo test -p passthru-cli --test golden\nand review `git diff tests/golden`):\n{}",
        stale.join("\n")
    );
    // Every golden file belongs to a case (a renamed case leaves no orphan behind).
    for e in std::fs::read_dir(&dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if bless && !CASES.iter().any(|(n, ..)| *n == name) {
            std::fs::remove_file(dir.join(&name)).unwrap();
            continue;
        }
        assert!(
            CASES.iter().any(|(n, ..)| *n == name),
            "tests/golden/{name} has no case in tests/golden.rs"
        );
    }
}
