//! The passthru binary as Ansible binary modules (`passthru_facts`, `passthru_doctor`,
//! `passthru_apply`, `passthru_vfs`, `passthru_bind`, `passthru_nova`).
//!
//! Ansible copies a binary module to the host as `AnsiballZ_<name>`, writes the task's
//! arguments to a JSON file and runs `AnsiballZ_<name> ARGSFILE`; the module prints
//! one JSON object (reference: libvirt-ansible-ssh.md §4). So this binary is a module
//! when its own name is a module's (with or without the `AnsiballZ_` prefix), or when
//! its only argument is such an argument file. Each module calls the same planning
//! functions, the same executor and journal as the command line: what a module
//! changed, `passthru undo` on the host rolls back.

mod args;
mod change;
mod doctor;
mod facts;

use crate::cli::GlobalArgs;
use crate::context::Ctx;
use args::{ArgError, Args};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Every module, by name.
pub const MODULES: [&str; 6] = [
    "passthru_facts",
    "passthru_doctor",
    "passthru_apply",
    "passthru_vfs",
    "passthru_bind",
    "passthru_nova",
];

/// A module run: its name and the argument file.
#[derive(Debug, PartialEq, Eq)]
pub struct Invocation {
    /// `passthru_apply`.
    pub module: String,
    /// The argument file (`None` when the module was started without one).
    pub args: Option<PathBuf>,
}

/// The module a program name is (`AnsiballZ_passthru_vfs` and `passthru_vfs` are
/// `passthru_vfs`).
fn module_of_name(argv0: &str) -> Option<&'static str> {
    let base = Path::new(argv0).file_name()?.to_str()?;
    let base = base.strip_prefix("AnsiballZ_").unwrap_or(base);
    MODULES.into_iter().find(|m| *m == base)
}

/// The module named by an argument file (`_ansible_module_name`, maybe qualified
/// `passthru.kvm.passthru_vfs`), when `path` is one.
fn module_of_args_file(path: &Path) -> Option<&'static str> {
    // Read only what could be an argument file: a JSON object, not a huge file.
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > 16 << 20 {
        return None;
    }
    let v: Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    let name = v.get("_ansible_module_name")?.as_str()?;
    let leaf = name.rsplit('.').next()?;
    MODULES.into_iter().find(|m| *m == leaf)
}

/// Whether this process was started as a module, from its arguments.
pub fn detect(argv: &[String]) -> Option<Invocation> {
    let argv0 = argv.first()?;
    if let Some(m) = module_of_name(argv0) {
        return Some(Invocation {
            module: m.to_string(),
            args: (argv.len() == 2).then(|| PathBuf::from(&argv[1])),
        });
    }
    if argv.len() == 2 {
        let p = Path::new(&argv[1]);
        if let Some(m) = module_of_args_file(p) {
            return Some(Invocation {
                module: m.to_string(),
                args: Some(p.to_path_buf()),
            });
        }
    }
    None
}

/// A module's result: the JSON object it prints.
pub type Output = Map<String, Value>;

/// Why a module failed: its `msg`, and any other keys for the result.
#[derive(Debug)]
pub struct Failed {
    /// The message.
    pub msg: String,
    /// Other keys (`refused`, `result`...).
    pub extra: Output,
}

impl From<ArgError> for Failed {
    fn from(e: ArgError) -> Self {
        Failed {
            msg: e.0,
            extra: Map::new(),
        }
    }
}

impl From<anyhow::Error> for Failed {
    fn from(e: anyhow::Error) -> Self {
        // The whole chain, as the command line prints it, on one line.
        let mut msg = e.to_string();
        for c in e.chain().skip(1) {
            let c = c.to_string();
            if !msg.contains(&c) {
                msg.push_str(": ");
                msg.push_str(&c);
            }
        }
        Failed {
            msg,
            extra: Map::new(),
        }
    }
}

impl From<passthru::Error> for Failed {
    fn from(e: passthru::Error) -> Self {
        anyhow::Error::from(e).into()
    }
}

/// A value's JSON object (its fields become result keys).
pub fn object<T: serde::Serialize>(v: &T) -> Result<Output, Failed> {
    match serde_json::to_value(v).map_err(anyhow::Error::from)? {
        Value::Object(m) => Ok(m),
        other => {
            let mut m = Map::new();
            m.insert("value".into(), other);
            Ok(m)
        }
    }
}

/// Options every module takes.
pub const COMMON: [&str; 1] = ["root"];

/// The context a module reads the host in: `root` (default `PASSTHRU_ROOT`, as for
/// the command line, else `/`).
fn context(a: &Args) -> Result<Ctx, Failed> {
    let root = a
        .str("root")?
        .or_else(|| std::env::var("PASSTHRU_ROOT").ok())
        .filter(|r| !r.is_empty())
        .map(PathBuf::from);
    if let Some(r) = &root {
        if !r.is_dir() {
            return Err(Failed {
                msg: format!(
                    "root {} is not a directory on this host (root is the directory that holds the host's sys/, proc/ and etc/; / by default)",
                    r.display()
                ),
                extra: Map::new(),
            });
        }
    }
    Ok(Ctx::new(GlobalArgs {
        root,
        ..GlobalArgs::default()
    }))
}

fn run_module(inv: &Invocation) -> Result<Output, Failed> {
    let Some(path) = &inv.args else {
        return Err(Failed {
            msg: format!(
                "{} is an Ansible module: Ansible runs it with the path of its argument file (a JSON object) as the only argument",
                inv.module
            ),
            extra: Map::new(),
        });
    };
    let a = Args::read(&inv.module, path)?;
    match inv.module.as_str() {
        "passthru_facts" => facts::run(&a),
        "passthru_doctor" => doctor::run(&a),
        "passthru_apply" => change::apply(&a),
        "passthru_vfs" => change::vfs(&a),
        "passthru_bind" => change::bind(&a),
        "passthru_nova" => change::nova(&a),
        other => Err(Failed {
            msg: format!("unknown module {other}"),
            extra: Map::new(),
        }),
    }
}

/// Runs a module and prints its one JSON object: nothing else goes to stdout, and a
/// panic is a failed result, not a traceback.
pub fn main(inv: Invocation) -> ExitCode {
    let result = std::panic::catch_unwind(|| run_module(&inv)).unwrap_or_else(|p| {
        let what = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown".into());
        Err(Failed {
            msg: format!("{} crashed (a bug in passthru): {what}", inv.module),
            extra: Map::new(),
        })
    });
    let (out, code) = match result {
        Ok(mut out) => {
            out.entry("changed").or_insert(json!(false));
            (out, ExitCode::SUCCESS)
        }
        Err(f) => {
            let mut out = f.extra;
            out.insert("failed".into(), json!(true));
            out.entry("changed").or_insert(json!(false));
            out.insert("msg".into(), json!(f.msg));
            (out, ExitCode::from(1))
        }
    };
    let text = serde_json::to_string(&Value::Object(out)).unwrap_or_else(|e| {
        format!(r#"{{"failed": true, "msg": "cannot print the result as JSON: {e}"}}"#)
    });
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}");
    let _ = stdout.flush();
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_binary_is_a_module_under_a_module_name() {
        assert_eq!(
            detect(&argv(&[
                "/root/.ansible/tmp/x/AnsiballZ_passthru_vfs",
                "/tmp/x/args"
            ])),
            Some(Invocation {
                module: "passthru_vfs".into(),
                args: Some("/tmp/x/args".into())
            })
        );
        assert_eq!(
            detect(&argv(&["passthru_facts"])),
            Some(Invocation {
                module: "passthru_facts".into(),
                args: None
            })
        );
        assert_eq!(detect(&argv(&["passthru", "ls"])), None);
        assert_eq!(detect(&argv(&["AnsiballZ_passthru_ls", "x"])), None);
    }

    #[test]
    fn or_with_an_argument_file_as_its_only_argument() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("args");
        std::fs::write(
            &p,
            r#"{"_ansible_module_name": "passthru.kvm.passthru_doctor"}"#,
        )
        .unwrap();
        assert_eq!(
            detect(&argv(&["passthru", p.to_str().unwrap()])).map(|i| i.module),
            Some("passthru_doctor".into())
        );
        std::fs::write(&p, r#"{"something": "else"}"#).unwrap();
        assert_eq!(detect(&argv(&["passthru", p.to_str().unwrap()])), None);
    }
}
