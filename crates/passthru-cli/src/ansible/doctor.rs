//! `passthru_doctor`: the findings of `passthru doctor --json`; `fail_on` decides
//! whether the task fails. It never changes anything.

use super::args::Args;
use super::{context, object, Failed, Output, COMMON};
use crate::commands::doctor::{summary_line, DoctorJson};
use passthru::checks::{self, Context};
use passthru::host::resolve_all;
use serde_json::json;

/// Runs the module.
pub fn run(a: &Args) -> Result<Output, Failed> {
    a.only(&[COMMON.as_slice(), &["devices", "fail_on"]].concat())?;
    let devices = a.list("devices")?;
    let fail_on = a.choice("fail_on", &["fail", "warn", "never"], "fail")?;
    let ctx = context(a)?;
    let host = ctx.checks_host()?;
    let named = resolve_all(host, &devices)?;
    let report = checks::run(&Context::doctor(host, named));
    let shape = DoctorJson::of(&report);
    let c = &shape.counts;
    let failed = match fail_on.as_str() {
        "fail" => c.fail > 0,
        "warn" => c.fail + c.warn > 0,
        _ => false,
    };
    let msg = format!("doctor: {}", summary_line(c));
    let mut out = object(&shape)?;
    if failed {
        return Err(Failed { msg, extra: out });
    }
    out.insert("msg".into(), json!(msg));
    Ok(out)
}
