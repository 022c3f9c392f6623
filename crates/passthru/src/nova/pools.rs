//! Device pools and request fitting, as nova's `PciDeviceStats` does them.
//!
//! Exposed devices are grouped by vendor, product, NUMA node, device type, the
//! matching spec's tags (except `resource_class` and `traits`), the PF address
//! (a VF's parent, else its own) and the PF's interface name when known.
//! A request's specs are compared key by key with lower-cased strings; pools of
//! PFs, vDPA and remote-managed devices are dropped unless asked for, and
//! `live_migratable` filters when every spec names it. (The instance's NUMA
//! topology is not known here, so NUMA policies are reported, not applied.)

use super::flavor::Request;
use super::matching::{NovaDevice, TYPE_PF, TYPE_VDPA, TYPE_VF};
use super::py::PyValue;
use super::spec::DeviceSpec;
use super::tags;
use serde::Serialize;

/// A pool value: what nova stores (strings, numbers, JSON values from tags).
pub type PoolKeys = Vec<(String, PyValue)>;

/// One pool of interchangeable devices.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Pool {
    /// The pool's keys in nova's order.
    #[serde(serialize_with = "keys_as_map")]
    pub keys: PoolKeys,
    /// Devices in it.
    pub devices: Vec<String>,
}

fn keys_as_map<S: serde::Serializer>(k: &PoolKeys, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(k.len()))?;
    for (key, v) in k {
        m.serialize_entry(key, v)?;
    }
    m.end()
}

impl Pool {
    /// A key's value (`None` when absent, as `pool.get(k)`).
    pub fn get(&self, key: &str) -> Option<&PyValue> {
        self.keys.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Number of devices.
    pub fn count(&self) -> usize {
        self.devices.len()
    }

    fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(PyValue::as_str)
    }

    /// `vendor:product`.
    pub fn ids(&self) -> String {
        format!(
            "{}:{}",
            self.get_str("vendor_id").unwrap_or("?"),
            self.get_str("product_id").unwrap_or("?")
        )
    }
}

fn opt_str(v: &Option<String>) -> PyValue {
    v.as_ref()
        .map_or(PyValue::None, |s| PyValue::Str(s.clone()))
}

/// The pool keys nova builds for a device taken by a spec.
pub fn pool_keys(dev: &NovaDevice, spec: &DeviceSpec) -> PoolKeys {
    let mut k: PoolKeys = vec![
        ("product_id".into(), opt_str(&dev.product_id)),
        ("vendor_id".into(), opt_str(&dev.vendor_id)),
        (
            "numa_node".into(),
            dev.numa_node
                .map_or(PyValue::None, |n| PyValue::Int(n.to_string())),
        ),
        ("dev_type".into(), PyValue::Str(dev.dev_type.clone())),
    ];
    for (key, v) in spec.pool_tags() {
        match k.iter_mut().find(|(kk, _)| kk == key) {
            Some(slot) => slot.1 = v.clone(),
            None => k.push((key.clone(), v.clone())),
        }
    }
    let addr = dev.parent_addr.clone().or(dev.address.clone());
    set(&mut k, "address", opt_str(&addr));
    if let Some(ifn) = dev.parent_ifname.as_ref().filter(|s| !s.is_empty()) {
        set(&mut k, "parent_ifname", PyValue::Str(ifn.clone()));
    }
    let typed = [TYPE_VF, TYPE_PF, TYPE_VDPA].contains(&dev.dev_type.as_str());
    let has_rm = k
        .iter()
        .any(|(kk, v)| kk == tags::REMOTE_MANAGED && *v != PyValue::None);
    if typed && !has_rm {
        set(&mut k, tags::REMOTE_MANAGED, PyValue::Str("false".into()));
    }
    k
}

fn set(k: &mut PoolKeys, key: &str, v: PyValue) {
    match k.iter_mut().find(|(kk, _)| kk == key) {
        Some(slot) => slot.1 = v,
        None => k.push((key.to_string(), v)),
    }
}

fn same_keys(a: &PoolKeys, b: &PoolKeys) -> bool {
    a.len() == b.len()
        && a.iter()
            .all(|(k, v)| b.iter().any(|(bk, bv)| bk == k && bv == v))
}

/// Groups exposed devices (each with the spec that took it) into pools.
pub fn build_pools<'a>(
    exposed: impl IntoIterator<Item = (&'a NovaDevice, &'a DeviceSpec)>,
) -> Vec<Pool> {
    let mut pools: Vec<Pool> = Vec::new();
    for (dev, spec) in exposed {
        let keys = pool_keys(dev, spec);
        let addr = dev.address.clone().unwrap_or_default();
        match pools.iter_mut().find(|p| same_keys(&p.keys, &keys)) {
            Some(p) => p.devices.push(addr),
            None => pools.push(Pool {
                keys,
                devices: vec![addr],
            }),
        }
    }
    // nova re-sorts its pool list by the number of keys after each new pool
    // (stable): that order decides which pools requests consume first.
    pools.sort_by_key(|p| p.keys.len());
    pools
}

fn lower(v: &PyValue) -> PyValue {
    match v {
        PyValue::Str(s) => PyValue::Str(s.to_lowercase()),
        other => other.clone(),
    }
}

/// nova's `pci_device_prop_match` for one spec (keys other than resource_class,
/// traits and rp_uuids must all equal, strings compared in lower case).
pub fn spec_matches_pool(spec: &[(String, String)], pool: &Pool) -> bool {
    spec.iter()
        .filter(|(k, _)| !["resource_class", "traits", "rp_uuids"].contains(&k.as_str()))
        .all(|(k, v)| {
            let want = PyValue::Str(v.to_lowercase());
            let have = pool.get(k).map(lower).unwrap_or(PyValue::None);
            have == want
        })
}

/// One filtering step of a request.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    /// What the step keeps (`spec`, `unrequested_pf`, `unrequested_vdpa`,
    /// `unrequested_remote_managed`, `live_migratable`).
    pub step: &'static str,
    /// Devices left after it.
    pub devices_left: usize,
}

/// How one request fares on this host.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RequestFit {
    /// The alias.
    pub alias: String,
    /// Devices wanted.
    pub count: i64,
    /// Whether nova's filter passes.
    pub fits: bool,
    /// Devices left after each step.
    pub steps: Vec<Step>,
    /// Indexes of the pools it could use.
    pub pools: Vec<usize>,
}

fn total(pools: &[(usize, usize)]) -> usize {
    pools.iter().map(|(_, c)| *c).sum()
}

/// nova's `support_requests` for a flavor's requests (applied one after another,
/// each consuming devices). Returns one fit per request; the flavor fits when all
/// do.
pub fn fit_requests(pools: &[Pool], requests: &[Request]) -> Vec<RequestFit> {
    // Remaining count per pool index.
    let mut left: Vec<usize> = pools.iter().map(Pool::count).collect();
    let mut out = Vec::new();
    let mut failed = false;
    for r in requests {
        let mut steps = Vec::new();
        let specs: Vec<&Vec<(String, String)>> = r.specs.iter().map(|s| &s.fields).collect();
        let mut cand: Vec<(usize, usize)> = (0..pools.len())
            .filter(|&i| left[i] > 0)
            .map(|i| (i, left[i]))
            .collect();
        let mut keep =
            |name: &'static str, cand: &mut Vec<(usize, usize)>, f: &dyn Fn(&Pool) -> bool| {
                cand.retain(|(i, _)| f(&pools[*i]));
                steps.push(Step {
                    step: name,
                    devices_left: total(cand),
                });
            };
        keep("spec", &mut cand, &|p| {
            specs.iter().any(|s| spec_matches_pool(s, p))
        });
        let asks = |k: &str, v: &str| {
            specs
                .iter()
                .any(|s| s.iter().any(|(kk, vv)| kk == k && vv == v))
        };
        if !asks("dev_type", TYPE_PF) {
            keep("unrequested_pf", &mut cand, &|p| {
                p.get("dev_type") != Some(&PyValue::Str(TYPE_PF.into()))
            });
        }
        if !asks("dev_type", TYPE_VDPA) {
            keep("unrequested_vdpa", &mut cand, &|p| {
                p.get("dev_type") != Some(&PyValue::Str(TYPE_VDPA.into()))
            });
        }
        let wants_rm = specs.iter().any(|s| {
            s.iter().any(|(k, v)| {
                k == tags::REMOTE_MANAGED && super::py::text::bool_from_str(v) == Some(true)
            })
        });
        if !wants_rm {
            keep("unrequested_remote_managed", &mut cand, &|p| {
                !tags::loose_bool(p.get(tags::REMOTE_MANAGED))
            });
        }
        let lm = |v: &str| {
            specs
                .iter()
                .all(|s| s.iter().any(|(k, vv)| k == "live_migratable" && vv == v))
        };
        if lm("true") || lm("false") {
            let want = if lm("true") { "true" } else { "false" };
            keep("live_migratable", &mut cand, &|p| {
                p.get("live_migratable") == Some(&PyValue::Str(want.into()))
            });
        }
        let enough = !cand.is_empty() && (total(&cand) as i64) >= r.count;
        let fits = enough && !failed;
        if fits {
            let mut need = r.count.max(0) as usize;
            for (i, _) in &cand {
                let take = need.min(left[*i]);
                left[*i] -= take;
                need -= take;
                if need == 0 {
                    break;
                }
            }
        } else {
            failed = true;
        }
        out.push(RequestFit {
            alias: r.alias.clone(),
            count: r.count,
            fits: enough,
            steps,
            pools: cand.iter().map(|(i, _)| *i).collect(),
        });
    }
    out
}
