//! The passthru binary as Ansible modules, run by the real ansible-core (2.19, from
//! PyPI in the venv `scripts/test.sh` creates under target/) against real sshd on
//! 127.0.0.2, 127.0.0.3, ... (passthru-testsupport's harness), each serving its own
//! kernel-simulator mount (`PASSTHRU_ROOT` in its sessions). Loopback only.
//!
//! No test here can reboot this machine: site.yml's reboot task is given the
//! harness's stand-in (`bin/reboot` of the test host, which only records the request
//! and reboots the simulator) by absolute path, since `ansible.builtin.reboot` looks
//! `shutdown` up by absolute search paths, not PATH.

mod change_common;
use change_common::*;
use passthru_testsupport::peer;
use passthru_testsupport::sim::SimMount;
use passthru_testsupport::sshd::{sshd_or_skip, HostOptions, SshFleet};
use passthru_testsupport::HostSpec;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// ansible-core's venv `bin/` (scripts/test.sh creates it; `PASSTHRU_ANSIBLE_VENV`
/// names another), or `None` when missing (skipped, or a failure under CI).
fn ansible_bin() -> Option<PathBuf> {
    let venv = std::env::var_os("PASSTHRU_ANSIBLE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/ansible-venv"));
    let bin = venv.join("bin");
    let probe = if bin.join("ansible-playbook").is_file() {
        Ok(())
    } else {
        Err(format!(
            "no {} (scripts/test.sh creates the venv: python3 -m venv target/ansible-venv && target/ansible-venv/bin/pip install 'ansible-core==2.19.*')",
            bin.join("ansible-playbook").display()
        ))
    };
    peer::require("ansible-core", probe).then_some(bin)
}

/// A scratch copy of the repository's `ansible/`, with the modules placed by the
/// build step (`scripts/ansible-collection.sh --binary`).
fn collection() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let st = Command::new("cp")
        .arg("-r")
        .arg(repo().join("ansible"))
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(st.success());
    let out = Command::new(repo().join("scripts/ansible-collection.sh"))
        .arg("--binary")
        .arg(env!("CARGO_BIN_EXE_passthru"))
        .arg("--collection")
        .arg(dir.path().join("ansible/ansible_collections/passthru/kvm"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ansible-collection.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// A fleet: simulated hosts, one sshd each, the collection with the modules placed
/// by the build step, and an inventory.
struct Lab {
    bin: PathBuf,
    dir: tempfile::TempDir,
    fleet: SshFleet,
    sims: Vec<SimMount>,
}

impl Lab {
    fn start(specs: &[HostSpec]) -> Option<Lab> {
        let bin = ansible_bin()?;
        if !sshd_or_skip() {
            return None;
        }
        let mut sims = Vec::new();
        for s in specs {
            sims.push(mount(s)?);
        }
        let hosts: Vec<HostOptions> = sims
            .iter()
            .map(|m| HostOptions {
                env: vec![("PASSTHRU_ROOT".to_string(), m.root().display().to_string())],
                ..HostOptions::default()
            })
            .collect();
        let fleet = SshFleet::start(&hosts).expect("test sshd start on 127.0.0.N");
        let dir = collection();
        let lab = Lab {
            bin,
            dir,
            fleet,
            sims,
        };
        lab.write_inventory("");
        Some(lab)
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn root(&self, i: usize) -> &Path {
        self.sims[i].root()
    }

    /// `inventory.ini`: group `compute` with every host, over ssh with the harness's
    /// client configuration; `host_vars` adds lines per host (`h2 x=1`).
    fn write_inventory(&self, host_lines: &str) {
        let mut s = String::from("[compute]\n");
        for a in self.fleet.aliases() {
            s.push_str(&a);
            if let Some(l) = host_lines
                .lines()
                .find(|l| l.split_whitespace().next() == Some(a.as_str()))
            {
                s.push_str(&l[a.len()..]);
            }
            s.push('\n');
        }
        s.push_str(&format!(
            // The harness's sessions run through a ForceCommand wrapper, which sftp and
            // scp do not pass: Ansible copies modules through the shell (piped).
            "\n[compute:vars]\nansible_ssh_common_args='-F {}'\nansible_ssh_transfer_method=piped\nansible_python_interpreter=/usr/bin/python3\n",
            self.fleet.ssh_config().display()
        ));
        std::fs::write(self.path("inventory.ini"), s).unwrap();
    }

    /// An ansible command with this lab's collection, inventory and scratch dirs.
    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(self.bin.join(program));
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        c.env("PATH", path)
            .env(
                "ANSIBLE_COLLECTIONS_PATH",
                self.path("ansible").display().to_string(),
            )
            .env("ANSIBLE_HOME", self.path("ah"))
            .env("ANSIBLE_REMOTE_TMP", self.path("rt"))
            .env("ANSIBLE_LOCAL_TEMP", self.path("lt"))
            .env("ANSIBLE_SSH_CONTROL_PATH_DIR", self.path("cp"))
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_FORCE_COLOR", "0")
            .env("ANSIBLE_RETRY_FILES_ENABLED", "0")
            .env("ANSIBLE_DEPRECATION_WARNINGS", "0")
            .env("PYTHONWARNINGS", "ignore")
            .env("ANSIBLE_INVENTORY", self.path("inventory.ini"))
            .current_dir(self.dir.path());
        c
    }

    fn playbook(&self, args: &[&str]) -> Output {
        self.cmd("ansible-playbook")
            .arg(self.path("ansible/site.yml"))
            .args(args)
            .output()
            .unwrap()
    }

    /// An ad-hoc module run on `pattern`; the per-host results (`--tree`).
    fn ad_hoc(&self, pattern: &str, module: &str, args: &str, extra: &[&str]) -> Results {
        let tree = tempfile::tempdir_in(self.dir.path()).unwrap();
        let out = self
            .cmd("ansible")
            .args([pattern, "-m", module, "-a", args, "-t"])
            .arg(tree.path())
            .args(extra)
            .output()
            .unwrap();
        let mut by_host = BTreeMap::new();
        for e in std::fs::read_dir(tree.path()).unwrap() {
            let e = e.unwrap();
            let v: Value = serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap();
            by_host.insert(e.file_name().to_string_lossy().into_owned(), v);
        }
        Results { out, by_host }
    }
}

struct Results {
    out: Output,
    by_host: BTreeMap<String, Value>,
}

impl Results {
    fn host(&self, h: &str) -> &Value {
        self.by_host.get(h).unwrap_or_else(|| {
            panic!(
                "no result for {h}: {}\n{}",
                String::from_utf8_lossy(&self.out.stdout),
                String::from_utf8_lossy(&self.out.stderr)
            )
        })
    }
}

/// PLAY RECAP: host -> (ok, changed, unreachable, failed).
fn recap(out: &Output) -> BTreeMap<String, [u32; 4]> {
    let text = String::from_utf8_lossy(&out.stdout);
    let mut m = BTreeMap::new();
    let Some(i) = text.find("PLAY RECAP") else {
        return m;
    };
    for line in text[i..].lines().skip(1) {
        let Some((host, rest)) = line.split_once(" : ") else {
            continue;
        };
        let num = |k: &str| -> u32 {
            rest.split_whitespace()
                .find_map(|w| w.strip_prefix(k))
                .and_then(|n| n.parse().ok())
                .unwrap_or(u32::MAX)
        };
        m.insert(
            host.trim().to_string(),
            [
                num("ok="),
                num("changed="),
                num("unreachable="),
                num("failed="),
            ],
        );
    }
    m
}

fn show(o: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The host file of the site.yml test: IOMMU on, 4 VFs on eno2 for guests.
const HOST_FILE: &str = "[kernel]\niommu = true\npt = true\n\n[[sriov]]\npf = \"eno2\"\nvfs = 4\n\n[vfio]\nvfs_of = [\"eno2\"]\n";

/// lspci's VF count of eno2's PF (0000:06:00.1).
fn eno2_vfs(root: &Path) -> Option<u64> {
    lspci(root).get("0000:06:00.1").and_then(|d| d.num_vfs)
}

#[test]
fn site_yml_checks_then_converges_three_ssh_hosts_and_a_second_run_changes_nothing() {
    let Some(lab) = Lab::start(&[
        host_spec_with_tools(),
        host_spec_with_tools(),
        host_spec_with_tools(),
    ]) else {
        return;
    };
    std::fs::write(lab.path("ansible/files/lab.toml"), HOST_FILE).unwrap();
    // h2 already is as asked (converged by the command line beforehand): only h1
    // and h3 need the change.
    std::fs::write(lab.path("lab.toml"), HOST_FILE).unwrap();
    let lab_toml = lab.path("lab.toml");
    ok(&passthru(
        lab.root(1),
        &["apply", lab_toml.to_str().unwrap(), "--yes"],
    ));
    // The reboot stand-ins: record the request, boot the simulator with the new
    // command line, and run what passthru.service runs at boot.
    let mut lines = String::new();
    for (i, h) in lab.fleet.hosts().iter().enumerate() {
        let root = lab.root(i).display().to_string();
        h.on_reboot(
            &format!(
                "{sim} reboot '{root}' --cmdline \"$(cat '{root}/proc/cmdline') intel_iommu=on iommu=pt\" && {pt} --root '{root}' apply --boot --yes >/dev/null",
                sim = passthru_testsupport::sim::harness::default_binary().display(),
                pt = env!("CARGO_BIN_EXE_passthru"),
            ),
            1,
        )
        .unwrap();
        lines.push_str(&format!(
            "{} reboot_command={} reboot_boot_time_command=\"cat {root}/proc/sys/kernel/random/boot_id\"\n",
            h.alias(),
            h.bin_dir().join("reboot").display()
        ));
    }
    lab.write_inventory(&lines);
    let before: Vec<_> = (0..3).map(|i| dump(lab.root(i))).collect();
    let vfs_before: Vec<_> = (0..3).map(|i| eno2_vfs(lab.root(i))).collect();
    assert_eq!(vfs_before, [Some(2), Some(4), Some(2)]);
    let vars = [
        "-e",
        "passthru_host_file=files/lab.toml",
        "-e",
        "doctor_fail_on=never",
    ];

    // Check mode with --diff: the plan and every file it would change; nothing changes.
    let o = lab.playbook(&[&vars[..], &["--check", "--diff"]].concat());
    assert!(o.status.success(), "{}", show(&o));
    let r = recap(&o);
    assert_eq!(r["h1"][1], 1, "h1 would change: {}", show(&o));
    assert_eq!(r["h2"][1], 0, "h2 is already as asked: {}", show(&o));
    assert_eq!(r["h3"][1], 1, "{}", show(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("+0000:06:00.1 sriov_numvfs = 4"), "{text}");
    assert!(text.contains("-0000:06:00.1 sriov_numvfs = 2"), "{text}");
    assert!(text.contains("intel_iommu=on iommu=pt"), "{text}");
    assert!(text.contains("--- before: etc/default/grub"), "{text}");
    for i in 0..3 {
        assert_same(&before[i], &dump(lab.root(i)), "check mode changes nothing");
        assert_eq!(
            eno2_vfs(lab.root(i)),
            vfs_before[i],
            "lspci reads as before"
        );
    }

    // For real, one host at a time, rebooting those whose command line changed.
    let o = lab.playbook(&vars);
    assert!(o.status.success(), "{}", show(&o));
    let r = recap(&o);
    // h1, h3: the apply and the reboot changed. h2's files were already as asked, but
    // it had not booted with that command line yet: only the reboot.
    assert_eq!(
        (r["h1"][1], r["h2"][1], r["h3"][1]),
        (2, 1, 2),
        "{}",
        show(&o)
    );
    for i in 0..3 {
        let log = lab.fleet.host(i).reboot_log();
        assert_eq!(
            log.lines().count(),
            1,
            "one reboot requested on h{}, through the stand-in: {log}",
            i + 1
        );
    }
    for i in 0..3 {
        let root = lab.root(i);
        assert_eq!(eno2_vfs(root), Some(4), "lspci sees 4 VFs on h{}", i + 1);
        let devs = agree(root);
        for vf in [
            "0000:07:10.1",
            "0000:07:10.5",
            "0000:07:11.1",
            "0000:07:11.5",
        ] {
            assert_eq!(
                driver_of(&devs, vf).as_deref(),
                Some("vfio-pci"),
                "h{} {vf}",
                i + 1
            );
        }
        let cmdline = std::fs::read_to_string(root.join("proc/cmdline")).unwrap();
        assert!(
            cmdline.contains("intel_iommu=on iommu=pt"),
            "booted with it: {cmdline}"
        );
    }

    // Again: nothing to do anywhere.
    let o = lab.playbook(&vars);
    assert!(o.status.success(), "{}", show(&o));
    let r = recap(&o);
    assert!(r.values().all(|c| c[1] == 0 && c[3] == 0), "{}", show(&o));
    assert_eq!(r.len(), 3);
}

#[test]
fn ad_hoc_string_arguments_bad_input_per_host_and_undo_on_the_host() {
    let Some(lab) = Lab::start(&[host_spec(), host_spec(), host_spec()]) else {
        return;
    };
    // Strings from `-a k=v` and numbers from JSON arguments plan the same change.
    let s = lab.ad_hoc(
        "h1",
        "passthru.kvm.passthru_vfs",
        "pf=eno2 vfs=4",
        &["--check"],
    );
    let n = lab.ad_hoc(
        "h1",
        "passthru.kvm.passthru_vfs",
        r#"{"pf": "eno2", "vfs": 4}"#,
        &["--check"],
    );
    assert_eq!(s.host("h1")["changed"], true, "{}", s.host("h1"));
    assert_eq!(s.host("h1")["plan"], n.host("h1")["plan"]);
    assert!(s.host("h1")["plan"]["steps"].as_array().unwrap().len() > 1);
    assert_eq!(eno2_vfs(lab.root(0)), Some(2), "check mode");

    // For real on every host, then again: changed once, then not.
    let r = lab.ad_hoc("compute", "passthru.kvm.passthru_vfs", "pf=eno2 vfs=4", &[]);
    for h in ["h1", "h2", "h3"] {
        assert_eq!(r.host(h)["changed"], true, "{h}: {}", r.host(h));
    }
    let again = lab.ad_hoc("compute", "passthru.kvm.passthru_vfs", "pf=eno2 vfs=4", &[]);
    for h in ["h1", "h2", "h3"] {
        assert_eq!(again.host(h)["changed"], false, "{h}: {}", again.host(h));
    }
    for i in 0..3 {
        assert_eq!(eno2_vfs(lab.root(i)), Some(4));
    }

    // The module's change is journaled like the CLI's: `passthru undo` rolls it back.
    let cs = r.host("h1")["change_set"].as_str().unwrap().to_string();
    let list = json(&passthru(lab.root(0), &["--json", "undo", "--list"]));
    let entry = list["change_sets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == cs.as_str())
        .unwrap_or_else(|| panic!("{cs} in the journal: {list}"));
    assert_eq!(entry["command"], "ansible passthru_vfs pf=eno2 vfs=4");
    ok(&passthru(lab.root(0), &["undo", &cs, "--yes"]));
    assert_eq!(eno2_vfs(lab.root(0)), Some(2), "undone");

    // passthru_facts and the command line read the same facts.
    let f = lab.ad_hoc("compute", "passthru.kvm.passthru_facts", "", &[]);
    for (i, h) in ["h1", "h2", "h3"].iter().enumerate() {
        let facts = &f.host(h)["ansible_facts"]["passthru"];
        let ls = json(&passthru(lab.root(i), &["--json", "ls"]));
        for d in ls["devices"].as_array().unwrap() {
            let Some(s) = d["sriov"].as_object() else {
                continue;
            };
            let a = d["address"].as_str().unwrap();
            assert_eq!(facts["sriov"][a]["num_vfs"], s["num_vfs"], "{h} {a}");
            assert_eq!(facts["sriov"][a]["vfs"], d["virtfns"], "{h} {a}");
        }
        assert_eq!(
            facts["sriov"]["0000:06:00.1"]["num_vfs"],
            if i == 0 { 2 } else { 4 }
        );
    }

    // Every key of the facts is documented in docs/json.md.
    let docs = std::fs::read_to_string(repo().join("docs/json.md")).unwrap();
    let section = &docs[docs
        .find("## Ansible modules")
        .expect("docs/json.md documents the modules")..];
    let facts = &f.host("h1")["ansible_facts"]["passthru"];
    let mut keys: Vec<&String> = facts.as_object().unwrap().keys().collect();
    keys.extend(facts["devices"][0].as_object().unwrap().keys());
    keys.extend(facts["iommu"].as_object().unwrap().keys());
    keys.extend(facts["sriov"]["0000:06:00.1"].as_object().unwrap().keys());
    for k in keys {
        assert!(
            section.contains(&format!("`{k}`")),
            "docs/json.md: `{k}` of passthru_facts"
        );
    }

    // Bad input on one host fails that host's task with a clear msg; the others go on.
    std::fs::write(
        lab.path("bad.yml"),
        r#"- hosts: compute
  gather_facts: false
  tasks:
    - name: apply
      passthru.kvm.passthru_apply:
        content: "{{ host_file }}"
        vfz: "{{ vfz | default(omit) }}"
    - name: facts after
      passthru.kvm.passthru_facts:
"#,
    )
    .unwrap();
    std::fs::create_dir_all(lab.path("host_vars")).unwrap();
    for (h, vars) in [
        (
            "h1",
            "host_file: |\n  [[sriov]]\n  pf = \"eno2\"\n  vfs = 4\n",
        ),
        (
            "h2",
            "host_file: |\n  # h2\n  [[sriov]]\n  pf = \"eno2\"\n  vfs = \"four\"\n",
        ),
        ("h3", "host_file: \"\"\nvfz: 1\n"),
    ] {
        std::fs::write(lab.path(&format!("host_vars/{h}.yml")), vars).unwrap();
    }
    let o = lab
        .cmd("ansible-playbook")
        .arg(lab.path("bad.yml"))
        .output()
        .unwrap();
    let r = recap(&o);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(r["h1"], [2, 1, 0, 0], "{}", show(&o));
    assert_eq!(r["h2"][3], 1, "{}", show(&o));
    assert_eq!(r["h3"][3], 1, "{}", show(&o));
    assert!(
        text.contains("Unsupported parameters for (passthru_apply) module: vfz."),
        "{text}"
    );
    // The malformed host file: its name (content), line and what is wrong.
    assert!(
        text.contains("fatal: [h2]: FAILED! => {\"changed\": false, \"msg\": \"content:4:"),
        "{text}"
    );
}

#[test]
fn ansible_doc_prints_the_module_documentation() {
    let Some(bin) = ansible_bin() else {
        return;
    };
    let dir = collection();
    let home = tempfile::tempdir().unwrap();
    for m in ["passthru_apply", "passthru_facts", "passthru_nova"] {
        let o = Command::new(bin.join("ansible-doc"))
            .arg(format!("passthru.kvm.{m}"))
            .env("ANSIBLE_COLLECTIONS_PATH", dir.path().join("ansible"))
            .env("ANSIBLE_HOME", home.path())
            .env("ANSIBLE_NOCOLOR", "1")
            .env("PYTHONWARNINGS", "ignore")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{}", show(&o));
        assert!(text.contains(&format!("passthru.kvm.{m}")), "{text}");
        assert!(text.contains("OPTIONS"), "{text}");
        assert!(text.contains("root"), "{text}");
    }
}
