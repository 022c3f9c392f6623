//! `passthru doctor` on this machine's real root, judged against libvirt's
//! `virt-host-validate qemu` (Debian package libvirt-clients): both must reach the same
//! verdict about the IOMMU. On a host without one (like the CI machine) doctor must
//! say so plainly and exit 2, where virt-host-validate only warns.

use serde_json::Value;
use std::process::{Command, Stdio};

/// `Checking <what> : <WORD> (...)` lines of virt-host-validate, as (what, word).
fn vhv_results(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim().strip_prefix("QEMU: Checking ")?;
            let (what, res) = l.rsplit_once(" : ").or_else(|| l.split_once(" : "))?;
            let word = res.split_whitespace().next()?.to_string();
            Some((what.trim().to_string(), word))
        })
        .collect()
}

#[test]
fn vhv_lines_parse() {
    let r = vhv_results("  QEMU: Checking for device assignment IOMMU support                         : WARN (Unknown if this platform has IOMMU support)\n  QEMU: Checking if IOMMU is enabled by kernel : PASS\n");
    assert_eq!(
        r,
        vec![
            (
                "for device assignment IOMMU support".to_string(),
                "WARN".to_string()
            ),
            (
                "if IOMMU is enabled by kernel".to_string(),
                "PASS".to_string()
            )
        ]
    );
}

#[test]
fn real_root_agrees_with_virt_host_validate_about_the_iommu() {
    if !passthru_testsupport::peer::require_programs(&["virt-host-validate"]) {
        return;
    }
    let vhv = Command::new("virt-host-validate")
        .arg("qemu")
        .stdin(Stdio::null())
        .output()
        .expect(
            "virt-host-validate is needed (Debian libvirt-clients; scripts/test.sh installs it)",
        );
    let vhv = vhv_results(&String::from_utf8_lossy(&vhv.stdout));
    let word = |what: &str| vhv.iter().find(|(w, _)| w == what).map(|(_, r)| r.as_str());
    let vhv_fw = word("for device assignment IOMMU support")
        .expect("virt-host-validate checks IOMMU support");
    // virt-host-validate checks the kernel only when the firmware check passed.
    let vhv_kernel = word("if IOMMU is enabled by kernel");
    let vhv_iommu_ok = vhv_fw == "PASS" && vhv_kernel == Some("PASS");

    let o = Command::new(env!("CARGO_BIN_EXE_passthru"))
        .args(["doctor", "--json"])
        .stdin(Stdio::null())
        .output()
        .expect("run passthru");
    let v: Value = serde_json::from_slice(&o.stdout).expect("doctor --json");
    let find = |id: &str| {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == id)
            .unwrap_or_else(|| panic!("no {id}"))
            .clone()
    };
    let kernel = find("iommu.kernel-disabled");
    let ours_ok = kernel["severity"] == "pass";
    assert_eq!(
        ours_ok, vhv_iommu_ok,
        "passthru says {kernel}, virt-host-validate says firmware {vhv_fw}, kernel {vhv_kernel:?}"
    );
    // Firmware verdicts agree too (both PASS, or both not).
    assert_eq!(
        find("iommu.no-firmware-table")["severity"] == "pass",
        vhv_fw == "PASS" || ours_ok,
    );

    let groups = std::fs::read_dir("/sys/kernel/iommu_groups")
        .map(|d| d.count())
        .unwrap_or(0);
    if groups == 0 {
        // Plainly: no IOMMU, a failure, exit 2.
        assert_eq!(kernel["severity"], "fail");
        assert!(
            kernel["message"]
                .as_str()
                .unwrap()
                .starts_with("no IOMMU groups:"),
            "{kernel}"
        );
        assert!(kernel["fix"].is_string());
        assert_eq!(o.status.code(), Some(2));
        let text = Command::new(env!("CARGO_BIN_EXE_passthru"))
            .arg("doctor")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&text.stdout);
        let line = text
            .lines()
            .find(|l| {
                l.trim_start()
                    .starts_with("Checking if IOMMU is enabled by kernel")
            })
            .expect("the kernel IOMMU line");
        assert!(line.contains(": FAIL (no IOMMU groups:"), "{line}");
    }
}
