//! A session with a cloud's compute API: a keystone v3 token and service catalog
//! (or an `admin_token` / `none` endpoint), the compute endpoint chosen by
//! interface and region, and a negotiated compute microversion, as keystoneauth
//! does them. Blocking HTTP through `ureq`.

use super::config::{AuthType, CloudConfig, CloudSummary};
use super::error::OpenStackError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use std::fmt;
use std::time::Duration;

/// The newest compute microversion passthru has been tested against (nova 34).
pub const NEWEST_KNOWN: Microversion = Microversion {
    major: 2,
    minor: 104,
};

/// A compute API microversion (`2.86`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Microversion {
    /// Major (2).
    pub major: u32,
    /// Minor.
    pub minor: u32,
}

impl Microversion {
    /// `2.N`.
    pub const fn v2(minor: u32) -> Self {
        Microversion { major: 2, minor }
    }

    /// Parses `2.86` (or `v2.1`).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().trim_start_matches('v');
        let (a, b) = s.split_once('.')?;
        Some(Microversion {
            major: a.parse().ok()?,
            minor: b.parse().ok()?,
        })
    }
}

impl fmt::Display for Microversion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// What the compute API said about itself, and what passthru chose.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ComputeVersion {
    /// The endpoint used.
    pub endpoint: String,
    /// Oldest microversion the server accepts.
    pub min: Microversion,
    /// Newest microversion the server accepts.
    pub max: Microversion,
    /// The one every request sends.
    pub chosen: Microversion,
    /// Whether it was fixed by `compute_api_version` rather than negotiated.
    pub fixed: bool,
}

/// An authenticated session with the compute API.
pub struct Session {
    agent: ureq::Agent,
    token: Option<String>,
    /// The compute endpoint and microversion.
    pub compute: ComputeVersion,
    /// The cloud, without secrets.
    pub cloud: CloudSummary,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("compute", &self.compute)
            .field("cloud", &self.cloud)
            .finish_non_exhaustive()
    }
}

/// A service's error body, as the message it carries: nova's
/// `{"badRequest": {"message": ..}}`, keystone's `{"error": {"message": ..}}`,
/// placement's `{"errors": [{"detail": ..}]}`, else the text without markup.
pub fn api_message(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        if let Some(m) = v.pointer("/error/message").and_then(Value::as_str) {
            return m.to_string();
        }
        if let Some(m) = v.pointer("/errors/0/detail").and_then(Value::as_str) {
            return m.to_string();
        }
        if let Some(m) = v.get("message").and_then(Value::as_str) {
            return m.to_string();
        }
        if let Some(obj) = v.as_object() {
            if let Some(m) = obj
                .values()
                .find_map(|inner| inner.get("message").and_then(Value::as_str))
            {
                return m.to_string();
            }
        }
    }
    // HTML or plain text: drop tags, keep the words.
    let mut out = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let words: Vec<&str> = out.split_whitespace().collect();
    let mut s = words.join(" ");
    if s.len() > 400 {
        let mut cut = 400;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

/// Percent-encodes one URL path segment or query value (RFC 3986 unreserved kept).
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

struct Answer {
    status: u16,
    subject_token: Option<String>,
    body: String,
}

fn agent(cfg: &CloudConfig) -> Result<ureq::Agent, OpenStackError> {
    use ureq::tls::{RootCerts, TlsConfig};
    let mut tls = TlsConfig::builder().disable_verification(!cfg.verify);
    if let Some(path) = &cfg.cacert {
        let pem = std::fs::read(path).map_err(|e| OpenStackError::ConfigFile {
            file: path.clone(),
            message: format!("cannot read the CA bundle (cacert / OS_CACERT): {e}"),
        })?;
        let mut certs = Vec::new();
        for item in ureq::tls::parse_pem(&pem) {
            if let Ok(ureq::tls::PemItem::Certificate(c)) = item {
                certs.push(c);
            }
        }
        if certs.is_empty() {
            return Err(OpenStackError::ConfigFile {
                file: path.clone(),
                message: "no PEM certificate in the CA bundle (cacert / OS_CACERT)".into(),
            });
        }
        tls = tls.root_certs(RootCerts::new_with_certs(&certs));
    }
    Ok(ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .tls_config(tls.build())
        .user_agent(concat!("passthru/", env!("CARGO_PKG_VERSION")))
        .build()
        .into())
}

fn send(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(&str, String)],
    body: Option<&Value>,
) -> Result<Answer, OpenStackError> {
    let transport = |e: ureq::Error| OpenStackError::Transport {
        method: method.to_string(),
        url: url.to_string(),
        message: e.to_string(),
    };
    let req = ureq::http::Request::builder().method(method).uri(url);
    let mut req = headers
        .iter()
        .fold(req, |r, (k, v)| r.header(*k, v.as_str()))
        .header("Accept", "application/json");
    let resp = match body {
        Some(b) => {
            req = req.header("Content-Type", "application/json");
            let r = req
                .body(b.to_string())
                .map_err(|e| OpenStackError::Transport {
                    method: method.to_string(),
                    url: url.to_string(),
                    message: e.to_string(),
                })?;
            agent.run(r)
        }
        None => {
            let r = req.body(()).map_err(|e| OpenStackError::Transport {
                method: method.to_string(),
                url: url.to_string(),
                message: e.to_string(),
            })?;
            agent.run(r)
        }
    }
    .map_err(transport)?;
    let status = resp.status().as_u16();
    let subject_token = resp
        .headers()
        .get("X-Subject-Token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp.into_body().read_to_string().map_err(transport)?;
    Ok(Answer {
        status,
        subject_token,
        body,
    })
}

fn json_of<T: DeserializeOwned>(url: &str, body: &str) -> Result<T, OpenStackError> {
    serde_json::from_str(body).map_err(|e| OpenStackError::BadResponse {
        url: url.to_string(),
        message: e.to_string(),
    })
}

fn ok_or_api(method: &str, url: &str, a: &Answer) -> Result<(), OpenStackError> {
    if (200..300).contains(&a.status) {
        Ok(())
    } else {
        Err(OpenStackError::Api {
            method: method.to_string(),
            url: url.to_string(),
            status: a.status,
            message: api_message(&a.body),
        })
    }
}

/// The keystone v3 URL for an `auth_url`: as given when it ends in `/v3`, else found
/// by version discovery (the `v3.x` entry of the version list), as keystoneauth does.
fn identity_v3(agent: &ureq::Agent, auth_url: &str) -> Result<String, OpenStackError> {
    let base = auth_url.trim_end_matches('/');
    if base.ends_with("/v3") {
        return Ok(base.to_string());
    }
    let a = send(agent, "GET", base, &[], None)?;
    // keystone answers the unversioned URL with 300 Multiple Choices.
    if let Ok(v) = serde_json::from_str::<Value>(&a.body) {
        let list: Vec<&Value> = match v.pointer("/versions/values") {
            Some(Value::Array(a)) => a.iter().collect(),
            _ => v.get("version").into_iter().collect(),
        };
        for ver in list {
            let id = ver.get("id").and_then(Value::as_str).unwrap_or("");
            if id.starts_with("v3") {
                if let Some(href) = ver
                    .get("links")
                    .and_then(Value::as_array)
                    .and_then(|l| {
                        l.iter()
                            .find(|x| x.get("rel").and_then(Value::as_str) == Some("self"))
                    })
                    .and_then(|x| x.get("href"))
                    .and_then(Value::as_str)
                {
                    return Ok(href.trim_end_matches('/').to_string());
                }
            }
        }
    }
    Ok(format!("{base}/v3"))
}

fn domain_ref(id: &Option<String>, name: &Option<String>) -> Option<Value> {
    match (id, name) {
        (Some(id), _) => Some(json!({ "id": id })),
        (None, Some(n)) => Some(json!({ "name": n })),
        _ => None,
    }
}

/// The body of `POST /v3/auth/tokens` for a cloud.
pub fn token_request(cfg: &CloudConfig) -> Value {
    let a = &cfg.auth;
    let default_domain = a.default_domain.as_ref().map(|d| json!({ "id": d }));
    let any_domain = domain_ref(&a.domain_id, &a.domain_name).or(default_domain.clone());
    let user = |with_secret: Option<(&str, &String)>| {
        let mut u = serde_json::Map::new();
        match (&a.user_id, &a.username) {
            (Some(id), _) => {
                u.insert("id".into(), json!(id));
            }
            (None, Some(n)) => {
                u.insert("name".into(), json!(n));
                if let Some(d) =
                    domain_ref(&a.user_domain_id, &a.user_domain_name).or(any_domain.clone())
                {
                    u.insert("domain".into(), d);
                }
            }
            _ => {}
        }
        if let Some((k, v)) = with_secret {
            u.insert(k.into(), json!(v));
        }
        Value::Object(u)
    };
    let identity = match cfg.auth_type {
        AuthType::Token => json!({
            "methods": ["token"],
            "token": { "id": a.token.clone().unwrap_or_default() }
        }),
        AuthType::ApplicationCredential => {
            let mut ac = serde_json::Map::new();
            ac.insert(
                "secret".into(),
                json!(a.application_credential_secret.clone().unwrap_or_default()),
            );
            match (&a.application_credential_id, &a.application_credential_name) {
                (Some(id), _) => {
                    ac.insert("id".into(), json!(id));
                }
                (None, Some(n)) => {
                    ac.insert("name".into(), json!(n));
                    ac.insert("user".into(), user(None));
                }
                _ => {}
            }
            json!({ "methods": ["application_credential"], "application_credential": ac })
        }
        _ => json!({
            "methods": ["password"],
            "password": { "user": user(a.password.as_ref().map(|p| ("password", p))) }
        }),
    };
    // Application credentials carry their own scope.
    let scope = if cfg.auth_type == AuthType::ApplicationCredential {
        None
    } else if let Some(id) = &a.project_id {
        Some(json!({ "project": { "id": id } }))
    } else if let Some(n) = &a.project_name {
        let mut p = json!({ "name": n });
        if let Some(d) =
            domain_ref(&a.project_domain_id, &a.project_domain_name).or(any_domain.clone())
        {
            p["domain"] = d;
        }
        Some(json!({ "project": p }))
    } else if a.system_scope.is_some() {
        Some(json!({ "system": { "all": true } }))
    } else {
        domain_ref(&a.domain_id, &a.domain_name).map(|d| json!({ "domain": d }))
    };
    let mut auth = json!({ "identity": identity });
    if let Some(s) = scope {
        auth["scope"] = s;
    }
    json!({ "auth": auth })
}

/// Picks the endpoint of `service` for an interface and (optional) region from a
/// keystone v3 catalog.
pub fn catalog_endpoint(
    catalog: &Value,
    service: &str,
    interface: &str,
    region: Option<&str>,
) -> Result<String, OpenStackError> {
    let mut offered = Vec::new();
    for svc in catalog.as_array().into_iter().flatten() {
        let ty = svc.get("type").and_then(Value::as_str).unwrap_or("");
        for ep in svc
            .get("endpoints")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let iface = ep.get("interface").and_then(Value::as_str).unwrap_or("");
            let reg = ep
                .get("region_id")
                .or_else(|| ep.get("region"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let url = ep.get("url").and_then(Value::as_str).unwrap_or("");
            if ty == service && iface == interface && region.is_none_or(|r| r == reg) {
                return Ok(url.to_string());
            }
            offered.push(format!("{ty} {iface} {reg}"));
        }
    }
    Err(OpenStackError::NoEndpoint {
        service: service.to_string(),
        wanted: format!(
            "interface {interface}{}",
            region.map(|r| format!(", region {r}")).unwrap_or_default()
        ),
        available: if offered.is_empty() {
            "nothing".into()
        } else {
            offered.join("; ")
        },
    })
}

/// The compute API's version document at `url`: (min, max).
fn compute_versions(
    agent: &ureq::Agent,
    url: &str,
    headers: &[(&str, String)],
) -> Result<(Microversion, Microversion), OpenStackError> {
    let base = url.trim_end_matches('/');
    // The catalog URL may end in the project id (`/v2.1/<project>`): its parent is the
    // versioned root then.
    let mut candidates = vec![format!("{base}/")];
    if let Some((parent, last)) = base.rsplit_once('/') {
        if !last.starts_with('v') {
            candidates.push(format!("{parent}/"));
        }
    }
    let mut last_err = None;
    for c in &candidates {
        let a = send(agent, "GET", c, headers, None)?;
        if let Err(e) = ok_or_api("GET", c, &a) {
            last_err = Some(e);
            continue;
        }
        let v: Value = json_of(c, &a.body)?;
        let doc = v.get("version").cloned().or_else(|| {
            v.get("versions")
                .and_then(Value::as_array)
                .and_then(|l| l.iter().find(|x| x.get("id") == Some(&json!("v2.1"))))
                .cloned()
        });
        if let Some(doc) = doc {
            let min = doc
                .get("min_version")
                .and_then(Value::as_str)
                .and_then(Microversion::parse);
            let max = doc
                .get("version")
                .and_then(Value::as_str)
                .and_then(Microversion::parse);
            return match (min, max) {
                (Some(min), Some(max)) => Ok((min, max)),
                // A compute API without microversions (v2.0): only 2.1 semantics.
                _ => Ok((Microversion::v2(1), Microversion::v2(1))),
            };
        }
    }
    Err(last_err.unwrap_or_else(|| OpenStackError::BadResponse {
        url: base.to_string(),
        message: "no compute version document".into(),
    }))
}

/// Chooses the microversion: the fixed one when given (it must be in the server's
/// range), else the newest both sides know; `needed` is the least the caller can
/// work with (a fixed one below it is kept: the caller decides what that costs).
pub fn choose(
    fixed: Option<&str>,
    min: Microversion,
    max: Microversion,
    needed: Microversion,
) -> Result<(Microversion, bool), OpenStackError> {
    if let Some(f) = fixed {
        let v = if f.trim().eq_ignore_ascii_case("latest") {
            max
        } else {
            Microversion::parse(f).ok_or_else(|| {
                OpenStackError::Microversion(format!(
                    "'{f}' (compute_api_version / OS_COMPUTE_API_VERSION / --os-compute-api-version) is not a version like 2.86"
                ))
            })?
        };
        if v < min || v > max {
            return Err(OpenStackError::Microversion(format!(
                "{v} was asked for, the server accepts {min} to {max}"
            )));
        }
        return Ok((v, true));
    }
    let v = max.min(NEWEST_KNOWN);
    if v < needed {
        return Err(OpenStackError::Microversion(format!(
            "passthru needs {needed}, the server accepts only {min} to {max}"
        )));
    }
    Ok((v, false))
}

impl Session {
    /// Authenticates, finds the compute endpoint and negotiates the microversion
    /// (at least `needed` unless the cloud fixes one).
    pub fn connect(cfg: &CloudConfig, needed: Microversion) -> Result<Session, OpenStackError> {
        let agent = agent(cfg)?;
        let (token, catalog_url) = match cfg.auth_type {
            AuthType::AdminToken | AuthType::None => {
                let url = cfg
                    .compute_endpoint_override
                    .clone()
                    .or(cfg.auth.endpoint.clone())
                    .unwrap_or_default();
                let tok = match cfg.auth_type {
                    AuthType::AdminToken => cfg.auth.token.clone(),
                    _ => None,
                };
                (tok, url)
            }
            _ => {
                let v3 = identity_v3(&agent, cfg.auth.auth_url.as_deref().unwrap_or_default())?;
                let url = format!("{v3}/auth/tokens");
                let a = send(&agent, "POST", &url, &[], Some(&token_request(cfg)))?;
                ok_or_api("POST", &url, &a)?;
                let tok = a.subject_token.ok_or_else(|| OpenStackError::BadResponse {
                    url: url.clone(),
                    message: "no X-Subject-Token header".into(),
                })?;
                let body: Value = json_of(&url, &a.body)?;
                let catalog = body.pointer("/token/catalog").cloned().unwrap_or(json!([]));
                let ep = match &cfg.compute_endpoint_override {
                    Some(o) => o.clone(),
                    None => catalog_endpoint(
                        &catalog,
                        "compute",
                        &cfg.interface,
                        cfg.region_name.as_deref(),
                    )?,
                };
                (Some(tok), ep)
            }
        };
        let mut headers = Vec::new();
        if let Some(t) = &token {
            headers.push(("X-Auth-Token", t.clone()));
        }
        let (min, max) = compute_versions(&agent, &catalog_url, &headers)?;
        let (chosen, fixed) = choose(cfg.compute_api_version.as_deref(), min, max, needed)?;
        Ok(Session {
            agent,
            token,
            compute: ComputeVersion {
                endpoint: catalog_url.trim_end_matches('/').to_string(),
                min,
                max,
                chosen,
                fixed,
            },
            cloud: cfg.summary(),
        })
    }

    fn headers(&self) -> Vec<(&'static str, String)> {
        let mut h = vec![(
            "OpenStack-API-Version",
            format!("compute {}", self.compute.chosen),
        )];
        h.push((
            "X-OpenStack-Nova-API-Version",
            self.compute.chosen.to_string(),
        ));
        if let Some(t) = &self.token {
            h.push(("X-Auth-Token", t.clone()));
        }
        h
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, String, String), OpenStackError> {
        let url = format!("{}{path}", self.compute.endpoint);
        let a = send(&self.agent, method, &url, &self.headers(), body)?;
        ok_or_api(method, &url, &a)?;
        Ok((a.status, url, a.body))
    }

    /// `GET path` (relative to the compute endpoint), parsed.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, OpenStackError> {
        let (_, url, body) = self.call("GET", path, None)?;
        json_of(&url, &body)
    }

    /// `POST path` with a JSON body, the answer parsed.
    pub fn post<T: DeserializeOwned>(&self, path: &str, body: &Value) -> Result<T, OpenStackError> {
        let (_, url, body) = self.call("POST", path, Some(body))?;
        json_of(&url, &body)
    }

    /// `DELETE path`.
    pub fn delete(&self, path: &str) -> Result<(), OpenStackError> {
        self.call("DELETE", path, None).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openstack::config::{resolve, Overrides};

    #[test]
    fn nova_and_keystone_messages() {
        assert_eq!(
            api_message(
                r#"{"badRequest": {"code": 400, "message": "PCI alias nosuch is not defined"}}"#
            ),
            "PCI alias nosuch is not defined"
        );
        assert_eq!(
            api_message(
                r#"{"error": {"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}}"#
            ),
            "The request you have made requires authentication."
        );
        assert_eq!(
            api_message("<html><body><h1>404 Not Found</h1>\n The resource could not be found.</body></html>"),
            "404 Not Found The resource could not be found."
        );
    }

    #[test]
    fn microversion_choice() {
        let (v, fixed) = choose(
            None,
            Microversion::v2(1),
            Microversion::v2(104),
            Microversion::v2(86),
        )
        .unwrap();
        assert_eq!((v, fixed), (Microversion::v2(104), false));
        let e = choose(
            None,
            Microversion::v2(1),
            Microversion::v2(60),
            Microversion::v2(86),
        )
        .unwrap_err();
        assert!(e.to_string().contains("needs 2.86"), "{e}");
        let (v, fixed) = choose(
            Some("2.1"),
            Microversion::v2(1),
            Microversion::v2(104),
            Microversion::v2(86),
        )
        .unwrap();
        assert_eq!((v, fixed), (Microversion::v2(1), true));
        assert!(choose(
            Some("2.200"),
            Microversion::v2(1),
            Microversion::v2(104),
            Microversion::v2(1)
        )
        .is_err());
        assert_eq!(
            choose(
                Some("latest"),
                Microversion::v2(1),
                Microversion::v2(99),
                Microversion::v2(1)
            )
            .unwrap()
            .0,
            Microversion::v2(99)
        );
    }

    #[test]
    fn password_token_body_scopes_the_project_in_its_domain() {
        let env = |k: &str| {
            [
                ("OS_AUTH_URL", "http://127.0.0.1:15000/v3"),
                ("OS_USERNAME", "admin"),
                ("OS_PASSWORD", "pw"),
                ("OS_PROJECT_NAME", "admin"),
                ("OS_USER_DOMAIN_NAME", "Default"),
                ("OS_PROJECT_DOMAIN_ID", "default"),
            ]
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
        };
        let c = resolve(None, None, &env, &Overrides::default()).unwrap();
        let b = token_request(&c);
        assert_eq!(
            b.pointer("/auth/identity/methods/0"),
            Some(&json!("password"))
        );
        assert_eq!(
            b.pointer("/auth/identity/password/user"),
            Some(&json!({"name": "admin", "domain": {"name": "Default"}, "password": "pw"}))
        );
        assert_eq!(
            b.pointer("/auth/scope/project"),
            Some(&json!({"name": "admin", "domain": {"id": "default"}}))
        );
    }

    #[test]
    fn catalog_picks_interface_and_region() {
        let cat = json!([
            {"type": "identity", "endpoints": [{"interface": "public", "region_id": "R1", "url": "http://k"}]},
            {"type": "compute", "endpoints": [
                {"interface": "internal", "region_id": "R1", "url": "http://c-int"},
                {"interface": "public", "region_id": "R1", "url": "http://c-r1"},
                {"interface": "public", "region_id": "R2", "url": "http://c-r2"}
            ]}
        ]);
        assert_eq!(
            catalog_endpoint(&cat, "compute", "public", Some("R2")).unwrap(),
            "http://c-r2"
        );
        assert_eq!(
            catalog_endpoint(&cat, "compute", "internal", None).unwrap(),
            "http://c-int"
        );
        let e = catalog_endpoint(&cat, "compute", "admin", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("compute public R1"), "{e}");
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(encode("pci small/1"), "pci%20small%2F1");
        assert_eq!(encode("^gpu\\.1$"), "%5Egpu%5C.1%24");
    }
}
