//! `passthru render neutron-sriov` and `passthru render k8s-device-plugin`: the
//! configuration that gives VFs to neutron `vnic_type direct` ports and to Kubernetes
//! pods through the SR-IOV network device plugin.

use crate::context::Ctx;
use crate::output::{emit, print_json};
use anyhow::Result;
use passthru::host::resolve::resolve_all;
use passthru::render::{k8s_device_plugin, neutron_sriov};
use std::process::ExitCode;

/// Arguments of `passthru render neutron-sriov`.
#[derive(clap::Args, Debug)]
pub struct NeutronArgs {
    /// The physical network (`physnet2`): the provider network's
    /// `--provider-physical-network`.
    #[arg(long, value_name = "NAME")]
    pub physnet: String,
    /// The PF(s) whose VFs ports on this network get (eno2, 0000:06:00.1).
    #[arg(value_name = "PF", required = true)]
    pub pfs: Vec<String>,
    /// VFs the agent must leave alone (given to guests through a nova alias, say).
    #[arg(long, value_name = "VF", value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// ML2 mechanism drivers in use now; `sriovnicswitch` is added.
    #[arg(
        long,
        value_name = "DRIVER",
        value_delimiter = ',',
        default_value = "openvswitch"
    )]
    pub mechanism_drivers: Vec<String>,
}

/// Arguments of `passthru render k8s-device-plugin`.
#[derive(clap::Args, Debug)]
pub struct K8sArgs {
    /// The VFs the resource holds (addresses, interfaces, or a PF's VFs by vendor:device).
    #[arg(value_name = "VF", required = true)]
    pub vfs: Vec<String>,
    /// The resource's name (pods ask for PREFIX/NAME).
    #[arg(long, value_name = "NAME")]
    pub resource_name: String,
    /// The resource prefix (the plugin's default is intel.com).
    #[arg(long, value_name = "PREFIX")]
    pub resource_prefix: Option<String>,
    /// Print only the plugin's config.json, not the ConfigMap around it.
    #[arg(long)]
    pub config_only: bool,
}

/// Runs `passthru render neutron-sriov`.
pub fn run_neutron(ctx: &Ctx, a: NeutronArgs) -> Result<ExitCode> {
    let host = ctx.host()?;
    let pfs = resolve_all(host, &a.pfs)?;
    let exclude = if a.exclude.is_empty() {
        Vec::new()
    } else {
        resolve_all(host, &a.exclude)?
    };
    let r = neutron_sriov::render(host, &a.physnet, &pfs, &exclude, &a.mechanism_drivers)?;
    if ctx.json() {
        print_json(&r)?;
    } else {
        emit(&r.text())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `passthru render k8s-device-plugin`.
pub fn run_k8s(ctx: &Ctx, a: K8sArgs) -> Result<ExitCode> {
    let host = ctx.host()?;
    let vfs = resolve_all(host, &a.vfs)?;
    let r = k8s_device_plugin::render(host, &vfs, &a.resource_name, a.resource_prefix.as_deref())?;
    let v = if a.config_only {
        &r.config
    } else {
        &r.configmap
    };
    if ctx.json() {
        print_json(v)?;
    } else {
        emit(&format!("{}\n", serde_json::to_string_pretty(v)?))?;
    }
    Ok(ExitCode::SUCCESS)
}
