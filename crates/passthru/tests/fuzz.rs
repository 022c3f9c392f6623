//! Fuzzing with proptest: every reader of outside text — `lspci -nnvvv` text, snapshot
//! JSON, the host file (TOML), nova.conf (oslo's INI), nova's JSON values (device_spec,
//! alias) and libvirt domain XML — takes mangled versions of real inputs (the seeds)
//! and arbitrary text without panicking: it answers with facts or with an error. What
//! a reader accepts goes on to the code after it (doctor's checks, groups, verify,
//! nova's device_spec and alias rules, the apply planner's selectors), which must not
//! panic on strange facts either.
//!
//! Bounded: `PASSTHRU_FUZZ_CASES` cases per target (default 256; the whole file runs
//! in well under a minute in a debug build); raise it for a longer hunt.

use passthru::checks::{self, Context};
use passthru::host::sources::lspci_text::parse_lspci;
use passthru::host::sources::snapshot::from_json;
use passthru::libvirt::{parse_domain, verify_domain, VerifyOptions};
use passthru::nova::conf::NovaConf;
use passthru::nova::spec::SpecContext;
use passthru::nova::sysfs::SysfsView;
use passthru::Host;
use proptest::prelude::*;
use proptest::sample::Index;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

fn cases() -> u32 {
    std::env::var("PASSTHRU_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        max_shrink_iters: 200,
        // A failure is shrunk and printed with its input; no regression files in the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

static LSPCI: LazyLock<String> = LazyLock::new(|| read("tests/data/lspci/seed-000-i350-sriov.txt"));
static SNAPSHOT: LazyLock<String> =
    LazyLock::new(|| read("crates/passthru/tests/fixtures/libvirt/seed-host.json"));
static DOMAIN: LazyLock<String> =
    LazyLock::new(|| read("crates/passthru/tests/fixtures/libvirt/seed-instance-00000001.xml"));
static SEED_HOST: LazyLock<Host> =
    LazyLock::new(|| from_json(&SNAPSHOT, Path::new("seed-host.json")).expect("the seed snapshot"));

/// nova.conf as the first seed has it (deprecated [DEFAULT] names) plus the [pci] form.
const NOVA_CONF: &str = r#"[DEFAULT]
pci_alias = {"name": "igbnic", "vendor_id": "8086", "product_id": "1520"}
pci_passthrough_whitelist = [{"vendor_id": "8086", "product_id": "1520"}]
scheduler_default_filters = RetryFilter, AvailabilityZoneFilter, RamFilter, ComputeFilter, PciPassthroughFilter
my_ip = 192.0.2.10
state_path = /var/lib/nova
lock_path = $state_path/tmp

[pci]
device_spec = {"devname": "eno2", "physical_network": "physnet2"}
device_spec = {"address": {"domain": ".*", "bus": "07", "slot": "10", "function": "[0-7]"}, "vendor_id": "8086"}
alias = {"name": "gpu", "vendor_id": "10de", "product_id": "1b80", "device_type": "type-PCI", "numa_policy": "preferred"}
report_in_placement = False

[filter_scheduler]
enabled_filters = ComputeFilter,PciPassthroughFilter
"#;

/// The host file documented in docs/host-file.md (its first `toml` block).
static HOST_FILE: LazyLock<String> = LazyLock::new(|| {
    let doc = read("docs/host-file.md");
    let start = doc
        .find("```toml\n")
        .expect("docs/host-file.md has a toml example")
        + 8;
    let len = doc[start..].find("```").expect("the example ends");
    doc[start..start + len].to_string()
});

/// Pieces that make parsers take unusual paths: separators, quotes, brackets, hex,
/// numbers at the edges of their types, escapes, non-ASCII.
const PIECES: &[&str] = &[
    "",
    "\n",
    "\t",
    " ",
    ":",
    ".",
    ",",
    "=",
    "[",
    "]",
    "{",
    "}",
    "(",
    ")",
    "\"",
    "'",
    "\\",
    "<",
    ">",
    "/>",
    "</",
    "&",
    "&#x0;",
    "&amp;",
    "$",
    "${",
    "#",
    ";",
    "...",
    "0x",
    "ffff",
    "0000:",
    "07:10.7",
    "0000:07:10.7",
    "ffff:ff:1f.7",
    "[8086...",
    "[8086:",
    "4294967295",
    "4294967296",
    "18446744073709551616",
    "-1",
    "1e309",
    "NaN",
    "null",
    "true",
    "é",
    "\u{0}",
    "\u{feff}",
    "🦀",
    "\r\n",
    "IOMMU group:",
    "Kernel driver in use:",
    "Capabilities:",
    "Total VFs:",
    "VF offset:",
    "stride:",
    "Device ID:",
    "Number of VFs:",
];

/// One edit of a text: what to do, where, and with what.
#[derive(Clone, Debug)]
enum Edit {
    Delete(Index, usize),
    Insert(Index, String),
    Piece(Index, Index),
    DuplicateLine(Index),
    Truncate(Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<Index>(), 1usize..40).prop_map(|(i, n)| Edit::Delete(i, n)),
        (any::<Index>(), "\\PC{0,16}").prop_map(|(i, s)| Edit::Insert(i, s)),
        (any::<Index>(), any::<Index>()).prop_map(|(i, p)| Edit::Piece(i, p)),
        any::<Index>().prop_map(Edit::DuplicateLine),
        any::<Index>().prop_map(Edit::Truncate),
    ]
}

/// The nearest char boundary at or before `i`.
fn boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(seed: &str, edits: &[Edit]) -> String {
    let mut s = seed.to_string();
    for e in edits {
        let at = |i: &Index, s: &str| boundary(s, i.index(s.len() + 1));
        match e {
            Edit::Delete(i, n) => {
                let a = at(i, &s);
                let b = boundary(&s, a + n);
                s.replace_range(a..b, "");
            }
            Edit::Insert(i, t) => {
                let a = at(i, &s);
                s.insert_str(a, t);
            }
            Edit::Piece(i, p) => {
                let a = at(i, &s);
                s.insert_str(a, PIECES[p.index(PIECES.len())]);
            }
            Edit::DuplicateLine(i) => {
                let lines: Vec<&str> = s.lines().collect();
                if !lines.is_empty() {
                    let k = i.index(lines.len());
                    let mut out: Vec<&str> = lines.clone();
                    out.insert(k, lines[k]);
                    s = out.join("\n");
                }
            }
            Edit::Truncate(i) => {
                let a = at(i, &s);
                s.truncate(a);
            }
        }
    }
    s
}

/// A mangled seed (most cases) or arbitrary text.
fn mangled(seed: &'static LazyLock<String>) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::collection::vec(edit(), 1..8).prop_map(move |es| apply(seed, &es)),
        1 => "\\PC{0,200}",
    ]
}

fn mangled_str(seed: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::collection::vec(edit(), 1..8).prop_map(move |es| apply(seed, &es)),
        1 => "\\PC{0,200}",
    ]
}

/// What a command does with facts it was given: doctor over every device, groups,
/// verify of the seed guest, every device's label and ids.
fn use_facts(host: &Host) {
    let named: Vec<_> = host.devices.iter().take(4).collect();
    let _ = checks::run(&Context::doctor(host, named));
    let _ = checks::run(&Context::doctor(host, Vec::new()));
    let _ = passthru::inventory::groups::groups(host);
    for d in &host.devices {
        let _ = (d.label(), d.id_pair(), d.class_label());
    }
    if let Ok(dom) = parse_domain(&DOMAIN, "seed") {
        let _ = verify_domain(host, &dom, &VerifyOptions::default());
    }
    let _ = passthru::host::sources::snapshot::to_json(host);
}

/// A JSON value with some leaves replaced by odd ones (same key, any type).
fn mutate_json(v: &mut serde_json::Value, picks: &mut impl Iterator<Item = (Index, u8)>) {
    use serde_json::Value;
    let odd = |k: u8| -> Value {
        match k % 12 {
            0 => Value::Null,
            1 => Value::from(-1),
            2 => Value::from(u64::MAX),
            3 => Value::from(0),
            4 => Value::from(""),
            5 => Value::from("0000:07:10.7"),
            6 => Value::from("ffff:ff:1f.7"),
            7 => Value::from(4294967295u64),
            8 => Value::Array(vec![]),
            9 => Value::from("0000:06:00.3"),
            10 => Value::from(true),
            _ => Value::from("x"),
        }
    };
    match v {
        Value::Object(m) => {
            for (_, x) in m.iter_mut() {
                mutate_json(x, picks);
            }
        }
        Value::Array(a) => {
            for x in a.iter_mut() {
                mutate_json(x, picks);
            }
        }
        leaf => {
            // Each leaf is replaced with a small chance, drawn from the strategy.
            if let Some((i, k)) = picks.next() {
                if i.index(40) == 0 {
                    *leaf = odd(k);
                }
            }
        }
    }
}

#[test]
fn the_seeds_themselves_are_read() {
    // Fuzzing near inputs that are refused anyway would test little.
    assert!(parse_lspci(&LSPCI, Path::new("seed")).is_ok());
    assert!(!SEED_HOST.devices.is_empty());
    passthru::change::hostfile::parse(HOST_FILE.as_bytes(), Path::new("host-file.md"))
        .expect("the documented host file parses");
    let conf = NovaConf::parse(&[("nova.conf", NOVA_CONF)]).expect("nova.conf parses");
    assert!(!conf.device_spec.is_empty() && !conf.alias.is_empty());
    parse_domain(&DOMAIN, "seed").expect("the seed domain parses");
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn lspci_text_reader_never_panics(text in mangled(&LSPCI)) {
        if let Ok(h) = parse_lspci(&text, Path::new("fuzz.txt")) {
            use_facts(&h);
        }
    }

    #[test]
    fn snapshot_reader_never_panics(text in mangled(&SNAPSHOT)) {
        if let Ok(h) = from_json(&text, Path::new("fuzz.json")) {
            use_facts(&h);
        }
    }

    #[test]
    fn snapshots_with_odd_values_never_panic(picks in prop::collection::vec((any::<Index>(), any::<u8>()), 4096)) {
        // Well-formed JSON, every key in place, values out of range or of another type:
        // a snapshot edited by hand, or from another version.
        let mut v: serde_json::Value = serde_json::from_str(&SNAPSHOT).unwrap();
        mutate_json(&mut v, &mut picks.into_iter());
        if let Ok(h) = from_json(&v.to_string(), Path::new("fuzz.json")) {
            use_facts(&h);
        }
    }

    #[test]
    fn host_file_reader_never_panics(text in mangled(&HOST_FILE)) {
        if let Ok(d) = passthru::change::hostfile::parse(text.as_bytes(), Path::new("host.toml")) {
            let _ = d.sriov.len();
        }
        for word in text.split(['"', '\n', ',']) {
            let _ = passthru::change::hostfile::parse_device_selector(word);
        }
    }

    #[test]
    fn nova_conf_reader_never_panics(text in mangled_str(NOVA_CONF)) {
        let Ok(conf) = NovaConf::parse(&[("nova.conf", text.as_str())]) else {
            return Ok(());
        };
        // What nova does next with the values: device_spec and alias rules.
        let sysfs = SysfsView::from_host(&SEED_HOST);
        let ctx = SpecContext { sysfs: &sysfs, report_in_placement: conf.report_in_placement };
        let specs: Vec<String> = conf.device_spec.iter().map(|v| v.value.clone()).collect();
        let _ = passthru::nova::spec::parse_values(&specs, ctx);
        let aliases: Vec<String> = conf.alias.iter().map(|v| v.value.clone()).collect();
        let _ = passthru::nova::alias::parse_aliases(&aliases, conf.pci_in_placement);
        let _ = passthru::nova::alias::check_each(&aliases);
    }

    #[test]
    fn nova_json_values_never_panic(text in mangled_str(r#"[{"vendor_id": "8086", "product_id": "1520", "address": {"domain": ".*", "bus": "07", "slot": "1[0-f]", "function": "[0-7]"}, "physical_network": "physnet2", "remote_managed": "false", "devname": "eno2", "resource_class": "CUSTOM_A", "traits": "A,B"}, {"name": "igbnic", "device_type": "type-VF", "numa_policy": "socket", "product_id": "1520", "vendor_id": "8086"}]"#)) {
        let _ = passthru::nova::py::json::loads(&text);
        let sysfs = SysfsView::from_host(&SEED_HOST);
        for report_in_placement in [false, true] {
            let ctx = SpecContext { sysfs: &sysfs, report_in_placement };
            let _ = passthru::nova::spec::parse_value(&text, ctx);
        }
        let _ = passthru::nova::alias::parse_aliases(std::slice::from_ref(&text), false);
        let _ = passthru::nova::alias::parse_aliases(std::slice::from_ref(&text), true);
    }

    #[test]
    fn domain_xml_reader_never_panics(text in mangled(&DOMAIN)) {
        if let Ok(dom) = parse_domain(&text, "fuzz.xml") {
            let _ = verify_domain(&SEED_HOST, &dom, &VerifyOptions::default());
        }
    }
}
