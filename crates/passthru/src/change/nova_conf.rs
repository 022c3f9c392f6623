//! Planning a nova.conf edit: the rendered `[pci]` settings merged into the host's
//! `etc/nova/nova.conf` by [`nova::merge::merge`](crate::nova::merge::merge) (the one
//! merge `render nova --write` uses), as a plan the executor runs and journals, so
//! `passthru undo` puts the file back byte for byte.

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

/// Plans writing the merged nova.conf (nothing when it already holds the settings),
/// with the merge's account of what moved and what was replaced.
pub fn plan_nova_conf(
    host: &Host,
    facts: &ChangeFacts,
    req: &MergeRequest,
) -> Result<(Plan, Merged), MergeError> {
    let current = facts.file(NOVA_CONF).map(|f| f.text.as_str()).unwrap_or("");
    let merged = merge(&format!("/{NOVA_CONF}"), current, host, req)?;
    let mut plan = Plan::new(format!(
        "merge [pci] alias '{}' and its device_spec into /{NOVA_CONF}",
        req.alias_name
    ));
    if merged.changed
        && desire_file(
            &mut plan,
            facts,
            NOVA_CONF,
            Some(&merged.text),
            "nova reads [pci] device_spec and alias from here",
        )
    {
        plan.notes.push(
            "restart nova-compute (and nova-api / nova-scheduler where the alias is used) for nova to read it"
                .into(),
        );
    }
    for m in &merged.moved {
        plan.notes
            .push(format!("line {}: {} moves to {}", m.line, m.from, m.to));
    }
    Ok((plan, merged))
}
