//! What the simulator cannot learn from a tree: which driver the kernel would pick
//! for a device id (a VF's driver, most of all). Three sources, first wins: the
//! command line (`--driver 8086:1520=igbvf`), the tree's own
//! `.passthru-sim/config.toml`, and [`BUILTIN_DRIVERS`]; drivers bound in the tree
//! when it is loaded fill in what none of them says.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Well-known `vendor:device` -> default driver pairs (PFs and their VFs).
pub const BUILTIN_DRIVERS: &[(&str, &str)] = &[
    // Intel 82576 / I350 (igb) and their VFs (igbvf).
    ("8086:10c9", "igb"),
    ("8086:10e6", "igb"),
    ("8086:10e7", "igb"),
    ("8086:10e8", "igb"),
    ("8086:1521", "igb"),
    ("8086:1522", "igb"),
    ("8086:1523", "igb"),
    ("8086:1524", "igb"),
    ("8086:10ca", "igbvf"),
    ("8086:1520", "igbvf"),
    // Intel 82599 / X540 / X550 (ixgbe) and VFs (ixgbevf).
    ("8086:10fb", "ixgbe"),
    ("8086:10fc", "ixgbe"),
    ("8086:1528", "ixgbe"),
    ("8086:1563", "ixgbe"),
    ("8086:15ad", "ixgbe"),
    ("8086:10ed", "ixgbevf"),
    ("8086:1515", "ixgbevf"),
    ("8086:1565", "ixgbevf"),
    ("8086:15a8", "ixgbevf"),
    // Intel X710/XL710 (i40e), E810 (ice) and their VFs (iavf).
    ("8086:1572", "i40e"),
    ("8086:1583", "i40e"),
    ("8086:1584", "i40e"),
    ("8086:158a", "i40e"),
    ("8086:158b", "i40e"),
    ("8086:1592", "ice"),
    ("8086:1593", "ice"),
    ("8086:159b", "ice"),
    ("8086:154c", "iavf"),
    ("8086:1889", "iavf"),
    // Mellanox ConnectX-4..6 PFs and VFs (mlx5_core for both).
    ("15b3:1013", "mlx5_core"),
    ("15b3:1014", "mlx5_core"),
    ("15b3:1015", "mlx5_core"),
    ("15b3:1016", "mlx5_core"),
    ("15b3:1017", "mlx5_core"),
    ("15b3:1018", "mlx5_core"),
    ("15b3:1019", "mlx5_core"),
    ("15b3:101a", "mlx5_core"),
    ("15b3:101b", "mlx5_core"),
    ("15b3:101c", "mlx5_core"),
    ("15b3:101d", "mlx5_core"),
    ("15b3:101e", "mlx5_core"),
];

/// Drivers that claim devices only through `new_id` or `driver_override` and never
/// create a netdev; a device found on one of them at load time is taken to have been
/// put there at run time unless it has no override (then `vfio-pci.ids=` did it).
pub const STUB_DRIVERS: &[&str] = &["vfio-pci", "pci-stub", "uio_pci_generic", "igb_uio"];

/// Whether a driver is a stub ([`STUB_DRIVERS`]).
pub fn is_stub(driver: &str) -> bool {
    STUB_DRIVERS.contains(&driver)
}

/// Simulator settings.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimConfig {
    /// `"vendor:device"` (lower-case hex) -> the driver the kernel binds by default.
    #[serde(default)]
    pub drivers: BTreeMap<String, String>,
}

/// A problem with simulator settings.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The config file is not valid TOML of the expected shape.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// A `--driver` argument is not `vvvv:dddd=NAME`.
    #[error("'{0}' is not VENDOR:DEVICE=DRIVER (like 8086:1520=igbvf)")]
    DriverArg(String),
}

/// Normalises `8086:1520` / `0x8086:0x1520` to lower-case 4-digit hex.
pub fn norm_id(s: &str) -> Option<String> {
    let (v, d) = s.trim().split_once(':')?;
    let p = |x: &str| {
        let x = x.trim();
        u16::from_str_radix(x.strip_prefix("0x").unwrap_or(x), 16).ok()
    };
    Some(format!("{:04x}:{:04x}", p(v)?, p(d)?))
}

impl SimConfig {
    /// Reads `.passthru-sim/config.toml` from a tree, if it has one.
    pub fn from_tree(tree: &Path) -> Result<SimConfig, ConfigError> {
        let path = tree.join(".passthru-sim/config.toml");
        if !path.exists() {
            return Ok(SimConfig::default());
        }
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        SimConfig::parse(&text, &path.display().to_string())
    }

    /// Parses config text (`path` names it in errors).
    pub fn parse(text: &str, path: &str) -> Result<SimConfig, ConfigError> {
        let mut c: SimConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_string(),
            message: e.to_string(),
        })?;
        let mut drivers = BTreeMap::new();
        for (k, v) in std::mem::take(&mut c.drivers) {
            let id = norm_id(&k).ok_or_else(|| ConfigError::Parse {
                path: path.to_string(),
                message: format!("[drivers] key '{k}' is not VENDOR:DEVICE"),
            })?;
            drivers.insert(id, v);
        }
        c.drivers = drivers;
        Ok(c)
    }

    /// Adds a `--driver VENDOR:DEVICE=NAME` argument (it wins over the file).
    pub fn add_driver_arg(&mut self, arg: &str) -> Result<(), ConfigError> {
        let (id, name) = arg
            .split_once('=')
            .ok_or_else(|| ConfigError::DriverArg(arg.to_string()))?;
        let id = norm_id(id).ok_or_else(|| ConfigError::DriverArg(arg.to_string()))?;
        if name.trim().is_empty() {
            return Err(ConfigError::DriverArg(arg.to_string()));
        }
        self.drivers.insert(id, name.trim().to_string());
        Ok(())
    }

    /// The declared driver for an id: settings first, then [`BUILTIN_DRIVERS`].
    pub fn declared(&self, id: &str) -> Option<String> {
        self.drivers.get(id).cloned().or_else(|| {
            BUILTIN_DRIVERS
                .iter()
                .find(|(i, _)| *i == id)
                .map(|(_, d)| d.to_string())
        })
    }

    /// The declared ids of a driver (settings and built-in).
    pub fn ids_of(&self, driver: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .drivers
            .iter()
            .filter(|(_, d)| *d == driver)
            .map(|(i, _)| i.clone())
            .collect();
        v.extend(
            BUILTIN_DRIVERS
                .iter()
                .filter(|(i, d)| *d == driver && !self.drivers.contains_key(*i))
                .map(|(i, _)| i.to_string()),
        );
        v
    }
}

/// The settings a [`HostSpec`](crate::spec::HostSpec) implies: each PF's declared VF
/// driver becomes the default driver of its VF id.
pub fn from_spec(spec: &crate::spec::HostSpec) -> SimConfig {
    let mut c = SimConfig::default();
    for d in &spec.devices {
        if let Some(s) = &d.sriov {
            if let Some(drv) = s.vf_driver.as_ref().filter(|x| !x.is_empty()) {
                c.drivers
                    .insert(format!("{:04x}:{:04x}", d.vendor, s.vf_device), drv.clone());
            }
        }
    }
    c
}

impl SimConfig {
    /// The settings as the TOML of `.passthru-sim/config.toml`.
    pub fn to_toml(&self) -> String {
        let mut s =
            String::from("# passthru-sim settings: default driver per vendor:device\n[drivers]\n");
        for (k, v) in &self.drivers {
            s.push_str(&format!("\"{k}\" = \"{v}\"\n"));
        }
        s
    }

    /// Writes `.passthru-sim/config.toml` into a tree.
    pub fn write_to_tree(&self, tree: &Path) -> std::io::Result<()> {
        let dir = tree.join(".passthru-sim");
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("config.toml"), self.to_toml())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_win_over_builtin() {
        let mut c = SimConfig::parse("[drivers]\n\"0x8086:0x1520\" = \"vfio-pci\"\n", "t").unwrap();
        assert_eq!(c.declared("8086:1520").as_deref(), Some("vfio-pci"));
        assert_eq!(c.declared("8086:10ed").as_deref(), Some("ixgbevf"));
        c.add_driver_arg("8086:10ed=foo").unwrap();
        assert_eq!(c.declared("8086:10ed").as_deref(), Some("foo"));
        assert!(c.add_driver_arg("nonsense").is_err());
        assert!(SimConfig::parse("[drivers]\nx = \"y\"\n", "t").is_err());
        assert!(!c.ids_of("igbvf").contains(&"8086:1520".to_string()));
        assert!(c.ids_of("igb").contains(&"8086:1521".to_string()));
    }
}
