//! Which cloud, and how to authenticate to it, decided as the `openstack` CLI
//! (python-openstackclient on openstacksdk / keystoneauth) decides:
//!
//! - `--os-cloud` / `OS_CLOUD` names a cloud in `clouds.yaml`, merged with the same
//!   cloud in `secure.yaml` (where passwords are kept). The files are looked for in
//!   `OS_CLIENT_CONFIG_FILE` (clouds.yaml only), then `./`, `$XDG_CONFIG_HOME/openstack/`
//!   (`~/.config/openstack/`), `/etc/openstack/`; the first that exists is used.
//! - `OS_*` variables (`OS_AUTH_URL`, `OS_USERNAME`, `OS_PASSWORD`, `OS_PROJECT_NAME`,
//!   domains, `OS_TOKEN`, application credentials, `OS_REGION_NAME`, `OS_INTERFACE`,
//!   `OS_COMPUTE_API_VERSION`, `OS_CACERT`, `OS_INSECURE`, ...) describe a cloud when
//!   none is named, and override the named cloud's values as the CLI's options do.
//! - Command-line options override both.
//!
//! [`resolve`] is pure (file texts and variables in, a [`CloudConfig`] out); [`load`]
//! is the source that finds and reads the files and the environment.

use super::error::OpenStackError;
use serde::Serialize;
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How to get a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthType {
    /// keystone v3 password (`password`, `v3password`).
    Password,
    /// keystone v3 token exchange (`token`, `v3token`).
    Token,
    /// keystone v3 application credential (`v3applicationcredential`).
    ApplicationCredential,
    /// A token used as it is against a given endpoint, no keystone (`admin_token`).
    AdminToken,
    /// No token at all, a given endpoint (`none`, `noauth`).
    None,
}

impl AuthType {
    fn parse(s: &str) -> Option<AuthType> {
        Some(
            match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
                "password" | "v3password" => AuthType::Password,
                "token" | "v3token" => AuthType::Token,
                "v3applicationcredential" | "applicationcredential" | "application_credential" => {
                    AuthType::ApplicationCredential
                }
                "admin_token" | "token_endpoint" => AuthType::AdminToken,
                "none" | "noauth" => AuthType::None,
                _ => return None,
            },
        )
    }
}

/// The `auth:` values of a cloud (and their `OS_*` variables).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthValues {
    /// `auth_url` / `OS_AUTH_URL`.
    pub auth_url: Option<String>,
    /// `username` / `OS_USERNAME`.
    pub username: Option<String>,
    /// `user_id` / `OS_USER_ID`.
    pub user_id: Option<String>,
    /// `password` / `OS_PASSWORD`.
    pub password: Option<String>,
    /// `project_name` (`tenant_name`) / `OS_PROJECT_NAME`.
    pub project_name: Option<String>,
    /// `project_id` (`tenant_id`) / `OS_PROJECT_ID`.
    pub project_id: Option<String>,
    /// `user_domain_name` / `OS_USER_DOMAIN_NAME`.
    pub user_domain_name: Option<String>,
    /// `user_domain_id` / `OS_USER_DOMAIN_ID`.
    pub user_domain_id: Option<String>,
    /// `project_domain_name` / `OS_PROJECT_DOMAIN_NAME`.
    pub project_domain_name: Option<String>,
    /// `project_domain_id` / `OS_PROJECT_DOMAIN_ID`.
    pub project_domain_id: Option<String>,
    /// `domain_name` / `OS_DOMAIN_NAME` (a domain scope, or the default for both).
    pub domain_name: Option<String>,
    /// `domain_id` / `OS_DOMAIN_ID`.
    pub domain_id: Option<String>,
    /// `default_domain` / `OS_DEFAULT_DOMAIN`: the domain id for user and project when
    /// none is given.
    pub default_domain: Option<String>,
    /// `token` / `OS_TOKEN`.
    pub token: Option<String>,
    /// `endpoint` / `OS_ENDPOINT` (`admin_token` and `none`).
    pub endpoint: Option<String>,
    /// `application_credential_id` / `OS_APPLICATION_CREDENTIAL_ID`.
    pub application_credential_id: Option<String>,
    /// `application_credential_name` / `OS_APPLICATION_CREDENTIAL_NAME`.
    pub application_credential_name: Option<String>,
    /// `application_credential_secret` / `OS_APPLICATION_CREDENTIAL_SECRET`.
    pub application_credential_secret: Option<String>,
    /// `system_scope` / `OS_SYSTEM_SCOPE` (`all`).
    pub system_scope: Option<String>,
}

/// A cloud, resolved: everything needed to authenticate and pick the compute endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloudConfig {
    /// Where it came from, for messages (`cloud 'x' in /etc/openstack/clouds.yaml`).
    pub source: String,
    /// How to authenticate.
    pub auth_type: AuthType,
    /// The auth values.
    pub auth: AuthValues,
    /// `region_name` / `OS_REGION_NAME`.
    pub region_name: Option<String>,
    /// `interface` (`endpoint_type`) / `OS_INTERFACE`: `public` unless set.
    pub interface: String,
    /// `compute_api_version` / `OS_COMPUTE_API_VERSION`: a fixed microversion instead
    /// of negotiating one.
    pub compute_api_version: Option<String>,
    /// `compute_endpoint_override`: the compute URL instead of the catalog's.
    pub compute_endpoint_override: Option<String>,
    /// `cacert` / `OS_CACERT`: a PEM bundle to trust.
    pub cacert: Option<String>,
    /// `verify` (false: `insecure: true`, `OS_INSECURE`): check TLS certificates.
    pub verify: bool,
}

/// The part of a [`CloudConfig`] that is safe to print (no secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CloudSummary {
    /// Where the configuration came from.
    pub source: String,
    /// How passthru authenticates.
    pub auth_type: AuthType,
    /// The keystone URL, when keystone is used.
    pub auth_url: Option<String>,
    /// User name or id.
    pub user: Option<String>,
    /// Project name or id.
    pub project: Option<String>,
    /// Region.
    pub region_name: Option<String>,
    /// Endpoint interface.
    pub interface: String,
}

impl CloudConfig {
    /// What can be shown without secrets.
    pub fn summary(&self) -> CloudSummary {
        CloudSummary {
            source: self.source.clone(),
            auth_type: self.auth_type,
            auth_url: self.auth.auth_url.clone(),
            user: self.auth.username.clone().or(self.auth.user_id.clone()),
            project: self
                .auth
                .project_name
                .clone()
                .or(self.auth.project_id.clone()),
            region_name: self.region_name.clone(),
            interface: self.interface.clone(),
        }
    }
}

/// What the command line says (each overrides clouds.yaml and `OS_*`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--os-cloud`.
    pub cloud: Option<String>,
    /// `--os-region-name`.
    pub region_name: Option<String>,
    /// `--os-interface`.
    pub interface: Option<String>,
    /// `--os-compute-api-version`.
    pub compute_api_version: Option<String>,
}

/// A configuration file's path and text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigFile {
    /// Path, as shown in messages.
    pub path: String,
    /// Contents.
    pub text: String,
}

/// `auth:` keys and the `OS_*` variables that set them (first name wins).
const AUTH_KEYS: &[(&str, &[&str])] = &[
    ("auth_url", &["OS_AUTH_URL"]),
    ("username", &["OS_USERNAME"]),
    ("user_id", &["OS_USER_ID"]),
    ("password", &["OS_PASSWORD"]),
    ("project_name", &["OS_PROJECT_NAME", "OS_TENANT_NAME"]),
    ("project_id", &["OS_PROJECT_ID", "OS_TENANT_ID"]),
    ("user_domain_name", &["OS_USER_DOMAIN_NAME"]),
    ("user_domain_id", &["OS_USER_DOMAIN_ID"]),
    ("project_domain_name", &["OS_PROJECT_DOMAIN_NAME"]),
    ("project_domain_id", &["OS_PROJECT_DOMAIN_ID"]),
    ("domain_name", &["OS_DOMAIN_NAME"]),
    ("domain_id", &["OS_DOMAIN_ID"]),
    ("default_domain", &["OS_DEFAULT_DOMAIN"]),
    ("token", &["OS_TOKEN", "OS_AUTH_TOKEN"]),
    ("endpoint", &["OS_ENDPOINT", "OS_URL"]),
    (
        "application_credential_id",
        &["OS_APPLICATION_CREDENTIAL_ID"],
    ),
    (
        "application_credential_name",
        &["OS_APPLICATION_CREDENTIAL_NAME"],
    ),
    (
        "application_credential_secret",
        &["OS_APPLICATION_CREDENTIAL_SECRET"],
    ),
    ("system_scope", &["OS_SYSTEM_SCOPE"]),
];

/// Top-level cloud keys and their variables.
const TOP_KEYS: &[(&str, &[&str])] = &[
    ("auth_type", &["OS_AUTH_TYPE"]),
    ("region_name", &["OS_REGION_NAME"]),
    ("interface", &["OS_INTERFACE", "OS_ENDPOINT_TYPE"]),
    ("compute_api_version", &["OS_COMPUTE_API_VERSION"]),
    ("identity_api_version", &["OS_IDENTITY_API_VERSION"]),
    ("cacert", &["OS_CACERT"]),
    ("insecure", &["OS_INSECURE"]),
    ("compute_endpoint_override", &[]),
    ("verify", &[]),
];

/// Old names clouds.yaml still accepts.
const AUTH_ALIASES: &[(&str, &str)] =
    &[("tenant_name", "project_name"), ("tenant_id", "project_id")];

type Flat = BTreeMap<String, String>;

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn parse_yaml(f: &ConfigFile) -> Result<Value, OpenStackError> {
    serde_yaml_ng::from_str::<Value>(&f.text).map_err(|e| OpenStackError::ConfigFile {
        file: f.path.clone(),
        message: format!("not valid YAML: {e}"),
    })
}

/// The names of the clouds a clouds.yaml defines.
pub fn cloud_names(f: &ConfigFile) -> Result<Vec<String>, OpenStackError> {
    let v = parse_yaml(f)?;
    Ok(v.get("clouds")
        .and_then(Value::as_mapping)
        .map(|m| m.keys().filter_map(scalar).collect())
        .unwrap_or_default())
}

/// One cloud's values from a file: top-level keys and `auth.*` keys (as `auth.KEY`).
fn cloud_from(f: &ConfigFile, name: &str) -> Result<Option<Flat>, OpenStackError> {
    let doc = parse_yaml(f)?;
    let clouds = match doc.get("clouds") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Mapping(m)) => m,
        Some(_) => {
            return Err(OpenStackError::ConfigFile {
                file: f.path.clone(),
                message: "'clouds' must be a mapping of cloud names to settings".into(),
            })
        }
    };
    let Some(cloud) = clouds.get(name) else {
        return Ok(None);
    };
    let cloud = cloud
        .as_mapping()
        .ok_or_else(|| OpenStackError::ConfigFile {
            file: f.path.clone(),
            message: format!("cloud '{name}' must be a mapping of settings"),
        })?;
    let mut out = Flat::new();
    for (k, v) in cloud {
        let Some(k) = scalar(k) else { continue };
        if k == "auth" {
            let auth = v.as_mapping().ok_or_else(|| OpenStackError::ConfigFile {
                file: f.path.clone(),
                message: format!("cloud '{name}': 'auth' must be a mapping"),
            })?;
            for (ak, av) in auth {
                let (Some(ak), Some(av)) = (scalar(ak), scalar(av)) else {
                    continue;
                };
                let ak = AUTH_ALIASES
                    .iter()
                    .find(|(old, _)| *old == ak)
                    .map_or(ak.clone(), |(_, new)| new.to_string());
                out.insert(format!("auth.{ak}"), av);
            }
        } else if k == "profile" {
            return Err(OpenStackError::ConfigFile {
                file: f.path.clone(),
                message: format!(
                    "cloud '{name}' uses 'profile' (a vendor profile), which passthru does not read; write the cloud's auth_url and region_name into clouds.yaml instead"
                ),
            });
        } else if let Some(v) = scalar(v) {
            let k = if k == "endpoint_type" {
                "interface".to_string()
            } else {
                k
            };
            out.insert(k, v);
        }
    }
    Ok(Some(out))
}

fn truthy(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

/// Resolves the cloud from clouds.yaml / secure.yaml texts, the variables (`env`) and
/// the command line.
pub fn resolve(
    clouds: Option<&ConfigFile>,
    secure: Option<&ConfigFile>,
    env: &dyn Fn(&str) -> Option<String>,
    ov: &Overrides,
) -> Result<CloudConfig, OpenStackError> {
    let env = |k: &str| env(k).filter(|v| !v.is_empty());
    let cloud_name = ov.cloud.clone().or_else(|| env("OS_CLOUD"));
    let mut flat = Flat::new();
    let source;
    match &cloud_name {
        Some(name) => {
            let found = match clouds {
                Some(f) => cloud_from(f, name)?,
                None => None,
            };
            let Some(found) = found else {
                let why = match clouds {
                    Some(f) => format!(
                        "{} defines {}",
                        f.path,
                        match cloud_names(f)?.as_slice() {
                            [] => "no cloud".to_string(),
                            names => format!("only {}", names.join(", ")),
                        }
                    ),
                    None => "no clouds.yaml found (looked in OS_CLIENT_CONFIG_FILE, ./clouds.yaml, ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml)".to_string(),
                };
                return Err(OpenStackError::NoCloud(format!(
                    "cloud '{name}' (from --os-cloud / OS_CLOUD) is not defined: {why}"
                )));
            };
            flat = found;
            if let Some(sec) = secure {
                if let Some(s) = cloud_from(sec, name)? {
                    flat.extend(s);
                }
            }
            source = format!(
                "cloud '{name}' in {}",
                clouds.map(|f| f.path.as_str()).unwrap_or("clouds.yaml")
            );
        }
        None => {
            if env("OS_AUTH_URL").is_none() && env("OS_ENDPOINT").is_none() {
                let listed = match clouds {
                    Some(f) => match cloud_names(f)?.as_slice() {
                        [] => String::new(),
                        names => format!(" ({} defines {})", f.path, names.join(", ")),
                    },
                    None => String::new(),
                };
                return Err(OpenStackError::NoCloud(format!(
                    "set OS_CLOUD or --os-cloud to a cloud in clouds.yaml{listed}, or the OS_* variables (OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME, ...) as an openrc file does"
                )));
            }
            source = "OS_* environment variables".to_string();
        }
    }
    // OS_* variables override the cloud's values, as the CLI's --os-* options
    // (whose defaults they are) do.
    for (key, vars) in AUTH_KEYS {
        if let Some(v) = vars.iter().find_map(|k| env(k)) {
            flat.insert(format!("auth.{key}"), v);
        }
    }
    for (key, vars) in TOP_KEYS {
        if let Some(v) = vars.iter().find_map(|k| env(k)) {
            flat.insert(key.to_string(), v);
        }
    }
    if let Some(r) = &ov.region_name {
        flat.insert("region_name".into(), r.clone());
    }
    if let Some(i) = &ov.interface {
        flat.insert("interface".into(), i.clone());
    }
    if let Some(v) = &ov.compute_api_version {
        flat.insert("compute_api_version".into(), v.clone());
    }
    build(flat, source)
}

fn build(flat: Flat, source: String) -> Result<CloudConfig, OpenStackError> {
    let a = |k: &str| flat.get(&format!("auth.{k}")).cloned();
    let auth = AuthValues {
        auth_url: a("auth_url"),
        username: a("username"),
        user_id: a("user_id"),
        password: a("password"),
        project_name: a("project_name"),
        project_id: a("project_id"),
        user_domain_name: a("user_domain_name"),
        user_domain_id: a("user_domain_id"),
        project_domain_name: a("project_domain_name"),
        project_domain_id: a("project_domain_id"),
        domain_name: a("domain_name"),
        domain_id: a("domain_id"),
        default_domain: a("default_domain"),
        token: a("token"),
        endpoint: a("endpoint"),
        application_credential_id: a("application_credential_id"),
        application_credential_name: a("application_credential_name"),
        application_credential_secret: a("application_credential_secret"),
        system_scope: a("system_scope"),
    };
    let err = |message: String| OpenStackError::Auth {
        cloud: source.clone(),
        message,
    };
    if let Some(v) = flat.get("identity_api_version") {
        if !v.trim().starts_with('3') {
            return Err(err(format!(
                "identity_api_version {v}: only keystone v3 is supported (v2.0 was removed from keystone)"
            )));
        }
    }
    let auth_type = match flat.get("auth_type") {
        Some(t) => AuthType::parse(t).ok_or_else(|| {
            err(format!(
                "auth_type '{t}' is not one passthru supports: password, v3password, token, v3token, v3applicationcredential, admin_token, none"
            ))
        })?,
        None if auth.application_credential_secret.is_some() => AuthType::ApplicationCredential,
        None if auth.token.is_some() && auth.password.is_none() => {
            if auth.auth_url.is_none() && auth.endpoint.is_some() {
                AuthType::AdminToken
            } else {
                AuthType::Token
            }
        }
        None => AuthType::Password,
    };
    let need = |v: &Option<String>, what: &str, fix: &str| -> Result<(), OpenStackError> {
        if v.is_none() {
            Err(err(format!("{what} is not set ({fix})")))
        } else {
            Ok(())
        }
    };
    match auth_type {
        AuthType::Password | AuthType::Token | AuthType::ApplicationCredential => {
            need(
                &auth.auth_url,
                "the keystone URL",
                "auth.auth_url in clouds.yaml, or OS_AUTH_URL",
            )?;
        }
        AuthType::AdminToken | AuthType::None => {}
    }
    match auth_type {
        AuthType::Password => {
            if auth.username.is_none() && auth.user_id.is_none() {
                return Err(err(
                    "no user: set auth.username (or user_id) in clouds.yaml, or OS_USERNAME".into(),
                ));
            }
            need(
                &auth.password,
                "the password",
                "auth.password in clouds.yaml or secure.yaml, or OS_PASSWORD",
            )?;
        }
        AuthType::Token => need(&auth.token, "the token", "auth.token, or OS_TOKEN")?,
        AuthType::ApplicationCredential => {
            need(
                &auth.application_credential_secret,
                "the application credential secret",
                "auth.application_credential_secret, or OS_APPLICATION_CREDENTIAL_SECRET",
            )?;
            if auth.application_credential_id.is_none() {
                need(
                    &auth.application_credential_name,
                    "the application credential id or name",
                    "auth.application_credential_id, or OS_APPLICATION_CREDENTIAL_ID",
                )?;
                if auth.username.is_none() && auth.user_id.is_none() {
                    return Err(err("an application credential given by name needs its user: set auth.username or user_id".into()));
                }
            }
        }
        AuthType::AdminToken => {
            need(&auth.token, "the token", "auth.token, or OS_TOKEN")?;
            if auth.endpoint.is_none() && !flat.contains_key("compute_endpoint_override") {
                return Err(err("admin_token needs the compute endpoint: auth.endpoint (OS_ENDPOINT) or compute_endpoint_override".into()));
            }
        }
        AuthType::None => {
            if auth.endpoint.is_none() && !flat.contains_key("compute_endpoint_override") {
                return Err(err("auth_type none needs the compute endpoint: auth.endpoint (OS_ENDPOINT) or compute_endpoint_override".into()));
            }
        }
    }
    let interface = flat
        .get("interface")
        .map(|i| normalize_interface(i))
        .unwrap_or_else(|| "public".to_string());
    let verify = match (flat.get("verify"), flat.get("insecure")) {
        (_, Some(i)) if truthy(i) => false,
        (Some(v), _) => truthy(v),
        _ => true,
    };
    Ok(CloudConfig {
        source,
        auth_type,
        auth,
        region_name: flat.get("region_name").cloned(),
        interface,
        compute_api_version: flat.get("compute_api_version").cloned(),
        compute_endpoint_override: flat.get("compute_endpoint_override").cloned(),
        cacert: flat.get("cacert").cloned(),
        verify,
    })
}

/// `publicURL` -> `public`, as keystoneauth accepts both spellings.
pub fn normalize_interface(i: &str) -> String {
    let l = i.trim().to_ascii_lowercase();
    l.strip_suffix("url").unwrap_or(&l).to_string()
}

/// Where clouds.yaml and secure.yaml are looked for, in order.
pub fn search_dirs(env: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from(".")];
    match env("XDG_CONFIG_HOME").filter(|s| !s.is_empty()) {
        Some(x) => dirs.push(Path::new(&x).join("openstack")),
        None => {
            if let Some(h) = env("HOME").filter(|s| !s.is_empty()) {
                dirs.push(Path::new(&h).join(".config/openstack"));
            }
        }
    }
    dirs.push(PathBuf::from("/etc/openstack"));
    dirs
}

fn read_file(p: &Path) -> Result<ConfigFile, OpenStackError> {
    std::fs::read_to_string(p)
        .map(|text| ConfigFile {
            path: p.display().to_string(),
            text,
        })
        .map_err(|e| OpenStackError::ConfigFile {
            file: p.display().to_string(),
            message: format!("cannot read: {e}"),
        })
}

fn first_existing(dirs: &[PathBuf], names: &[&str]) -> Result<Option<ConfigFile>, OpenStackError> {
    for d in dirs {
        for n in names {
            let p = d.join(n);
            if p.is_file() {
                return read_file(&p).map(Some);
            }
        }
    }
    Ok(None)
}

/// The source: finds clouds.yaml / secure.yaml, reads the process environment, and
/// resolves the cloud.
pub fn load(ov: &Overrides) -> Result<CloudConfig, OpenStackError> {
    let env = |k: &str| std::env::var(k).ok();
    let dirs = search_dirs(&env);
    let clouds = match env("OS_CLIENT_CONFIG_FILE").filter(|s| !s.is_empty()) {
        Some(p) => Some(read_file(Path::new(&p))?),
        None => first_existing(&dirs, &["clouds.yaml", "clouds.yml"])?,
    };
    let secure = first_existing(&dirs, &["secure.yaml", "secure.yml"])?;
    resolve(clouds.as_ref(), secure.as_ref(), &env, ov)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> ConfigFile {
        ConfigFile {
            path: "/x/clouds.yaml".into(),
            text: text.into(),
        }
    }

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    const CLOUDS: &str = "clouds:\n  lab:\n    auth:\n      auth_url: http://127.0.0.1:15000/v3\n      username: admin\n      project_name: admin\n      user_domain_name: Default\n      project_domain_name: Default\n    region_name: RegionOne\n    interface: internal\n  other:\n    auth_type: admin_token\n    auth:\n      endpoint: http://127.0.0.1:18775/v2.1\n      token: admin:admin\n";

    #[test]
    fn named_cloud_merges_secure_and_env() {
        let secure = ConfigFile {
            path: "/x/secure.yaml".into(),
            text: "clouds:\n  lab:\n    auth:\n      password: secret\n".into(),
        };
        let env = env_of(&[("OS_CLOUD", "lab"), ("OS_REGION_NAME", "R2")]);
        let c = resolve(
            Some(&file(CLOUDS)),
            Some(&secure),
            &env,
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.auth_type, AuthType::Password);
        assert_eq!(c.auth.password.as_deref(), Some("secret"));
        assert_eq!(c.region_name.as_deref(), Some("R2"));
        assert_eq!(c.interface, "internal");
        assert_eq!(c.source, "cloud 'lab' in /x/clouds.yaml");
        let ov = Overrides {
            cloud: Some("other".into()),
            ..Default::default()
        };
        let c = resolve(Some(&file(CLOUDS)), None, &env, &ov).unwrap();
        assert_eq!(c.auth_type, AuthType::AdminToken);
    }

    #[test]
    fn missing_password_names_the_fix() {
        let env = env_of(&[("OS_CLOUD", "lab")]);
        let e = resolve(Some(&file(CLOUDS)), None, &env, &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("OS_PASSWORD"), "{e}");
    }

    #[test]
    fn unknown_cloud_lists_the_defined_ones() {
        let env = env_of(&[("OS_CLOUD", "nope")]);
        let e = resolve(Some(&file(CLOUDS)), None, &env, &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("only lab, other"), "{e}");
        let e = resolve(None, None, &env_of(&[]), &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("OS_AUTH_URL"), "{e}");
    }

    #[test]
    fn openrc_variables_alone() {
        let env = env_of(&[
            ("OS_AUTH_URL", "http://127.0.0.1:15000"),
            ("OS_USERNAME", "demo"),
            ("OS_PASSWORD", "pw"),
            ("OS_TENANT_NAME", "demo"),
            ("OS_ENDPOINT_TYPE", "publicURL"),
            ("OS_INSECURE", "true"),
        ]);
        let c = resolve(None, None, &env, &Overrides::default()).unwrap();
        assert_eq!(c.auth.project_name.as_deref(), Some("demo"));
        assert_eq!(c.interface, "public");
        assert!(!c.verify);
        assert_eq!(c.source, "OS_* environment variables");
    }

    #[test]
    fn bad_yaml_names_the_line() {
        let env = env_of(&[("OS_CLOUD", "lab")]);
        let e = resolve(
            Some(&file("clouds:\n  lab:\n    auth: [\n")),
            None,
            &env,
            &Overrides::default(),
        )
        .unwrap_err();
        let m = e.to_string();
        assert!(
            m.starts_with("/x/clouds.yaml: not valid YAML") && m.contains("line"),
            "{m}"
        );
    }

    #[test]
    fn v2_identity_is_refused() {
        let env = env_of(&[
            ("OS_AUTH_URL", "http://k/v2.0"),
            ("OS_USERNAME", "u"),
            ("OS_PASSWORD", "p"),
            ("OS_IDENTITY_API_VERSION", "2"),
        ]);
        let e = resolve(None, None, &env, &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("keystone v3"), "{e}");
    }
}
