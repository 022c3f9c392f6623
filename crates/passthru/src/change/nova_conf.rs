//! Planning a nova.conf edit: the rendered `[pci]` settings merged into nova.conf by
//! [`nova::merge::merge`](crate::nova::merge::merge) (the one merge `render nova
//! --write` and the Ansible module `passthru_nova` use), as a plan the executor runs
//! and journals, so `passthru undo` puts the file back byte for byte.

use crate::change::persist::desire_file;
use crate::change::plan::Plan;
use crate::host::change_facts::ChangeFacts;
use crate::host::model::Host;
use crate::host::sources::system::nova::NOVA_CONF;
use crate::nova::merge::{merge, MergeError, MergeRequest, Merged};
use crate::nova::render::Rendered;

/// The merge request for rendered settings: the alias of that name and the
/// device_spec values selecting those devices are replaced, PciPassthroughFilter added.
pub fn merge_request(alias_name: &str, r: &Rendered) -> MergeRequest {
    MergeRequest {
        alias_name: alias_name.to_string(),
        alias: r.alias.clone(),
        device_spec: r.device_spec.clone(),
        devices: r.selects.clone(),
        add_filter: true,
    }
}

/// Plans the host's `etc/nova/nova.conf` to hold the merge (see [`plan_nova_conf_at`]).
pub fn plan_nova_conf(
    host: &Host,
    facts: &ChangeFacts,
    req: &MergeRequest,
) -> Result<(Plan, Merged), MergeError> {
    plan_nova_conf_at(host, facts, NOVA_CONF, &format!("/{NOVA_CONF}"), req)
}

/// Plans nova.conf at `path` (relative to the root, read into `facts.files`) to hold
/// the merge of `req`: nothing when it already does. `shown` names the file for
/// people (`/etc/nova/nova.conf`); the notes say what moved and what was replaced.
pub fn plan_nova_conf_at(
    host: &Host,
    facts: &ChangeFacts,
    path: &str,
    shown: &str,
    req: &MergeRequest,
) -> Result<(Plan, Merged), MergeError> {
    let current = facts.file(path).map(|f| f.text.as_str()).unwrap_or("");
    let merged = merge(shown, current, host, req)?;
    let mut plan = Plan::new(format!(
        "merge [pci] alias '{}' and its device_spec into {shown}",
        req.alias_name
    ));
    if !merged.changed {
        return Ok((plan, merged));
    }
    desire_file(
        &mut plan,
        facts,
        path,
        Some(&merged.text),
        "merge the rendered [pci] device_spec and alias (checked with nova's rules: nova-compute, nova-api and nova-scheduler start with it)",
    );
    for m in &merged.moved {
        plan.notes.push(format!(
            "line {}: {} moves to {} (a deprecated name; nova reads it there too)",
            m.line, m.from, m.to
        ));
    }
    for r in &merged.replaced {
        plan.notes.push(format!(
            "line {}: {} is replaced: {}",
            r.line, r.option, r.value
        ));
    }
    if merged.added_filter {
        plan.notes
            .push("PciPassthroughFilter is added to [filter_scheduler] enabled_filters".into());
    }
    plan.notes.push(
        "restart nova-compute (and nova-api / nova-scheduler where the alias is used) for nova to read it"
            .into(),
    );
    Ok((plan, merged))
}
