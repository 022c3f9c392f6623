//! What every change command shares: `--yes`, `--force`, `--timeout`, showing the
//! plan, running it through the executor, and reporting the result (text or JSON).

use crate::context::Ctx;
use crate::output::{emit, print_json};
use anyhow::{bail, Result};
use passthru::change::executor::{Convergence, ExecReport, Executor, ProgressFn, Replanner};
use passthru::change::plan::Plan;
use passthru::change::{ChangeError, Refusal};
use passthru::host::change_facts::ChangeFacts;
use passthru::host::root::Root;
use passthru::host::sources::change_facts::read_change_facts;
use passthru::Host;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code of errors and refusals.
pub const EXIT_ERROR: u8 = 3;

/// Options every change command takes.
#[derive(clap::Args, Debug, Clone)]
pub struct ChangeArgs {
    /// Make the change. Without it, passthru only shows the plan.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Override the refusals that protect the host (default route or SSH interface,
    /// VFs in use or on vfio-pci, partial IOMMU groups, files edited since).
    #[arg(long)]
    pub force: bool,
    /// Seconds to wait for VFs, their interfaces, and bindings.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub timeout: u64,
}

/// The root a change command works on; snapshots and lspci text cannot be changed.
pub fn change_root(ctx: &Ctx, name: &str) -> Result<PathBuf> {
    if ctx.global.snapshot.is_some() || ctx.global.lspci.is_some() {
        bail!("`passthru {name}` changes a host: give it a root (/ by default, or --root DIR), not --snapshot or --lspci");
    }
    Ok(ctx.root())
}

/// The change facts of the root.
pub fn change_facts(root: &std::path::Path) -> Result<ChangeFacts> {
    let r = Root::open(root)
        .map_err(|e| anyhow::anyhow!("cannot open the root {}: {e}", root.display()))?;
    Ok(read_change_facts(&r))
}

/// The host file the boot unit applies (`etc/passthru/host.toml` under the root), if
/// installed; one that does not parse is said in the plan (the boot unit would fail).
pub fn installed_host_file(
    root: &std::path::Path,
    plan: &mut Plan,
) -> Option<passthru::change::hostfile::Desired> {
    use passthru::change::persist::HOST_FILE;
    let path = root.join(HOST_FILE);
    let bytes = std::fs::read(&path).ok()?;
    match passthru::change::hostfile::parse(&bytes, std::path::Path::new(&format!("/{HOST_FILE}")))
    {
        Ok(d) => Some(d),
        Err(e) => {
            plan.warnings.push(format!(
                "the installed host file does not parse, so the boot unit will fail: {e}"
            ));
            None
        }
    }
}

/// Warnings about change sets that may have left the host partly changed
/// (interrupted, or a rollback that did not complete), except the one being undone.
pub fn unfinished_warnings(root: &std::path::Path, undoing: Option<&str>) -> Vec<String> {
    let Ok(r) = Root::open(root) else {
        return Vec::new();
    };
    let (sets, _) = passthru::host::sources::journal::read_change_sets(&r);
    sets.iter()
        .filter(|c| c.unfinished() && Some(c.id.as_str()) != undoing)
        .map(|c| {
            format!(
                "change set {} ({}) {}: the host may be partly changed; `passthru undo {}` puts back what it did",
                c.id,
                c.title,
                match c.status {
                    passthru::change::journal::Status::RollbackIncomplete => "failed and its rollback did not complete",
                    passthru::change::journal::Status::InProgress => "is unfinished (interrupted, or running in another passthru now)",
                    _ => "was interrupted before it finished",
                },
                c.id
            )
        })
        .collect()
}

/// The SSH session this command runs in, if any.
pub fn ssh_connection() -> Option<String> {
    std::env::var("SSH_CONNECTION")
        .ok()
        .filter(|s| !s.trim().is_empty())
}

/// The command line, for the journal.
pub fn command_line() -> String {
    if let Some(c) = JOURNAL_COMMAND.get() {
        return c.clone();
    }
    std::env::args()
        .map(|a| passthru::change::plan::shell_word(&a))
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Serialize)]
struct ChangeJson<'a> {
    command: &'a str,
    plan: Option<&'a Plan>,
    refused: &'a [Refusal],
    applied: bool,
    result: Option<&'a ExecReport>,
    converged: Option<bool>,
    reboot_required: bool,
    skipped: &'a [String],
    summary: &'a [String],
}

/// Exit code of a change that did what it could but skipped part of the request.
pub const EXIT_SKIPPED: u8 = 1;

/// What a command adds after a successful change (the VFs now present...).
pub type Summary<'a> = dyn Fn(&Host) -> Vec<String> + 'a;

/// Everything to run one change command.
pub struct Change<'a> {
    /// The command's name (`vfs`).
    pub name: &'a str,
    /// The root.
    pub root: PathBuf,
    /// Common options.
    pub args: &'a ChangeArgs,
    /// The change set this one undoes.
    pub undoes: Option<String>,
}

/// Shows a planning error: refusals get their reasons and fixes, exit 3.
pub fn refused(ctx: &Ctx, name: &str, e: ChangeError) -> Result<ExitCode> {
    let ChangeError::Refused(reasons) = e else {
        return Err(e.into());
    };
    if ctx.json() {
        print_json(&ChangeJson {
            command: name,
            plan: None,
            refused: &reasons,
            applied: false,
            result: None,
            converged: None,
            reboot_required: false,
            skipped: &[],
            summary: &[],
        })?;
    } else {
        let mut s = format!("passthru {name}: refused, nothing was changed:\n");
        for r in &reasons {
            let _ = writeln!(s, "  - {}", r.message);
            let _ = writeln!(
                s,
                "    fix: {}{}",
                r.fix,
                if r.forceable {
                    ""
                } else {
                    " (--force does not override this)"
                }
            );
        }
        eprint!("{s}");
    }
    Ok(ExitCode::from(EXIT_ERROR))
}

/// What a change command came to, before anything is printed: the CLI prints it as
/// text or JSON, the Ansible modules as their result. One code path for both.
pub enum Outcome {
    /// Only planned: no `--yes` (check mode), or nothing to do.
    Planned {
        /// The plan (with the warnings about unfinished change sets).
        plan: Plan,
        /// Whether the host already is as planned, when there is nothing to do (or
        /// `--yes` found nothing to do).
        convergence: Option<Convergence>,
    },
    /// Executed as a change set.
    Applied {
        /// What the executor did.
        report: ExecReport,
        /// Whether a reboot is needed for the change to take effect.
        reboot_required: bool,
        /// Parts of the request left out.
        skipped: Vec<String>,
        /// What the command adds about the host afterwards.
        summary: Vec<String>,
    },
}

/// Called right before the executor starts, with the plan it runs (the CLI prints it).
pub type BeforeFn<'a> = dyn FnMut(&Plan) + 'a;

/// The command line the journal records, when it is not this process's own (the
/// Ansible modules record the module and its arguments).
static JOURNAL_COMMAND: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Records `command` as the command line of every change set this process makes.
pub fn set_journal_command(command: String) {
    let _ = JOURNAL_COMMAND.set(command);
}

impl Change<'_> {
    /// Plans only (no `--yes`), or runs the plan through the executor with `--yes`,
    /// journaled; nothing is printed. `progress` receives the executor's lines.
    pub fn perform(
        self,
        mut plan: Plan,
        replan: &mut Replanner<'_>,
        summary: &Summary<'_>,
        before: &mut BeforeFn<'_>,
        progress: Option<ProgressFn>,
    ) -> Result<Outcome> {
        plan.warnings
            .extend(unfinished_warnings(&self.root, self.undoes.as_deref()));
        // An undo with nothing left to do (a reboot ended what the change set did at
        // runtime) still goes through the executor, so the change set is marked undone
        // and not picked by the next `undo`.
        let nothing = plan.is_empty() && plan.deferred.is_empty();
        if !self.args.yes || (nothing && self.undoes.is_none()) {
            let converged = (self.args.yes || plan.is_empty()) && plan.deferred.is_empty();
            let convergence = if converged {
                let ex = Executor::open(&self.root, self.args.timeout)?;
                Some(ex.check(&plan.expect))
            } else {
                None
            };
            return Ok(Outcome::Planned { plan, convergence });
        }
        let mut ex = Executor::open(&self.root, self.args.timeout)?;
        before(&plan);
        let mut progress = progress;
        let mut cs = ex.begin(&command_line(), &plan.title)?;
        cs.undoes = self.undoes.clone();
        if let Some(p) = progress.as_mut() {
            p(&format!("Applying as change set {}:", cs.id));
        }
        if let Some(p) = progress {
            ex.on_progress(p);
        }
        let reboot_required = plan.reboot_required;
        let skipped = plan.skipped.clone();
        let report = ex.execute(&mut cs, plan, replan);
        let summary = if report.failure.is_none() {
            ex.read_host().map(|h| summary(&h)).unwrap_or_default()
        } else {
            Vec::new()
        };
        if let (true, Some(orig)) = (report.failure.is_none(), &self.undoes) {
            let (sets, _) =
                passthru::host::sources::journal::read_change_sets(&Root::open(&self.root)?);
            if let Some(mut o) = sets.into_iter().find(|c| c.id == *orig) {
                ex.mark_undone(&mut o, &cs.id)?;
            }
        }
        Ok(Outcome::Applied {
            report,
            reboot_required,
            skipped,
            summary,
        })
    }

    /// Shows the plan, or runs it with `--yes`, then reports.
    pub fn run(
        self,
        ctx: &Ctx,
        plan: Plan,
        replan: &mut Replanner<'_>,
        summary: &Summary<'_>,
    ) -> Result<ExitCode> {
        let json = ctx.json();
        let name = self.name;
        let root = self.root.clone();
        let mut before = |p: &Plan| {
            if !json {
                let _ = emit(&plan_text(&root, p));
            }
        };
        let progress: Option<ProgressFn> = (!json).then(|| {
            Box::new(|line: &str| {
                let _ = emit(&format!("{line}\n"));
            }) as ProgressFn
        });
        match self.perform(plan, replan, summary, &mut before, progress)? {
            Outcome::Planned { plan, convergence } => {
                print_planned(json, name, &root, &plan, convergence.as_ref())?;
                let ok = convergence.as_ref().map(|c| c.converged).unwrap_or(true);
                Ok(if !ok {
                    ExitCode::from(EXIT_ERROR)
                } else if !plan.skipped.is_empty() {
                    ExitCode::from(EXIT_SKIPPED)
                } else {
                    ExitCode::SUCCESS
                })
            }
            Outcome::Applied {
                report,
                reboot_required,
                skipped,
                summary,
            } => {
                let converged = report.convergence.as_ref().map(|c| c.converged);
                let ok = report.failure.is_none() && converged == Some(true);
                if json {
                    print_json(&ChangeJson {
                        command: name,
                        plan: None,
                        refused: &[],
                        applied: report.failure.is_none(),
                        result: Some(&report),
                        converged,
                        reboot_required,
                        skipped: &skipped,
                        summary: &summary,
                    })?;
                } else {
                    let mut text = render_report(&root, &report, reboot_required, &summary);
                    if ok && !skipped.is_empty() {
                        let _ = writeln!(
                            text,
                            "Skipped {} part(s) of the request (listed in the plan above): exit 1.",
                            skipped.len()
                        );
                    }
                    emit(&text)?;
                }
                Ok(if !ok {
                    ExitCode::from(EXIT_ERROR)
                } else if !skipped.is_empty() {
                    ExitCode::from(EXIT_SKIPPED)
                } else {
                    ExitCode::SUCCESS
                })
            }
        }
    }
}

/// Prints a plan that was not run (and, when there was nothing to do, whether the
/// host already is as asked).
fn print_planned(
    json: bool,
    name: &str,
    root: &std::path::Path,
    plan: &Plan,
    conv: Option<&Convergence>,
) -> Result<()> {
    if json {
        return print_json(&ChangeJson {
            command: name,
            plan: Some(plan),
            refused: &[],
            applied: false,
            result: None,
            converged: conv.map(|c| c.converged),
            reboot_required: plan.reboot_required,
            skipped: &plan.skipped,
            summary: &[],
        });
    }
    let mut s = plan_text(root, plan);
    if plan.is_empty() && plan.deferred.is_empty() {
        if let Some(c) = conv {
            if !c.converged {
                for ch in c.checks.iter().filter(|c| c.ok == Some(false)) {
                    let _ = writeln!(
                        s,
                        "  but: {} does not hold ({})",
                        ch.expect,
                        ch.detail.clone().unwrap_or_default()
                    );
                }
            }
        }
    } else {
        s.push_str("Nothing was changed: run again with --yes to apply this plan.\n");
    }
    emit(&s)
}

/// The plan as text, with the unified diff of every file it edits (read from the root
/// as it is now).
pub fn plan_text(root: &std::path::Path, plan: &Plan) -> String {
    match Root::open(root) {
        Ok(r) => plan.render_text_with(&|p| r.read(p).ok()),
        Err(_) => plan.render_text(),
    }
}

/// The report of an execution, for people.
pub fn render_report(
    root: &std::path::Path,
    r: &ExecReport,
    reboot: bool,
    summary: &[String],
) -> String {
    let mut s = String::new();
    let journal = root.join(&r.journal);
    match &r.failure {
        Some(f) => {
            if f.step > 0 {
                let _ = writeln!(s, "Failed at step {} ({}): {}", f.step, f.action, f.message);
            } else {
                let _ = writeln!(s, "Failed to {}: {}", f.action, f.message);
            }
            if let Some(x) = &f.explanation {
                let _ = writeln!(s, "  {}: {}", x.errno, x.cause);
                let _ = writeln!(s, "  what to do: {}", x.fix);
            }
            if let Some(rb) = &r.rollback {
                if rb.steps.is_empty() && rb.complete {
                    let _ = writeln!(s, "Nothing had been changed.");
                } else if rb.complete {
                    let _ = writeln!(
                        s,
                        "Rolled back: {} step(s) undone; the host is as it was before change set {}.",
                        rb.steps.len(),
                        r.change_set
                    );
                } else {
                    let _ = writeln!(
                        s,
                        "ROLLBACK INCOMPLETE: the host is partly changed. What is left:"
                    );
                    for e in &rb.errors {
                        let _ = writeln!(s, "  - {e}");
                    }
                    let _ = writeln!(
                        s,
                        "The journal is {}; try `passthru undo {}`.",
                        journal.display(),
                        r.change_set
                    );
                }
            }
        }
        None => {
            let _ = writeln!(
                s,
                "Done: change set {} (journal {}; undo with `passthru undo {}`).",
                r.change_set,
                journal.display(),
                r.change_set
            );
            for st in &r.steps {
                if st.status == passthru::change::journal::StepStatus::Skipped {
                    let _ = writeln!(
                        s,
                        "  {}: {}",
                        st.action,
                        st.note.clone().unwrap_or_default()
                    );
                }
            }
            if let Some(c) = &r.convergence {
                let _ = writeln!(
                    s,
                    "{}",
                    if c.converged {
                        "Converged: the host now is as planned."
                    } else {
                        "NOT converged: the host differs from the plan:"
                    }
                );
                for ch in &c.checks {
                    match ch.ok {
                        Some(true) => {}
                        Some(false) => {
                            let _ = writeln!(
                                s,
                                "  - {}: no ({})",
                                ch.expect,
                                ch.detail.clone().unwrap_or_default()
                            );
                        }
                        None => {
                            let _ = writeln!(
                                s,
                                "  - {}: not verified ({})",
                                ch.expect,
                                ch.detail.clone().unwrap_or_default()
                            );
                        }
                    }
                }
            }
            for l in summary {
                let _ = writeln!(s, "{l}");
            }
            if reboot {
                let _ = writeln!(
                    s,
                    "Reboot for the kernel command line / initramfs changes to take effect."
                );
            }
        }
    }
    s
}
