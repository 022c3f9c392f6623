//! `passthru_facts`: `ansible_facts.passthru`, the host's passthrough essentials
//! (`full: true` adds the whole snapshot, as `passthru snapshot` writes it).

use super::args::Args;
use super::{context, Failed, Output, COMMON};
use passthru::inventory::essentials::Essentials;
use serde_json::json;

/// Runs the module.
pub fn run(a: &Args) -> Result<Output, Failed> {
    a.only(&[COMMON.as_slice(), &["full"]].concat())?;
    let full = a.bool("full")?.unwrap_or(false);
    let ctx = context(a)?;
    let host = ctx.host()?;
    // nova.conf as `nova check` reads it; one that does not parse is an error of its own.
    let mut warnings = Vec::new();
    let nova = host.system.nova.as_ref().and_then(|f| {
        match passthru::nova::conf::NovaConf::from_facts(f) {
            Ok(c) => Some(c),
            Err(e) => {
                warnings.push(e.to_string());
                None
            }
        }
    });
    let mut facts =
        serde_json::to_value(Essentials::of(host, nova.as_ref())).map_err(anyhow::Error::from)?;
    if full {
        facts["snapshot"] = serde_json::to_value(host).map_err(anyhow::Error::from)?;
    }
    warnings.extend(host.warnings.iter().cloned());
    let mut out = Output::new();
    out.insert("ansible_facts".into(), json!({ "passthru": facts }));
    if !warnings.is_empty() {
        out.insert("warnings".into(), json!(warnings));
    }
    Ok(out)
}
