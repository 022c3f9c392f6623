//! The change modules: `passthru_apply`, `passthru_vfs`, `passthru_bind`. Each plans
//! with the command's own planning function and runs the plan through the same
//! [`Change`] path as `passthru apply|vfs|bind --yes` (executor, journal, convergence),
//! so `passthru undo` on the host rolls a module's change back. Check mode is the
//! command without `--yes`; `--diff` shows every file and runtime value the plan sets.

use super::args::Args;
use super::{context, Failed, Output, COMMON};
use crate::change::{
    change_root, render_report, set_journal_command, Change, ChangeArgs, Outcome, Summary,
};
use crate::commands;
use crate::context::Ctx;
use passthru::change::diff::plan_diff;
use passthru::change::executor::Replanner;
use passthru::change::hostfile::{self, Desired};
use passthru::change::journal::StepStatus;
use passthru::change::plan::Plan;
use passthru::change::ChangeError;
use passthru::host::root::Root;
use serde_json::{json, Map, Value};
use std::path::Path;

/// Options every change module takes besides `root`.
const CHANGE: [&str; 2] = ["force", "timeout"];

/// The options of a change module: the common ones and its own.
fn supported<'a>(own: &[&'a str]) -> Vec<&'a str> {
    [COMMON.as_slice(), CHANGE.as_slice(), own].concat()
}

/// `--yes` unless check mode, `--force`, `--timeout`.
fn change_args(a: &Args) -> Result<ChangeArgs, Failed> {
    Ok(ChangeArgs {
        yes: !a.check_mode,
        force: a.bool("force")?.unwrap_or(false),
        timeout: a.u32("timeout")?.map(u64::from).unwrap_or(60),
    })
}

/// The journal's command line for a module run: its name and options (a host file
/// given inline is named by its size).
fn journal_command(module: &str, a: &Args) -> String {
    let mut words = vec!["ansible".to_string(), module.to_string()];
    for (k, v) in a.options() {
        let shown = match (k.as_str(), v) {
            ("content", Value::String(s)) => format!("({} bytes)", s.len()),
            ("content", _) => "(a dict)".to_string(),
            (_, Value::String(s)) => s.clone(),
            (_, other) => other.to_string(),
        };
        words.push(passthru::change::plan::shell_word(&format!("{k}={shown}")));
    }
    words.join(" ")
}

/// A refusal or a bad request, as the module's failure.
fn refusal(e: ChangeError) -> Failed {
    match e {
        ChangeError::Refused(reasons) => Failed {
            msg: format!(
                "refused, nothing was changed: {}",
                reasons
                    .iter()
                    .map(|r| format!(
                        "{} (fix: {}{})",
                        r.message,
                        r.fix,
                        if r.forceable { "; or force: true" } else { "" }
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            extra: {
                let mut m = Map::new();
                m.insert("refused".into(), json!(reasons));
                m
            },
        },
        other => anyhow::Error::from(other).into(),
    }
}

/// Ansible's `diff`: one entry per file, and one for runtime values.
fn diff_of(ctx: &Ctx, root: &Path, plan: &Plan) -> Result<Value, Failed> {
    let host = ctx.host()?;
    let r = Root::open(root).map_err(|e| Failed {
        msg: format!("cannot open the root {}: {e}", root.display()),
        extra: Map::new(),
    })?;
    Ok(Value::Array(
        plan_diff(plan, host, &|p| r.read(p).ok())
            .into_iter()
            .map(|d| {
                json!({
                    "before_header": d.path,
                    "after_header": d.path,
                    "before": d.before,
                    "after": d.after,
                })
            })
            .collect(),
    ))
}

/// Runs a planned change as the command would with (or, in check mode, without)
/// `--yes`, and turns the outcome into the module's result.
fn converge(
    a: &Args,
    module: &str,
    ctx: &Ctx,
    change: &ChangeArgs,
    planned: Result<Plan, ChangeError>,
    replan: &mut Replanner<'_>,
    summary: &Summary<'_>,
) -> Result<Output, Failed> {
    let plan = planned.map_err(refusal)?;
    let root = change_root(ctx, module)?;
    let diff = if a.diff {
        Some(diff_of(ctx, &root, &plan)?)
    } else {
        None
    };
    set_journal_command(journal_command(module, a));
    let outcome = Change {
        name: module,
        root: root.clone(),
        args: change,
        undoes: None,
    }
    .perform(plan, replan, summary, &mut |_| {}, None)?;
    let mut out = Output::new();
    if let Some(d) = diff {
        out.insert("diff".into(), d);
    }
    match outcome {
        Outcome::Planned { plan, convergence } => {
            let changed = !plan.is_empty() || !plan.deferred.is_empty();
            if let Some(c) = convergence.as_ref().filter(|c| !c.converged) {
                let not: Vec<String> = c
                    .checks
                    .iter()
                    .filter(|c| c.ok == Some(false))
                    .map(|c| {
                        format!(
                            "{} does not hold ({})",
                            c.expect,
                            c.detail.clone().unwrap_or_default()
                        )
                    })
                    .collect();
                out.insert("plan".into(), json!(plan));
                return Err(Failed {
                    msg: format!(
                        "nothing to do, yet the host is not as asked: {}",
                        not.join("; ")
                    ),
                    extra: out,
                });
            }
            out.insert("changed".into(), json!(changed));
            out.insert(
                "msg".into(),
                json!(if !changed {
                    "nothing to do: the host is already as asked".to_string()
                } else {
                    format!(
                        "check mode: would {} ({} steps)",
                        plan.title,
                        plan.steps.len()
                    )
                }),
            );
            out.insert("reboot_required".into(), json!(plan.reboot_required));
            if !plan.warnings.is_empty() {
                out.insert("warnings".into(), json!(plan.warnings));
            }
            out.insert("plan".into(), json!(plan));
            Ok(out)
        }
        Outcome::Applied {
            report,
            reboot_required,
            skipped,
            summary,
        } => {
            let done = report.steps.iter().any(|s| s.status == StepStatus::Done);
            let rolled_back = report.rollback.as_ref().is_some_and(|r| r.complete);
            out.insert("changed".into(), json!(done && !rolled_back));
            out.insert("change_set".into(), json!(report.change_set));
            out.insert("reboot_required".into(), json!(reboot_required));
            out.insert("skipped".into(), json!(skipped));
            out.insert("summary".into(), json!(summary));
            let text = render_report(&root, &report, reboot_required, &summary);
            let converged = report.convergence.as_ref().map(|c| c.converged);
            let ok = report.failure.is_none() && converged == Some(true);
            out.insert("result".into(), json!(report));
            if !ok {
                return Err(Failed {
                    msg: text.trim_end().replace('\n', " "),
                    extra: out,
                });
            }
            out.insert(
                "msg".into(),
                json!(text.lines().next().unwrap_or_default().to_string()),
            );
            Ok(out)
        }
    }
}

/// The host file of `passthru_apply`: `content` (TOML text, or a dict written as
/// YAML in the playbook), or `src` (the collection's action plugin reads it on the
/// controller and sends its text as `content`; without the plugin it is read on the
/// host).
fn desired(a: &Args) -> Result<Desired, Failed> {
    let src = a.str("src")?;
    let (bytes, name) = match (a.raw("content"), &src) {
        (Some(Value::String(s)), _) => (
            s.clone().into_bytes(),
            src.clone().unwrap_or_else(|| "content".into()),
        ),
        (Some(v @ Value::Object(_)), _) => {
            let text = toml::to_string(v).map_err(|e| Failed {
                msg: format!(
                    "content is a dict that is not a host file: {e} (docs/host-file.md: every value is a string, number, boolean, list or table; no nulls)"
                ),
                extra: Map::new(),
            })?;
            (text.into_bytes(), "content".to_string())
        }
        (Some(v), _) => {
            return Err(Failed {
                msg: format!(
                    "content must be the host file's TOML text or a dict, not {v}"
                ),
                extra: Map::new(),
            })
        }
        (None, Some(p)) => (
            std::fs::read(p).map_err(|e| Failed {
                msg: format!("cannot read the host file {p} on this host: {e}"),
                extra: Map::new(),
            })?,
            p.clone(),
        ),
        (None, None) => {
            return Err(Failed {
                msg: "give the host file: src (a path on the controller) or content (TOML text or a dict)".into(),
                extra: Map::new(),
            })
        }
    };
    Ok(hostfile::parse(&bytes, Path::new(&name)).map_err(anyhow::Error::from)?)
}

/// `passthru_apply`.
pub fn apply(a: &Args) -> Result<Output, Failed> {
    // remote_src is the action plugin's; without the plugin `src` is read on the host anyway.
    a.only(&supported(&[
        "src",
        "remote_src",
        "content",
        "boot",
        "binary",
    ]))?;
    let change = change_args(a)?;
    let boot = a.bool("boot")?.unwrap_or(false);
    let binary = a.str("binary")?;
    let desired = desired(a)?;
    let ctx = context(a)?;
    let root = change_root(&ctx, "passthru_apply")?;
    let planned = commands::apply::plan(&ctx, &root, desired, boot, binary, &change)?;
    match planned {
        Err(e) => Err(refusal(e)),
        Ok(mut p) => {
            let first = std::mem::take(&mut p.plan);
            converge(
                a,
                "passthru_apply",
                &ctx,
                &change,
                Ok(first),
                &mut |h, f| p.replan(h, f),
                &|_| Vec::new(),
            )
        }
    }
}

/// `passthru_vfs`.
pub fn vfs(a: &Args) -> Result<Output, Failed> {
    a.only(&supported(&["pf", "vfs", "autoprobe"]))?;
    let change = change_args(a)?;
    let pf = a.required("pf", a.str("pf")?)?;
    let count = a.required("vfs", a.u32("vfs")?)?;
    let autoprobe = a.bool("autoprobe")?;
    let ctx = context(a)?;
    let root = change_root(&ctx, "passthru_vfs")?;
    let (address, plan) = match commands::vfs::plan(&ctx, &root, &pf, count, autoprobe, &change)? {
        Ok(p) => p,
        Err(e) => return Err(refusal(e)),
    };
    let mut out = converge(
        a,
        "passthru_vfs",
        &ctx,
        &change,
        Ok(plan),
        &mut |_, _| Ok(Default::default()),
        &|h| commands::vfs::summary(h, &address),
    )?;
    out.insert("pf".into(), json!(address.to_string()));
    Ok(out)
}

/// `passthru_bind`.
pub fn bind(a: &Args) -> Result<Output, Failed> {
    a.only(&supported(&["devices", "driver", "group"]))?;
    let change = change_args(a)?;
    let devices = a.list("devices")?;
    if devices.is_empty() {
        return Err(Failed {
            msg: "missing required arguments: devices".into(),
            extra: Map::new(),
        });
    }
    let driver = a.required("driver", a.str("driver")?)?;
    let target = if driver == "host" {
        passthru::change::bind::BindTarget::Host
    } else {
        commands::bind::target_for(&driver)
    };
    let group = a.bool("group")?.unwrap_or(false);
    let ctx = context(a)?;
    let root = change_root(&ctx, "passthru_bind")?;
    let (moved, plan) = match commands::bind::plan(&ctx, &root, &devices, target, group, &change)? {
        Ok(p) => p,
        Err(e) => return Err(refusal(e)),
    };
    let mut out = converge(
        a,
        "passthru_bind",
        &ctx,
        &change,
        Ok(plan),
        &mut |_, _| Ok(Default::default()),
        &|h| commands::bind::summary(h, &moved),
    )?;
    out.insert(
        "devices".into(),
        json!(moved.iter().map(|d| d.to_string()).collect::<Vec<_>>()),
    );
    Ok(out)
}

/// `passthru_nova`: render nova's `[pci]` settings for devices and merge them into the
/// host's `etc/nova/nova.conf` with the merge `render nova --write` uses.
pub fn nova(a: &Args) -> Result<Output, Failed> {
    a.only(&supported(&[
        "devices",
        "alias",
        "physnet",
        "device_type",
        "numa_policy",
    ]))?;
    let change = change_args(a)?;
    let devices = a.list("devices")?;
    if devices.is_empty() {
        return Err(Failed {
            msg: "missing required arguments: devices".into(),
            extra: Map::new(),
        });
    }
    let alias = a.required("alias", a.str("alias")?)?;
    let ctx = context(a)?;
    let root = change_root(&ctx, "passthru_nova")?;
    let host = ctx.host()?;
    let facts = crate::change::change_facts(&root)?;
    let current = facts
        .file(passthru::host::sources::system::nova::NOVA_CONF)
        .map(|f| f.text.clone());
    let enabled_filters = match &current {
        Some(t) => Some(
            passthru::nova::conf::NovaConf::parse(&[("/etc/nova/nova.conf", t)])
                .map_err(|e| Failed {
                    msg: format!("{e} (fix the file first: nova cannot read it either)"),
                    extra: Map::new(),
                })?
                .enabled_filters,
        ),
        None => None,
    };
    let req = passthru::nova::render::RenderRequest {
        devices: passthru::host::resolve::resolve_all(host, &devices)?
            .iter()
            .map(|d| d.address)
            .collect(),
        alias: alias.clone(),
        physnet: a.str("physnet")?,
        device_type: a.str("device_type")?,
        numa_policy: a.str("numa_policy")?,
        count: 1,
        flavor: "FLAVOR".into(),
        enabled_filters,
        // Portable device_spec values, a PF with VFs refused: `render nova`'s defaults.
        ..Default::default()
    };
    let rendered = passthru::nova::render::render(host, &req).map_err(anyhow::Error::from)?;
    let mreq = passthru::change::nova_conf::merge_request(&alias, &rendered);
    let (plan, merged) = passthru::change::nova_conf::plan_nova_conf(host, &facts, &mreq)
        .map_err(anyhow::Error::from)?;
    let mut out = converge(
        a,
        "passthru_nova",
        &ctx,
        &change,
        Ok(plan),
        &mut |_, _| Ok(Default::default()),
        &|_| Vec::new(),
    )?;
    out.insert("rendered".into(), json!(rendered));
    out.insert("moved".into(), json!(merged.moved));
    out.insert("replaced".into(), json!(merged.replaced));
    out.insert("added_filter".into(), json!(merged.added_filter));
    Ok(out)
}
