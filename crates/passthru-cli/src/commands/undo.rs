//! `passthru undo [ID]`: put the host back as it was before a change set.

use crate::change::{change_root, refused, Change, ChangeArgs};
use crate::context::Ctx;
use crate::output::{emit, print_json};
use anyhow::{bail, Result};
use passthru::change::journal::{default_undo_target, plan_undo, Status, UndoOptions};
use passthru::host::root::Root;
use passthru::host::sources::journal::{read_boot_id, read_change_sets, touched_now};
use serde::Serialize;
use std::fmt::Write as _;
use std::process::ExitCode;

/// Arguments of `passthru undo`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Every change set is journaled under var/lib/passthru/journal/ID with the files it
replaced (byte for byte) and the VF counts and bindings before it. undo restores
them, re-runs the boot tools that read the restored files, and is itself a change
set. Files edited after the change set are protected unless --force.

Examples:
  passthru undo --list
  passthru undo            show the plan to undo the last change set
  passthru undo -y
  passthru undo 20261121-071659 -y")]
pub struct Args {
    /// The change set (default: the newest one that is done and not undone).
    #[arg(value_name = "ID")]
    pub id: Option<String>,
    /// List the change sets.
    #[arg(long, conflicts_with = "id")]
    pub list: bool,
    /// Common change options.
    #[command(flatten)]
    pub change: ChangeArgs,
}

#[derive(Serialize)]
struct ListEntry<'a> {
    id: &'a str,
    created: &'a str,
    status: Status,
    title: &'a str,
    command: &'a str,
    steps: usize,
    undoes: Option<&'a str>,
    undone_by: Option<&'a str>,
}

#[derive(Serialize)]
struct ListJson<'a> {
    change_sets: Vec<ListEntry<'a>>,
    warnings: &'a [String],
}

/// Runs `passthru undo`.
pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let root = change_root(ctx, "undo")?;
    let r = Root::open(&root)
        .map_err(|e| anyhow::anyhow!("cannot open the root {}: {e}", root.display()))?;
    let (sets, warnings) = read_change_sets(&r);
    if args.list {
        let entries: Vec<ListEntry> = sets
            .iter()
            .rev()
            .map(|c| ListEntry {
                id: &c.id,
                created: &c.created,
                status: c.status,
                title: &c.title,
                command: &c.command,
                steps: c.steps.len(),
                undoes: c.undoes.as_deref(),
                undone_by: c.undone_by.as_deref(),
            })
            .collect();
        if ctx.json() {
            print_json(&ListJson {
                change_sets: entries,
                warnings: &warnings,
            })?;
        } else {
            let mut s = String::new();
            if entries.is_empty() {
                s.push_str("No change sets in var/lib/passthru/journal.\n");
            }
            for e in &entries {
                let status = serde_json::to_value(e.status)?
                    .as_str()
                    .unwrap_or("")
                    .replace('_', " ");
                let extra = match (e.undoes, e.undone_by) {
                    (Some(u), _) => format!(" (undoes {u})"),
                    (_, Some(b)) => format!(" (undone by {b})"),
                    _ => String::new(),
                };
                let _ = writeln!(
                    s,
                    "{}  {}  {:<19} {}{extra}",
                    e.id, e.created, status, e.title
                );
            }
            for w in &warnings {
                let _ = writeln!(s, "warning: {w}");
            }
            emit(&s)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let target = match &args.id {
        Some(id) => match sets.iter().find(|c| c.id == *id) {
            Some(c) => c,
            None => bail!(
                "no change set '{id}' in {} (`passthru undo --list` lists them)",
                root.join(passthru::change::journal::JOURNAL_DIR).display()
            ),
        },
        None => match default_undo_target(&sets) {
            Some(c) => c,
            None => bail!("nothing to undo: no change set is done and not yet undone (`passthru undo --list`)"),
        },
    };
    match target.status {
        Status::Undone if !args.change.force => bail!(
            "change set {} is already undone (by {}); undo that one to redo it",
            target.id,
            target.undone_by.as_deref().unwrap_or("?")
        ),
        Status::RolledBack => bail!(
            "change set {} was rolled back when it failed: nothing to undo",
            target.id
        ),
        _ => {}
    }
    let host = ctx.host()?;
    let opts = UndoOptions {
        force: args.change.force,
        timeout_secs: args.change.timeout,
        commands: true,
        boot_id: read_boot_id(&r),
    };
    let plan = match plan_undo(target, host, &touched_now(&r, target), &opts) {
        Ok(p) => p,
        Err(e) => return refused(ctx, "undo", e),
    };
    let cs = target.clone();
    let mut replan = |h: &passthru::Host, _: &passthru::host::change_facts::ChangeFacts| {
        let r =
            Root::open(&root).map_err(|e| passthru::change::ChangeError::Invalid(e.to_string()))?;
        plan_undo(
            &cs,
            h,
            &touched_now(&r, &cs),
            &UndoOptions {
                force: true,
                commands: false,
                ..opts.clone()
            },
        )
    };
    Change {
        name: "undo",
        root: root.clone(),
        args: &args.change,
        undoes: Some(target.id.clone()),
    }
    .run(ctx, plan, &mut replan, &|_| Vec::new())
}
