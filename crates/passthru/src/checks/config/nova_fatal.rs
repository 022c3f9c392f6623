//! `config.nova-fatal`: nothing in nova.conf stops nova-compute, nova-api or
//! nova-scheduler. The decision is `nova check`'s own
//! ([`Report::fatal`](crate::nova::check::Report::fatal)), so doctor, why and
//! `nova check` report the same findings.

use crate::checks::registry::Check;
use crate::checks::{Context, Finding, Section, Severity};
use crate::nova::check::{check as nova_check, CheckInput};
use crate::nova::conf::NovaConf;

/// Registry entry.
pub const CHECK: Check = Check {
    id: ID,
    section: Section::Configuration,
    summary: "nova.conf loads: nothing in it stops nova-compute, nova-api or nova-scheduler",
    run: check,
};

/// Stable id.
pub const ID: &str = "config.nova-fatal";
const LABEL: &str = "nova.conf loads in nova";

/// The check.
pub fn check(ctx: &Context) -> Vec<Finding> {
    let h = ctx.host;
    let Some(file) = &h.system.nova else {
        return Vec::new();
    };
    let why =
        "a nova service that does not start offers no device: every server asking for one fails";
    let conf = match NovaConf::from_facts(file) {
        Ok(c) => c,
        Err(e) => {
            return vec![Finding::new(
                ID,
                Section::Configuration,
                Severity::Fail,
                LABEL,
                format!("nova-compute, nova-api and nova-scheduler do not start: {e}"),
            )
            .why(why)
            .fix(format!(
                "Fix line {} of /{} (oslo.config cannot read the file), then restart the nova services",
                e.loc.line, file.path
            ))];
        }
    };
    let report = nova_check(&CheckInput {
        host: h,
        conf: &conf,
        flavors: &[],
    });
    let fatal = report.fatal();
    if fatal.is_empty() {
        return vec![Finding::new(
            ID,
            Section::Configuration,
            Severity::Pass,
            LABEL,
            format!("/{}: nothing in it stops a nova service", file.path),
        )];
    }
    fatal
        .iter()
        .map(|f| {
            let services: Vec<String> = f.services.iter().map(|s| s.to_string()).collect();
            Finding::new(ID, Section::Configuration, Severity::Fail, LABEL, f.to_string())
                .why(why)
                .fix(format!(
                    "`passthru nova check` shows every value nova rejects and why; fix {}, then restart {}",
                    f.loc
                        .as_ref()
                        .map_or_else(|| format!("/{}", file.path), |l| l.to_string()),
                    services.join(" and ")
                ))
        })
        .collect()
}
