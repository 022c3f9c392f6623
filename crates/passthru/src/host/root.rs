//! A host root directory, read with every symlink resolved inside it.
//!
//! passthru never hard-codes `/sys`: every path is relative to a [`Root`] (the real
//! `/` by default, a fake tree or the kernel simulator in tests). Paths are opened
//! with `openat2(RESOLVE_IN_ROOT)`, so a link such as
//! `sys/bus/pci/devices/X -> ../../../devices/pci0000:00/X` resolves the way the
//! kernel would if the root were `/`, and an absolute or climbing link can never
//! escape the root. Kernels without `openat2` (before 5.6) get the same semantics
//! from a component-by-component resolver.

use rustix::fd::OwnedFd;
use rustix::fs::{openat, openat2, readlinkat, Mode, OFlags, RawDir, ResolveFlags, CWD};
use rustix::io::Errno;
use std::io;
use std::path::{Component, Path, PathBuf};

/// An open host root.
#[derive(Debug)]
pub struct Root {
    path: PathBuf,
    fd: OwnedFd,
    openat2: bool,
}

/// An open directory inside a root (a device directory, typically). Names passed to
/// its methods are single components; symlinks among them are never followed for
/// reading, only read as links.
#[derive(Debug)]
pub struct DirHandle {
    fd: OwnedFd,
}

fn io_err(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

/// Reads a whole file from an fd. With `short_is_eof`, a read that returns less than
/// asked for ends the file: true of regular files and of sysfs attributes (the kernel
/// hands out a whole attribute in the first read), and it saves one `read` per
/// attribute, which matters on trees of 100 000 files. Without it, reading goes on
/// until a read returns 0; past 16 KiB the rest is read as std does (sized by `statx`).
fn read_fd(fd: OwnedFd, short_is_eof: bool) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(64);
    let mut buf = [0u8; 4096];
    loop {
        match rustix::io::read(&fd, &mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if short_is_eof && n < buf.len() {
                    return Ok(out);
                }
                if n == buf.len() && out.len() >= 4 * buf.len() {
                    // A big file (pci.ids is over 1 MB): the rest in as few reads
                    // as its size allows, not 4 KiB at a time.
                    use std::io::Read;
                    std::fs::File::from(fd).read_to_end(&mut out)?;
                    return Ok(out);
                }
            }
            Err(Errno::INTR) => continue,
            Err(e) => return Err(io_err(e)),
        }
    }
}

/// Lists a directory from an fd opened for reading, with `getdents64` straight into
/// a stack buffer (`.` and `..` left out). With `ends_short`, a batch that left room
/// for the largest entry ends the listing: true on filesystems whose readdir fills
/// the buffer while entries remain (sysfs, tmpfs), and it saves the final empty
/// `getdents64` of every small directory.
fn list_fd(fd: &OwnedFd, ends_short: bool) -> io::Result<Vec<String>> {
    // The largest linux_dirent64: 19 bytes of header, a 255-byte name and its NUL,
    // rounded up to 8; and the alignment RawDir may skip at the buffer's start.
    const MAX_ENTRY: usize = 280;
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 16 * 1024];
    let room = buf.len() - 8;
    let mut dir = RawDir::new(fd, &mut buf);
    let mut names = Vec::new();
    let mut batch: Option<usize> = None;
    loop {
        if dir.is_buffer_empty() {
            if ends_short && batch.is_some_and(|b| b + MAX_ENTRY <= room) {
                break;
            }
            batch = Some(0);
        }
        let Some(ent) = dir.next() else { break };
        let ent = ent.map_err(io_err)?;
        let name = ent.file_name().to_bytes();
        if let Some(b) = batch.as_mut() {
            *b += (19 + name.len() + 1).div_ceil(8) * 8;
        }
        if name != b"." && name != b".." {
            names.push(String::from_utf8_lossy(name).into_owned());
        }
    }
    Ok(names)
}

impl Root {
    /// Opens a root directory.
    pub fn open(path: impl AsRef<Path>) -> io::Result<Root> {
        let path = path.as_ref().to_path_buf();
        let fd = openat(
            CWD,
            &path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io_err)?;
        // Probe once whether the kernel has openat2.
        let probe = openat2(
            &fd,
            ".",
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT,
        );
        let openat2 = !matches!(probe, Err(Errno::NOSYS) | Err(Errno::PERM));
        Ok(Root { path, fd, openat2 })
    }

    /// The root's path as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the root, for messages and for tools that take paths (lspci).
    pub fn display(&self, rel: &str) -> PathBuf {
        self.path.join(rel.trim_start_matches('/'))
    }

    fn open_in_root(&self, rel: &str, flags: OFlags) -> io::Result<OwnedFd> {
        let rel = rel.trim_start_matches('/');
        let rel = if rel.is_empty() { "." } else { rel };
        if self.openat2 {
            // openat2 answers EAGAIN when a rename or mount anywhere on the system
            // raced the lookup (it cannot prove `..` stayed inside the root): retry,
            // then resolve by hand. Slow roots (FUSE, NFS) widen that window.
            for _ in 0..8 {
                match openat2(
                    &self.fd,
                    rel,
                    flags | OFlags::CLOEXEC,
                    Mode::empty(),
                    ResolveFlags::IN_ROOT,
                ) {
                    Err(Errno::AGAIN) => continue,
                    r => return r.map_err(io_err),
                }
            }
        }
        let resolved = self.resolve(rel)?;
        let resolved = if resolved.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            resolved
        };
        openat(
            &self.fd,
            &resolved,
            flags | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        )
        .map_err(io_err)
    }

    /// Resolves `rel` to a symlink-free path relative to the root, following links
    /// as if the root were `/` (the fallback for kernels without `openat2`).
    pub fn resolve(&self, rel: &str) -> io::Result<PathBuf> {
        let mut out: Vec<String> = Vec::new();
        let mut pending: Vec<String> = rel.split('/').rev().map(str::to_string).collect();
        let mut hops = 0;
        while let Some(c) = pending.pop() {
            match c.as_str() {
                "" | "." => continue,
                ".." => {
                    out.pop();
                    continue;
                }
                _ => {}
            }
            let candidate: PathBuf = out.iter().chain(std::iter::once(&c)).collect();
            match readlinkat(&self.fd, &candidate, Vec::new()) {
                Ok(target) => {
                    hops += 1;
                    if hops > 40 {
                        return Err(io::Error::from_raw_os_error(libc::ELOOP));
                    }
                    let t = target.to_string_lossy().into_owned();
                    if t.starts_with('/') {
                        out.clear();
                    }
                    pending.extend(t.split('/').rev().map(str::to_string));
                }
                Err(_) => out.push(c),
            }
        }
        Ok(out.iter().collect())
    }

    /// Reads a file inside the root.
    pub fn read(&self, rel: &str) -> io::Result<Vec<u8>> {
        let fd = self.open_in_root(rel, OFlags::RDONLY)?;
        read_fd(fd, false)
    }

    /// Reads a text file inside the root, lossily decoded.
    pub fn read_string(&self, rel: &str) -> io::Result<String> {
        // Valid UTF-8 (nearly always) is taken as is, without a copy.
        Ok(String::from_utf8(self.read(rel)?)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }

    /// Reads a symlink's target text inside the root (the link itself, not followed).
    pub fn read_link(&self, rel: &str) -> io::Result<String> {
        let rel = rel.trim_start_matches('/').trim_end_matches('/');
        let (parent, name) = match rel.rsplit_once('/') {
            Some((p, n)) => (p, n),
            None => ("", rel),
        };
        let dir = self.open_in_root(parent, OFlags::PATH | OFlags::DIRECTORY)?;
        let t = readlinkat(&dir, name, Vec::new()).map_err(io_err)?;
        Ok(t.to_string_lossy().into_owned())
    }

    /// Lists a directory inside the root (names only, unsorted).
    pub fn list(&self, rel: &str) -> io::Result<Vec<String>> {
        let fd = self.open_in_root(rel, OFlags::RDONLY | OFlags::DIRECTORY)?;
        list_fd(&fd, false)
    }

    /// Whether a path exists inside the root (links followed inside the root).
    pub fn exists(&self, rel: &str) -> bool {
        self.open_in_root(rel, OFlags::PATH).is_ok()
    }

    /// Whether a path inside the root is a directory.
    pub fn is_dir(&self, rel: &str) -> bool {
        self.open_in_root(rel, OFlags::PATH | OFlags::DIRECTORY)
            .is_ok()
    }

    /// Opens a directory inside the root for repeated reads.
    pub fn open_dir(&self, rel: &str) -> io::Result<DirHandle> {
        Ok(DirHandle {
            fd: self.open_in_root(rel, OFlags::PATH | OFlags::DIRECTORY)?,
        })
    }
}

impl DirHandle {
    /// Reads an attribute file in this directory; a symlink is refused (never
    /// followed), so nothing outside the root can be read this way.
    pub fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        let fd = openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io_err)?;
        read_fd(fd, true)
    }

    /// Reads an attribute as trimmed text; `None` when absent or unreadable.
    pub fn attr(&self, name: &str) -> Option<String> {
        self.read(name)
            .ok()
            .map(|b| String::from_utf8_lossy(&b).trim().to_string())
    }

    /// Reads a link's target text in this directory.
    pub fn read_link(&self, name: &str) -> io::Result<String> {
        readlinkat(&self.fd, name, Vec::new())
            .map(|t| t.to_string_lossy().into_owned())
            .map_err(io_err)
    }

    /// The last component of a link's target (`driver` -> `igb`), `None` if no link.
    pub fn link_name(&self, name: &str) -> Option<String> {
        let t = self.read_link(name).ok()?;
        let t = t.trim_end_matches('/');
        Some(t.rsplit('/').next().unwrap_or(t).to_string())
    }

    /// Lists this directory.
    pub fn list(&self) -> io::Result<Vec<String>> {
        let fd = openat(
            &self.fd,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io_err)?;
        list_fd(&fd, false)
    }

    /// Opens a subdirectory (not through a symlink) and lists it in the same breath:
    /// one open for both, where [`open_dir`](Self::open_dir) and then
    /// [`list`](Self::list) take two. The handle serves for reading inside it.
    /// `ends_short` as [`listings_end_short`](Self::listings_end_short) said.
    pub fn open_listing(
        &self,
        name: &str,
        ends_short: bool,
    ) -> io::Result<(DirHandle, Vec<String>)> {
        let fd = openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io_err)?;
        let names = list_fd(&fd, ends_short)?;
        Ok((DirHandle { fd }, names))
    }

    /// Whether directory listings on this directory's filesystem are complete once a
    /// `getdents64` batch comes back short: sysfs and tmpfs fill the buffer while
    /// entries remain; FUSE (the kernel simulator), NFS and others may not. One
    /// `fstatfs`, asked once per scan.
    pub fn listings_end_short(&self) -> bool {
        const SYSFS_MAGIC: u64 = 0x6265_6572;
        const TMPFS_MAGIC: u64 = 0x0102_1994;
        rustix::fs::fstatfs(&self.fd)
            .is_ok_and(|s| matches!(s.f_type as u64, SYSFS_MAGIC | TMPFS_MAGIC))
    }

    /// Opens a subdirectory (not through a symlink).
    pub fn open_dir(&self, name: &str) -> io::Result<DirHandle> {
        let fd = openat(
            &self.fd,
            name,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io_err)?;
        Ok(DirHandle { fd })
    }
}

/// Joins a link target onto the directory holding the link, lexically, clamped at
/// the root: `("sys/bus/pci/devices", "../../../devices/pci0000:00/0000:00:01.0")`
/// gives `sys/devices/pci0000:00/0000:00:01.0`.
pub fn join_link(dir: &str, target: &str) -> String {
    let mut parts: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        dir.split('/').filter(|c| !c.is_empty()).collect()
    };
    for c in Path::new(target).components() {
        match c {
            Component::ParentDir => {
                parts.pop();
            }
            Component::Normal(s) => parts.push(s.to_str().unwrap_or("")),
            _ => {}
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn links_resolve_inside_the_root_never_outside() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("sys/devices/x")).unwrap();
        std::fs::create_dir_all(r.join("etc")).unwrap();
        std::fs::write(r.join("sys/devices/x/vendor"), "0x8086\n").unwrap();
        std::fs::write(r.join("etc/secret"), "inside\n").unwrap();
        symlink("../devices/x", r.join("sys/link")).unwrap_or(());
        std::fs::create_dir_all(r.join("sys/bus")).unwrap();
        symlink("../devices/x", r.join("sys/bus/dev")).unwrap();
        // An absolute link means "root-relative", and climbing stops at the root.
        symlink("/etc/secret", r.join("sys/abs")).unwrap();
        symlink("../../../../../../etc/secret", r.join("sys/climb")).unwrap();
        let root = Root::open(r).unwrap();
        assert_eq!(root.read_string("sys/bus/dev/vendor").unwrap(), "0x8086\n");
        assert_eq!(root.read_string("sys/abs").unwrap(), "inside\n");
        assert_eq!(root.read_string("sys/climb").unwrap(), "inside\n");
        assert_eq!(
            root.resolve("sys/bus/dev/vendor").unwrap(),
            PathBuf::from("sys/devices/x/vendor")
        );
        assert_eq!(
            root.resolve("sys/abs").unwrap(),
            PathBuf::from("etc/secret")
        );
        assert_eq!(root.read_link("sys/bus/dev").unwrap(), "../devices/x");
        let d = root.open_dir("sys/bus/dev").unwrap();
        assert_eq!(d.attr("vendor").as_deref(), Some("0x8086"));
        // An attribute that is a link is not followed.
        symlink("/etc/secret", r.join("sys/devices/x/evil")).unwrap();
        assert!(d.attr("evil").is_none());
    }

    #[test]
    fn listings_are_whole_with_or_without_the_short_batch_shortcut() {
        // On tmpfs when there is one (the shortcut's home), else wherever /tmp is.
        let base = ["/dev/shm", "/tmp"]
            .into_iter()
            .find(|p| Path::new(p).is_dir())
            .unwrap();
        let t = tempfile::tempdir_in(base).unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("big")).unwrap();
        std::fs::create_dir_all(r.join("small")).unwrap();
        // ~2 000 entries of ~100 bytes each: several 16 KiB batches.
        let mut want: Vec<String> = (0..2000)
            .map(|i| format!("{i:05}-{}", "n".repeat(70)))
            .collect();
        for n in &want {
            std::fs::write(r.join("big").join(n), "").unwrap();
        }
        std::fs::write(r.join("small/eth0"), "").unwrap();
        let root = Root::open(r).unwrap();
        let top = root.open_dir(".").unwrap();
        want.sort();
        for ends_short in [false, true, top.listings_end_short()] {
            let (_, mut got) = top.open_listing("big", ends_short).unwrap();
            got.sort();
            assert_eq!(got, want, "ends_short {ends_short}");
            let (_, got) = top.open_listing("small", ends_short).unwrap();
            assert_eq!(got, vec!["eth0".to_string()]);
        }
        assert!(top.open_listing("absent", true).is_err());
    }

    #[test]
    fn join_link_is_lexical_and_clamped() {
        assert_eq!(
            join_link(
                "sys/bus/pci/devices",
                "../../../devices/pci0000:00/0000:00:01.0"
            ),
            "sys/devices/pci0000:00/0000:00:01.0"
        );
        assert_eq!(join_link("a", "../../../../x"), "x");
        assert_eq!(join_link("a/b", "/sys/x"), "sys/x");
    }
}
