//! Readiness checks: pure functions from host facts to findings.
//!
//! Each check lives in its own file and returns [`Finding`]s with a stable id that
//! names the problem it looks for (`iommu.kernel-disabled`): a `pass` finding means
//! the problem is absent. Every non-pass finding says what is wrong, why it matters
//! and the exact fix for this host's CPU vendor and bootloader. [`registry::CHECKS`]
//! lists every check in report order; [`run`] runs them over a [`Context`].

pub mod args;
pub mod config;
pub mod conflict;
pub mod device;
pub mod digest;
pub mod fix;
pub mod host;
pub mod nova_match;
pub mod registry;
pub mod select;
pub mod sriov;
#[cfg(test)]
mod tests;
pub mod why;

use crate::host::model::{Host, PciDevice};
use crate::pci::PciAddress;
use serde::Serialize;

pub use select::{select_targets, Selection};

/// How bad a finding is. Ordered: `Pass < Info < Warn < Fail`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The problem is absent.
    Pass,
    /// Worth knowing; nothing to fix (or cannot tell from these facts).
    Info,
    /// Works, but weaker, riskier or slower than it should be.
    Warn,
    /// Passthrough will not work (or not safely) until fixed.
    Fail,
}

impl Severity {
    /// The word printed in reports (`PASS`, `INFO`, `WARN`, `FAIL`).
    pub fn word(self) -> &'static str {
        match self {
            Severity::Pass => "PASS",
            Severity::Info => "INFO",
            Severity::Warn => "WARN",
            Severity::Fail => "FAIL",
        }
    }

    /// Exit code for a worst severity: 0 pass/info, 1 warn, 2 fail.
    pub fn exit_code(self) -> u8 {
        match self {
            Severity::Pass | Severity::Info => 0,
            Severity::Warn => 1,
            Severity::Fail => 2,
        }
    }
}

/// Where a finding is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Section {
    /// The host as a whole: CPU, firmware, kernel, modules.
    Host,
    /// One device meant for passthrough (SR-IOV findings included).
    Devices,
    /// Configuration files.
    Configuration,
    /// Other owners of VF counts and drivers (NetworkManager, driverctl, udev...).
    Owners,
}

/// One result of one check.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Finding {
    /// Stable id of the check (`iommu.kernel-disabled`).
    pub id: &'static str,
    /// Severity.
    pub severity: Severity,
    /// Report section.
    pub section: Section,
    /// The device it is about, if any.
    pub device: Option<PciAddress>,
    /// What was checked, phrased for `Checking <check> : PASS`.
    pub check: String,
    /// What was found.
    pub message: String,
    /// Why it matters (non-pass findings).
    pub why: Option<String>,
    /// The exact fix: commands or config lines to paste (non-pass findings).
    pub fix: Option<String>,
}

impl Finding {
    /// A finding with no why and no fix.
    pub fn new(
        id: &'static str,
        section: Section,
        severity: Severity,
        check: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Finding {
            id,
            severity,
            section,
            device: None,
            check: check.into(),
            message: message.into(),
            why: None,
            fix: None,
        }
    }

    /// Sets the device.
    pub fn device(mut self, d: PciAddress) -> Self {
        self.device = Some(d);
        self
    }

    /// Sets why it matters.
    pub fn why(mut self, why: impl Into<String>) -> Self {
        self.why = Some(why.into());
        self
    }

    /// Sets the fix.
    pub fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// What checks look at: the host, and the devices meant for passthrough.
#[derive(Clone, Debug)]
pub struct Context<'h> {
    /// The host.
    pub host: &'h Host,
    /// Devices meant for passthrough, sorted by address.
    pub targets: Vec<&'h PciDevice>,
    /// How the targets were chosen.
    pub selection: Selection,
}

impl<'h> Context<'h> {
    /// A context over explicit targets.
    pub fn new(host: &'h Host, targets: Vec<&'h PciDevice>, selection: Selection) -> Self {
        Context {
            host,
            targets,
            selection,
        }
    }

    /// A context whose targets are chosen as doctor does: named devices first, then
    /// nova device_spec matches, then devices on vfio-pci or with driver_override.
    pub fn doctor(host: &'h Host, named: Vec<&'h PciDevice>) -> Self {
        let (selection, targets) = select_targets(host, named);
        Context::new(host, targets, selection)
    }

    /// Whether a device is a target.
    pub fn is_target(&self, a: &PciAddress) -> bool {
        self.targets.iter().any(|d| d.address == *a)
    }
}

/// A doctor run: every finding in report order, and a summary when no device was
/// meant for passthrough.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// How the devices were chosen.
    pub selection: Selection,
    /// The devices checked.
    pub devices: Vec<PciAddress>,
    /// Findings, in registry order (host, then device by device, then configuration).
    pub findings: Vec<Finding>,
    /// A one-paragraph overview of the host's devices when none was meant for
    /// passthrough.
    pub summary: Option<String>,
}

impl Report {
    /// The worst severity found (`Pass` when there is nothing).
    pub fn worst(&self) -> Severity {
        self.findings
            .iter()
            .map(|f| f.severity)
            .max()
            .unwrap_or(Severity::Pass)
    }

    /// 0 all pass, 1 warnings, 2 failures.
    pub fn exit_code(&self) -> u8 {
        self.worst().exit_code()
    }
}

/// Runs every registered check. Device findings are ordered device by device.
pub fn run(ctx: &Context) -> Report {
    let mut host_f = Vec::new();
    let mut dev_f = Vec::new();
    let mut conf_f = Vec::new();
    let mut owner_f = Vec::new();
    for c in registry::CHECKS {
        for f in (c.run)(ctx) {
            match f.section {
                Section::Host => host_f.push(f),
                Section::Devices => dev_f.push(f),
                Section::Configuration => conf_f.push(f),
                Section::Owners => owner_f.push(f),
            }
        }
    }
    // Stable sort: within a device, registry order is kept.
    dev_f.sort_by_key(|f| f.device);
    let mut findings = host_f;
    findings.extend(dev_f);
    findings.extend(conf_f);
    findings.extend(owner_f);
    Report {
        selection: ctx.selection,
        devices: ctx.targets.iter().map(|d| d.address).collect(),
        summary: (ctx.selection == Selection::None).then(|| select::summary(ctx.host)),
        findings,
    }
}

/// Describes a device for messages: `0000:02:00.0 (Serial Attached SCSI controller:
/// SAS3008, mpt3sas)`.
pub fn describe(d: &PciDevice) -> String {
    let driver = d.driver.as_deref().unwrap_or("no driver");
    format!(
        "{} ({}: {} [{}], {driver})",
        d.address,
        d.class_label(),
        d.label(),
        d.id_pair()
    )
}
