//! The interfaces that carry a default route (`proc/net/route`, `proc/net/ipv6_route`).

use crate::host::root::Root;
use crate::host::system::RouteLower;

/// Reads the default-route interfaces, IPv4 then IPv6, without duplicates; `None`
/// when neither routing table can be read.
pub fn read_default_routes(root: &Root) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut read = false;
    if let Ok(t) = root.read_string("proc/net/route") {
        out.extend(parse_route(&t));
        read = true;
    }
    if let Ok(t) = root.read_string("proc/net/ipv6_route") {
        out.extend(parse_ipv6_route(&t));
        read = true;
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|i| seen.insert(i.clone()));
    read.then_some(out)
}

/// The interfaces under each default-route interface (`sys/class/net/IF/lower_*`,
/// and a bridge's `brif/`), at any depth: a bond under a bridge, a VLAN on a bond.
pub fn read_route_lowers(root: &Root, top: &[String]) -> Vec<RouteLower> {
    let mut out: Vec<RouteLower> = Vec::new();
    for via in top {
        let mut todo = vec![via.clone()];
        let mut seen = vec![via.clone()];
        while let Some(i) = todo.pop() {
            let mut lowers: Vec<String> = root
                .list(&format!("sys/class/net/{i}"))
                .unwrap_or_default()
                .into_iter()
                .filter_map(|e| e.strip_prefix("lower_").map(str::to_string))
                .collect();
            lowers.extend(
                root.list(&format!("sys/class/net/{i}/brif"))
                    .unwrap_or_default(),
            );
            lowers.sort();
            for l in lowers {
                if !seen.contains(&l) {
                    seen.push(l.clone());
                    out.push(RouteLower {
                        interface: l.clone(),
                        via: via.clone(),
                    });
                    todo.push(l);
                }
            }
        }
    }
    out
}

/// `proc/net/route`: destination and mask 0, flag RTF_UP (1).
pub fn parse_route(text: &str) -> Vec<String> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            let flags = u32::from_str_radix(f[3], 16).ok()?;
            (f[1] == "00000000" && f[7] == "00000000" && flags & 1 == 1).then(|| f[0].to_string())
        })
        .collect()
}

/// `proc/net/ipv6_route`: `::/0` routes through an interface other than `lo`.
pub fn parse_ipv6_route(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 10 {
                return None;
            }
            let flags = u32::from_str_radix(f[8], 16).ok()?;
            let dev = f[9];
            (f[0].chars().all(|c| c == '0') && f[1] == "00" && flags & 1 == 1 && dev != "lo")
                .then(|| dev.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_routes() {
        let v4 = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\neno1\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\neno1\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        assert_eq!(parse_route(v4), vec!["eno1"]);
        let v6 = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 eno2\n00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200 lo\n";
        assert_eq!(parse_ipv6_route(v6), vec!["eno2"]);
    }
}
