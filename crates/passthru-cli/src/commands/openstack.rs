//! `passthru openstack flavor | boot | verify`: the compute API, with nova's rules
//! (`nova check`) and `verify` on the hosts it names.

use super::nova::host_conf;
use crate::context::Ctx;
use crate::output::{emit, print_json};
use anyhow::{bail, Context as _, Result};
use passthru::host::sources;
use passthru::host::sources::libvirt as guests;
use passthru::libvirt::verify::{verify_domains, Expectation, VerifyOptions, VerifyReport};
use passthru::nova::alias::parse_aliases;
use passthru::nova::conf::NovaConf;
use passthru::nova::flavor::{self, FlavorVerdict, Request};
use passthru::openstack::client::{ComputeVersion, Microversion};
use passthru::openstack::compute::{
    Flavor, Networking, Server, ServerCreate, EXTRA_SPEC_VALIDATION, PCI_ALIAS_KEY,
    SERVER_FLAVOR_EMBEDDED,
};
use passthru::openstack::config::{self, CloudSummary, Overrides};
use passthru::openstack::explain::{self, ComputeHost, Explanation, Holder};
use passthru::openstack::Session;
use passthru::remote::{far, ssh, SshOptions, Target};
use passthru::Host;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const AFTER_HELP: &str = "\
The cloud is chosen as the openstack CLI chooses it: --os-cloud / OS_CLOUD names a
cloud in clouds.yaml (./, ~/.config/openstack/, /etc/openstack/, or
OS_CLIENT_CONFIG_FILE; passwords may sit in secure.yaml beside it), else the OS_*
variables of an openrc file (OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME,
OS_USER_DOMAIN_NAME, OS_PROJECT_DOMAIN_NAME, OS_TOKEN, OS_APPLICATION_CREDENTIAL_*,
OS_REGION_NAME, OS_INTERFACE, OS_CACERT). Authentication is keystone v3; the compute
endpoint comes from the service catalog; the compute microversion is negotiated
(OS_COMPUTE_API_VERSION / --os-compute-api-version fixes one).

Exit codes: 0 ok, 2 the boot or the verification failed, 3 usage, configuration,
authentication or API error (with the API's own message).";

/// openstack subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum OpenStackCommand {
    /// Create a flavor, or set its pci_passthrough:alias, after checking the alias
    /// exists in nova.conf (the flavor API does not), at microversion 2.86+ so nova
    /// validates the format; shows the PCI request as nova will read it.
    #[command(after_help = AFTER_HELP)]
    Flavor(FlavorArgs),
    /// Boot a test server, wait until ACTIVE or ERROR; on "No valid host" say per
    /// compute host why it cannot take the flavor (nova check on its facts).
    #[command(after_help = AFTER_HELP)]
    Boot(BootArgs),
    /// Verify a server on its compute host: its libvirt domain holds the devices its
    /// flavor asks for (verify --expect, run on that host).
    #[command(after_help = AFTER_HELP)]
    Verify(VerifyArgs),
}

/// How to reach the cloud (each overrides clouds.yaml and OS_*).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct CloudArgs {
    /// Cloud name in clouds.yaml (default: OS_CLOUD).
    #[arg(long = "os-cloud", value_name = "NAME")]
    pub cloud: Option<String>,
    /// Region (default: the cloud's region_name / OS_REGION_NAME).
    #[arg(long = "os-region-name", value_name = "REGION")]
    pub region: Option<String>,
    /// Endpoint interface: public, internal or admin (default: public).
    #[arg(long = "os-interface", value_name = "INTERFACE")]
    pub interface: Option<String>,
    /// A fixed compute microversion (e.g. 2.86, or `latest`) instead of negotiating.
    #[arg(long = "os-compute-api-version", value_name = "VERSION")]
    pub compute_api_version: Option<String>,
}

impl CloudArgs {
    fn connect(&self, needed: Microversion) -> Result<Session> {
        let cfg = config::load(&Overrides {
            cloud: self.cloud.clone(),
            region_name: self.region.clone(),
            interface: self.interface.clone(),
            compute_api_version: self.compute_api_version.clone(),
        })?;
        Ok(Session::connect(&cfg, needed)?)
    }
}

/// Arguments of `passthru openstack flavor`.
#[derive(clap::Args, Debug)]
#[command(
    after_long_help = "Examples:\n  passthru openstack flavor pci.igb --alias igbnic:1 --create --ram 2048 --vcpus 2 --disk 10\n  passthru openstack flavor m1.large --alias gpu:1 --nova-conf /etc/nova/nova.conf"
)]
pub struct FlavorArgs {
    /// Flavor name (or id, when it exists).
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The pci_passthrough:alias value, ALIAS:COUNT[,ALIAS:COUNT...].
    #[arg(long, value_name = "ALIAS:COUNT")]
    pub alias: String,
    /// Create the flavor (an error when it exists).
    #[arg(long)]
    pub create: bool,
    /// Memory in MiB (with --create).
    #[arg(long, default_value_t = 512, requires = "create")]
    pub ram: u64,
    /// vCPUs (with --create).
    #[arg(long, default_value_t = 1, requires = "create")]
    pub vcpus: u64,
    /// Root disk in GiB (with --create).
    #[arg(long, default_value_t = 1, requires = "create")]
    pub disk: u64,
    /// The nova.conf whose [pci] alias defines the aliases (the API node's; repeatable,
    /// in nova's --config-file order). Default: etc/nova/nova.conf under --root (or /),
    /// else the nova.conf values a --snapshot carries.
    #[arg(long = "nova-conf", value_name = "FILE")]
    pub nova_conf: Vec<PathBuf>,
    /// The cloud.
    #[command(flatten)]
    pub cloud: CloudArgs,
}

/// Arguments of `passthru openstack boot`.
#[derive(clap::Args, Debug)]
#[command(
    after_long_help = "Compute hosts' facts for explaining \"No valid host\": a host whose name is this\nhost's (as --root reads it) is read here, with its etc/nova/nova.conf; others from\n--facts snapshot files (`passthru snapshot` on that host).\n\nExamples:\n  passthru openstack boot --flavor pci.igb --image cirros-id --network net-id --delete\n  passthru openstack boot --flavor pci.gpu --image img --no-network --facts cmp1.json --facts cmp2.json"
)]
pub struct BootArgs {
    /// Flavor name or id.
    #[arg(long, value_name = "FLAVOR")]
    pub flavor: String,
    /// Image id.
    #[arg(long, value_name = "IMAGE")]
    pub image: String,
    /// Network id to attach.
    #[arg(long, value_name = "NETWORK", group = "net")]
    pub network: Option<String>,
    /// Port id to attach (an SR-IOV port, vnic_type direct).
    #[arg(long, value_name = "PORT", group = "net")]
    pub port: Option<String>,
    /// No network at all (microversion 2.37+).
    #[arg(long, group = "net")]
    pub no_network: bool,
    /// Server name (default: passthru-test-<seconds since 1970>).
    #[arg(long)]
    pub name: Option<String>,
    /// Delete the server afterwards (whether it booted or not).
    #[arg(long)]
    pub delete: bool,
    /// Seconds to wait for ACTIVE or ERROR.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub timeout: u64,
    /// The API / scheduler node's nova.conf (aliases, enabled_filters) for the
    /// explanation (repeatable). Default: etc/nova/nova.conf under --root (or /).
    #[arg(long = "nova-conf", value_name = "FILE")]
    pub nova_conf: Vec<PathBuf>,
    /// A compute host's snapshot (`passthru snapshot` there), matched to nova's host
    /// name by the host name it records; `HOST=FILE` names the host (repeatable).
    #[arg(long, value_name = "[HOST=]FILE")]
    pub facts: Vec<String>,
    /// Read the facts of compute hosts that are neither this host nor in a --facts
    /// snapshot over SSH, reaching each by nova's host name through ssh_config.
    #[arg(long)]
    pub ssh: bool,
    /// ssh_config file for reaching compute hosts (ssh -F; default ~/.ssh/config).
    #[arg(long = "ssh-config", value_name = "FILE")]
    pub ssh_config: Option<PathBuf>,
    /// The cloud.
    #[command(flatten)]
    pub cloud: CloudArgs,
}

/// Arguments of `passthru openstack verify`.
#[derive(clap::Args, Debug)]
#[command(
    after_long_help = "The compute host (OS-EXT-SRV-ATTR:host, an admin-only attribute) must be this host\n(as --root reads it); its etc/nova/nova.conf gives the aliases and [libvirt]\nconnection_uri, which virsh uses to read the domain (OS-EXT-SRV-ATTR:instance_name).\n\nExample:\n  passthru openstack verify test-vm"
)]
pub struct VerifyArgs {
    /// Server name or id.
    #[arg(value_name = "SERVER")]
    pub server: String,
    /// libvirt URI on the compute host (default: its nova.conf [libvirt] connection_uri,
    /// else virsh's default).
    #[arg(long, short = 'c', value_name = "URI")]
    pub connect: Option<String>,
    /// Print only findings that are not PASS.
    #[arg(short, long)]
    pub quiet: bool,
    /// ssh_config file for reaching the compute host (ssh -F; default ~/.ssh/config).
    #[arg(long = "ssh-config", value_name = "FILE")]
    pub ssh_config: Option<PathBuf>,
    /// The cloud.
    #[command(flatten)]
    pub cloud: CloudArgs,
}

/// Runs an openstack subcommand.
pub fn run(ctx: &Ctx, cmd: OpenStackCommand) -> Result<ExitCode> {
    match cmd {
        OpenStackCommand::Flavor(a) => run_flavor(ctx, a),
        OpenStackCommand::Boot(a) => run_boot(ctx, a),
        OpenStackCommand::Verify(a) => run_verify(ctx, a),
    }
}

/// nova's two readings of a pci_passthrough:alias value, as printed and in JSON.
#[derive(Debug, Serialize)]
pub struct NovaReading {
    /// The nova.conf the aliases came from.
    pub aliases_from: Vec<String>,
    /// The API validator's message (2.86+), `null` when it accepts.
    pub api_error: Option<String>,
    /// The server-create error, `null` when requests build.
    pub boot_error: Option<passthru::nova::NovaError>,
    /// The PCI requests a server create builds.
    pub requests: Vec<Request>,
}

impl NovaReading {
    fn of(v: &FlavorVerdict, from: &[String]) -> Self {
        NovaReading {
            aliases_from: from.to_vec(),
            api_error: v.api_error.clone(),
            boot_error: v.boot.as_ref().err().cloned(),
            requests: v.boot.clone().unwrap_or_default(),
        }
    }

    fn text(&self, s: &mut String) {
        let _ = writeln!(
            s,
            "PCI request as nova reads it (aliases from {}):",
            self.aliases_from.join(", ")
        );
        let _ = writeln!(
            s,
            "  flavor API (2.86+ validation): {}",
            self.api_error.as_deref().unwrap_or("accepted")
        );
        match &self.boot_error {
            Some(e) => {
                let _ = writeln!(s, "  at server create: {}: {}", e.exception, e.message);
            }
            None => {
                for r in &self.requests {
                    let specs: Vec<String> = r
                        .specs
                        .iter()
                        .map(|sp| {
                            sp.fields
                                .iter()
                                .map(|(k, v)| format!("{k}={v}"))
                                .collect::<Vec<_>>()
                                .join(" ")
                        })
                        .collect();
                    let _ = writeln!(
                        s,
                        "  at server create: {} x{}: {} (numa_policy {})",
                        r.alias,
                        r.count,
                        specs.join(" | "),
                        r.numa_policy
                    );
                }
            }
        }
    }
}

/// The API node's nova.conf: `--nova-conf`, else the one among this host's facts (the
/// root's etc/nova/nova.conf, or a snapshot's).
fn api_conf(ctx: &Ctx, files: &[PathBuf]) -> Result<Option<(NovaConf, Vec<String>)>> {
    if !files.is_empty() {
        let conf = super::nova::conf_from(files)?;
        let names = files.iter().map(|p| p.display().to_string()).collect();
        return Ok(Some((conf, names)));
    }
    let host = ctx.host()?;
    let Some(f) = &host.system.nova else {
        return Ok(None);
    };
    let name = match &ctx.global.snapshot {
        Some(snap) => format!("{} (in {})", f.path, snap.display()),
        None => ctx.root().join(&f.path).display().to_string(),
    };
    Ok(Some((host_conf(host, &[])?, vec![name])))
}

fn judge_with(conf: &NovaConf, value: &str) -> FlavorVerdict {
    let texts: Vec<String> = conf.alias.iter().map(|v| v.value.clone()).collect();
    let aliases = parse_aliases(&texts, conf.pci_in_placement);
    flavor::judge(value, aliases.as_ref().map_err(|e| &e.error))
}

/// What `openstack flavor --json` prints.
#[derive(Debug, Serialize)]
pub struct FlavorReport {
    /// The cloud (no secrets).
    pub cloud: CloudSummary,
    /// Compute endpoint and microversion.
    pub compute: ComputeVersion,
    /// The flavor as nova shows it after the change.
    pub flavor: Flavor,
    /// Whether passthru created it.
    pub created: bool,
    /// The value set.
    pub value: String,
    /// nova's two readings of the value.
    pub nova: NovaReading,
}

fn run_flavor(ctx: &Ctx, a: FlavorArgs) -> Result<ExitCode> {
    let Some((conf, from)) = api_conf(ctx, &a.nova_conf)? else {
        bail!(
            "cannot check alias '{}': no nova.conf to read the [pci] alias from ({} does not exist); pass --nova-conf FILE (the API node's nova.conf) or --snapshot of that node",
            a.alias,
            ctx.root().join("etc/nova/nova.conf").display()
        );
    };
    let verdict = judge_with(&conf, &a.alias);
    // The flavor API stores names it does not know; every server create then fails.
    if let Err(e) = &verdict.boot {
        if e.exception == "PciRequestAliasNotDefined" || verdict.api_error.is_none() {
            let defined: Vec<String> = conf
                .alias
                .iter()
                .filter_map(|v| serde_json::from_str::<serde_json::Value>(&v.value).ok())
                .filter_map(|j| j.get("name").and_then(|n| n.as_str()).map(str::to_string))
                .collect();
            bail!(
                "refusing pci_passthrough:alias={}: {} (aliases read from {}: {}); the flavor API would accept it and every server create with the flavor would fail",
                a.alias,
                e.message,
                from.join(", "),
                if defined.is_empty() { "none".to_string() } else { defined.join(", ") }
            );
        }
    }
    let session = a.cloud.connect(EXTRA_SPEC_VALIDATION)?;
    if session.compute.chosen < EXTRA_SPEC_VALIDATION {
        if let Some(api) = &verdict.api_error {
            bail!("refusing pci_passthrough:alias={}: {api} (microversion {} is fixed, so nova would not check the format itself)", a.alias, session.compute.chosen);
        }
        eprintln!(
            "passthru: warning: microversion {} is fixed; nova validates extra specs only at {} and later",
            session.compute.chosen, EXTRA_SPEC_VALIDATION
        );
    }
    let (mut flv, created) = if a.create {
        (
            session.create_flavor(&a.name, a.ram, a.vcpus, a.disk)?,
            true,
        )
    } else {
        (session.find_flavor(&a.name)?, false)
    };
    if let Err(e) = session.set_extra_spec(&flv.id, PCI_ALIAS_KEY, &a.alias) {
        // A flavor created for a value nova refuses is not left behind.
        if created {
            session.delete_flavor(&flv.id).with_context(|| {
                format!(
                    "{e}; and the flavor {} it created could not be deleted",
                    flv.id
                )
            })?;
        }
        return Err(e.into());
    }
    flv.extra_specs = session.extra_specs(&flv.id)?;
    let stored = flv
        .extra_specs
        .get(PCI_ALIAS_KEY)
        .cloned()
        .unwrap_or_default();
    let report = FlavorReport {
        cloud: session.cloud.clone(),
        compute: session.compute.clone(),
        created,
        value: stored.clone(),
        nova: NovaReading::of(&judge_with(&conf, &stored), &from),
        flavor: flv,
    };
    if ctx.json() {
        print_json(&report)?;
    } else {
        let mut s = String::new();
        cloud_text(&mut s, &report.cloud, &report.compute);
        let f = &report.flavor;
        let _ = writeln!(
            s,
            "Flavor {} (id {}, {} MiB, {} vCPU, {} GiB): {}",
            f.name,
            f.id,
            f.ram,
            f.vcpus,
            f.disk,
            if created { "created" } else { "updated" }
        );
        let _ = writeln!(s, "  {PCI_ALIAS_KEY} = {stored}");
        report.nova.text(&mut s);
        emit(&s)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn cloud_text(s: &mut String, c: &CloudSummary, v: &ComputeVersion) {
    let who = match (&c.user, &c.project) {
        (Some(u), Some(p)) => format!(" as {u} in project {p}"),
        (Some(u), None) => format!(" as {u}"),
        _ => String::new(),
    };
    let _ = writeln!(s, "Cloud: {}{who}", c.source);
    let _ = writeln!(
        s,
        "Compute: {} at microversion {} ({} {} to {})",
        v.endpoint,
        v.chosen,
        if v.fixed {
            "fixed; server accepts"
        } else {
            "negotiated; server accepts"
        },
        v.min,
        v.max
    );
}

/// What `openstack boot --json` prints.
#[derive(Debug, Serialize)]
pub struct BootReport {
    /// The cloud (no secrets).
    pub cloud: CloudSummary,
    /// Compute endpoint and microversion.
    pub compute: ComputeVersion,
    /// The flavor.
    pub flavor: Flavor,
    /// The server as last seen.
    pub server: Server,
    /// `active`, `error` or `timeout`.
    pub outcome: String,
    /// Seconds from create to ACTIVE / ERROR.
    pub seconds: f64,
    /// For "No valid host": why, per compute host.
    pub explanation: Option<Explanation>,
    /// Whether the server was deleted afterwards.
    pub deleted: bool,
}

fn short(name: &str) -> &str {
    name.split('.').next().unwrap_or(name)
}

fn same_host(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || short(a).eq_ignore_ascii_case(short(b))
}

fn ssh_options(config: &Option<PathBuf>) -> SshOptions {
    SshOptions {
        config_file: config.clone(),
        ..SshOptions::default()
    }
}

/// A compute host's facts read there over SSH (passthru snapshot, once).
fn fetch_over_ssh(opts: &SshOptions, name: &str) -> Result<(Target, Host)> {
    let target = Target::parse(name)?;
    let exe = std::env::current_exe().ok();
    let host = far::fetch_host(opts, &target, None, exe.as_deref())
        .with_context(|| format!("reading compute host {name}'s facts over SSH"))?;
    Ok((target, host))
}

/// Facts of one compute host: read here when its name is this host's, else from a
/// `--facts` snapshot naming it, else (with `--ssh`) over SSH by its name.
struct FactsSource {
    local: Option<(Host, NovaConf, String)>,
    snapshots: Vec<(String, Host, String)>,
    ssh: Option<SshOptions>,
}

impl FactsSource {
    fn new(ctx: &Ctx, facts: &[String], ssh: Option<SshOptions>) -> Result<Self> {
        let local = if ctx.global.snapshot.is_none() && ctx.global.lspci.is_none() {
            let host = ctx.host()?.clone();
            match host.hostname.clone() {
                Some(name) => {
                    let conf = host_conf(&host, &[])?;
                    let src = format!("this host ({name}, root {})", ctx.root().display());
                    Some((host, conf, src))
                }
                None => None,
            }
        } else {
            None
        };
        let mut snapshots = Vec::new();
        for f in facts {
            let (name, path) = match f.split_once('=') {
                Some((n, p)) => (Some(n.to_string()), PathBuf::from(p)),
                None => (None, PathBuf::from(f)),
            };
            let host = sources::read_snapshot(&path)?;
            let name = name.or(host.hostname.clone()).with_context(|| {
                format!(
                    "{}: the snapshot records no host name; name it: --facts HOST={}",
                    path.display(),
                    path.display()
                )
            })?;
            snapshots.push((name, host, format!("snapshot {}", path.display())));
        }
        Ok(FactsSource {
            local,
            snapshots,
            ssh,
        })
    }

    /// The host's facts, its nova.conf and where they came from; `Err` text says why
    /// there are none.
    fn find(
        &self,
        nova_host: &str,
    ) -> Result<std::result::Result<(Host, NovaConf, String), String>> {
        if let Some((_, h, src)) = self
            .snapshots
            .iter()
            .find(|(n, ..)| same_host(n, nova_host))
        {
            return Ok(Ok((h.clone(), host_conf(h, &[])?, src.clone())));
        }
        if let Some((h, conf, src)) = &self.local {
            if h.hostname
                .as_deref()
                .is_some_and(|n| same_host(n, nova_host))
            {
                return Ok(Ok((h.clone(), conf.clone(), src.clone())));
            }
        }
        match &self.ssh {
            Some(opts) => Ok(match fetch_over_ssh(opts, nova_host) {
                Ok((_, h)) => {
                    let conf = host_conf(&h, &[])?;
                    Ok((h, conf, format!("over SSH as {nova_host}")))
                }
                Err(e) => Err(format!("{e:#}")),
            }),
            None => Ok(Err(format!(
                "not this host, no --facts snapshot names {nova_host}, and --ssh was not given"
            ))),
        }
    }
}

fn progress(s: &Server, t0: Instant) {
    eprintln!(
        "passthru: {:>5.1}s {} {}{}",
        t0.elapsed().as_secs_f64(),
        s.name,
        s.status,
        s.task_state
            .as_deref()
            .map(|t| format!(" ({t})"))
            .unwrap_or_default()
    );
}

fn run_boot(ctx: &Ctx, a: BootArgs) -> Result<ExitCode> {
    let networking = match (&a.network, &a.port, a.no_network) {
        (Some(n), _, _) => Networking::Network(n.clone()),
        (_, Some(p), _) => Networking::Port(p.clone()),
        (_, _, true) => Networking::None,
        _ => bail!(
            "say how the server is attached: --network NETWORK_ID, --port PORT_ID or --no-network"
        ),
    };
    // Read what the explanation needs before creating anything: a bad file fails now.
    let api = api_conf(ctx, &a.nova_conf)?;
    let ssh = (a.ssh || a.ssh_config.is_some()).then(|| ssh_options(&a.ssh_config));
    let facts = FactsSource::new(ctx, &a.facts, ssh)?;
    let session = a.cloud.connect(SERVER_FLAVOR_EMBEDDED)?;
    let flavor = session.find_flavor(&a.flavor)?;
    let name = a.name.clone().unwrap_or_else(|| {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        format!("passthru-test-{secs}")
    });
    let t0 = Instant::now();
    let id = session.create_server(&ServerCreate {
        name: name.clone(),
        flavor_id: flavor.id.clone(),
        image_id: a.image.clone(),
        networking,
    })?;
    let deadline = t0 + Duration::from_secs(a.timeout);
    let mut last: Option<(String, Option<String>)> = None;
    let (server, outcome) = loop {
        let s = session.server(&id)?;
        let now = (s.status.clone(), s.task_state.clone());
        if last.as_ref() != Some(&now) {
            progress(&s, t0);
            last = Some(now);
        }
        match s.status.as_str() {
            "ACTIVE" => break (s, "active"),
            "ERROR" => break (s, "error"),
            _ if Instant::now() >= deadline => break (s, "timeout"),
            _ => std::thread::sleep(Duration::from_millis(700)),
        }
    };
    let seconds = t0.elapsed().as_secs_f64();
    let no_valid_host = server
        .fault
        .as_ref()
        .is_some_and(|f| f.message.contains("No valid host"));
    let explanation = if no_valid_host {
        Some(explain_boot(
            &session,
            &server,
            &flavor,
            api.as_ref(),
            &facts,
        )?)
    } else {
        None
    };
    let deleted = if a.delete {
        delete_and_wait(&session, &id)?;
        true
    } else {
        false
    };
    let report = BootReport {
        cloud: session.cloud.clone(),
        compute: session.compute.clone(),
        flavor,
        server,
        outcome: outcome.to_string(),
        seconds,
        explanation,
        deleted,
    };
    if ctx.json() {
        print_json(&report)?;
    } else {
        emit(&boot_text(&report, a.timeout))?;
    }
    Ok(ExitCode::from(if outcome == "active" { 0 } else { 2 }))
}

fn delete_and_wait(session: &Session, id: &str) -> Result<()> {
    session.delete_server(id)?;
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(120) {
        match session.server(id) {
            Err(e) if e.status() == Some(404) => return Ok(()),
            Err(e) => return Err(e.into()),
            Ok(s) if s.status == "DELETED" => return Ok(()),
            Ok(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
    bail!("server {id} was asked to delete but still exists after 120 s")
}

fn explain_boot(
    session: &Session,
    server: &Server,
    flavor: &Flavor,
    api: Option<&(NovaConf, Vec<String>)>,
    facts: &FactsSource,
) -> Result<Explanation> {
    let value = server
        .pci_alias()
        .map(str::to_string)
        .or_else(|| flavor.extra_specs.get(PCI_ALIAS_KEY).cloned())
        .unwrap_or_default();
    let extra: Vec<(String, String)> = flavor
        .extra_specs
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // Listing compute services and other projects' servers needs an admin role:
    // without it the explanation says so instead of failing the command.
    let services = match session.compute_services() {
        Ok(s) => s,
        Err(e) => {
            let mut ex = explain::explain(&value, &extra, api.map(|(c, _)| c), &[]);
            ex.everywhere.push(explain::Reason {
                id: "compute.hosts_unknown".into(),
                message: format!("the compute hosts cannot be listed, so no host is judged: {e} (os-services needs an admin role)"),
            });
            return Ok(ex);
        }
    };
    let mut unlisted = Vec::new();
    let mut confs = Vec::new();
    for svc in &services {
        confs.push(facts.find(&svc.host)?);
    }
    let mut hosts = Vec::new();
    for (svc, found) in services.iter().zip(&confs) {
        let listed = session.servers(&format!(
            "all_tenants=1&host={}",
            passthru::openstack::client::encode(&svc.host)
        ));
        let listed = listed.unwrap_or_else(|e| {
            unlisted.push(format!("{}: {e}", svc.host));
            Vec::new()
        });
        let holders = listed
            .into_iter()
            .filter(|s| s.id != server.id && s.status != "ERROR" && s.status != "DELETED")
            .filter_map(|s| {
                s.pci_alias().map(|v| Holder {
                    server: s.name.clone(),
                    value: v.to_string(),
                })
            })
            .collect();
        hosts.push(ComputeHost {
            name: svc.host.clone(),
            state: Some(svc.state.clone()),
            status: Some((svc.status.clone(), svc.disabled_reason.clone())),
            facts: found.as_ref().ok().map(|(h, c, _)| (h, c.clone())),
            facts_source: match found {
                Ok((_, _, src)) => src.clone(),
                Err(why) => why.clone(),
            },
            holders,
        });
    }
    let mut ex = explain::explain(&value, &extra, api.map(|(c, _)| c), &hosts);
    if !unlisted.is_empty() {
        ex.everywhere.push(explain::Reason {
            id: "servers.unknown".into(),
            message: format!(
                "the servers already on some hosts cannot be listed, so pools they hold are not counted: {}",
                unlisted.join("; ")
            ),
        });
    }
    Ok(ex)
}

fn boot_text(r: &BootReport, timeout: u64) -> String {
    let mut s = String::new();
    cloud_text(&mut s, &r.cloud, &r.compute);
    let sv = &r.server;
    let _ = writeln!(
        s,
        "Server {} ({}), flavor {} ({}={}):",
        sv.name,
        sv.id,
        r.flavor.name,
        PCI_ALIAS_KEY,
        sv.pci_alias()
            .or(r.flavor.extra_specs.get(PCI_ALIAS_KEY).map(String::as_str))
            .unwrap_or("none")
    );
    match r.outcome.as_str() {
        "active" => {
            let _ = writeln!(
                s,
                "  ACTIVE after {:.1} s on host {} as libvirt domain {}",
                r.seconds,
                sv.host.as_deref().unwrap_or("? (admin only)"),
                sv.instance_name.as_deref().unwrap_or("? (admin only)")
            );
        }
        "timeout" => {
            let _ = writeln!(
                s,
                "  still {} after {timeout} s: gave up waiting",
                sv.status
            );
        }
        _ => {
            let f = sv.fault.as_ref();
            let _ = writeln!(
                s,
                "  ERROR after {:.1} s: {}",
                r.seconds,
                f.map_or("no fault recorded", |f| f.message.as_str())
            );
        }
    }
    if let Some(ex) = &r.explanation {
        let _ = writeln!(s, "Why no host could take it:");
        for e in &ex.everywhere {
            let _ = writeln!(s, "  everywhere [{}]: {}", e.id, e.message);
        }
        for h in &ex.hosts {
            let verdict = match h.can_take {
                Some(true) => "passthru finds no reason it cannot",
                Some(false) => "cannot",
                None => "unknown",
            };
            let _ = writeln!(s, "  host {} ({}): {verdict}", h.host, h.facts);
            for rs in &h.reasons {
                let _ = writeln!(s, "    [{}] {}", rs.id, rs.message);
            }
        }
    }
    if r.deleted {
        let _ = writeln!(s, "Server deleted.");
    }
    s
}

/// What `openstack verify --json` prints.
#[derive(Debug, Serialize)]
pub struct VerifyServerReport {
    /// The server.
    pub server: Server,
    /// Compute host (nova's name).
    pub host: String,
    /// libvirt domain name.
    pub instance_name: String,
    /// How the host was reached (`local`, or `ssh HOST`).
    pub reached: String,
    /// libvirt URI used there (`null`: virsh's default).
    pub libvirt_uri: Option<String>,
    /// The flavor's pci_passthrough:alias (the expectation).
    pub expect: Option<String>,
    /// verify's report for the domain.
    pub report: VerifyReport,
}

fn run_verify(ctx: &Ctx, a: VerifyArgs) -> Result<ExitCode> {
    let session = a.cloud.connect(SERVER_FLAVOR_EMBEDDED)?;
    let server = session.find_server(&a.server)?;
    let admin_only = |what: &str| {
        anyhow::anyhow!(
            "server {}: nova does not show {what}: it shows it only to admins; use an admin account (or role)",
            server.name
        )
    };
    let host_name = server
        .host
        .clone()
        .ok_or_else(|| admin_only("its compute host (OS-EXT-SRV-ATTR:host)"))?;
    let instance = server
        .instance_name
        .clone()
        .ok_or_else(|| admin_only("its libvirt domain name (OS-EXT-SRV-ATTR:instance_name)"))?;
    // The compute host: this one (as --root reads it), else over SSH by nova's name.
    let here = if ctx.global.snapshot.is_none() && ctx.global.lspci.is_none() {
        ctx.host()
            .context("reading this host's facts")?
            .hostname
            .clone()
    } else {
        None
    };
    let local = here.as_deref().is_some_and(|h| same_host(h, &host_name));
    let (host, conf, dom, uri, reached) = if local {
        let host = ctx.host()?.clone();
        let conf = host_conf(&host, &[])?;
        let uri = a.connect.clone().or(conf.libvirt_connection_uri.clone());
        let dom = guests::dumpxml(uri.as_deref(), &instance)?;
        (host, conf, dom, uri, "local".to_string())
    } else {
        let opts = ssh_options(&a.ssh_config);
        let (target, host) = fetch_over_ssh(&opts, &host_name)?;
        let conf = host_conf(&host, &[])?;
        let uri = a.connect.clone().or(conf.libvirt_connection_uri.clone());
        let mut words = vec!["virsh".to_string()];
        if let Some(u) = &uri {
            words.push("--connect".into());
            words.push(u.clone());
        }
        words.extend(["dumpxml".to_string(), instance.clone()]);
        let out = opts.run(&target, &ssh::quote_words(&words))?;
        if out.status != Some(0) {
            bail!(
                "on compute host {host_name}: {} failed: {}",
                words.join(" "),
                far::last_error(&out.stderr)
            );
        }
        let dom = guests::read_domain_from(&out.stdout[..], &format!("{host_name}:{instance}"))?;
        (host, conf, dom, uri, format!("ssh {host_name}"))
    };
    let mut opts = VerifyOptions::default();
    let expect = server.pci_alias().map(str::to_string);
    if let Some(v) = &expect {
        opts.expect = Expectation::parse_list(v).map_err(anyhow::Error::msg)?;
        let values: Vec<String> = conf.alias.iter().map(|v| v.value.clone()).collect();
        opts.aliases = super::verify::nova_aliases(&values, conf.pci_in_placement)?;
    }
    let report = verify_domains(&host, std::slice::from_ref(&dom), &opts);
    let code = report.verdict.exit_code();
    let out = VerifyServerReport {
        host: host_name,
        instance_name: instance,
        reached,
        libvirt_uri: uri,
        expect,
        report,
        server,
    };
    if ctx.json() {
        print_json(&out)?;
    } else {
        let mut s = format!(
            "Server {} ({}) on compute host {} (reached: {}), libvirt domain {}{}, expecting {}\n",
            out.server.name,
            out.server.id,
            out.host,
            out.reached,
            out.instance_name,
            out.libvirt_uri
                .as_deref()
                .map(|u| format!(" at {u}"))
                .unwrap_or_default(),
            out.expect
                .as_deref()
                .unwrap_or("no PCI device (the flavor has no pci_passthrough:alias)")
        );
        s.push_str(&super::verify::text(&out.report, a.quiet));
        emit(&s)?;
    }
    Ok(ExitCode::from(code))
}
