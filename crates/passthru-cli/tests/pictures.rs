//! `passthru topo` and `passthru report --html` end to end, through the real binary on
//! fake host trees, checked by real peers: the SVG by an XML parser (roxmltree), the DOT
//! by Graphviz's `dot`, the pages by headless Chromium (the DOM it builds, a screenshot
//! kept under target/tmp/browser/, and its network log: nothing may leave the page).

use passthru_testsupport::{bdf, peer, scenarios, ExtraFile, FakeHost, HostSpec};
use scraper::{Html, Selector};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

fn tree(spec: HostSpec) -> TempDir {
    let t = tempfile::tempdir().unwrap();
    FakeHost::new(spec).write(t.path()).unwrap();
    t
}

fn passthru(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_passthru"))
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .expect("run passthru")
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.code().is_some_and(|c| c <= 2),
        "passthru failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn file(h: &mut HostSpec, path: &str, contents: &str) {
    h.files.push(ExtraFile {
        path: path.into(),
        contents: contents.into(),
        link: None,
        mode: None,
    });
}

/// The seed's host with the seed's nova.conf lines and its guest defined in libvirt,
/// and one broken device: VF 07:10.6 (which nova's device_spec takes, so doctor checks
/// it) put in IOMMU group 21 with the SATA controller the host uses: doctor FAILs it.
fn seed_host() -> HostSpec {
    let mut h = scenarios::i350();
    let pf = h
        .devices
        .iter_mut()
        .find(|d| d.address == bdf("0000:06:00.2"))
        .unwrap();
    pf.sriov.as_mut().unwrap().vfs[1].iommu_group = Some(21);
    file(
        &mut h,
        "etc/nova/nova.conf",
        "[DEFAULT]\npci_alias={\"name\": \"igbnic\", \"vendor_id\": \"8086\", \"product_id\": \"1520\"}\npci_passthrough_whitelist=[{\"vendor_id\": \"8086\", \"product_id\": \"1520\", \"physical_network\": \"physnet1\"}]\nscheduler_default_filters=RetryFilter,AvailabilityZoneFilter,RamFilter,ComputeFilter,ComputeCapabilitiesFilter,ImagePropertiesFilter,CoreFilter,PciPassthroughFilter\n",
    );
    let dom = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../passthru/tests/fixtures/libvirt/seed-instance-00000001.xml"),
    )
    .unwrap();
    file(&mut h, "etc/libvirt/qemu/instance-00000001.xml", &dom);
    h
}

fn addresses(root: &Path) -> Vec<String> {
    let v: Value = serde_json::from_str(&ok(&passthru(root, &["ls", "--json"]))).unwrap();
    v["devices"]
        .as_array()
        .expect("ls --json devices")
        .iter()
        .map(|d| d["address"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn svg_and_json_agree_with_ls_and_dot_accepts_the_graph() {
    let t = tree(seed_host());
    let all = addresses(t.path());
    assert_eq!(all.len(), 15);
    let svg = ok(&passthru(t.path(), &["topo", "--format", "svg"]));
    let doc = roxmltree::Document::parse(&svg).expect("the SVG is XML");
    for a in &all {
        let n = doc
            .descendants()
            .find(|n| n.attribute("data-addr") == Some(a.as_str()))
            .unwrap_or_else(|| panic!("{a} missing from the SVG"));
        assert!(n.children().any(|c| c.has_tag_name("title")), "{a} hover");
    }
    let fail: Vec<&str> = doc
        .descendants()
        .filter(|n| n.attribute("data-severity") == Some("fail"))
        .filter_map(|n| n.parent().and_then(|p| p.attribute("data-addr")))
        .collect();
    assert_eq!(
        fail,
        vec!["0000:07:10.6"],
        "doctor's FAIL is on the broken device"
    );

    // --json: the tree the pictures are drawn from holds what ls lists.
    let j: Value = serde_json::from_str(&ok(&passthru(t.path(), &["topo", "--json"]))).unwrap();
    assert_eq!(j["device_count"].as_u64(), Some(all.len() as u64));
    assert_eq!(j["numa"][0]["id"].as_u64(), Some(0));

    // The same picture as Graphviz's input: dot must lay it out.
    let dot = ok(&passthru(t.path(), &["topo", "--format", "dot"]));
    for a in &all {
        assert!(dot.contains(&format!("\"{a}\"")), "{a} in DOT");
    }
    let Some(dot_bin) = peer::require_program("dot") else {
        return;
    };
    let mut child = Command::new(dot_bin)
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dot.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "dot refused the graph: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let laid = String::from_utf8_lossy(&out.stdout);
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(&laid, opts).expect("dot's SVG");
    assert!(laid.contains("group 40") && laid.contains("0000:07:10.7"));
}

#[test]
fn text_tree_scopes_and_errors() {
    let t = tree(seed_host());
    let text = ok(&passthru(t.path(), &["topo", "--device", "07:10.7"]));
    assert!(text.contains("around 0000:07:10.7"), "{text}");
    assert!(text.contains("0000:07:10.7") && text.contains("0000:06:00.3"));
    assert!(
        !text.contains("0000:06:00.0"),
        "other PFs are left out: {text}"
    );
    let o = passthru(t.path(), &["topo", "--numa", "3"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no NUMA node 3 (it has: 0)"));
    let o = passthru(t.path(), &["topo", "--device", "eno9"]);
    assert_eq!(o.status.code(), Some(3));
}

// ---- the browser ----

/// Chromium's flags as this machine's notes give them, plus: every host name resolves
/// to nothing and every proxy is a closed loopback port, so whatever the browser's own
/// services try cannot leave the machine (the network log still shows the attempt).
fn chromium_args(profile: &Path) -> Vec<String> {
    [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-default-apps",
        "--no-pings",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect()
}

/// What Chromium made of a page.
struct Loaded {
    dom: Html,
    /// URLs the page asked for (the network log's requests with an initiator; the
    /// browser's own background requests have none).
    page_requests: Vec<String>,
}

fn artifacts() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs Chromium with a bounded wait; `None` when it is not installed (skipped with a
/// reason, or a failure under CI).
fn chromium(page: &Path, name: &str, height: u32) -> Option<Loaded> {
    let bin = peer::require_program("chromium")?;
    let work = tempfile::tempdir().unwrap();
    let netlog = work.path().join("netlog.json");
    let shot = artifacts().join(format!("{name}.png"));
    let _ = std::fs::remove_file(&shot);
    let mut child = Command::new(bin)
        .args(chromium_args(&work.path().join("profile")))
        .arg(format!("--window-size=1280,{height}"))
        .arg(format!("--log-net-log={}", netlog.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).map(|_| s)
    });
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish rendering {name} within 180 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let dom = reader.join().unwrap().expect("chromium's DOM");
    assert!(dom.contains("</html>"), "chromium dumped no DOM for {name}");
    assert!(
        std::fs::metadata(&shot).is_ok_and(|m| m.len() > 1000),
        "no screenshot of {name}"
    );
    std::fs::write(artifacts().join(format!("{name}.dom.html")), &dom).unwrap();
    let log: Value =
        serde_json::from_str(&std::fs::read_to_string(&netlog).expect("network log")).unwrap();
    Some(Loaded {
        dom: Html::parse_document(&dom),
        page_requests: page_requests(&log),
    })
}

/// The requests a page made, from Chromium's network log: `URL_REQUEST_START_JOB`
/// events whose initiator is an origin (a page's); the browser's own services log
/// `not an origin`.
fn page_requests(log: &Value) -> Vec<String> {
    let start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
        .as_u64()
        .expect("netlog constants");
    log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"].as_u64() == Some(start))
        .filter(|e| e["params"]["initiator"].as_str() != Some("not an origin"))
        .filter_map(|e| e["params"]["url"].as_str().map(str::to_string))
        .collect()
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap()
}

fn count(dom: &Html, s: &str) -> usize {
    dom.select(&sel(s)).count()
}

#[test]
fn the_request_detector_sees_a_page_that_fetches() {
    // The negative control: without it, an empty list would prove nothing.
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("fetches.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body><img src=\"http://127.0.0.1:9/pixel.png\"></body></html>",
    )
    .unwrap();
    let Some(l) = chromium(&page, "control-fetches", 300) else {
        return;
    };
    assert_eq!(l.page_requests, vec!["http://127.0.0.1:9/pixel.png"]);
}

#[test]
fn seed_report_in_chromium() {
    let t = tree(seed_host());
    let all = addresses(t.path());
    let page = t.path().join("report.html");
    let o = passthru(t.path(), &["report", "--html", page.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "doctor's FAIL is the exit code");
    let Some(l) = chromium(&page, "seed-report", 3000) else {
        return;
    };
    assert!(l.page_requests.is_empty(), "{:?}", l.page_requests);
    let d = &l.dom;
    // Every device is in the topology and in the device table.
    for a in &all {
        assert_eq!(
            count(d, &format!(".topo .dev[data-addr=\"{a}\"]")),
            1,
            "{a}"
        );
        assert!(
            d.select(&sel(".devtable tbody tr td:first-child"))
                .any(|c| c.text().collect::<String>() == *a),
            "{a} in the device table"
        );
    }
    // The seed's VF inside IOMMU group 40, under NUMA node 0.
    assert_eq!(
        count(
            d,
            "section.numa[data-numa=\"0\"] .grp[data-group=\"40\"] > .dev[data-addr=\"0000:07:10.7\"][data-state=\"vfio\"]"
        ),
        1
    );
    // The broken device's FAIL badge, with the finding on hover.
    let badge = d
        .select(&sel(
            ".dev[data-addr=\"0000:07:10.6\"] .badge[data-severity=\"fail\"]",
        ))
        .next()
        .expect("FAIL badge");
    assert!(badge.value().attr("title").unwrap().contains("IOMMU group"));
    // The script ran (under the page's no-fetch policy): the table counts its rows.
    assert_eq!(
        d.select(&sel("#dev0-count"))
            .next()
            .unwrap()
            .text()
            .collect::<String>(),
        format!("{} shown", all.len())
    );
    // doctor's findings with fixes, nova's check and the guest's verification.
    assert!(count(d, "details.doctor pre.fix") >= 1);
    let nova: String = d
        .select(&sel("details.nova h3"))
        .next()
        .unwrap()
        .text()
        .collect();
    assert!(
        nova.contains("nova-compute starts") && nova.contains("8 devices exposed"),
        "{nova}"
    );
    let guests: String = d
        .select(&sel("details.guests"))
        .next()
        .unwrap()
        .text()
        .collect();
    assert!(guests.contains("instance-00000001"), "{guests}");
    assert!(count(d, "details.groups tr[data-group=\"40\"]") == 1);
}

#[test]
fn big_host_pages_in_chromium() {
    let t = tree(scenarios::parametric(16, 128));
    let all = addresses(t.path());
    assert_eq!(all.len(), 2081);
    let report = t.path().join("report.html");
    let topo = t.path().join("topo.html");
    ok(&passthru(
        t.path(),
        &["report", "--html", report.to_str().unwrap()],
    ));
    ok(&passthru(
        t.path(),
        &["topo", "--format", "html", "-o", topo.to_str().unwrap()],
    ));
    let size = std::fs::metadata(&report).unwrap().len();
    assert!(size < 2 * 1024 * 1024, "report is {size} bytes");
    for (page, name) in [(&report, "big-report"), (&topo, "big-topo")] {
        let Some(l) = chromium(page, name, 1400) else {
            return;
        };
        assert!(l.page_requests.is_empty(), "{:?}", l.page_requests);
        let d = &l.dom;
        assert_eq!(count(d, ".topo .dev"), all.len(), "{name}");
        // 16 PFs, each with its VFs folded into one expandable row.
        assert_eq!(count(d, ".topo details.vfs"), 16);
        let summary: String = d
            .select(&sel("details.vfs[data-pf=\"0000:01:00.0\"] > summary"))
            .next()
            .unwrap()
            .text()
            .collect();
        assert!(
            summary.starts_with("128 VFs: 112 iavf, 16 vfio-pci; groups 3-130"),
            "{summary}"
        );
        assert_eq!(count(d, "details.vfs[data-pf=\"0000:01:00.0\"] .dev"), 128);
    }
}

#[test]
fn fleet_page_from_snapshots() {
    let a = tree(seed_host());
    let b = tree(scenarios::two_socket());
    let dir = tempfile::tempdir().unwrap();
    let snap = |root: &Path, name: &str| {
        let p = dir.path().join(name);
        ok(&passthru(root, &["snapshot", "-o", p.to_str().unwrap()]));
        p
    };
    let (sa, sb) = (snap(a.path(), "a.json"), snap(b.path(), "b.json"));
    let page = dir.path().join("fleet.html");
    let o = Command::new(env!("CARGO_BIN_EXE_passthru"))
        .args(["report", "--html"])
        .arg(&page)
        .arg(&sa)
        .arg(&sb)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "the worst host's verdict");
    let html = std::fs::read_to_string(&page).unwrap();
    let d = Html::parse_document(&html);
    assert_eq!(count(&d, "section.fleet tbody tr"), 2);
    assert_eq!(count(&d, "section.host"), 2);
    assert!(count(&d, "section.host#h1 .dev[data-addr=\"0000:d8:00.0\"]") == 1);
    // A snapshot carries no guest XML: the page says so instead of verifying.
    let g: String = d
        .select(&sel("#h0 details.guests"))
        .next()
        .unwrap()
        .text()
        .collect();
    assert!(g.contains("not their XML"), "{g}");
}

#[test]
fn fleet_page_over_ssh_with_the_odd_ones_out() {
    use passthru_testsupport::sshd::{sshd_or_skip, SshFleet};
    if !sshd_or_skip() {
        return;
    }
    // h1 and h2 serve the seed host over real OpenSSH on loopback; a third host, as a
    // snapshot file, booted without intel_iommu=on: the odd one out.
    let same = tree(scenarios::i350());
    let odd = tree(scenarios::i350().cmdline(
        "BOOT_IMAGE=/vmlinuz-3.10.0-229.el7.x86_64 root=/dev/mapper/rhel-root ro rhgb quiet",
    ));
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("odd.json");
    ok(&passthru(
        odd.path(),
        &["snapshot", "-o", snap.to_str().unwrap()],
    ));
    let fleet = SshFleet::start_n(2).unwrap();
    for h in fleet.hosts() {
        h.install("passthru", Path::new(env!("CARGO_BIN_EXE_passthru")))
            .unwrap();
    }
    let page = dir.path().join("fleet.html");
    let o = Command::new(env!("CARGO_BIN_EXE_passthru"))
        .arg("--ssh-config")
        .arg(fleet.ssh_config())
        .args(["--host", "h1", "--host", "h2", "--remote-root"])
        .arg(same.path())
        .args(["report", "--html"])
        .arg(&page)
        .arg(&snap)
        .env_remove("PASSTHRU_ROOT")
        .output()
        .unwrap();
    assert!(
        o.status.code().is_some_and(|c| c <= 2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let d = Html::parse_document(&std::fs::read_to_string(&page).unwrap());
    let hosts: Vec<String> = d
        .select(&sel("section.fleet tbody tr"))
        .map(|r| r.value().attr("data-host").unwrap().to_string())
        .collect();
    assert_eq!(
        hosts,
        vec![snap.display().to_string(), "h1".into(), "h2".into()]
    );
    assert_eq!(count(&d, "section.host"), 3);
    let row = d
        .select(&sel("section.odd tr[data-fact=\"kernel.iommu_args\"]"))
        .next()
        .expect("the fleet diff's kernel arguments row");
    let t: String = row.text().collect();
    assert!(
        t.contains(&snap.display().to_string()) && t.contains("intel_iommu=on"),
        "{t}"
    );
}
