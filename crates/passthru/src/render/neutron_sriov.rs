//! neutron SR-IOV ports (`vnic_type direct`): the SR-IOV NIC agent's `[sriov_nic]`
//! (`physical_device_mappings = PHYSNET:PF`, `exclude_devices = PF:VF;VF`), ML2's
//! `mechanism_drivers` with `sriovnicswitch`, and nova's `[pci] device_spec` for the
//! same VFs with the same `physical_network`, built by the nova renderer (one rule for
//! device_spec).

use crate::host::model::{Host, PciDevice};
use crate::nova::render::{render as render_nova, RenderRequest};
use crate::pci::PciAddress;
use serde::Serialize;

/// The SR-IOV mechanism driver's name in ML2.
pub const SRIOV_DRIVER: &str = "sriovnicswitch";

/// Why neutron-sriov refused.
#[derive(Debug, thiserror::Error)]
pub enum NeutronError {
    /// A device that is not an SR-IOV PF with a network interface.
    #[error("{0} is not an SR-IOV PF with a network interface (the agent maps physical networks to PF interfaces: name the PF, e.g. eno2)")]
    NotPf(PciAddress),
    /// An excluded device that is not a VF of a mapped PF.
    #[error("{0} is not a VF of a PF given with --pf: exclude_devices lists VFs of mapped PFs")]
    NotMappedVf(PciAddress),
    /// A PF with no VFs: nothing for nova to expose.
    #[error("{0} has no VFs enabled: create them first (passthru vfs {0} N) or the agent and nova have nothing to offer")]
    NoVfs(String),
    /// A physical network name neutron would not accept.
    #[error("physical network '{0}' is empty or contains ':' or ',' (they separate the agent's mappings)")]
    BadPhysnet(String),
    /// nova's renderer refused.
    #[error(transparent)]
    Nova(#[from] crate::nova::render::RenderError),
}

/// The rendered configuration.
#[derive(Clone, Debug, Serialize)]
pub struct NeutronSriov {
    /// The physical network.
    pub physnet: String,
    /// `[sriov_nic] physical_device_mappings` entries (`physnet:PF`).
    pub physical_device_mappings: Vec<String>,
    /// `[sriov_nic] exclude_devices` entries (`PF:VF;VF`).
    pub exclude_devices: Vec<String>,
    /// `[ml2] mechanism_drivers`.
    pub mechanism_drivers: Vec<String>,
    /// nova's `[pci] device_spec` values.
    pub device_spec: Vec<String>,
    /// VFs a port on this physical network can get.
    pub vfs: Vec<PciAddress>,
}

impl NeutronSriov {
    /// The text: the three files' sections, each under the path it goes in.
    pub fn text(&self) -> String {
        let mut s = String::from(
            "# /etc/neutron/plugins/ml2/sriov_agent.ini on this compute node (neutron-sriov-nic-agent)\n[sriov_nic]\n",
        );
        s.push_str(&format!(
            "physical_device_mappings = {}\n",
            self.physical_device_mappings.join(",")
        ));
        s.push_str(&format!(
            "exclude_devices = {}\n",
            self.exclude_devices.join(",")
        ));
        s.push_str("\n# /etc/neutron/plugins/ml2/ml2_conf.ini on neutron-server\n[ml2]\n");
        s.push_str(&format!(
            "mechanism_drivers = {}\n",
            self.mechanism_drivers.join(",")
        ));
        s.push_str("\n# /etc/nova/nova.conf on this compute node\n[pci]\n");
        for d in &self.device_spec {
            s.push_str(&format!("device_spec = {d}\n"));
        }
        s.push_str(&format!(
            "\n# then: openstack port create --network NET --vnic-type direct PORT  (NET a {} network)\n",
            self.physnet
        ));
        s
    }
}

/// Renders the agent, ML2 and nova settings for PFs on one physical network.
/// `mechanism_drivers` are the ones already in use (`sriovnicswitch` is added).
pub fn render(
    host: &Host,
    physnet: &str,
    pfs: &[&PciDevice],
    exclude: &[&PciDevice],
    mechanism_drivers: &[String],
) -> Result<NeutronSriov, NeutronError> {
    if physnet.is_empty() || physnet.contains([':', ',']) {
        return Err(NeutronError::BadPhysnet(physnet.to_string()));
    }
    let mut mappings = Vec::new();
    let mut vfs = Vec::new();
    for pf in pfs {
        let (Some(_), Some(name)) = (&pf.sriov, pf.netdevs.first()) else {
            return Err(NeutronError::NotPf(pf.address));
        };
        if pf.virtfns.is_empty() {
            return Err(NeutronError::NoVfs(name.clone()));
        }
        mappings.push(format!("{physnet}:{name}"));
        vfs.extend(pf.virtfns.iter().copied());
    }
    let mut exclude_devices = Vec::new();
    for pf in pfs {
        let mine: Vec<String> = exclude
            .iter()
            .filter(|v| v.physfn == Some(pf.address))
            .map(|v| v.address.to_string())
            .collect();
        if !mine.is_empty() {
            exclude_devices.push(format!("{}:{}", pf.netdevs[0], mine.join(";")));
        }
    }
    if let Some(v) = exclude
        .iter()
        .find(|v| !pfs.iter().any(|p| v.physfn == Some(p.address)))
    {
        return Err(NeutronError::NotMappedVf(v.address));
    }
    vfs.retain(|a| !exclude.iter().any(|e| e.address == *a));
    let mut drivers: Vec<String> = mechanism_drivers.to_vec();
    if !drivers.iter().any(|d| d == SRIOV_DRIVER) {
        drivers.push(SRIOV_DRIVER.to_string());
    }
    // nova's device_spec for the same VFs, tagged with the same physical network.
    let nova = render_nova(
        host,
        &RenderRequest {
            devices: vfs.clone(),
            alias: "unused".into(),
            physnet: Some(physnet.to_string()),
            device_type: None,
            numa_policy: None,
            count: 1,
            flavor: "FLAVOR".into(),
            enabled_filters: None,
            pin_addresses: true,
            allow_pf: false,
            report_in_placement: false,
        },
    )?;
    Ok(NeutronSriov {
        physnet: physnet.to_string(),
        physical_device_mappings: mappings,
        exclude_devices,
        mechanism_drivers: drivers,
        device_spec: nova.device_spec,
        vfs,
    })
}
