//! Changing a host safely: plans, the executor, the journal and undo.
//!
//! Data flows one way: planners ([`vfs`], [`bind`], [`kernel_args`], [`apply`], [`nova_conf`],
//! [`journal::plan_undo`]) are pure functions of host facts ([`Host`](crate::Host) and
//! [`ChangeFacts`](crate::host::change_facts::ChangeFacts)) and a desired state; they
//! return a [`plan::Plan`] or refuse with [`Refusal`]s. [`safety`] holds the refusals
//! that protect the host itself. The [`executor`] is the only code that writes: it
//! journals each step with what it replaced under `var/lib/passthru/journal/ID/`, rolls
//! the change set back if a step fails, then re-reads the host and reports whether it
//! converged. [`errno`] turns the kernel's answers into causes and fixes.

pub mod apply;
pub mod bind;
pub mod diff;
pub mod errno;
pub mod executor;
pub mod hostfile;
pub mod journal;
pub mod kernel_args;
pub mod nova_conf;
pub mod persist;
pub mod plan;
pub mod safety;
pub mod vfs;

use crate::pci::PciAddress;
use serde::Serialize;

/// Why a change is refused. Forceable refusals become warnings under `--force`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// The device it is about, if any.
    pub device: Option<PciAddress>,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub fix: String,
    /// Whether `--force` overrides it.
    pub forceable: bool,
}

impl Refusal {
    /// A refusal `--force` can override.
    pub fn forceable(device: Option<PciAddress>, message: String, fix: String) -> Self {
        Refusal {
            device,
            message,
            fix,
            forceable: true,
        }
    }

    /// A refusal nothing overrides.
    pub fn hard(device: Option<PciAddress>, message: String, fix: String) -> Self {
        Refusal {
            device,
            message,
            fix,
            forceable: false,
        }
    }
}

/// Errors of planning a change.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// The change is refused, for every listed reason.
    #[error("refused: {}", .0.iter().map(|r| r.message.as_str()).collect::<Vec<_>>().join("; "))]
    Refused(Vec<Refusal>),
    /// Bad input: an unknown device, a device of the wrong kind, a bad host file.
    #[error("{0}")]
    Invalid(String),
    /// An error from the library (device resolution, reading).
    #[error(transparent)]
    Lib(#[from] crate::Error),
}

/// Applies `--force`: forceable refusals become plan warnings; the rest still refuse.
pub fn enforce(
    refusals: Vec<Refusal>,
    force: bool,
    warnings: &mut Vec<String>,
) -> Result<(), ChangeError> {
    let (soft, hard): (Vec<Refusal>, Vec<Refusal>) =
        refusals.into_iter().partition(|r| r.forceable && force);
    if !hard.is_empty() {
        return Err(ChangeError::Refused(hard));
    }
    warnings.extend(soft.into_iter().map(|r| format!("--force: {}", r.message)));
    Ok(())
}
