//! The sysfs source on trees that misbehave: devices vanishing mid-scan, garbage in
//! attributes, and links that try to leave the root.

use passthru::host::sources::read_root;
use passthru_testsupport::fakehost::FakeHost;
use std::os::unix::fs::symlink;

#[test]
fn a_vanished_device_is_skipped_with_a_warning_and_the_scan_goes_on() {
    let t = FakeHost::scenario("i350").unwrap().write_temp().unwrap();
    let root = t.path();
    // VF 07:10.3 being removed: its directory is gone, the bus link still dangles.
    let link = root.join("sys/bus/pci/devices/0000:07:10.3");
    let target = std::fs::read_link(&link).unwrap();
    std::fs::remove_dir_all(link.parent().unwrap().join(&target)).unwrap();
    let host = read_root(root).expect("the scan survives");
    assert!(host.device(&"0000:07:10.3".parse().unwrap()).is_none());
    assert!(host.device(&"0000:07:10.7".parse().unwrap()).is_some());
    assert!(
        host.warnings
            .iter()
            .any(|w| w.contains("0000:07:10.3") && w.contains("vanished")),
        "{:?}",
        host.warnings
    );
}

#[test]
fn garbage_ids_skip_that_device_naming_the_file() {
    let t = FakeHost::scenario("i350").unwrap().write_temp().unwrap();
    let root = t.path();
    let dev = root.join("sys/bus/pci/devices/0000:06:00.1");
    let real = std::fs::canonicalize(&dev).unwrap();
    // Without uevent the single files are read; make the vendor file garbage.
    std::fs::remove_file(real.join("uevent")).unwrap();
    std::fs::write(real.join("vendor"), "0xzzzz\n").unwrap();
    let host = read_root(root).expect("the scan survives");
    assert!(host.device(&"0000:06:00.1".parse().unwrap()).is_none());
    assert!(host.device(&"0000:06:00.0".parse().unwrap()).is_some());
    let w = host.warnings.join("\n");
    assert!(
        w.contains("0000:06:00.1") && w.contains("vendor") && w.contains("0xzzzz"),
        "{w}"
    );
}

#[test]
fn links_never_leave_the_root() {
    let outside = tempfile::tempdir().unwrap();
    let evil = outside.path().join("evil");
    std::fs::create_dir_all(&evil).unwrap();
    std::fs::write(evil.join("vendor"), "0x1234\n").unwrap();
    std::fs::write(evil.join("device"), "0x5678\n").unwrap();
    std::fs::write(evil.join("class"), "0x020000\n").unwrap();
    let t = FakeHost::scenario("i350").unwrap().write_temp().unwrap();
    let root = t.path();
    // An absolute link, and one that climbs far above the root: both must resolve
    // inside the root (where nothing exists), never to the directory outside.
    symlink(&evil, root.join("sys/bus/pci/devices/0000:99:00.0")).unwrap();
    let climb = format!("../../../../../../../../../../..{}", evil.display());
    symlink(climb, root.join("sys/bus/pci/devices/0000:99:00.1")).unwrap();
    let host = read_root(root).expect("the scan survives");
    for a in ["0000:99:00.0", "0000:99:00.1"] {
        assert!(
            host.device(&a.parse().unwrap()).is_none(),
            "{a} was read from outside the root"
        );
    }
    assert!(host.devices.iter().all(|d| d.vendor_id.0 != 0x1234));
}
