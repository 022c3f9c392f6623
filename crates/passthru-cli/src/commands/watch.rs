//! `passthru watch -- CMD...` (smog's watcher): run a long command here or on
//! `--host` targets, stream its output live (each line prefixed with its host), and
//! stop it (its whole process group, remote ones too) as soon as a `--fail-on` line
//! appears: exit 2 with that line, instead of learning hours later that it failed
//! in the first minutes. Otherwise the command's own exit code.

use crate::cli::GlobalArgs;
use crate::fleet::targets;
use anyhow::{Context as _, Result};
use passthru::remote::ssh::{quote_words, SshOptions};
use passthru::remote::Target;
use regex::Regex;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Arguments of `passthru watch`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Exit codes: the command's own; 2 when a --fail-on line appeared (the command is
stopped at once); 0 when a --done-on line appeared; 3 on --timeout or when the host
cannot be reached.

Examples:
  passthru watch --fail-on 'ERROR|Traceback' -- ./install.sh --all
  passthru --host compute-3 watch --fail-on 'No valid host' --log run.log -- tail -F /var/log/nova/nova-compute.log")]
pub struct Args {
    /// Stop and exit 2 as soon as a line matches this regular expression (repeatable).
    #[arg(long = "fail-on", value_name = "REGEX")]
    pub fail_on: Vec<String>,
    /// Stop and exit 0 as soon as a line matches this regular expression.
    #[arg(long = "done-on", value_name = "REGEX")]
    pub done_on: Option<String>,
    /// Stop and exit 3 after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Also write every line (with its host) to this file.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// The command and its arguments (after `--`).
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<String>,
}

/// Why a watch ended.
#[derive(Debug)]
enum End {
    Exited(Option<i32>),
    Failed(String),
    Done(String),
    Timeout,
}

struct Rules {
    fail: Vec<Regex>,
    done: Option<Regex>,
    deadline: Option<Instant>,
}

type Log = Arc<Mutex<Option<std::fs::File>>>;

/// Runs `passthru watch`.
pub fn run(global: &GlobalArgs, args: Args) -> Result<ExitCode> {
    let fail = args
        .fail_on
        .iter()
        .map(|r| {
            Regex::new(r).with_context(|| format!("--fail-on '{r}' is not a regular expression"))
        })
        .collect::<Result<Vec<_>>>()?;
    let done = args
        .done_on
        .as_deref()
        .map(|r| {
            Regex::new(r).with_context(|| format!("--done-on '{r}' is not a regular expression"))
        })
        .transpose()?;
    let log: Log = Arc::new(Mutex::new(match &args.log {
        Some(p) => Some(
            std::fs::File::create(p)
                .with_context(|| format!("cannot write the log {}", p.display()))?,
        ),
        None => None,
    }));
    let rules = Rules {
        fail,
        done,
        deadline: args
            .timeout
            .map(|s| Instant::now() + Duration::from_secs(s)),
    };
    let hosts = if global.fleet.active() {
        targets(&global.fleet)?
    } else {
        Vec::new()
    };
    let ssh = SshOptions {
        config_file: global.fleet.ssh_config.clone(),
        timeout: Duration::from_secs(global.fleet.host_timeout.max(1)),
    };
    let codes: Vec<u8> = if hosts.is_empty() {
        vec![watch_one(None, &ssh, &args.command, &rules, &log)]
    } else {
        std::thread::scope(|s| {
            let hs: Vec<_> = hosts
                .iter()
                .map(|t| s.spawn(|| watch_one(Some(t), &ssh, &args.command, &rules, &log)))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap_or(3)).collect()
        })
    };
    Ok(ExitCode::from(codes.into_iter().max().unwrap_or(0)))
}

/// Watches one command (local, or on one target); returns its exit code.
fn watch_one(
    target: Option<&Target>,
    ssh: &SshOptions,
    cmd: &[String],
    rules: &Rules,
    log: &Log,
) -> u8 {
    let prefix = target.map_or(String::new(), |t| format!("{t}: "));
    let spawned = match target {
        None => {
            use std::os::unix::process::CommandExt;
            Command::new(&cmd[0])
                .args(&cmd[1..])
                .process_group(0)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
        }
        Some(t) => {
            // The remote shell says its process group, then becomes the command; the
            // group is what a stop kills there.
            let script = format!(
                "read -r _ _ _ _ g _ < /proc/$$/stat; echo \"passthru-watch: pgid $g\"; exec {} 2>&1",
                quote_words(cmd)
            );
            ssh.command(t, &script).spawn()
        }
    };
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            eprintln!("passthru watch: {prefix}cannot run {}: {e}", cmd[0]);
            return 3;
        }
    };
    drop(child.stdin.take());
    let (tx, rx) = mpsc::channel::<String>();
    let mut readers = Vec::new();
    for r in [
        child
            .stdout
            .take()
            .map(|o| Box::new(o) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|e| Box::new(e) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let tx = tx.clone();
        readers.push(std::thread::spawn(move || {
            for line in BufReader::new(r).lines() {
                let Ok(l) = line else { break };
                if tx.send(l).is_err() {
                    break;
                }
            }
        }));
    }
    drop(tx);
    let mut remote_pgid: Option<String> = None;
    let end = loop {
        if rules.deadline.is_some_and(|d| Instant::now() >= d) {
            break End::Timeout;
        }
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => {
                if target.is_some() && remote_pgid.is_none() {
                    if let Some(g) = line.strip_prefix("passthru-watch: pgid ") {
                        remote_pgid = Some(g.trim().to_string());
                        continue;
                    }
                }
                let shown = format!("{prefix}{line}");
                println!("{shown}");
                if let Ok(mut f) = log.lock() {
                    if let Some(f) = f.as_mut() {
                        let _ = writeln!(f, "{shown}");
                    }
                }
                if rules.fail.iter().any(|r| r.is_match(&line)) {
                    break End::Failed(line);
                }
                if rules.done.as_ref().is_some_and(|r| r.is_match(&line)) {
                    break End::Done(line);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                break End::Exited(child.wait().ok().and_then(|s| s.code()));
            }
        }
    };
    if !matches!(end, End::Exited(_)) {
        stop(&mut child, target, ssh, remote_pgid.as_deref());
    }
    for r in readers {
        let _ = r.join();
    }
    match end {
        End::Exited(Some(255)) if target.is_some() => {
            eprintln!(
                "passthru watch: {prefix}ssh failed (exit 255): the host could not be reached"
            );
            3
        }
        End::Exited(code) => code.map_or(3, |c| c.clamp(0, 255) as u8),
        End::Failed(line) => {
            eprintln!("passthru watch: {prefix}stopped on a --fail-on line: {line}");
            2
        }
        End::Done(line) => {
            eprintln!("passthru watch: {prefix}done (--done-on): {line}");
            0
        }
        End::Timeout => {
            eprintln!("passthru watch: {prefix}stopped after --timeout");
            3
        }
    }
}

/// Stops the watched command: its whole process group (SIGTERM, SIGKILL 2 s later).
fn stop(child: &mut Child, target: Option<&Target>, ssh: &SshOptions, pgid: Option<&str>) {
    match (target, pgid) {
        (None, _) => {
            let pg = rustix::process::Pid::from_raw(child.id() as i32);
            if let Some(pg) = pg {
                let _ = rustix::process::kill_process_group(pg, rustix::process::Signal::TERM);
                let deadline = Instant::now() + Duration::from_secs(2);
                while Instant::now() < deadline {
                    if let Ok(Some(_)) = child.try_wait() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = rustix::process::kill_process_group(pg, rustix::process::Signal::KILL);
            }
        }
        (Some(t), Some(g)) if g.chars().all(|c| c.is_ascii_digit()) && g != "0" && g != "1" => {
            let script = format!(
                "kill -TERM -{g} 2>/dev/null; sleep 2; kill -KILL -{g} 2>/dev/null; exit 0"
            );
            let _ = ssh.run(t, &script);
        }
        _ => {}
    }
    let _ = child.kill();
    let _ = child.wait();
}
