//! The simulator's in-memory tree: directories, regular files and symlinks, addressed
//! by inode number (what FUSE speaks) and by path relative to the root (what the
//! kernel model speaks). Symlinks resolve inside the root, the way they would if the
//! root were `/`.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::time::SystemTime;

/// An inode number. The root is [`ROOT`].
pub type Ino = u64;

/// The root directory's inode number (FUSE's `FUSE_ROOT_ID`).
pub const ROOT: Ino = 1;

/// What a node holds.
#[derive(Clone, Debug)]
pub enum Kind {
    /// A directory: names to inodes, sorted.
    Dir(BTreeMap<String, Ino>),
    /// A regular file's bytes.
    File(Vec<u8>),
    /// A symlink's target text.
    Link(String),
}

/// One node of the tree.
#[derive(Clone, Debug)]
pub struct Node {
    /// Contents.
    pub kind: Kind,
    /// Permission bits (`0o644`...), without the file type.
    pub mode: u32,
    /// Parent directory (the root is its own parent).
    pub parent: Ino,
    /// Name in the parent.
    pub name: String,
    /// Last modification.
    pub mtime: SystemTime,
    /// When set, reads fail with this errno (a netdev's `carrier` while it is down).
    pub read_errno: Option<i32>,
}

/// A detached subtree, for snapshots (reboot image, removed devices, stashed netdevs).
#[derive(Clone, Debug)]
pub enum Tree {
    /// A directory with its mode and entries.
    Dir(u32, BTreeMap<String, Tree>),
    /// A file with its mode, bytes and read errno.
    File(u32, Vec<u8>, Option<i32>),
    /// A symlink.
    Link(String),
}

/// The whole tree. Nodes live in a vector indexed by inode number (numbers are
/// never reused, so a stale number from the kernel finds nothing).
#[derive(Clone, Debug)]
pub struct Vfs {
    nodes: Nodes,
    next: Ino,
}

/// Inode table: a vector indexed by inode number, holes where nodes were dropped.
#[derive(Clone, Debug, Default)]
struct Nodes(Vec<Option<Node>>);

impl Nodes {
    fn get(&self, ino: &Ino) -> Option<&Node> {
        self.0.get(usize::try_from(*ino).ok()?)?.as_ref()
    }

    fn get_mut(&mut self, ino: &Ino) -> Option<&mut Node> {
        self.0.get_mut(usize::try_from(*ino).ok()?)?.as_mut()
    }

    fn insert(&mut self, ino: Ino, node: Node) {
        let i = ino as usize;
        if self.0.len() <= i {
            self.0.resize_with(i + 1, || None);
        }
        self.0[i] = Some(node);
    }

    fn remove(&mut self, ino: &Ino) -> Option<Node> {
        self.0.get_mut(usize::try_from(*ino).ok()?)?.take()
    }

    fn live(&self) -> usize {
        self.0.iter().filter(|n| n.is_some()).count()
    }
}

fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|c| !c.is_empty() && *c != ".")
}

/// Splits `a/b/c` into (`a/b`, `c`).
pub fn split_parent(path: &str) -> (&str, &str) {
    let p = path.trim_end_matches('/');
    match p.rsplit_once('/') {
        Some((a, b)) => (a, b),
        None => ("", p),
    }
}

/// Joins two relative paths.
pub fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}/{b}"),
    }
}

/// The relative link text that leads from directory `from_dir` to `to` (both relative
/// to the root), as the kernel writes sysfs links: `("sys/bus/pci/devices",
/// "sys/devices/pci0000:00/0000:00:01.0")` gives `../../../devices/pci0000:00/0000:00:01.0`.
pub fn rel_link(from_dir: &str, to: &str) -> String {
    let f: Vec<&str> = components(from_dir).collect();
    let t: Vec<&str> = components(to).collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; f.len() - common];
    parts.extend(&t[common..]);
    parts.join("/")
}

impl Default for Vfs {
    fn default() -> Self {
        Self::new()
    }
}

impl Vfs {
    /// An empty tree (just the root directory).
    pub fn new() -> Vfs {
        let mut nodes = Nodes::default();
        nodes.insert(
            ROOT,
            Node {
                kind: Kind::Dir(BTreeMap::new()),
                mode: 0o755,
                parent: ROOT,
                name: String::new(),
                mtime: SystemTime::now(),
                read_errno: None,
            },
        );
        Vfs {
            nodes,
            next: ROOT + 1,
        }
    }

    /// Loads a directory from disk. Entries named in `skip` at the top level are left
    /// out; sockets, fifos and devices are skipped; names must be UTF-8.
    pub fn load(dir: &Path, skip: &[&str]) -> io::Result<Vfs> {
        let mut v = Vfs::new();
        let tree = read_tree(dir, skip, true)?;
        if let Tree::Dir(mode, entries) = tree {
            v.node_mut(ROOT).expect("root").mode = mode;
            for (name, t) in entries {
                v.graft(ROOT, &name, t);
            }
        }
        Ok(v)
    }

    /// A node.
    pub fn node(&self, ino: Ino) -> Option<&Node> {
        self.nodes.get(&ino)
    }

    /// A node, mutably.
    pub fn node_mut(&mut self, ino: Ino) -> Option<&mut Node> {
        self.nodes.get_mut(&ino)
    }

    /// A directory entry.
    pub fn child(&self, dir: Ino, name: &str) -> Option<Ino> {
        match &self.nodes.get(&dir)?.kind {
            Kind::Dir(e) => e.get(name).copied(),
            _ => None,
        }
    }

    /// A directory's entries (sorted), empty for non-directories.
    pub fn children(&self, dir: Ino) -> Vec<(String, Ino)> {
        match self.nodes.get(&dir).map(|n| &n.kind) {
            Some(Kind::Dir(e)) => e.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            _ => Vec::new(),
        }
    }

    /// The path of a node relative to the root (`""` for the root).
    pub fn path_of(&self, mut ino: Ino) -> String {
        let mut parts = Vec::new();
        while ino != ROOT {
            let Some(n) = self.nodes.get(&ino) else { break };
            parts.push(n.name.as_str());
            ino = n.parent;
        }
        parts.reverse();
        parts.join("/")
    }

    /// Resolves a path, following symlinks inside the root (absolute targets are
    /// root-relative, `..` stops at the root). With `follow_last` false, a final
    /// symlink is returned itself.
    pub fn resolve(&self, path: &str, follow_last: bool) -> Option<Ino> {
        self.resolve_from(ROOT, path, follow_last, &mut 0)
    }

    fn resolve_from(
        &self,
        start: Ino,
        path: &str,
        follow_last: bool,
        hops: &mut u32,
    ) -> Option<Ino> {
        let mut cur = if path.starts_with('/') { ROOT } else { start };
        let comps: Vec<&str> = components(path).collect();
        for (i, c) in comps.iter().enumerate() {
            if *c == ".." {
                cur = self.nodes.get(&cur)?.parent;
                continue;
            }
            let next = self.child(cur, c)?;
            let last = i + 1 == comps.len();
            if let Kind::Link(t) = &self.nodes.get(&next)?.kind {
                if !last || follow_last {
                    *hops += 1;
                    if *hops > 40 {
                        return None;
                    }
                    let t = t.clone();
                    cur = self.resolve_from(cur, &t, true, hops)?;
                    continue;
                }
            }
            cur = next;
        }
        Some(cur)
    }

    /// The canonical (symlink-free) path a path leads to, following links.
    pub fn canonical(&self, path: &str) -> Option<String> {
        self.resolve(path, true).map(|i| self.path_of(i))
    }

    /// Like [`canonical`](Self::canonical), but the path need not exist: the
    /// longest existing prefix is resolved and the rest appended as written.
    pub fn canonical_lenient(&self, path: &str) -> Option<String> {
        if let Some(i) = self.resolve(path, true) {
            return Some(self.path_of(i));
        }
        let comps: Vec<&str> = components(path).collect();
        for cut in (0..comps.len()).rev() {
            let prefix = comps[..cut].join("/");
            if let Some(i) = self.resolve(&prefix, true) {
                if !matches!(self.nodes.get(&i).map(|n| &n.kind), Some(Kind::Dir(_))) {
                    return None;
                }
                let mut p = self.path_of(i);
                for c in &comps[cut..] {
                    if *c == ".." {
                        return None;
                    }
                    p = join(&p, c);
                }
                return Some(p);
            }
        }
        None
    }

    /// Whether a path exists (links followed).
    pub fn exists(&self, path: &str) -> bool {
        self.resolve(path, true).is_some()
    }

    /// Whether a path is a directory (links followed).
    pub fn is_dir(&self, path: &str) -> bool {
        self.resolve(path, true)
            .and_then(|i| self.nodes.get(&i))
            .is_some_and(|n| matches!(n.kind, Kind::Dir(_)))
    }

    /// A file's bytes (links followed).
    pub fn read(&self, path: &str) -> Option<&[u8]> {
        match &self.nodes.get(&self.resolve(path, true)?)?.kind {
            Kind::File(d) => Some(d),
            _ => None,
        }
    }

    /// A file's text, trimmed.
    pub fn read_str(&self, path: &str) -> Option<String> {
        self.read(path)
            .map(|d| String::from_utf8_lossy(d).trim().to_string())
    }

    /// A symlink's target text (the link itself, not followed).
    pub fn read_link(&self, path: &str) -> Option<String> {
        match &self.nodes.get(&self.resolve(path, false)?)?.kind {
            Kind::Link(t) => Some(t.clone()),
            _ => None,
        }
    }

    /// A directory's entry names (links followed), empty when absent.
    pub fn list(&self, path: &str) -> Vec<String> {
        self.resolve(path, true)
            .map(|i| self.children(i).into_iter().map(|(n, _)| n).collect())
            .unwrap_or_default()
    }

    fn alloc(&mut self, parent: Ino, name: &str, kind: Kind, mode: u32) -> Ino {
        let ino = self.next;
        self.next += 1;
        self.nodes.insert(
            ino,
            Node {
                kind,
                mode,
                parent,
                name: name.to_string(),
                mtime: SystemTime::now(),
                read_errno: None,
            },
        );
        let old = match self.nodes.get_mut(&parent) {
            Some(Node {
                kind: Kind::Dir(e),
                mtime,
                ..
            }) => {
                *mtime = SystemTime::now();
                e.insert(name.to_string(), ino)
            }
            _ => None,
        };
        if let Some(old) = old {
            // Replaced an entry: drop the old subtree.
            self.drop_subtree(old);
        }
        ino
    }

    /// Creates a node in a directory (replacing any entry of that name).
    pub fn create(&mut self, parent: Ino, name: &str, kind: Kind, mode: u32) -> Ino {
        self.alloc(parent, name, kind, mode)
    }

    /// Creates every missing directory of a path (links followed for existing ones)
    /// and returns the last one.
    pub fn mkdir_p(&mut self, path: &str) -> Ino {
        let mut cur = ROOT;
        for c in components(path) {
            cur = match self.child(cur, c) {
                Some(i) => match self.nodes.get(&i).map(|n| &n.kind) {
                    Some(Kind::Dir(_)) => i,
                    Some(Kind::Link(_)) => {
                        let p = join(&self.path_of(cur), c);
                        match self.resolve(&p, true) {
                            Some(t) if self.is_dir_ino(t) => t,
                            _ => self.alloc(cur, c, Kind::Dir(BTreeMap::new()), 0o755),
                        }
                    }
                    _ => self.alloc(cur, c, Kind::Dir(BTreeMap::new()), 0o755),
                },
                None => self.alloc(cur, c, Kind::Dir(BTreeMap::new()), 0o755),
            };
        }
        cur
    }

    fn is_dir_ino(&self, ino: Ino) -> bool {
        matches!(self.nodes.get(&ino).map(|n| &n.kind), Some(Kind::Dir(_)))
    }

    /// Writes a whole file, creating parents; keeps the mode of an existing file.
    pub fn write(&mut self, path: &str, data: impl Into<Vec<u8>>, mode: u32) -> Ino {
        let data = data.into();
        if let Some(i) = self.resolve(path, true) {
            if let Some(n) = self.nodes.get_mut(&i) {
                if let Kind::File(d) = &mut n.kind {
                    *d = data;
                    n.mtime = SystemTime::now();
                    return i;
                }
            }
        }
        let (parent, name) = split_parent(path);
        let p = self.mkdir_p(parent);
        self.alloc(p, name, Kind::File(data), mode)
    }

    /// Replaces a file's bytes if it exists (links followed); false when absent.
    pub fn update(&mut self, path: &str, data: impl Into<Vec<u8>>) -> bool {
        let Some(i) = self.resolve(path, true) else {
            return false;
        };
        match self.nodes.get_mut(&i) {
            Some(n) => match &mut n.kind {
                Kind::File(d) => {
                    *d = data.into();
                    n.mtime = SystemTime::now();
                    true
                }
                _ => false,
            },
            None => false,
        }
    }

    /// Creates or replaces a symlink, creating parents.
    pub fn symlink(&mut self, path: &str, target: &str) -> Ino {
        let (parent, name) = split_parent(path);
        let p = self.mkdir_p(parent);
        self.alloc(p, name, Kind::Link(target.to_string()), 0o777)
    }

    /// Removes a path (the link itself for a symlink; recursively for a directory).
    /// Returns whether something was removed.
    pub fn remove(&mut self, path: &str) -> bool {
        match self.resolve(path, false) {
            Some(i) if i != ROOT => {
                self.unlink_ino(i);
                true
            }
            _ => false,
        }
    }

    /// Detaches a node from its parent and drops it with its subtree.
    pub fn unlink_ino(&mut self, ino: Ino) {
        let Some(n) = self.nodes.get(&ino) else {
            return;
        };
        let (parent, name) = (n.parent, n.name.clone());
        if let Some(Node {
            kind: Kind::Dir(e),
            mtime,
            ..
        }) = self.nodes.get_mut(&parent)
        {
            if e.get(&name) == Some(&ino) {
                e.remove(&name);
                *mtime = SystemTime::now();
            }
        }
        self.drop_subtree(ino);
    }

    fn drop_subtree(&mut self, ino: Ino) {
        if let Some(n) = self.nodes.remove(&ino) {
            if let Kind::Dir(e) = n.kind {
                for (_, c) in e {
                    self.drop_subtree(c);
                }
            }
        }
    }

    /// Moves a node to a new parent and name (replacing what is there).
    pub fn rename(&mut self, ino: Ino, new_parent: Ino, new_name: &str) {
        let Some(n) = self.nodes.get(&ino) else {
            return;
        };
        let (old_parent, old_name) = (n.parent, n.name.clone());
        if let Some(Node {
            kind: Kind::Dir(e), ..
        }) = self.nodes.get_mut(&old_parent)
        {
            e.remove(&old_name);
        }
        let replaced = match self.nodes.get_mut(&new_parent) {
            Some(Node {
                kind: Kind::Dir(e),
                mtime,
                ..
            }) => {
                *mtime = SystemTime::now();
                e.insert(new_name.to_string(), ino)
            }
            _ => None,
        };
        if let Some(old) = replaced {
            if old != ino {
                self.drop_subtree(old);
            }
        }
        if let Some(n) = self.nodes.get_mut(&ino) {
            n.parent = new_parent;
            n.name = new_name.to_string();
        }
    }

    /// A detached copy of a subtree (the link itself for a symlink).
    pub fn snapshot(&self, ino: Ino) -> Option<Tree> {
        let n = self.nodes.get(&ino)?;
        Some(match &n.kind {
            Kind::Dir(e) => Tree::Dir(
                n.mode,
                e.iter()
                    .filter_map(|(k, c)| Some((k.clone(), self.snapshot(*c)?)))
                    .collect(),
            ),
            Kind::File(d) => Tree::File(n.mode, d.clone(), n.read_errno),
            Kind::Link(t) => Tree::Link(t.clone()),
        })
    }

    /// A detached copy of the subtree at a path (the link itself for a symlink).
    pub fn snapshot_path(&self, path: &str) -> Option<Tree> {
        self.snapshot(self.resolve(path, false)?)
    }

    /// Attaches a detached subtree under `parent` as `name` (replacing what is there).
    pub fn graft(&mut self, parent: Ino, name: &str, tree: Tree) -> Ino {
        match tree {
            Tree::Dir(mode, entries) => {
                let d = self.alloc(parent, name, Kind::Dir(BTreeMap::new()), mode);
                for (k, t) in entries {
                    self.graft(d, &k, t);
                }
                d
            }
            Tree::File(mode, data, err) => {
                let f = self.alloc(parent, name, Kind::File(data), mode);
                if let Some(n) = self.nodes.get_mut(&f) {
                    n.read_errno = err;
                }
                f
            }
            Tree::Link(t) => self.alloc(parent, name, Kind::Link(t), 0o777),
        }
    }

    /// Attaches a detached subtree at a path, creating parents.
    pub fn graft_path(&mut self, path: &str, tree: Tree) -> Ino {
        let (parent, name) = split_parent(path);
        let p = self.mkdir_p(parent);
        self.graft(p, name, tree)
    }

    /// Number of nodes (for status output).
    pub fn len(&self) -> usize {
        self.nodes.live()
    }

    /// Whether the tree holds only its root.
    pub fn is_empty(&self) -> bool {
        self.len() <= 1
    }
}

/// Reads a directory from disk into a detached tree (subdirectories in parallel:
/// trees run to 100 000 files).
pub fn read_tree(dir: &Path, skip: &[&str], top: bool) -> io::Result<Tree> {
    use rayon::prelude::*;
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(dir)?;
    let mut ents = Vec::new();
    for ent in std::fs::read_dir(dir)? {
        let ent = ent?;
        let Some(name) = ent.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if top && skip.contains(&name.as_str()) {
            continue;
        }
        ents.push((name, ent));
    }
    let read: Vec<io::Result<Option<(String, Tree)>>> = ents
        .into_par_iter()
        .map(|(name, ent)| {
            let p = ent.path();
            let ft = ent.file_type()?;
            let t = if ft.is_symlink() {
                Tree::Link(std::fs::read_link(&p)?.to_string_lossy().into_owned())
            } else if ft.is_dir() {
                read_tree(&p, skip, false)?
            } else if ft.is_file() {
                let mode = ent.metadata()?.permissions().mode() & 0o7777;
                Tree::File(mode, std::fs::read(&p)?, None)
            } else {
                return Ok(None);
            };
            Ok(Some((name, t)))
        })
        .collect();
    let mut entries = BTreeMap::new();
    for r in read {
        if let Some((n, t)) = r? {
            entries.insert(n, t);
        }
    }
    Ok(Tree::Dir(meta.permissions().mode() & 0o7777, entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_inside_the_root() {
        let mut v = Vfs::new();
        v.write(
            "sys/devices/pci0000:00/0000:00:01.0/vendor",
            "0x8086\n",
            0o444,
        );
        v.symlink(
            "sys/bus/pci/devices/0000:00:01.0",
            "../../../devices/pci0000:00/0000:00:01.0",
        );
        v.symlink("sys/abs", "/sys/devices");
        v.symlink("sys/climb", "../../../../../sys/devices");
        assert_eq!(
            v.read_str("sys/bus/pci/devices/0000:00:01.0/vendor")
                .as_deref(),
            Some("0x8086")
        );
        assert_eq!(
            v.canonical("sys/bus/pci/devices/0000:00:01.0").as_deref(),
            Some("sys/devices/pci0000:00/0000:00:01.0")
        );
        assert_eq!(v.canonical("sys/abs").as_deref(), Some("sys/devices"));
        assert_eq!(v.canonical("sys/climb").as_deref(), Some("sys/devices"));
        assert_eq!(
            v.canonical_lenient("sys/bus/pci/devices/0000:00:01.0/new")
                .as_deref(),
            Some("sys/devices/pci0000:00/0000:00:01.0/new")
        );
        assert_eq!(
            v.canonical_lenient("sys/bus/pci/devices/0000:00:01.0/a/b")
                .as_deref(),
            Some("sys/devices/pci0000:00/0000:00:01.0/a/b")
        );
        assert_eq!(
            v.canonical_lenient("etc/default/grub").as_deref(),
            Some("etc/default/grub")
        );
        assert!(v.remove("sys/bus/pci/devices/0000:00:01.0"));
        assert!(v.exists("sys/devices/pci0000:00/0000:00:01.0/vendor"));
    }

    #[test]
    fn rel_link_matches_kernel_links() {
        assert_eq!(
            rel_link("sys/bus/pci/devices", "sys/devices/pci0000:00/0000:00:01.0"),
            "../../../devices/pci0000:00/0000:00:01.0"
        );
        assert_eq!(
            rel_link(
                "sys/devices/pci0000:00/0000:00:01.0/0000:06:00.0",
                "sys/devices/pci0000:00/0000:00:01.0/0000:06:10.0"
            ),
            "../0000:06:10.0"
        );
        assert_eq!(
            rel_link(
                "sys/devices/pci0000:00/0000:00:02.0",
                "sys/bus/pci/drivers/igb"
            ),
            "../../../bus/pci/drivers/igb"
        );
    }

    #[test]
    fn snapshot_and_graft_round_trip() {
        let mut v = Vfs::new();
        v.write("a/b/c", "x", 0o600);
        v.symlink("a/b/l", "c");
        let t = v.snapshot_path("a").unwrap();
        v.remove("a");
        assert!(!v.exists("a/b/c"));
        v.graft_path("z/a", t);
        assert_eq!(v.read_str("z/a/b/l").as_deref(), Some("x"));
        let i = v.resolve("z/a/b/c", true).unwrap();
        assert_eq!(v.node(i).unwrap().mode, 0o600);
    }
}
