//! `passthru groups`: IOMMU groups and whether each is safe to assign whole.

use crate::context::Ctx;
use crate::output::{emit, print_json, print_warnings, TextTable};
use anyhow::Result;
use passthru::inventory::groups::{groups, GroupView};
use serde::Serialize;
use std::fmt::Write as _;
use std::process::ExitCode;

/// Arguments of `passthru groups`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only groups that are not isolated.
    #[arg(long)]
    pub shared: bool,
}

#[derive(Serialize)]
struct GroupsJson {
    iommu_enabled: bool,
    groups: Vec<GroupView>,
}

/// Runs `passthru groups`.
pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let host = ctx.inventory_host()?;
    print_warnings(host);
    let mut gs = groups(host);
    if args.shared {
        gs.retain(|g| !g.isolated);
    }
    if ctx.json() {
        print_json(&GroupsJson {
            iommu_enabled: !host.iommu_groups.is_empty(),
            groups: gs,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    if host.iommu_groups.is_empty() {
        emit("No IOMMU groups: the IOMMU is off or absent on this host, so no device can be assigned.\nRun `passthru doctor` for the cause and the fix.\n")?;
        return Ok(ExitCode::SUCCESS);
    }
    if gs.is_empty() {
        emit("Every IOMMU group is isolated: each can be assigned whole.\n")?;
        return Ok(ExitCode::SUCCESS);
    }
    // Members line up across groups: one table, its rows under their groups' lines.
    let mut t = TextTable::new(["", "", "", ""]);
    for m in gs.iter().flat_map(|g| &g.members) {
        t.row(vec![
            m.address.to_string(),
            format!("[{}]", m.ids),
            m.label.clone(),
            [
                m.driver.as_ref().map(|d| format!("({d})")),
                m.bridge.then(|| "bridge".to_string()),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" "),
        ]);
    }
    let mut rows = t.body_lines(usize::MAX).into_iter();
    let mut s = String::new();
    for g in &gs {
        let verdict = if g.isolated {
            "isolated".to_string()
        } else {
            format!(
                "NOT isolated: {} devices share it",
                g.endpoint_devices.len()
            )
        };
        let _ = writeln!(s, "IOMMU group {} ({verdict})", g.number);
        for row in rows.by_ref().take(g.members.len()) {
            let _ = writeln!(s, "  {row}");
        }
    }
    emit(&s)?;
    Ok(ExitCode::SUCCESS)
}
