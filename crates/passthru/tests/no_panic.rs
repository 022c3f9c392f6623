//! Bad input never panics: every parser of outside text (lspci captures, snapshots,
//! pci.ids, addresses, ids, filters, device names) is fed deterministic mutations of
//! real inputs — bytes flipped, lines cut, shuffled, duplicated, truncated mid-line —
//! and must answer with a value or an error. A failure prints the seed to replay.

use passthru::host::resolve::{resolve, DeviceQuery};
use passthru::host::sources::lspci_text::parse_lspci_with;
use passthru::host::sources::snapshot::{from_json, to_json};
use passthru::pci::{ClassCode, DeviceId, PciAddress, PciFilter, PciIds, VendorId};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// xorshift64*: deterministic, so a failing case replays from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Characters that matter to the parsers: separators, hex, brackets, tabs.
const NASTY: &[u8] = b"0123456789abcdefABCDEFxX:._- \t\n[](){}<>=,;#\"'\\/\xc3\xa9\xff\x00";

fn mutate(text: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut b = text.to_vec();
    match rng.below(6) {
        0 => {
            for _ in 0..1 + rng.below(40) {
                if !b.is_empty() {
                    let i = rng.below(b.len());
                    b[i] = NASTY[rng.below(NASTY.len())];
                }
            }
        }
        1 => b.truncate(rng.below(b.len() + 1)),
        2 => {
            let mut lines: Vec<&[u8]> = text.split(|&c| c == b'\n').collect();
            for _ in 0..1 + rng.below(10) {
                if !lines.is_empty() {
                    let i = rng.below(lines.len());
                    lines.remove(i);
                }
            }
            b = lines.join(&b'\n');
        }
        3 => {
            let mut lines: Vec<&[u8]> = text.split(|&c| c == b'\n').collect();
            for _ in 0..rng.below(20) {
                let (i, j) = (rng.below(lines.len()), rng.below(lines.len()));
                lines.swap(i, j);
            }
            if !lines.is_empty() {
                let i = rng.below(lines.len());
                lines.insert(i, lines[i]);
            }
            b = lines.join(&b'\n');
        }
        4 => {
            for _ in 0..1 + rng.below(20) {
                let i = rng.below(b.len() + 1);
                b.insert(i, NASTY[rng.below(NASTY.len())]);
            }
        }
        _ => {
            // Another capture's middle spliced in, as stderr is in real captures.
            let i = rng.below(b.len() + 1);
            let j = rng.below(text.len() + 1);
            let k = (j + rng.below(400)).min(text.len());
            let piece = text[j..k].to_vec();
            b.splice(i..i, piece);
        }
    }
    b
}

fn check<T>(what: &str, seed: u64, input: &[u8], f: impl FnOnce() -> T) {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        panic!(
            "{what} panicked on seed {seed:#x}; input:\n{}",
            String::from_utf8_lossy(&input[..input.len().min(2000)])
        );
    }
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

fn texts(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    out
}

#[test]
fn mangled_lspci_captures_never_panic() {
    let mut files = texts(&data_dir().join("lspci-corpus"));
    files.extend(texts(&data_dir().join("lspci")));
    assert!(files.len() >= 40, "corpus: {}", files.len());
    let ids = PciIds::parse(
        "8086  Intel Corporation\n\t1521  I350 Gigabit Network Connection\n10de  NVIDIA Corporation\n",
    );
    for (fi, (name, text)) in files.iter().enumerate() {
        for round in 0..6u64 {
            let seed = (fi as u64 + 1) << 16 | round;
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
            let m = mutate(text, &mut rng);
            let t = String::from_utf8_lossy(&m).into_owned();
            check(&format!("lspci text from {name}"), seed, &m, || {
                let _ = parse_lspci_with(&t, Path::new("x.txt"), Some(&ids));
                let _ = parse_lspci_with(&t, Path::new("x.txt"), None);
            });
        }
    }
}

#[test]
fn mangled_snapshots_never_panic() {
    let seed_text =
        std::fs::read_to_string(data_dir().join("lspci/seed-000-i350-sriov.txt")).unwrap();
    let host = parse_lspci_with(&seed_text, Path::new("seed.txt"), None).unwrap();
    let snap = to_json(&host).into_bytes();
    for seed in 1..300u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let m = mutate(&snap, &mut rng);
        let t = String::from_utf8_lossy(&m).into_owned();
        check("snapshot", seed, &m, || {
            if let Ok(h) = from_json(&t, Path::new("s.json")) {
                // Whatever loads must serve every device name lookup.
                for d in &h.devices {
                    let _ = resolve(&h, &d.address.to_string());
                    let _ = d.label();
                    let _ = d.class_label();
                }
                let _ = passthru::inventory::groups(&h);
            }
        });
    }
}

#[test]
fn mangled_names_ids_filters_and_pci_ids_never_panic() {
    let words: &[&[u8]] = &[
        b"0000:07:10.7",
        b"07:10.7",
        b"pci_0000_07_10_7",
        b"10000:e1:00.0",
        b"8086:1520",
        b"8086::0200,::0106",
        b"10de:1b80:0300:00",
        b"eno1",
        b"0x8086",
        b"020000",
    ];
    let pci_ids = b"# comment\n8086  Intel Corporation\n\t1520  I350 VF\n\t1521  I350\n\t\t8086 00a1  I350-T4\nC 02  Network controller\n\t00  Ethernet controller\n\t\t00  prog\n".to_vec();
    let host = {
        let seed_text =
            std::fs::read_to_string(data_dir().join("lspci/seed-000-i350-sriov.txt")).unwrap();
        parse_lspci_with(&seed_text, Path::new("seed.txt"), None).unwrap()
    };
    for seed in 1..2000u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let w = words[rng.below(words.len())];
        let m = mutate(w, &mut rng);
        let s = String::from_utf8_lossy(&m).into_owned();
        check("names and ids", seed, &m, || {
            let _ = PciAddress::parse(&s);
            let _ = PciAddress::from_libvirt_attrs(&s, &s, &s, &s);
            let _ = VendorId::parse(&s);
            let _ = DeviceId::parse(&s);
            let _ = ClassCode::parse(&s);
            let _ = PciFilter::parse(&s);
            let _ = DeviceQuery::parse(&s);
            let _ = resolve(&host, &s).map_err(|e| e.to_string());
        });
        if seed % 4 == 0 {
            let m = mutate(&pci_ids, &mut rng);
            let t = String::from_utf8_lossy(&m).into_owned();
            check("pci.ids", seed, &m, || {
                let db = PciIds::parse(&t);
                for c in [0x020000u32, 0x020000 | u32::from(m.len() as u8)] {
                    let _ = (db.class(c), db.prog_if(c));
                }
                let _ = (
                    db.vendor(0x8086),
                    db.device(0x8086, 0x1521),
                    db.subsystem(0x8086, 0x1521, 0x8086, 0x00a1),
                );
            });
        }
    }
}
