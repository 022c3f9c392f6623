//! The compute API calls passthru makes, with typed answers: flavors and their
//! extra specs, servers (create, show, find, delete), compute services.

use super::client::{encode, Microversion, Session};
use super::error::OpenStackError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The extra spec nova reads PCI requests from.
pub const PCI_ALIAS_KEY: &str = "pci_passthrough:alias";

/// The first microversion whose API validates extra specs (the 2.86 format check).
pub const EXTRA_SPEC_VALIDATION: Microversion = Microversion::v2(86);
/// The first microversion that embeds the flavor (with extra specs) in a server.
pub const SERVER_FLAVOR_EMBEDDED: Microversion = Microversion::v2(47);
/// The first microversion that accepts `"networks": "none"`.
pub const NETWORKS_NONE: Microversion = Microversion::v2(37);

/// A flavor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Flavor {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// MiB of memory.
    #[serde(default)]
    pub ram: u64,
    /// vCPUs.
    #[serde(default)]
    pub vcpus: u64,
    /// GiB of root disk.
    #[serde(default)]
    pub disk: u64,
    /// Extra specs (inline at 2.61+, else fetched).
    #[serde(default)]
    pub extra_specs: BTreeMap<String, String>,
}

/// A server's fault.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// The message (`No valid host was found. ...`).
    #[serde(default)]
    pub message: String,
    /// HTTP-like code.
    #[serde(default)]
    pub code: Option<u16>,
    /// Details (a traceback, for admins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

/// The flavor as a server carries it (2.47+).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerFlavor {
    /// The flavor's name at boot time.
    #[serde(default)]
    pub original_name: Option<String>,
    /// Its id (before 2.47).
    #[serde(default)]
    pub id: Option<String>,
    /// Extra specs at boot time.
    #[serde(default)]
    pub extra_specs: BTreeMap<String, String>,
}

/// A server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Server {
    /// Id.
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// `BUILD`, `ACTIVE`, `ERROR`, ...
    #[serde(default)]
    pub status: String,
    /// Task state (`scheduling`, `spawning`, ...).
    #[serde(rename = "OS-EXT-STS:task_state", default)]
    pub task_state: Option<String>,
    /// Compute host (admin only).
    #[serde(rename = "OS-EXT-SRV-ATTR:host", default)]
    pub host: Option<String>,
    /// Hypervisor node name (admin only).
    #[serde(rename = "OS-EXT-SRV-ATTR:hypervisor_hostname", default)]
    pub hypervisor_hostname: Option<String>,
    /// libvirt domain name (admin only).
    #[serde(rename = "OS-EXT-SRV-ATTR:instance_name", default)]
    pub instance_name: Option<String>,
    /// The flavor.
    #[serde(default)]
    pub flavor: ServerFlavor,
    /// The fault, when in ERROR.
    #[serde(default)]
    pub fault: Option<Fault>,
}

impl Server {
    /// The flavor's `pci_passthrough:alias`, when the server shows it.
    pub fn pci_alias(&self) -> Option<&str> {
        self.flavor
            .extra_specs
            .get(PCI_ALIAS_KEY)
            .map(String::as_str)
    }
}

/// A compute service (one per compute host).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComputeService {
    /// Host name, as nova knows it.
    pub host: String,
    /// `up` / `down`.
    #[serde(default)]
    pub state: String,
    /// `enabled` / `disabled`.
    #[serde(default)]
    pub status: String,
    /// Why it was disabled.
    #[serde(default)]
    pub disabled_reason: Option<String>,
}

/// What a server is attached to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
pub enum Networking {
    /// `"networks": "none"` (2.37+).
    None,
    /// A network id.
    Network(String),
    /// A port id.
    Port(String),
}

/// A server to create.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServerCreate {
    /// Name.
    pub name: String,
    /// Flavor id.
    pub flavor_id: String,
    /// Image id.
    pub image_id: String,
    /// Networking.
    pub networking: Networking,
}

impl Session {
    /// A flavor by id, else by exact name (an error when several share the name).
    pub fn find_flavor(&self, name_or_id: &str) -> Result<Flavor, OpenStackError> {
        match self.get::<Value>(&format!("/flavors/{}", encode(name_or_id))) {
            Ok(v) => return self.flavor_from(&v["flavor"]),
            Err(e) if e.status() == Some(404) => {}
            Err(e) => return Err(e),
        }
        let list: Value = self.get("/flavors/detail?is_public=None")?;
        let hits: Vec<&Value> = list["flavors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| f["name"].as_str() == Some(name_or_id))
            .collect();
        match hits.as_slice() {
            [one] => self.flavor_from(one),
            [] => Err(OpenStackError::NotFound(format!(
                "no flavor with id or name '{name_or_id}'"
            ))),
            many => Err(OpenStackError::NotFound(format!(
                "{} flavors are named '{name_or_id}' (ids {}): give the id",
                many.len(),
                many.iter()
                    .filter_map(|f| f["id"].as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    fn flavor_from(&self, v: &Value) -> Result<Flavor, OpenStackError> {
        let mut f: Flavor =
            serde_json::from_value(v.clone()).map_err(|e| OpenStackError::BadResponse {
                url: format!("{}/flavors", self.compute.endpoint),
                message: e.to_string(),
            })?;
        if v.get("extra_specs").is_none() {
            f.extra_specs = self.extra_specs(&f.id)?;
        }
        Ok(f)
    }

    /// Creates a flavor (nova picks the id).
    pub fn create_flavor(
        &self,
        name: &str,
        ram: u64,
        vcpus: u64,
        disk: u64,
    ) -> Result<Flavor, OpenStackError> {
        let v: Value = self.post(
            "/flavors",
            &json!({ "flavor": { "name": name, "ram": ram, "vcpus": vcpus, "disk": disk } }),
        )?;
        self.flavor_from(&v["flavor"])
    }

    /// Deletes a flavor.
    pub fn delete_flavor(&self, id: &str) -> Result<(), OpenStackError> {
        self.delete(&format!("/flavors/{}", encode(id)))
    }

    /// Sets (creates or replaces) one extra spec.
    pub fn set_extra_spec(
        &self,
        flavor_id: &str,
        key: &str,
        value: &str,
    ) -> Result<(), OpenStackError> {
        let _: Value = self.post(
            &format!("/flavors/{}/os-extra_specs", encode(flavor_id)),
            &json!({ "extra_specs": { key: value } }),
        )?;
        Ok(())
    }

    /// A flavor's extra specs.
    pub fn extra_specs(&self, flavor_id: &str) -> Result<BTreeMap<String, String>, OpenStackError> {
        #[derive(Deserialize)]
        struct Specs {
            extra_specs: BTreeMap<String, String>,
        }
        let s: Specs = self.get(&format!("/flavors/{}/os-extra_specs", encode(flavor_id)))?;
        Ok(s.extra_specs)
    }

    /// Creates a server; returns its id.
    pub fn create_server(&self, req: &ServerCreate) -> Result<String, OpenStackError> {
        let networks = match &req.networking {
            Networking::None => json!("none"),
            Networking::Network(n) => json!([{ "uuid": n }]),
            Networking::Port(p) => json!([{ "port": p }]),
        };
        let v: Value = self.post(
            "/servers",
            &json!({ "server": {
                "name": req.name,
                "flavorRef": req.flavor_id,
                "imageRef": req.image_id,
                "networks": networks,
            }}),
        )?;
        v.pointer("/server/id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| OpenStackError::BadResponse {
                url: format!("{}/servers", self.compute.endpoint),
                message: "no server id in the answer".into(),
            })
    }

    /// A server by id.
    pub fn server(&self, id: &str) -> Result<Server, OpenStackError> {
        #[derive(Deserialize)]
        struct One {
            server: Server,
        }
        Ok(self.get::<One>(&format!("/servers/{}", encode(id)))?.server)
    }

    /// A server by id, else by exact name (in every project the caller can see).
    pub fn find_server(&self, name_or_id: &str) -> Result<Server, OpenStackError> {
        match self.server(name_or_id) {
            Ok(s) => return Ok(s),
            Err(e) if e.status() == Some(404) || e.status() == Some(400) => {}
            Err(e) => return Err(e),
        }
        // nova's name filter is a regular expression: anchor the escaped name.
        let pattern = format!("^{}$", regex::escape(name_or_id));
        let hits: Vec<Server> = self
            .servers(&format!("name={}&all_tenants=1", encode(&pattern)))?
            .into_iter()
            .filter(|s| s.name == name_or_id)
            .collect();
        match hits.len() {
            1 => Ok(hits.into_iter().next().expect("one element")),
            0 => Err(OpenStackError::NotFound(format!(
                "no server with id or name '{name_or_id}'"
            ))),
            n => Err(OpenStackError::NotFound(format!(
                "{n} servers are named '{name_or_id}' (ids {}): give the id",
                hits.iter()
                    .map(|s| s.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// `GET /servers/detail?QUERY`.
    pub fn servers(&self, query: &str) -> Result<Vec<Server>, OpenStackError> {
        #[derive(Deserialize)]
        struct Many {
            servers: Vec<Server>,
        }
        Ok(self
            .get::<Many>(&format!("/servers/detail?{query}"))?
            .servers)
    }

    /// Deletes a server.
    pub fn delete_server(&self, id: &str) -> Result<(), OpenStackError> {
        self.delete(&format!("/servers/{}", encode(id)))
    }

    /// The nova-compute services (admin).
    pub fn compute_services(&self) -> Result<Vec<ComputeService>, OpenStackError> {
        #[derive(Deserialize)]
        struct Many {
            services: Vec<ComputeService>,
        }
        Ok(self
            .get::<Many>("/os-services?binary=nova-compute")?
            .services)
    }
}
