//! `passthru render nova`: nova.conf lines and the flavor command for a device
//! selection; `--write [FILE]` merges them into nova.conf as a journaled change
//! (plan without --yes, `passthru undo` restores the file byte for byte).

use crate::change::{change_facts, change_root, refused, Change, ChangeArgs};
use crate::context::Ctx;
use crate::output::{emit, print_json};
use anyhow::{bail, Result};
use passthru::change::nova_conf::{merge_request, plan_nova_conf_at};
use passthru::change::{ChangeError, Refusal};
use passthru::host::resolve::resolve_all;
use passthru::host::root::Root;
use passthru::nova::conf::NovaConf;
use passthru::nova::merge::MergeError;
use passthru::nova::render::{conf_snippet, render, RenderError, RenderRequest};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Where nova.conf is under the root.
const NOVA_CONF: &str = passthru::host::sources::system::nova::NOVA_CONF;

/// Arguments of `passthru render nova`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
device_spec values are as portable as this host allows, so the same lines serve every
compute node built alike: vendor_id/product_id when those select exactly the chosen
devices here, else the PF's interface name (devname) for all the VFs of one PF, else
this host's PCI addresses (--pin-addresses asks for addresses always). Every value is
checked with nova's rules: on this host it selects exactly the chosen devices.

--write merges into nova.conf (the root's etc/nova/nova.conf, or FILE): the alias of
the same name and the device_spec values that select the chosen devices are replaced,
deprecated [DEFAULT] pci_alias / pci_passthrough_whitelist move to [pci], every other
line and comment stays. Nothing is written if nova would not start with the result.
It is a change like any other: the plan without --yes, journaled, `passthru undo`.

Examples:
  passthru render nova --devices 8086:1520 --alias igbnic --physnet physnet1
  passthru render nova --devices 8086:1520 --alias igbnic --write          show the plan
  passthru render nova --devices 8086:1520 --alias igbnic --write --yes    merge it")]
pub struct Args {
    /// Devices: addresses, pci_DDDD_BB_SS_F, netdevs or vendor:device (comma-separated
    /// or repeated).
    #[arg(long, value_name = "DEV", value_delimiter = ',', required = true)]
    pub devices: Vec<String>,
    /// Alias name for [pci] alias and the flavor.
    #[arg(long, value_name = "NAME")]
    pub alias: String,
    /// physical_network tag (for SR-IOV ports through neutron).
    #[arg(long, value_name = "PHYSNET")]
    pub physnet: Option<String>,
    /// The alias's device_type: type-PCI, type-PF or type-VF (default: the devices').
    #[arg(long, value_name = "TYPE")]
    pub device_type: Option<String>,
    /// The alias's numa_policy: required, legacy, preferred or socket.
    #[arg(long, value_name = "POLICY")]
    pub numa_policy: Option<String>,
    /// Devices per server in the flavor command (1 or more).
    #[arg(long, default_value_t = 1)]
    pub count: u32,
    /// Flavor name in the command.
    #[arg(long, default_value = "FLAVOR")]
    pub flavor: String,
    /// Select devices by this host's PCI addresses (the PF's for all its VFs), not by
    /// vendor/product or interface name: such lines fit this host only.
    #[arg(long)]
    pub pin_addresses: bool,
    /// Expose an SR-IOV PF whose VFs are enabled whole (type-PF); refused otherwise,
    /// as `render libvirt` refuses it.
    #[arg(long)]
    pub allow_pf: bool,
    /// nova.conf whose enabled_filters to extend (default: the --write FILE, else the
    /// root's etc/nova/nova.conf).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Merge into nova.conf: the root's etc/nova/nova.conf, or FILE (a path on this
    /// machine, inside the root). Shows the plan; --yes writes it (journaled, undo).
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    pub write: Option<Option<PathBuf>>,
    /// Common change options (for --write).
    #[command(flatten)]
    pub change: ChangeArgs,
}

/// The file `--write` edits: relative to the root, and as shown to people.
fn write_target(root: &Path, file: Option<&PathBuf>) -> Result<(String, String)> {
    let Some(file) = file else {
        return Ok((NOVA_CONF.to_string(), format!("/{NOVA_CONF}")));
    };
    let abs = std::path::absolute(file)?;
    let (Some(dir), Some(name)) = (abs.parent(), abs.file_name()) else {
        bail!("--write {}: not a file name", file.display());
    };
    let dir = dir
        .canonicalize()
        .map_err(|e| anyhow::anyhow!("--write {}: {e}", file.display()))?;
    let root_c = root
        .canonicalize()
        .map_err(|e| anyhow::anyhow!("the root {}: {e}", root.display()))?;
    let Ok(rel_dir) = dir.strip_prefix(&root_c) else {
        bail!(
            "--write {}: the file is outside the root {} (its journal and undo live there); give a file under the root, or --root / for a file anywhere",
            file.display(),
            root.display()
        );
    };
    let rel = rel_dir.join(name).to_string_lossy().into_owned();
    Ok((rel, abs.display().to_string()))
}

/// Runs `passthru render nova`.
pub fn run(ctx: &Ctx, a: Args) -> Result<ExitCode> {
    let host = ctx.host()?;
    let devs = resolve_all(host, &a.devices)?;
    // The filters (and report_in_placement) nova reads now: --config, else the
    // --write FILE, else the host's nova.conf; all read by nova::conf.
    let from_file = a
        .config
        .clone()
        .or_else(|| a.write.clone().flatten().filter(|p| p.is_file()));
    let conf = match &from_file {
        Some(p) => Some(super::nova::conf_from(std::slice::from_ref(p))?),
        None => host
            .system
            .nova
            .as_ref()
            .map(NovaConf::from_facts)
            .transpose()?,
    };
    let req = RenderRequest {
        devices: devs.iter().map(|d| d.address).collect(),
        alias: a.alias.clone(),
        physnet: a.physnet.clone(),
        device_type: a.device_type.clone(),
        numa_policy: a.numa_policy.clone(),
        count: a.count,
        flavor: a.flavor.clone(),
        enabled_filters: conf.as_ref().map(|c| c.enabled_filters.clone()),
        pin_addresses: a.pin_addresses,
        allow_pf: a.allow_pf,
        report_in_placement: conf.as_ref().is_some_and(|c| c.report_in_placement),
    };
    let r = match render(host, &req) {
        Ok(r) => r,
        Err(e @ RenderError::PfWithVfs { .. }) => {
            bail!("render nova: refused: {e}")
        }
        Err(e) => return Err(e.into()),
    };
    let Some(file) = &a.write else {
        if ctx.json() {
            print_json(&r)?;
        } else {
            emit(&format!(
                "# nova.conf on every compute node (device_spec) and on API/compute/scheduler nodes (alias):\n{}\n# selects on this host: {}\n\n# the flavor:\n{}\n",
                conf_snippet(&r),
                r.selects.join(", "),
                r.flavor_command
            ))?;
        }
        return Ok(ExitCode::SUCCESS);
    };
    // --write: a change through the executor.
    let name = "render nova --write";
    let root = change_root(ctx, name)?;
    let (rel, shown) = write_target(&root, file.as_ref())?;
    let mut facts = change_facts(&root)?;
    let r_root = Root::open(&root)
        .map_err(|e| anyhow::anyhow!("cannot open the root {}: {e}", root.display()))?;
    passthru::host::sources::change_facts::read_file(&r_root, &rel, &mut facts);
    let merge_req = merge_request(&a.alias, &r);
    let plan = match plan_nova_conf_at(host, &facts, &rel, &shown, &merge_req) {
        Ok((plan, _)) => plan,
        Err(e) => {
            let fix = match &e {
                MergeError::Parse(_) => format!("fix {shown} where the message says"),
                MergeError::Overlap(_) => "add those devices to --devices, or narrow or remove that line".into(),
                MergeError::WouldNotLoad { .. } => format!("`passthru nova check --config {shown}` shows what nova rejects; fix that first"),
                MergeError::NotSelected { .. } => "check the selection with `passthru nova check`".into(),
            };
            return refused(
                ctx,
                name,
                ChangeError::Refused(vec![Refusal {
                    device: None,
                    message: e.to_string(),
                    fix,
                    forceable: false,
                }]),
            );
        }
    };
    if !ctx.json() {
        emit(&format!(
            "# {shown}: [pci] device_spec and alias for {} (flavor: {})\n",
            r.selects.join(", "),
            r.flavor_command
        ))?;
    }
    Change {
        name,
        root,
        args: &a.change,
        undoes: None,
    }
    .run(ctx, plan, &mut |_, _| Ok(Default::default()), &|_| {
        Vec::new()
    })
}
