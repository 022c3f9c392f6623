//! The renderers for other tools, each accepted by that tool's own reader: `render
//! neutron-sriov` loaded with neutron's option definitions and the SR-IOV agent's
//! parsers (PyPI neutron, scripts/peers-venv.sh), its nova device_spec decided by
//! `nova check`; `render k8s-device-plugin` validated against the device plugin's
//! schema (tests/data); `render systemd` passed by `systemd-analyze verify`; `render
//! modprobe` read back by doctor. All on the seeds' I350 host.

use passthru_testsupport::{peer, scenarios};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn passthru(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_passthru"))
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .expect("run passthru")
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The peers venv's python, when it has what the test imports.
fn python(imports: &str) -> Option<PathBuf> {
    let py = std::env::var_os("PASSTHRU_PEERS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/peers-venv"))
        .join("bin/python");
    let probe = Command::new(&py)
        .args(["-W", "ignore", "-c", &format!("import {imports}")])
        .output()
        .map_err(|e| format!("{}: {e} (run scripts/peers-venv.sh)", py.display()))
        .and_then(|o| {
            if o.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "{}: {}",
                    py.display(),
                    String::from_utf8_lossy(&o.stderr)
                ))
            }
        });
    peer::require(&format!("python with {imports}"), probe).then_some(py)
}

/// The text under `[section]` up to the next blank line.
fn section(text: &str, name: &str) -> String {
    let start = text
        .find(&format!("[{name}]"))
        .unwrap_or_else(|| panic!("no [{name}] in {text}"));
    let rest = &text[start..];
    rest.split("\n\n").next().unwrap().to_string() + "\n"
}

#[test]
fn neutron_loads_the_agent_and_ml2_settings_and_nova_takes_the_same_vfs() {
    let t = tempfile::tempdir().unwrap();
    scenarios::i350().write(t.path()).unwrap();
    let out = ok(passthru(
        t.path(),
        &[
            "render",
            "neutron-sriov",
            "--physnet",
            "physnet2",
            "eno2",
            "--exclude",
            "07:10.5",
        ],
    ));
    // nova, on the same output: the device_spec takes eno2's VF 07:10.1 with the
    // physical network, and nothing else.
    let spec: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("device_spec = "))
        .collect();
    assert_eq!(spec.len(), 1, "{out}");
    // (exit 1: no nova.conf here, so PciPassthroughFilter is not enabled: a warning)
    let o = passthru(
        t.path(),
        &["nova", "check", "--device-spec", spec[0], "--json"],
    );
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    let exposed: Vec<(&str, &str)> = v["devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["exposed"] == true)
        .map(|d| {
            (
                d["address"].as_str().unwrap(),
                d["tags"]["physical_network"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(exposed, [("0000:07:10.1", "physnet2")]);
    // `nova check --physnet` on the rendered spec: a direct port on physnet2 gets
    // 07:10.1 (07:10.5 is excluded from the agent, so not in the spec); on physnet3, none.
    let ports = |physnet: &str| {
        let o = passthru(
            t.path(),
            &[
                "nova",
                "check",
                "--device-spec",
                spec[0],
                "--physnet",
                physnet,
                "--json",
            ],
        );
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        (
            o.status.code(),
            v["ports"]["vfs"].as_array().unwrap().clone(),
        )
    };
    let (_, vfs) = ports("physnet2");
    let usable: Vec<&str> = vfs
        .iter()
        .filter(|v| v["usable"] == true)
        .map(|v| v["address"].as_str().unwrap())
        .collect();
    assert_eq!(usable, ["0000:07:10.1"]);
    let (code, vfs) = ports("physnet3");
    assert_eq!(code, Some(2), "no VF for the port");
    let why = vfs.iter().find(|v| v["address"] == "0000:07:10.1").unwrap();
    assert!(
        why["reason"]
            .as_str()
            .unwrap()
            .contains("with physical_network physnet2, not physnet3"),
        "{why}"
    );
    let Some(py) = python("neutron.conf.plugins.ml2.config, neutron.plugins.ml2.drivers.mech_sriov.agent.common.config") else {
        return;
    };
    let agent = t.path().join("sriov_agent.ini");
    let ml2 = t.path().join("ml2_conf.ini");
    std::fs::write(&agent, section(&out, "sriov_nic")).unwrap();
    std::fs::write(&ml2, section(&out, "ml2")).unwrap();
    let o = Command::new(&py)
        .args(["-W", "ignore"])
        .arg(repo().join("scripts/neutron_load.py"))
        .arg(&agent)
        .arg(&ml2)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    assert_eq!(
        v["physical_device_mappings"],
        serde_json::json!({"physnet2": ["eno2"]})
    );
    assert_eq!(
        v["exclude_devices"],
        serde_json::json!({"eno2": ["0000:07:10.5"]})
    );
    assert_eq!(
        v["mechanism_drivers"],
        serde_json::json!(["openvswitch", "sriovnicswitch"])
    );
    // The check has teeth: neutron refuses a mapping without a physical network.
    std::fs::write(&agent, "[sriov_nic]\nphysical_device_mappings = eno2\n").unwrap();
    let o = Command::new(&py)
        .args(["-W", "ignore"])
        .arg(repo().join("scripts/neutron_load.py"))
        .arg(&agent)
        .arg(&ml2)
        .output()
        .unwrap();
    assert!(!o.status.success());
}

#[test]
fn the_device_plugin_config_follows_its_schema() {
    let t = tempfile::tempdir().unwrap();
    scenarios::i350().write(t.path()).unwrap();
    let cm: Value = serde_json::from_str(&ok(passthru(
        t.path(),
        &[
            "render",
            "k8s-device-plugin",
            "07:10.1",
            "07:10.5",
            "07:10.3",
            "--resource-name",
            "intel_sriov",
            "--json",
        ],
    )))
    .unwrap();
    assert_eq!(cm["kind"], "ConfigMap");
    let config: Value = serde_json::from_str(cm["data"]["config.json"].as_str().unwrap()).unwrap();
    let sel = &config["resourceList"][0]["selectors"];
    assert_eq!(sel["pfNames"], serde_json::json!(["eno2#0-1", "eno4#0"]));
    assert_eq!(sel["vendors"], serde_json::json!(["8086"]));
    assert_eq!(sel["devices"], serde_json::json!(["1520"]));
    let o = passthru(
        t.path(),
        &[
            "render",
            "k8s-device-plugin",
            "eno1",
            "--resource-name",
            "x",
        ],
    );
    assert!(!o.status.success(), "a PF is refused");
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not an SR-IOV VF"));
    let Some(py) = python("jsonschema") else {
        return;
    };
    let f = t.path().join("config.json");
    let validate = |v: &Value| {
        std::fs::write(&f, serde_json::to_vec(v).unwrap()).unwrap();
        Command::new(&py)
            .args(["-c", "import json,sys,jsonschema; jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))"])
            .arg(&f)
            .arg(repo().join("tests/data/sriovdp-config.schema.json"))
            .output()
            .unwrap()
    };
    let o = validate(&config);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut bad = config.clone();
    bad["resourceList"][0]["selectors"]["pfNames"] = serde_json::json!(["eno2#0-"]);
    assert!(!validate(&bad).status.success(), "the schema has teeth");
}

#[test]
fn the_rendered_unit_passes_systemd_analyze_verify() {
    let Some(sa) = peer::require_program("systemd-analyze") else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    scenarios::i350().write(t.path()).unwrap();
    let v: Value =
        serde_json::from_str(&ok(passthru(t.path(), &["render", "systemd", "--json"]))).unwrap();
    assert_eq!(v["path"], "/etc/systemd/system/passthru.service");
    let r = t.path().join("verify-root");
    std::fs::create_dir_all(r.join("etc/systemd/system")).unwrap();
    std::fs::create_dir_all(r.join("usr/bin")).unwrap();
    std::fs::create_dir_all(r.join("etc/passthru")).unwrap();
    std::fs::write(r.join("etc/passthru/host.toml"), "").unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_passthru"), r.join("usr/bin/passthru")).unwrap();
    std::fs::write(
        r.join("etc/systemd/system/passthru.service"),
        v["text"].as_str().unwrap(),
    )
    .unwrap();
    let o = Command::new(sa)
        .arg("verify")
        .arg(format!("--root={}", r.display()))
        .arg("/etc/systemd/system/passthru.service")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        o.status.success() && !text.contains("passthru.service"),
        "{text}"
    );
}

#[test]
fn the_rendered_modprobe_file_is_read_back_by_doctor() {
    let t = tempfile::tempdir().unwrap();
    scenarios::i350().write(t.path()).unwrap();
    let v: Value = serde_json::from_str(&ok(passthru(
        t.path(),
        &[
            "render",
            "modprobe",
            "07:10.7",
            "--softdep",
            "igbvf",
            "--json",
        ],
    )))
    .unwrap();
    let text = v["text"].as_str().unwrap();
    assert!(
        text.contains("options vfio-pci ids=8086:1520\n")
            && text.contains("softdep igbvf pre: vfio-pci\n"),
        "{text}"
    );
    // Installed as another admin's file (not passthru's own), doctor reads the ids and
    // names modprobe.d as who binds the I350 VFs at boot.
    std::fs::write(t.path().join("etc/modprobe.d/vfio.conf"), text).unwrap_or_else(|_| {
        std::fs::create_dir_all(t.path().join("etc/modprobe.d")).unwrap();
        std::fs::write(t.path().join("etc/modprobe.d/vfio.conf"), text).unwrap();
    });
    let d: Value =
        serde_json::from_slice(&passthru(t.path(), &["doctor", "--json"]).stdout).unwrap();
    let f = d["findings"].as_array().unwrap();
    assert!(f
        .iter()
        .any(|f| f["id"] == "config.vfio-ids-absent" && f["severity"] == "pass"));
    let owned: Vec<&Value> = f.iter().filter(|f| f["id"] == "conflict.driver").collect();
    assert_eq!(owned.len(), 8, "every I350 VF");
    assert!(owned[0]["message"]
        .as_str()
        .unwrap()
        .contains("modprobe.d (vfio-pci ids=8086:1520, /etc/modprobe.d/vfio.conf:2)"));
}
