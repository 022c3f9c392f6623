//! `render nova --write`: the plan that writes a nova.conf merged by
//! [`nova::merge`](crate::nova::merge) (nothing when the file already says it),
//! so the write is journaled and undone like every other change.

use crate::change::persist::desire_file;
use crate::change::plan::Plan;
use crate::host::change_facts::ChangeFacts;
use crate::host::Host;
use crate::nova::merge::{merge, MergeError, MergeRequest, Merged};

/// Plans nova.conf at `path` (relative to the root, read into `facts.files`) to
/// hold the merge of `req`. `shown` names the file for people (`/etc/nova/nova.conf`).
pub fn plan_nova_conf(
    host: &Host,
    facts: &ChangeFacts,
    path: &str,
    shown: &str,
    req: &MergeRequest,
) -> Result<(Plan, Merged), MergeError> {
    let current = facts.file(path).map(|f| f.text.as_str()).unwrap_or("");
    let merged = merge(shown, current, host, req)?;
    let mut plan = Plan::new(format!("nova.conf {shown}: [pci] alias {}", req.alias_name));
    let notes = if merged.changed {
        &merged.moved[..]
    } else {
        &[]
    };
    for m in notes {
        plan.notes.push(format!(
            "{} (line {}) moves to {} (a deprecated name; nova reads it there too)",
            m.from, m.line, m.to
        ));
    }
    for r in merged.replaced.iter().filter(|_| merged.changed) {
        plan.notes.push(format!(
            "{} (line {}) is replaced: {}",
            r.option, r.line, r.value
        ));
    }
    if merged.added_filter {
        plan.notes
            .push("PciPassthroughFilter is added to [filter_scheduler] enabled_filters".into());
    }
    desire_file(
        &mut plan,
        facts,
        path,
        Some(&merged.text),
        "merge the rendered [pci] device_spec and alias (checked with nova's rules: nova-compute, nova-api and nova-scheduler start with it)",
    );
    if !plan.is_empty() {
        plan.notes.push(
            "restart nova-compute (and nova-api, nova-scheduler where this file is theirs) to use it"
                .into(),
        );
    }
    Ok((plan, merged))
}
