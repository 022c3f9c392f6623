//! The lspci text source against real outputs: the seed's walkthrough and a corpus of 40
//! captures whose facts were tabulated independently (tests/data/lspci-corpus/FACTS.md).
//! Expected values are read from FACTS.md here, never restated in code.

use passthru::host::sources::lspci_text::{parse_lspci, read_lspci};
use passthru::host::{Host, PciDevice};
use passthru::pci::PciAddress;
use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(rel)
}

fn a(s: &str) -> PciAddress {
    PciAddress::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

// ---------------------------------------------------------------- the seed

#[test]
fn seed_sample_pf_and_its_vfs() {
    let h = read_lspci(&data("lspci/seed-000-i350-sriov.txt")).unwrap();
    assert_eq!(h.devices.len(), 9, "PF 06:00.0 and VFs 07:10.0-7");
    let pf = h.device(&a("06:00.0")).expect("PF 06:00.0");
    assert_eq!(pf.id_pair(), "8086:1521");
    assert_eq!(pf.revision, Some(0x01));
    assert_eq!(pf.class.0, 0x020000);
    assert_eq!(pf.names.class.as_deref(), Some("Ethernet controller"));
    assert_eq!(
        (
            pf.subsystem_vendor_id.map(|v| v.0),
            pf.subsystem_device_id.map(|d| d.0)
        ),
        (Some(0x8086), Some(0x1521))
    );
    assert_eq!(pf.driver.as_deref(), Some("igb"));
    let s = pf.sriov.as_ref().expect("SR-IOV capability");
    assert_eq!((s.total_vfs, s.num_vfs), (8, 1));
    assert_eq!((s.offset, s.stride), (Some(384), Some(4)));
    assert_eq!(s.vf_device_id.map(|d| d.0), Some(0x1520));
    let link = pf.link.as_ref().expect("PCIe link");
    assert_eq!(link.max_speed.as_deref(), Some("5.0 GT/s PCIe"));
    assert_eq!((link.current_width, link.max_width), (Some(4), Some(4)));
    // Not in lspci text: stays unknown.
    assert_eq!((pf.iommu_group, pf.numa_node), (None, None));
    assert!(pf.netdevs.is_empty() && pf.reset_methods.is_none());

    // 0x0600 + 384 = 0x0780 = 07:10.0; stride 4 -> 07:10.4 is VF 1. The seed's own
    // nodedev-dumpxml shows 07:10.7 under PF 06:00.3 (0x0603 + 384 + 4), a PF whose block
    // the seed does not show, so the other VFs keep an unknown PF.
    for vf in h.devices.iter().filter(|d| d.address.bus == 7) {
        assert_eq!(vf.id_pair(), "8086:1520", "{}", vf.address);
        assert_eq!(vf.revision, Some(1));
    }
    assert_eq!(pf.virtfns, vec![a("07:10.0"), a("07:10.4")]);
    for (addr, index) in [("07:10.0", 0), ("07:10.4", 1)] {
        let vf = h.device(&a(addr)).unwrap();
        assert_eq!((vf.physfn, vf.vf_index), (Some(a("06:00.0")), Some(index)));
    }
    for addr in [
        "07:10.1", "07:10.2", "07:10.3", "07:10.5", "07:10.6", "07:10.7",
    ] {
        let vf = h.device(&a(addr)).unwrap();
        assert_eq!((vf.physfn, vf.vf_index), (None, None), "{addr}");
        assert!(
            h.warnings
                .iter()
                .any(|w| w.contains(addr) && w.contains("no PF")),
            "{addr}: {:?}",
            h.warnings
        );
    }
    // The sample had Number of VFs: 1, the grep came later with more VFs enabled.
    assert!(h
        .warnings
        .iter()
        .any(|w| w.contains("07:10.4") && w.contains("Number of VFs: 1")));
}

#[test]
fn seed_whole_document_gives_the_same_devices() {
    // The walkthrough itself, prose and XML included: the same nine functions come out,
    // and 07:10.3, quoted twice, is reported once as a repeat.
    let doc = read_lspci(&data("lspci/seed-000-document.txt")).unwrap();
    let sample = read_lspci(&data("lspci/seed-000-i350-sriov.txt")).unwrap();
    assert_eq!(doc.devices, sample.devices);
    assert!(doc
        .warnings
        .iter()
        .any(|w| w.contains("07:10.3 appears again")));
}

// ---------------------------------------------------------------- FACTS.md

#[derive(Debug, Default, Clone, PartialEq)]
struct Pf {
    addr: String,
    total: u32,
    number: u32,
    offset: Option<u32>,
    stride: Option<u32>,
    vf_device: Option<u16>,
}

#[derive(Debug, Default)]
struct Facts {
    blocks: usize,
    vfs: usize,
    pfs: Vec<Pf>,
    vfio: Vec<String>,
    iommu_lines: usize,
    /// `None` when FACTS does not list them (no IOMMU lines at all).
    iommu_without: Option<Vec<String>>,
    domains: BTreeSet<String>,
    root: Option<bool>,
    denied_blocks: Option<usize>,
    without_driver: Option<usize>,
    /// (address, class16 when given, driver or None)
    named: Vec<(String, Option<u16>, Option<String>)>,
    /// (block address, text of the spliced line)
    splices: Vec<(String, String)>,
    size: Option<(usize, usize)>,
    // From the summary table, compared with the per-file bullets.
    summary_pfs: Vec<(String, u32, u32)>,
    summary_vfio: usize,
    summary_iommu: usize,
}

fn ticks(s: &str) -> Vec<String> {
    let re = Regex::new(r"`([^`]+)`").unwrap();
    re.captures_iter(s).map(|c| c[1].to_string()).collect()
}

fn num(s: &str) -> usize {
    s.trim()
        .trim_matches('*')
        .parse()
        .unwrap_or_else(|_| panic!("number: {s:?}"))
}

fn parse_facts(md: &str) -> (BTreeMap<String, Facts>, Vec<String>) {
    let mut files: BTreeMap<String, Facts> = BTreeMap::new();
    let mut summary_lines = Vec::new();
    let mut current: Option<String> = None;
    let denied_re = Regex::new(r"in (\d+) blocks").unwrap();
    let size_re = Regex::new(r"(\d+) characters, (\d+) lines").unwrap();
    let driver_item = Regex::new(r"`([^`]+)`(?: \[([0-9a-f]{4})\])? driver (\S+?)(?:,|$)").unwrap();
    for line in md.lines() {
        if let Some(name) = line.strip_prefix("### ") {
            current = Some(name.trim().to_string());
            files.entry(name.trim().to_string()).or_default();
            continue;
        }
        let Some(file) = &current else {
            // Summary section.
            if line.starts_with("| `") {
                let cols: Vec<&str> = line.split('|').map(str::trim).collect();
                let name = ticks(cols[1])[0].clone();
                let f = files.entry(name).or_default();
                f.blocks = num(cols[2]);
                f.vfs = num(cols[3]);
                if cols[4] != "-" {
                    for pf in cols[4].split(';') {
                        let (addr, tn) = pf.trim().split_once(' ').unwrap();
                        let (t, n) = tn.split_once('/').unwrap();
                        f.summary_pfs.push((
                            addr.to_string(),
                            t.parse().unwrap(),
                            n.parse().unwrap(),
                        ));
                    }
                }
                f.summary_vfio = num(cols[5]);
                f.summary_iommu = num(cols[6]);
                f.domains = cols[7].split(',').map(|d| d.trim().to_string()).collect();
                f.root = Some(cols[8] == "yes");
            } else if line.starts_with("- ") {
                summary_lines.push(line.to_string());
            }
            continue;
        };
        let f = files.get_mut(file).unwrap();
        let l = line.trim_start();
        if l.starts_with("| `") {
            // SR-IOV table: PF | Initial | Total | Number | offset | stride | VF Device ID | Enable
            let cols: Vec<&str> = l.split('|').map(str::trim).collect();
            f.pfs.push(Pf {
                addr: ticks(cols[1])[0].clone(),
                total: cols[3].parse().unwrap(),
                number: cols[4].parse().unwrap(),
                offset: cols[5].parse().ok(),
                stride: cols[6].parse().ok(),
                vf_device: u16::from_str_radix(cols[7], 16).ok(),
            });
        } else if let Some(v) = l.strip_prefix("- Device blocks: ") {
            let n = v.split(';').next().unwrap();
            assert_eq!(num(n), f.blocks, "{file}: summary vs bullets");
        } else if let Some(v) = l.strip_prefix("- Virtual Function devices: ") {
            assert_eq!(num(v), f.vfs, "{file}: summary vs bullets");
        } else if let Some(v) = l.strip_prefix("- Bound to vfio-pci: ") {
            f.vfio = if v.starts_with("none") {
                vec![]
            } else {
                ticks(v)
            };
        } else if let Some(v) = l.strip_prefix("- `IOMMU group:` lines: ") {
            if v.starts_with("none") {
                f.iommu_lines = 0;
                f.iommu_without = None;
            } else {
                let (n, rest) = v.split_once(" of ").unwrap();
                f.iommu_lines = num(n);
                f.iommu_without = Some(if rest.contains("(all)") {
                    vec![]
                } else {
                    ticks(rest)
                });
            }
        } else if let Some(v) = l.strip_prefix("- Run as: ") {
            f.denied_blocks = denied_re.captures(v).map(|c| num(&c[1]));
            assert_eq!(v.starts_with("root"), f.root.unwrap(), "{file}: run as");
        } else if let Some(v) = l.strip_prefix("- Blocks without `Kernel driver in use:`: ") {
            f.without_driver = Some(num(v));
        } else if l.starts_with("- Display controllers")
            || l.starts_with("- Audio functions on a GPU slot")
            || l.starts_with("- NVMe (class 0108)")
        {
            let (head, items) = l.split_once("): ").or_else(|| l.split_once(": ")).unwrap();
            let nvme = head.contains("NVMe");
            for c in driver_item.captures_iter(items) {
                let class = c
                    .get(2)
                    .map(|m| u16::from_str_radix(m.as_str(), 16).unwrap())
                    .or(nvme.then_some(0x0108));
                let driver = (&c[3] != "none").then(|| c[3].to_string());
                f.named.push((c[1].to_string(), class, driver));
            }
        } else if let Some(v) = l.strip_prefix("- stderr spliced into the text: ") {
            let t = ticks(v);
            f.splices.push((t[0].clone(), t[1].clone()));
        } else if let Some(v) = l.strip_prefix("- Size: ") {
            let c = size_re.captures(v).unwrap();
            f.size = Some((num(&c[1]), num(&c[2])));
        }
    }
    (files, summary_lines)
}

/// A stderr splice that cut an `IOMMU group:` line: FACTS counts lines as they stand in
/// the text (the cut line does not match), the parser restores it.
fn splice_restores_iommu(fragment: &str) -> bool {
    let before = fragment.split("pcilib").next().unwrap_or("").trim();
    !before.is_empty() && "IOMMU group:".starts_with(before) && before != "IOMMU group:"
}

fn all_strings(d: &PciDevice) -> Vec<String> {
    let n = &d.names;
    [&n.vendor, &n.device, &n.subsystem, &n.class, &d.driver]
        .into_iter()
        .flatten()
        .cloned()
        .collect()
}

fn check(file: &str, f: &Facts, h: &Host, text: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let mut expect = |ok: bool, what: String| {
        if !ok {
            errs.push(format!("{file}: {what}"));
        }
    };
    if let Some((chars, lines)) = f.size {
        expect(
            (text.chars().count(), text.lines().count()) == (chars, lines),
            "copy differs from the tabulated file (size)".into(),
        );
    }
    expect(
        h.devices.len() == f.blocks,
        format!("{} devices, FACTS {} blocks", h.devices.len(), f.blocks),
    );
    let vfs = h
        .devices
        .iter()
        .filter(|d| d.is_vf() || d.label().contains("Virtual Function"))
        .count();
    expect(vfs == f.vfs, format!("{vfs} VFs, FACTS {}", f.vfs));

    // SR-IOV PFs: per-file table and summary column agree with each other and with us.
    let got: Vec<Pf> = h
        .devices
        .iter()
        .filter_map(|d| {
            let s = d.sriov.as_ref()?;
            Some((d.address, s))
        })
        .map(|(addr, s)| Pf {
            addr: addr.to_string(),
            total: s.total_vfs,
            number: s.num_vfs,
            offset: s.offset,
            stride: s.stride,
            vf_device: s.vf_device_id.map(|d| d.0),
        })
        .collect();
    let want: Vec<Pf> = f
        .pfs
        .iter()
        .map(|p| Pf {
            addr: a(&p.addr).to_string(),
            ..p.clone()
        })
        .collect();
    expect(got == want, format!("PFs {got:?}, FACTS {want:?}"));
    let summary: Vec<(String, u32, u32)> = f
        .summary_pfs
        .iter()
        .map(|(x, t, n)| (a(x).to_string(), *t, *n))
        .collect();
    let table: Vec<(String, u32, u32)> = want
        .iter()
        .map(|p| (p.addr.clone(), p.total, p.number))
        .collect();
    expect(
        summary == table,
        "FACTS summary vs per-file SR-IOV table".into(),
    );

    let vfio: Vec<PciAddress> = h
        .devices
        .iter()
        .filter(|d| d.on_vfio())
        .map(|d| d.address)
        .collect();
    let want_vfio: Vec<PciAddress> = f.vfio.iter().map(|x| a(x)).collect();
    expect(
        vfio == want_vfio,
        format!("vfio-pci {vfio:?}, FACTS {want_vfio:?}"),
    );
    expect(
        f.summary_vfio == want_vfio.len(),
        "FACTS summary vfio count".into(),
    );

    let restored: Vec<PciAddress> = f
        .splices
        .iter()
        .filter(|(_, frag)| splice_restores_iommu(frag))
        .map(|(b, _)| a(b))
        .collect();
    let with_group = h.devices.iter().filter(|d| d.iommu_group.is_some()).count();
    expect(
        f.summary_iommu == f.iommu_lines,
        "FACTS summary vs bullets (IOMMU)".into(),
    );
    expect(
        with_group == f.iommu_lines + restored.len(),
        format!(
            "{with_group} devices with an IOMMU group, FACTS {} lines + {} restored from stderr splices",
            f.iommu_lines,
            restored.len()
        ),
    );
    if let Some(without) = &f.iommu_without {
        let got: BTreeSet<PciAddress> = h
            .devices
            .iter()
            .filter(|d| d.iommu_group.is_none())
            .map(|d| d.address)
            .collect();
        let want: BTreeSet<PciAddress> = without
            .iter()
            .map(|x| a(x))
            .filter(|x| !restored.contains(x))
            .collect();
        expect(
            got == want,
            format!("without IOMMU group {got:?}, FACTS {want:?}"),
        );
    }
    let groups: usize = h.iommu_groups.iter().map(|g| g.devices.len()).sum();
    expect(
        groups == with_group,
        "iommu_groups derived from devices".into(),
    );

    let domains: BTreeSet<String> = h
        .devices
        .iter()
        .map(|d| format!("{:04x}", d.address.domain))
        .collect();
    expect(
        domains == f.domains,
        format!("domains {domains:?}, FACTS {:?}", f.domains),
    );

    let denied_warning = h.warnings.iter().find(|w| w.contains("without root"));
    match (f.root, f.denied_blocks) {
        (Some(false), Some(n)) => expect(
            denied_warning.is_some_and(|w| w.contains(&format!("capabilities of {n} device(s)"))),
            format!(
                "non-root run over {n} blocks not reported: {:?}",
                h.warnings
            ),
        ),
        _ => expect(
            denied_warning.is_none(),
            "root run reported as non-root".into(),
        ),
    }
    if let Some(n) = f.without_driver {
        let got = h.devices.iter().filter(|d| d.driver.is_none()).count();
        expect(got == n, format!("{got} devices without driver, FACTS {n}"));
    }
    for (addr, class, driver) in &f.named {
        match h.device(&a(addr)) {
            None => expect(false, format!("{addr} missing")),
            Some(d) => {
                if let Some(c) = class {
                    expect(
                        d.class.class16() == *c,
                        format!("{addr} class {:04x}, FACTS {c:04x}", d.class.class16()),
                    );
                }
                expect(
                    d.driver == *driver,
                    format!("{addr} driver {:?}, FACTS {driver:?}", d.driver),
                );
            }
        }
    }
    for (block, _) in &f.splices {
        expect(
            h.device(&a(block)).is_some(),
            format!("spliced block {block} lost"),
        );
    }
    if !f.splices.is_empty() {
        expect(
            h.warnings.iter().any(|w| w.contains("stderr message")),
            "removed stderr not reported".into(),
        );
    }
    for d in &h.devices {
        for s in all_strings(d) {
            expect(
                !s.contains("pcilib"),
                format!("{}: stderr left in '{s}'", d.address),
            );
        }
        // Everything here is a host as lspci saw it: no VF relations without VFs.
        expect(
            d.virtfns.is_empty() && d.physfn.is_none(),
            format!("{}: VF link", d.address),
        );
    }
    errs
}

#[test]
fn corpus_matches_facts() {
    let dir = data("lspci-corpus");
    let md = std::fs::read_to_string(dir.join("FACTS.md")).unwrap();
    let (facts, summary) = parse_facts(&md);
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".txt"))
        .collect();
    files.sort();
    let described: Vec<String> = facts.keys().cloned().collect();
    assert_eq!(
        files, described,
        "every corpus file has facts and vice versa"
    );

    // Summary totals, read from FACTS as well.
    let total = |re: &str| -> Vec<usize> {
        let re = Regex::new(re).unwrap();
        summary
            .iter()
            .find_map(|l| re.captures(l))
            .unwrap_or_else(|| panic!("FACTS summary: {re}"))
            .iter()
            .skip(1)
            .map(|m| num(m.unwrap().as_str()))
            .collect()
    };
    let [nfiles, nblocks] = total(r"Files: (\d+); device blocks in all: (\d+)")[..] else {
        unreachable!()
    };
    let [sriov_files, pf_total] = total(r"SR-IOV capability block: (\d+) \((\d+) PFs\)")[..] else {
        unreachable!()
    };
    let [nonroot, iommu_files] =
        total(r"Non-root runs .*?: (\d+) files; files with `IOMMU group:` lines: (\d+)")[..]
    else {
        unreachable!()
    };
    let [multi_domain, spliced_files] = total(
        r"non-0000 PCI domain: (\d+); files where stderr .* spliced into the text: (\d+)",
    )[..] else {
        unreachable!()
    };
    assert_eq!(files.len(), nfiles);

    let mut errors = Vec::new();
    let (mut blocks, mut pfs, mut pf_files, mut denied, mut with_iommu, mut domains, mut spliced) =
        (0, 0, 0, 0, 0, 0, 0);
    for name in &files {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let h = match read_lspci(&path) {
            Ok(h) => h,
            Err(e) => {
                errors.push(format!("{name}: {e}"));
                continue;
            }
        };
        let f = &facts[name];
        errors.extend(check(name, f, &h, &text));
        blocks += h.devices.len();
        let n = h.devices.iter().filter(|d| d.is_pf()).count();
        pfs += n;
        pf_files += usize::from(n > 0);
        denied += usize::from(h.warnings.iter().any(|w| w.contains("without root")));
        with_iommu += usize::from(h.devices.iter().any(|d| d.iommu_group.is_some()));
        domains += usize::from(h.devices.iter().any(|d| d.address.domain != 0));
        spliced += usize::from(h.warnings.iter().any(|w| w.contains("stderr message")));
        // The same text from stdin-like parsing gives the same facts (source aside).
        let again = parse_lspci(&text, &path).unwrap();
        if again.devices != h.devices {
            errors.push(format!("{name}: parse_lspci differs from read_lspci"));
        }
    }
    assert!(
        errors.is_empty(),
        "{} mismatches:\n{}",
        errors.len(),
        errors.join("\n")
    );
    assert_eq!(blocks, nblocks, "device blocks in all");
    assert_eq!(
        (pf_files, pfs),
        (sriov_files, pf_total),
        "SR-IOV files / PFs"
    );
    assert_eq!(denied, nonroot, "non-root files");
    assert_eq!(with_iommu, iommu_files, "files with IOMMU groups");
    assert_eq!(domains, multi_domain, "files with a non-0000 domain");
    assert_eq!(spliced, spliced_files, "files with stderr spliced in");
}

#[test]
fn facts_parser_reads_what_it_should() {
    // Guards the test itself: a FACTS parser that silently read nothing would pass.
    let md = std::fs::read_to_string(data("lspci-corpus/FACTS.md")).unwrap();
    let (facts, _) = parse_facts(&md);
    let f = &facts["desktop-gigabyte-x570-ryzen-fc41-nonroot-iommu.txt"];
    assert_eq!(
        (f.blocks, f.iommu_lines, f.without_driver),
        (45, 43, Some(21))
    );
    assert!(f
        .named
        .contains(&("09:00.0".into(), Some(0x0300), Some("nouveau".into()))));
    let f = &facts["server-supermicro-atom-c3000-x553-qat-manjaro.txt"];
    assert_eq!(f.pfs.len(), 5);
    assert_eq!(f.pfs[0].vf_device, Some(0x19e3));
    let f = &facts["minipc-beelink-gtr-ryzen-renoir-pve-iommu.txt"];
    assert_eq!(f.splices.len(), 2);
    assert!(splice_restores_iommu(&f.splices[1].1));
    assert!(!splice_restores_iommu(&f.splices[0].1));
    let named: usize = facts.values().map(|f| f.named.len()).sum();
    let pfs: usize = facts.values().map(|f| f.pfs.len()).sum();
    assert!(named > 60 && pfs == 20, "named {named}, pfs {pfs}");
}
