//! `--hosts FILE`: a plain list of targets (one per line, `#` comments), or an Ansible
//! inventory in INI or YAML form, narrowed with `--limit` as `ansible --limit` does
//! (groups or hosts, `all`, `*` wildcards, `,` or `:` for "or", `&` for "and",
//! `!` for "not").
//!
//! From an inventory, a host's target is its `ansible_host` (else its name), with
//! `ansible_port` and `ansible_user` from the host or its groups' `vars`.

use super::target::Target;
use super::RemoteError;
use serde_yaml_ng::Value as Yaml;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A parsed hosts file: hosts in file order, and every group's members.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inventory {
    hosts: Vec<InvHost>,
    /// Group name -> direct member hosts.
    groups: BTreeMap<String, BTreeSet<String>>,
    /// Group name -> child groups.
    children: BTreeMap<String, BTreeSet<String>>,
    /// Group name -> variables.
    group_vars: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct InvHost {
    name: String,
    vars: BTreeMap<String, String>,
}

impl Inventory {
    /// Reads a hosts file, deciding its form from the name (`.yml`/`.yaml`) or content.
    pub fn read(path: &Path) -> Result<Inventory, RemoteError> {
        let text = std::fs::read_to_string(path).map_err(|e| RemoteError::Inventory {
            path: path.to_path_buf(),
            line: 0,
            message: format!("cannot read it: {e}"),
        })?;
        Self::parse(&text, path)
    }

    /// Parses hosts file text; `path` names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Inventory, RemoteError> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let first = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap_or("");
        let yaml = matches!(ext, "yml" | "yaml")
            || first == "---"
            || (first.ends_with(':') && !first.starts_with('['));
        if yaml {
            parse_yaml(text, path)
        } else {
            parse_ini(text, path)
        }
    }

    /// Every host's target, in file order.
    pub fn targets(&self) -> Result<Vec<Target>, RemoteError> {
        self.hosts.iter().map(|h| self.target(h)).collect()
    }

    /// The targets `--limit PATTERN` selects (Ansible's pattern language, without regexes).
    pub fn limit(&self, pattern: &str) -> Result<Vec<Target>, RemoteError> {
        let mut selected: Option<BTreeSet<String>> = None;
        let mut and: Vec<BTreeSet<String>> = Vec::new();
        let mut not: Vec<BTreeSet<String>> = Vec::new();
        for item in pattern
            .split([',', ':'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            if let Some(p) = item.strip_prefix('!') {
                not.push(self.matching(p, pattern)?);
            } else if let Some(p) = item.strip_prefix('&') {
                and.push(self.matching(p, pattern)?);
            } else {
                selected
                    .get_or_insert_with(BTreeSet::new)
                    .extend(self.matching(item, pattern)?);
            }
        }
        let mut set = selected.unwrap_or_else(|| self.members("all"));
        for a in &and {
            set.retain(|h| a.contains(h));
        }
        for n in &not {
            set.retain(|h| !n.contains(h));
        }
        self.hosts
            .iter()
            .filter(|h| set.contains(&h.name))
            .map(|h| self.target(h))
            .collect()
    }

    /// Hosts one pattern item names: a group, a host, or a wildcard over both.
    fn matching(&self, item: &str, whole: &str) -> Result<BTreeSet<String>, RemoteError> {
        let mut out = BTreeSet::new();
        let groups: Vec<&String> = self.all_group_names();
        for g in groups {
            if glob(item, g) {
                out.extend(self.members(g));
            }
        }
        for h in &self.hosts {
            if glob(item, &h.name) {
                out.insert(h.name.clone());
            }
        }
        if out.is_empty() {
            let mut known: Vec<String> = self.all_group_names().into_iter().cloned().collect();
            known.extend(self.hosts.iter().map(|h| h.name.clone()));
            return Err(RemoteError::Limit {
                pattern: whole.to_string(),
                item: item.to_string(),
                known: known.join(", "),
            });
        }
        Ok(out)
    }

    fn all_group_names(&self) -> Vec<&String> {
        let mut v: Vec<&String> = self.groups.keys().chain(self.children.keys()).collect();
        v.sort();
        v.dedup();
        v
    }

    /// Every host of a group, through its children (`all` is every host).
    fn members(&self, group: &str) -> BTreeSet<String> {
        if group == "all" {
            return self.hosts.iter().map(|h| h.name.clone()).collect();
        }
        let mut out = BTreeSet::new();
        let mut todo = vec![group.to_string()];
        let mut seen = BTreeSet::new();
        while let Some(g) = todo.pop() {
            if !seen.insert(g.clone()) {
                continue; // a cycle in :children
            }
            if let Some(hs) = self.groups.get(&g) {
                out.extend(hs.iter().cloned());
            }
            if let Some(cs) = self.children.get(&g) {
                todo.extend(cs.iter().cloned());
            }
        }
        out
    }

    /// The groups a host is in, directly or through children, most general first.
    fn groups_of(&self, host: &str) -> Vec<&String> {
        let mut gs: Vec<&String> = self
            .all_group_names()
            .into_iter()
            .filter(|g| self.members(g).contains(host))
            .collect();
        // A child's vars override its parent's: deeper groups later.
        gs.sort_by_key(|g| std::cmp::Reverse(self.members(g).len()));
        gs
    }

    fn var(&self, h: &InvHost, key: &str) -> Option<String> {
        if let Some(v) = h.vars.get(key) {
            return Some(v.clone());
        }
        let mut found = self.group_vars.get("all").and_then(|v| v.get(key)).cloned();
        for g in self.groups_of(&h.name) {
            if let Some(v) = self.group_vars.get(g).and_then(|v| v.get(key)) {
                found = Some(v.clone());
            }
        }
        found
    }

    fn target(&self, h: &InvHost) -> Result<Target, RemoteError> {
        let mut t = Target::parse(&h.name)?;
        if let Some(addr) = self.var(h, "ansible_host") {
            t.host = Target::parse(&addr)?.host;
        }
        if let Some(p) = self.var(h, "ansible_port") {
            t.port = Some(p.parse().map_err(|_| RemoteError::BadTarget {
                target: h.name.clone(),
                why: format!("ansible_port '{p}' is not a port number"),
            })?);
        }
        if let Some(u) = self.var(h, "ansible_user") {
            t.user = Some(u);
        }
        t.name = h.name.clone();
        Ok(t)
    }

    fn add_host(&mut self, name: &str, vars: BTreeMap<String, String>) {
        match self.hosts.iter_mut().find(|h| h.name == name) {
            Some(h) => h.vars.extend(vars),
            None => self.hosts.push(InvHost {
                name: name.to_string(),
                vars,
            }),
        }
    }
}

/// `*` matches any run of characters; everything else literally.
fn glob(pattern: &str, name: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == name;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = name;
    for (i, p) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(p) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(p);
        } else {
            match rest.find(p) {
                Some(at) => rest = &rest[at + p.len()..],
                None => return false,
            }
        }
    }
    true
}

/// Ansible's INI form (a plain list of targets is INI without sections).
fn parse_ini(text: &str, path: &Path) -> Result<Inventory, RemoteError> {
    let mut inv = Inventory::default();
    enum Sec {
        Hosts(String),
        Children(String),
        Vars(String),
    }
    let mut sec = Sec::Hosts("ungrouped".into());
    for (n, raw) in text.lines().enumerate() {
        let err = |message: String| RemoteError::Inventory {
            path: path.to_path_buf(),
            line: n + 1,
            message,
        };
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(head) = line.strip_prefix('[') {
            let head = head
                .strip_suffix(']')
                .ok_or_else(|| err("a section header must end with ']'".into()))?;
            sec = match head.split_once(':') {
                Some((g, "children")) => Sec::Children(g.to_string()),
                Some((g, "vars")) => Sec::Vars(g.to_string()),
                Some((_, other)) => {
                    return Err(err(format!(
                        "unknown section kind ':{other}' (use [GROUP], [GROUP:children] or [GROUP:vars])"
                    )))
                }
                None => Sec::Hosts(head.to_string()),
            };
            continue;
        }
        match &sec {
            Sec::Hosts(g) => {
                let mut words = line.split_whitespace();
                let name = words.next().unwrap_or_default();
                let mut vars = BTreeMap::new();
                for w in words {
                    if w.starts_with('#') {
                        break;
                    }
                    let (k, v) = w.split_once('=').ok_or_else(|| {
                        err(format!(
                            "'{w}' after the host name is not KEY=VALUE (one host per line)"
                        ))
                    })?;
                    vars.insert(k.to_string(), unquote(v));
                }
                Target::parse(name).map_err(|e| err(e.to_string()))?;
                inv.add_host(name, vars);
                inv.groups
                    .entry(g.clone())
                    .or_default()
                    .insert(name.to_string());
            }
            Sec::Children(g) => {
                inv.children
                    .entry(g.clone())
                    .or_default()
                    .insert(line.split_whitespace().next().unwrap_or_default().into());
            }
            Sec::Vars(g) => {
                let (k, v) = line
                    .split_once('=')
                    .ok_or_else(|| err(format!("'{line}' in a :vars section is not KEY=VALUE")))?;
                inv.group_vars
                    .entry(g.clone())
                    .or_default()
                    .insert(k.trim().to_string(), unquote(v.trim()));
            }
        }
    }
    Ok(inv)
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            return inner.to_string();
        }
    }
    v.to_string()
}

fn scalar(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Ansible's YAML form: top-level groups, each with `hosts`, `children`, `vars`.
fn parse_yaml(text: &str, path: &Path) -> Result<Inventory, RemoteError> {
    let root: Yaml = serde_yaml_ng::from_str(text).map_err(|e| RemoteError::Inventory {
        path: path.to_path_buf(),
        line: e.location().map_or(0, |l| l.line()),
        message: e.to_string(),
    })?;
    let mut inv = Inventory::default();
    if root.is_null() {
        return Ok(inv);
    }
    let root = &root;
    let err = |message: String| RemoteError::Inventory {
        path: path.to_path_buf(),
        line: 0,
        message,
    };
    let Yaml::Mapping(top) = root else {
        return Err(err(
            "the top level must map group names to groups (all: {hosts: ..., children: ...})"
                .into(),
        ));
    };
    fn group(
        inv: &mut Inventory,
        name: &str,
        body: &Yaml,
        err: &dyn Fn(String) -> RemoteError,
    ) -> Result<(), RemoteError> {
        let Yaml::Mapping(body) = body else {
            if matches!(body, Yaml::Null) {
                return Ok(());
            }
            return Err(err(format!(
                "group '{name}' must be a mapping with hosts/children/vars"
            )));
        };
        for (k, v) in body {
            match k.as_str() {
                Some("hosts") => {
                    let Yaml::Mapping(hs) = v else {
                        if matches!(v, Yaml::Null) {
                            continue;
                        }
                        return Err(err(format!(
                            "hosts of group '{name}' must map host names to their variables"
                        )));
                    };
                    for (h, vars) in hs {
                        let h = scalar(h).ok_or_else(|| {
                            err(format!("a host name in group '{name}' is not text"))
                        })?;
                        let mut vm = BTreeMap::new();
                        if let Yaml::Mapping(vs) = vars {
                            for (vk, vv) in vs {
                                if let (Some(vk), Some(vv)) = (scalar(vk), scalar(vv)) {
                                    vm.insert(vk, vv);
                                }
                            }
                        }
                        Target::parse(&h).map_err(|e| err(e.to_string()))?;
                        inv.add_host(&h, vm);
                        inv.groups.entry(name.to_string()).or_default().insert(h);
                    }
                }
                Some("children") => {
                    if let Yaml::Mapping(cs) = v {
                        for (c, cbody) in cs {
                            let c = scalar(c).ok_or_else(|| {
                                err(format!("a child group of '{name}' is not text"))
                            })?;
                            inv.children
                                .entry(name.to_string())
                                .or_default()
                                .insert(c.clone());
                            group(inv, &c, cbody, err)?;
                        }
                    }
                }
                Some("vars") => {
                    if let Yaml::Mapping(vs) = v {
                        for (vk, vv) in vs {
                            if let (Some(vk), Some(vv)) = (scalar(vk), scalar(vv)) {
                                inv.group_vars
                                    .entry(name.to_string())
                                    .or_default()
                                    .insert(vk, vv);
                            }
                        }
                    }
                }
                other => {
                    return Err(err(format!(
                        "group '{name}' has an unknown key {:?} (use hosts, children, vars)",
                        other.unwrap_or("?")
                    )))
                }
            }
        }
        Ok(())
    }
    for (k, v) in top {
        let name = scalar(k).ok_or_else(|| err("a top-level group name is not text".into()))?;
        group(&mut inv, &name, v, &err)?;
    }
    Ok(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INI: &str = "\
# compute nodes
[compute]
node1 ansible_host=10.0.0.11
node2 ansible_host=10.0.0.12 ansible_port=2222
[control]
ctl1 ansible_user=admin
[gpu]
node2
[compute:vars]
ansible_user=ops
[cloud:children]
compute
control
";

    fn names(t: Vec<Target>) -> Vec<String> {
        t.into_iter().map(|t| t.name).collect()
    }

    #[test]
    fn ini_groups_vars_and_limits() {
        let inv = Inventory::parse(INI, Path::new("hosts.ini")).unwrap();
        let all = inv.targets().unwrap();
        assert_eq!(names(all.clone()), ["node1", "node2", "ctl1"]);
        assert_eq!(all[1].ssh_args(), ["-p", "2222", "-l", "ops", "10.0.0.12"]);
        assert_eq!(all[2].ssh_args(), ["-l", "admin", "ctl1"]);
        assert_eq!(names(inv.limit("compute").unwrap()), ["node1", "node2"]);
        assert_eq!(names(inv.limit("cloud:!gpu").unwrap()), ["node1", "ctl1"]);
        assert_eq!(names(inv.limit("compute:&gpu").unwrap()), ["node2"]);
        assert_eq!(names(inv.limit("ctl1,node1").unwrap()), ["node1", "ctl1"]);
        assert_eq!(names(inv.limit("node*").unwrap()), ["node1", "node2"]);
        let e = inv.limit("storage").unwrap_err().to_string();
        assert!(e.contains("storage") && e.contains("compute"), "{e}");
    }

    #[test]
    fn plain_list_and_errors() {
        let inv = Inventory::parse("# a list\nroot@a:2222\nb\n\nb\n", Path::new("hosts")).unwrap();
        assert_eq!(names(inv.targets().unwrap()), ["root@a:2222", "b"]);
        let e = Inventory::parse("[x\nh1\n", Path::new("inv"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("inv") && e.contains("line 1"), "{e}");
        let e = Inventory::parse("h1 port 22\n", Path::new("inv"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("KEY=VALUE"), "{e}");
    }

    #[test]
    fn yaml_inventory() {
        let y = "\
all:
  vars:
    ansible_user: root
  children:
    compute:
      hosts:
        node1:
          ansible_host: 10.0.0.11
        node2:
          ansible_port: 2200
    control:
      hosts:
        ctl1:
";
        let inv = Inventory::parse(y, Path::new("inv.yml")).unwrap();
        let t = inv.targets().unwrap();
        assert_eq!(names(t.clone()), ["node1", "node2", "ctl1"]);
        assert_eq!(t[0].ssh_args(), ["-l", "root", "10.0.0.11"]);
        assert_eq!(t[1].ssh_args(), ["-p", "2200", "-l", "root", "node2"]);
        assert_eq!(names(inv.limit("control").unwrap()), ["ctl1"]);
        let e = Inventory::parse("all: [1, 2\n", Path::new("bad.yml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad.yml"), "{e}");
    }
}
