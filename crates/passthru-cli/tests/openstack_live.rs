//! `passthru openstack flavor | boot | verify` against a real keystone 30, placement 16
//! and nova 34 from PyPI on 127.0.0.1 (scripts/openstack-live/: installed by
//! scripts/test.sh into target/openstack-venv, started here, stopped by pid).
//!
//! The compute host is a fake root: nova's fake driver reports the PCI devices of its
//! sysfs and reads its etc/nova/nova.conf (the same file passthru reads), and writes
//! each instance as a libvirt test-driver domain holding the devices nova allocated.
//! The compute host is reached both as this host (`--root` is its tree) and over SSH
//! (a real sshd on 127.0.0.2 from the test harness, nova's host name `h1` being its
//! ssh_config alias) from a controller whose tree has no devices.

use passthru_testsupport::spec::{bdf, DeviceSpec, HostSpec};
use passthru_testsupport::sshd::{sshd_or_skip, SshFleet};
use passthru_testsupport::{peer, FakeHost};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const IMAGE: &str = "155d900f-4e14-4e4c-a73d-069cbf4541e6";
/// nova's name for the compute host: the test sshd's ssh_config alias.
const HOST: &str = "h1";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn venv() -> PathBuf {
    std::env::var_os("OPENSTACK_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/openstack-venv"))
}

fn probe_venv() -> Result<(), String> {
    let py = venv().join("bin/python");
    let ok = Command::new(&py)
        .args([
            "-c",
            "import nova.virt.fake, keystone.server, placement.wsgi, gunicorn",
        ])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{} cannot import nova, keystone and placement: run scripts/openstack-live/install.sh",
            py.display()
        ))
    }
}

/// The services, stopped by their pids when dropped (also when a step fails).
struct Services {
    dir: PathBuf,
}

impl Drop for Services {
    fn drop(&mut self) {
        let _ = Command::new(repo().join("scripts/openstack-live/stop.sh"))
            .arg(&self.dir)
            .status();
    }
}

/// Two GPUs nova's alias `gpu` takes, on vfio-pci, each alone in its IOMMU group;
/// nova.conf as the seeds write it, plus the libvirt URI of the test driver.
fn compute_root(node_xml: &Path) -> HostSpec {
    let conf = format!(
        "[pci]\n\
         device_spec = {{\"vendor_id\": \"10de\", \"product_id\": \"1eb8\"}}\n\
         alias = {{\"name\": \"gpu\", \"vendor_id\": \"10de\", \"product_id\": \"1eb8\", \"device_type\": \"type-PCI\"}}\n\
         [filter_scheduler]\n\
         enabled_filters = ComputeFilter,ComputeCapabilitiesFilter,ImagePropertiesFilter,ServerGroupAntiAffinityFilter,ServerGroupAffinityFilter,PciPassthroughFilter\n\
         [libvirt]\n\
         connection_uri = test://{}\n",
        node_xml.display()
    );
    let mut h = HostSpec::new()
        .numa_node(0, "0-3")
        .driver("vfio-pci", Some("vfio_pci"))
        .file("etc/nova/nova.conf", &conf);
    h.hostname = Some(HOST.into());
    for (a, g) in [("0000:81:00.0", 81), ("0000:82:00.0", 82)] {
        h = h.device(
            DeviceSpec::new(bdf(a), 0x10de, 0x1eb8, 0x030200)
                .driver("vfio-pci")
                .group(g)
                .numa(0),
        );
    }
    h
}

struct Run<'a> {
    root: &'a Path,
    work: &'a Path,
    env: Vec<(String, String)>,
}

impl Run<'_> {
    fn passthru(&self, args: &[&str]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_passthru"));
        // Only the cloud this test describes: no OS_* from the caller, no
        // ~/.config/openstack or ./clouds.yaml of the machine.
        for (k, _) in std::env::vars() {
            if k.starts_with("OS_") {
                c.env_remove(k);
            }
        }
        c.env("HOME", self.work)
            .env("XDG_CONFIG_HOME", self.work.join("xdg"))
            .current_dir(self.work)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .arg("--root")
            .arg(self.root)
            .args(args);
        c.output().expect("run passthru")
    }
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            stderr(o)
        )
    })
}

#[test]
fn flavor_boot_verify_against_real_keystone_nova_placement() {
    if !peer::require("keystone + nova + placement (PyPI venv)", probe_venv()) {
        return;
    }
    if peer::require_program("virsh").is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let svc = tmp.path().join("svc");
    let node_xml = svc.join("node.xml");
    let root = tmp.path().join("root");
    FakeHost::new(compute_root(&node_xml)).write(&root).unwrap();
    std::fs::create_dir_all(tmp.path().join("work")).unwrap();
    let work = tmp.path().join("work");

    let _services = Services { dir: svc.clone() };
    let started = Command::new(repo().join("scripts/openstack-live/start.sh"))
        .arg(&svc)
        .arg(&root)
        .arg(HOST)
        .env("OPENSTACK_VENV", venv())
        .output()
        .expect("start.sh");
    assert!(
        started.status.success(),
        "start.sh failed: {}{}",
        String::from_utf8_lossy(&started.stdout),
        stderr(&started)
    );
    let urls = std::fs::read_to_string(svc.join("urls")).unwrap();
    let keystone = urls
        .lines()
        .find_map(|l| l.strip_prefix("keystone "))
        .unwrap()
        .to_string();
    for url in urls.lines().filter_map(|l| l.split_whitespace().nth(1)) {
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    }
    let cloud = Run {
        root: &root,
        work: &work,
        env: vec![
            (
                "OS_CLIENT_CONFIG_FILE".into(),
                svc.join("clouds.yaml").display().to_string(),
            ),
            ("OS_CLOUD".into(), "live".into()),
        ],
    };

    // flavor: a good alias, at a negotiated microversion of 2.86 or later.
    let o = cloud.passthru(&[
        "--json",
        "openstack",
        "flavor",
        "pci.gpu",
        "--alias",
        "gpu:1",
        "--create",
        "--ram",
        "256",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let j = json(&o);
    assert_eq!(j["flavor"]["extra_specs"]["pci_passthrough:alias"], "gpu:1");
    assert_eq!(j["flavor"]["ram"], 256);
    assert!(
        j["compute"]["chosen"]["minor"].as_u64().unwrap() >= 86,
        "{j}"
    );
    assert_eq!(j["nova"]["api_error"], Value::Null);
    assert_eq!(j["nova"]["requests"][0]["alias"], "gpu");
    assert_eq!(j["nova"]["requests"][0]["count"], 1);

    // A malformed value: nova's own 400, and the flavor created for it is removed.
    let o = cloud.passthru(&[
        "openstack",
        "flavor",
        "pci.bad",
        "--alias",
        "gpu:two",
        "--create",
    ]);
    assert_eq!(code(&o), 3);
    assert!(
        stderr(&o).contains("400 Validation failed; 'gpu:two' is not of the format"),
        "{}",
        stderr(&o)
    );
    let o = cloud.passthru(&["openstack", "flavor", "pci.bad", "--alias", "gpu:1"]);
    assert_eq!(code(&o), 3);
    assert!(
        stderr(&o).contains("no flavor with id or name 'pci.bad'"),
        "{}",
        stderr(&o)
    );

    // An alias nova.conf lacks: refused before any API call, so no flavor exists.
    let o = cloud.passthru(&[
        "openstack",
        "flavor",
        "pci.nosuch",
        "--alias",
        "nosuch:1",
        "--create",
    ]);
    assert_eq!(code(&o), 3);
    assert!(
        stderr(&o).contains("PCI alias nosuch is not defined"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("gpu"),
        "names the aliases that exist: {}",
        stderr(&o)
    );
    let o = cloud.passthru(&["openstack", "flavor", "pci.nosuch", "--alias", "gpu:1"]);
    assert!(
        stderr(&o).contains("no flavor with id or name 'pci.nosuch'"),
        "{}",
        stderr(&o)
    );

    // A fixed old microversion: nova would not check the format, so passthru does.
    let o = cloud.passthru(&[
        "openstack",
        "flavor",
        "pci.gpu",
        "--alias",
        "gpu",
        "--os-compute-api-version",
        "2.1",
    ]);
    assert_eq!(code(&o), 3);
    assert!(stderr(&o).contains("is fixed"), "{}", stderr(&o));

    // boot gpu:1 -> ACTIVE on the fake compute host.
    let boot = |flavor: &str, name: &str, extra: &[&str]| {
        let mut args = vec![
            "--json",
            "openstack",
            "boot",
            "--flavor",
            flavor,
            "--image",
            IMAGE,
            "--no-network",
            "--name",
            name,
        ];
        args.extend_from_slice(extra);
        cloud.passthru(&args)
    };
    let o = boot("pci.gpu", "vm1", &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let j = json(&o);
    assert_eq!(j["outcome"], "active");
    assert_eq!(j["server"]["OS-EXT-SRV-ATTR:host"], HOST);
    let instance = j["server"]["OS-EXT-SRV-ATTR:instance_name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        stderr(&o).contains("vm1 ACTIVE"),
        "progress: {}",
        stderr(&o)
    );

    // More devices than the host has: ERROR, and the pool that is short is named.
    let o = cloud.passthru(&[
        "openstack",
        "flavor",
        "pci.gpu3",
        "--alias",
        "gpu:3",
        "--create",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = boot("pci.gpu3", "big", &["--delete"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let j = json(&o);
    assert_eq!(j["outcome"], "error");
    assert!(j["server"]["fault"]["message"]
        .as_str()
        .unwrap()
        .contains("No valid host"));
    let host = &j["explanation"]["hosts"][0];
    assert_eq!(host["host"], HOST);
    assert_eq!(host["can_take"], false);
    assert_eq!(host["reasons"][0]["id"], "pci.short", "{host}");
    let why = host["reasons"][0]["message"].as_str().unwrap();
    assert!(
        why.contains("alias gpu wants 3") && why.contains("exposes 2"),
        "{why}"
    );
    assert_eq!(j["deleted"], true);

    // The last device goes to vm2; then the pool is exhausted, by vm1 and vm2.
    assert_eq!(code(&boot("pci.gpu", "vm2", &[])), 0);
    let o = boot("pci.gpu", "vm3", &["--delete"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let j = json(&o);
    let r = &j["explanation"]["hosts"][0]["reasons"][0];
    assert_eq!(r["id"], "pci.exhausted", "{j}");
    let why = r["message"].as_str().unwrap();
    assert!(
        why.contains("vm1 (gpu:1)") && why.contains("vm2 (gpu:1)") && why.contains("0 free"),
        "{why}"
    );
    // The same boot, as text.
    let o = {
        let o = cloud.passthru(&[
            "openstack",
            "boot",
            "--flavor",
            "pci.gpu",
            "--image",
            IMAGE,
            "--no-network",
            "--name",
            "vm4",
            "--delete",
        ]);
        assert_eq!(code(&o), 2);
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert!(
        o.contains("No valid host was found") && o.contains("[pci.exhausted]"),
        "{o}"
    );

    // verify: the domain nova made holds the device the flavor asked for. The cloud
    // is given by OS_* variables this time, with an unversioned keystone URL.
    let openrc = Run {
        root: &root,
        work: &work,
        env: [
            ("OS_AUTH_URL", keystone.as_str()),
            ("OS_USERNAME", "admin"),
            ("OS_PASSWORD", "secret"),
            ("OS_PROJECT_NAME", "admin"),
            ("OS_USER_DOMAIN_NAME", "Default"),
            ("OS_PROJECT_DOMAIN_NAME", "Default"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    };
    let o = openrc.passthru(&["--json", "openstack", "verify", "vm1"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let j = json(&o);
    assert_eq!(j["instance_name"], instance.as_str());
    assert_eq!(j["expect"], "gpu:1");
    assert_eq!(j["report"]["verdict"], "pass", "{j}");
    let dev = &j["report"]["guests"][0]["devices"][0]["address"];
    assert!(dev == "0000:81:00.0" || dev == "0000:82:00.0", "{dev}");

    // A wrong password: keystone's own message, exit 3.
    let mut bad = openrc.env.clone();
    bad.retain(|(k, _)| k != "OS_PASSWORD");
    bad.push(("OS_PASSWORD".into(), "wrong".into()));
    let o = Run { env: bad, ..openrc }.passthru(&["openstack", "verify", "vm1"]);
    assert_eq!(code(&o), 3);
    assert!(stderr(&o).contains("401"), "{}", stderr(&o));

    // From a controller (its tree has no devices, its nova.conf is the API node's):
    // the compute host is reached over SSH by nova's name, facts read there by
    // passthru (a wrapper on h1's PATH reading the compute tree) and the domain with
    // virsh there.
    if sshd_or_skip() {
        let fleet = SshFleet::start_n(1).unwrap();
        fleet
            .host(0)
            .install_script(
                "passthru",
                &format!(
                    "exec '{}' --root '{}' \"$@\"",
                    env!("CARGO_BIN_EXE_passthru"),
                    root.display()
                ),
            )
            .unwrap();
        let mut ctl_spec = HostSpec::new().numa_node(0, "0-1").file(
            "etc/nova/nova.conf",
            &std::fs::read_to_string(root.join("etc/nova/nova.conf")).unwrap(),
        );
        ctl_spec.hostname = Some("controller".into());
        let controller = tmp.path().join("controller");
        FakeHost::new(ctl_spec).write(&controller).unwrap();
        let ctl = Run {
            root: &controller,
            work: &work,
            env: cloud.env.clone(),
        };
        let config = fleet.ssh_config().display().to_string();
        let o = ctl.passthru(&[
            "--json",
            "openstack",
            "verify",
            "vm1",
            "--ssh-config",
            &config,
        ]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let j = json(&o);
        assert_eq!(j["reached"], format!("ssh {HOST}"));
        assert_eq!(j["report"]["verdict"], "pass", "{j}");
        let o = ctl.passthru(&[
            "--json",
            "openstack",
            "boot",
            "--flavor",
            "pci.gpu",
            "--image",
            IMAGE,
            "--no-network",
            "--name",
            "vm5",
            "--delete",
            "--ssh-config",
            &config,
        ]);
        assert_eq!(code(&o), 2, "{}", stderr(&o));
        let j = json(&o);
        let h = &j["explanation"]["hosts"][0];
        assert_eq!(h["facts"], format!("over SSH as {HOST}"), "{j}");
        assert_eq!(h["reasons"][0]["id"], "pci.exhausted", "{j}");
    }

    // The variant whose domain lacks the device: verification fails (exit 2).
    let xml = std::fs::read_to_string(&node_xml).unwrap();
    let start = xml.find(&format!("<name>{instance}</name>")).unwrap();
    let from = start + xml[start..].find("<hostdev").unwrap();
    let to = from + xml[from..].find("</hostdev>").unwrap() + "</hostdev>".len();
    std::fs::write(&node_xml, format!("{}{}", &xml[..from], &xml[to..])).unwrap();
    let o = cloud.passthru(&["--json", "openstack", "verify", "vm1"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let j = json(&o);
    assert_eq!(j["report"]["verdict"], "fail");
    let expect = j["report"]["guests"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "libvirt.guest.expect")
        .cloned()
        .unwrap_or_else(|| panic!("no expect finding: {j}"));
    assert_eq!(expect["severity"], "fail", "{expect}");
}
