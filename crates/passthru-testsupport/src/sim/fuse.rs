//! The FUSE side: serves the kernel model's tree. Everything under `sys/` behaves
//! like sysfs (each `write()` is one attribute store, files cannot be created or
//! removed, reads bypass the page cache); everything else is a plain read-write
//! filesystem held in memory.
//!
//! Nothing is cached by the kernel: entries and attributes have a zero TTL (every
//! path walk asks again, so a VF that appears or a link that moves is seen at once),
//! negative entries are not cached, and `sys/` files are read with direct I/O.
//! Inode numbers are never reused; an operation on a removed inode (an fd opened
//! before a reboot, say) answers ESTALE. A positive entry TTL with ESTALE for dead
//! inodes was tried: the kernel then trusts cached attributes for up to a jiffy,
//! and `stat` of a just-removed file succeeds, so it stays off.

use super::control::{errno_name, USAGE};
use super::kernel::Kernel;
use super::vfs::{Ino, Kind, ROOT};
use fuser::consts::FOPEN_DIRECT_IO;
use fuser::{
    FileAttr, FileType, Filesystem, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty,
    ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow,
};
use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// How long the kernel may trust a name -> inode entry: not at all (module doc).
const TTL_ENTRY: Duration = Duration::ZERO;
/// How long the kernel may trust attributes: not at all.
const TTL_ATTR: Duration = Duration::ZERO;
/// Largest regular file (all of it lives in memory).
const MAX_FILE: u64 = 1 << 30;
/// The answer for an inode that no longer exists.
const STALE: i32 = libc::ESTALE;
/// Name of the hidden control directory at the mount's root.
pub const CTL_DIR_NAME: &str = ".passthru-sim";
const CTL_DIR: Ino = u64::MAX - 16;
const CTL_FILES: &[(&str, Ino)] = &[
    ("ctl", u64::MAX - 15),
    ("log", u64::MAX - 14),
    ("faults", u64::MAX - 13),
    ("status", u64::MAX - 12),
];
const CTL_CTL: Ino = u64::MAX - 15;

/// The filesystem served over FUSE.
pub struct SimFs {
    /// The kernel model and its tree.
    pub kernel: Kernel,
    uid: u32,
    gid: u32,
    started: SystemTime,
}

fn in_sys(path: &str) -> bool {
    path == "sys" || path.starts_with("sys/")
}

fn name_str(name: &OsStr) -> Result<&str, i32> {
    let n = name.to_str().ok_or(libc::EINVAL)?;
    if n.is_empty() || n.contains('/') || n.len() > 255 {
        return Err(libc::EINVAL);
    }
    Ok(n)
}

impl SimFs {
    /// Wraps a kernel model.
    pub fn new(kernel: Kernel) -> SimFs {
        SimFs {
            kernel,
            // SAFETY: getters without arguments.
            uid: unsafe { libc::geteuid() },
            gid: unsafe { libc::getegid() },
            started: SystemTime::now(),
        }
    }

    fn ctl_content(&self, ino: Ino) -> Option<Vec<u8>> {
        let k = &self.kernel;
        Some(match ino {
            CTL_CTL => USAGE.as_bytes().to_vec(),
            i if i == u64::MAX - 14 => k.log_text().into_bytes(),
            i if i == u64::MAX - 13 => k.faults_text().into_bytes(),
            i if i == u64::MAX - 12 => k.status_text().into_bytes(),
            _ => return None,
        })
    }

    fn attr(&self, ino: Ino) -> Option<FileAttr> {
        let base = FileAttr {
            ino,
            size: 0,
            blocks: 0,
            atime: self.started,
            mtime: self.started,
            ctime: self.started,
            crtime: self.started,
            kind: FileType::Directory,
            perm: 0o755,
            nlink: 2,
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        };
        if ino == CTL_DIR {
            return Some(base);
        }
        if let Some(c) = self.ctl_content(ino) {
            return Some(FileAttr {
                kind: FileType::RegularFile,
                perm: if ino == CTL_CTL { 0o644 } else { 0o444 },
                nlink: 1,
                size: c.len() as u64,
                ..base
            });
        }
        let n = self.kernel.fs.node(ino)?;
        let (kind, size, nlink) = match &n.kind {
            Kind::Dir(e) => {
                let subdirs = e
                    .values()
                    .filter(|c| {
                        matches!(
                            self.kernel.fs.node(**c).map(|x| &x.kind),
                            Some(Kind::Dir(_))
                        )
                    })
                    .count();
                (FileType::Directory, 0, 2 + subdirs as u32)
            }
            Kind::File(d) => (FileType::RegularFile, d.len() as u64, 1),
            Kind::Link(t) => (FileType::Symlink, t.len() as u64, 1),
        };
        Some(FileAttr {
            kind,
            size,
            blocks: size.div_ceil(512),
            nlink,
            perm: (n.mode & 0o7777) as u16,
            mtime: n.mtime,
            ctime: n.mtime,
            atime: n.mtime,
            ..base
        })
    }

    /// Whether an inode exists (the control files count).
    fn live(&self, ino: Ino) -> bool {
        ino >= CTL_DIR || self.kernel.fs.node(ino).is_some()
    }

    fn path(&self, ino: Ino) -> String {
        self.kernel.fs.path_of(ino)
    }

    fn child_path(&self, parent: Ino, name: &str) -> String {
        let p = self.path(parent);
        if p.is_empty() {
            name.to_string()
        } else {
            format!("{p}/{name}")
        }
    }

    /// A pending fault for a path, consumed and logged.
    fn fault(&mut self, path: &str, what: &str) -> Option<i32> {
        let e = self.kernel.take_fault(path)?;
        self.kernel
            .note(format!("{what} {path} -> {} (injected)", errno_name(e)));
        Some(e)
    }

    fn entry(&self, ino: Ino, reply: ReplyEntry) {
        match self.attr(ino) {
            Some(a) => reply.entry(&TTL_ENTRY, &a, 0),
            None => reply.error(STALE),
        }
    }

    /// Checks a new entry can be made in `parent` and returns its path.
    fn new_entry(
        &mut self,
        parent: Ino,
        name: &OsStr,
        what: &str,
    ) -> Result<(String, String), i32> {
        let name = name_str(name)?.to_string();
        if parent == CTL_DIR || (parent == ROOT && name == CTL_DIR_NAME) {
            return Err(libc::EPERM);
        }
        match self.kernel.fs.node(parent).map(|n| &n.kind) {
            Some(Kind::Dir(_)) => {}
            Some(_) => return Err(libc::ENOTDIR),
            None => return Err(STALE),
        }
        let path = self.child_path(parent, &name);
        if in_sys(&path) {
            return Err(if what == "create" {
                libc::EACCES
            } else {
                libc::EPERM
            });
        }
        if self.kernel.fs.child(parent, &name).is_some() {
            return Err(libc::EEXIST);
        }
        if let Some(e) = self.fault(&path, what) {
            return Err(e);
        }
        Ok((name, path))
    }
}

impl Filesystem for SimFs {
    fn lookup(&mut self, _req: &Request<'_>, parent: u64, name: &OsStr, reply: ReplyEntry) {
        let Some(name) = name.to_str() else {
            return reply.error(libc::ENOENT);
        };
        if parent == ROOT && name == CTL_DIR_NAME {
            return self.entry(CTL_DIR, reply);
        }
        if parent == CTL_DIR {
            return match CTL_FILES.iter().find(|(n, _)| *n == name) {
                Some((_, i)) => self.entry(*i, reply),
                None => reply.error(libc::ENOENT),
            };
        }
        match self.kernel.fs.child(parent, name) {
            Some(i) => self.entry(i, reply),
            None if self.kernel.fs.node(parent).is_none() => reply.error(STALE),
            None => reply.error(libc::ENOENT),
        }
    }

    fn getattr(&mut self, _req: &Request<'_>, ino: u64, _fh: Option<u64>, reply: ReplyAttr) {
        match self.attr(ino) {
            Some(a) => reply.attr(&TTL_ATTR, &a),
            None => reply.error(STALE),
        }
    }

    fn setattr(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<u64>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<u32>,
        reply: ReplyAttr,
    ) {
        if ino >= CTL_DIR {
            return self.getattr(_req, ino, None, reply);
        }
        let path = self.path(ino);
        let sys = in_sys(&path);
        if let Some(sz) = size {
            // sysfs ignores O_TRUNC; elsewhere a truncate is part of a write.
            if !sys {
                if sz > MAX_FILE {
                    return reply.error(libc::EFBIG);
                }
                if let Some(e) = self.fault(&path, "truncate") {
                    return reply.error(e);
                }
                match self
                    .kernel
                    .fs
                    .node_mut(ino)
                    .map(|n| (&mut n.kind, &mut n.mtime))
                {
                    Some((Kind::File(d), mt)) => {
                        d.resize(sz as usize, 0);
                        *mt = SystemTime::now();
                    }
                    Some((Kind::Dir(_), _)) => return reply.error(libc::EISDIR),
                    Some(_) => return reply.error(libc::EINVAL),
                    None => return reply.error(STALE),
                }
            }
        }
        if let Some(n) = self.kernel.fs.node_mut(ino) {
            if let Some(m) = mode {
                n.mode = m & 0o7777;
            }
            match mtime {
                Some(TimeOrNow::SpecificTime(t)) => n.mtime = t,
                Some(TimeOrNow::Now) => n.mtime = SystemTime::now(),
                None => {}
            }
        }
        self.getattr(_req, ino, None, reply)
    }

    fn readlink(&mut self, _req: &Request<'_>, ino: u64, reply: ReplyData) {
        match self.kernel.fs.node(ino).map(|n| &n.kind) {
            Some(Kind::Link(t)) => reply.data(t.as_bytes()),
            Some(_) => reply.error(libc::EINVAL),
            None => reply.error(STALE),
        }
    }

    fn mknod(
        &mut self,
        _req: &Request<'_>,
        parent: u64,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        if mode & libc::S_IFMT != libc::S_IFREG && mode & libc::S_IFMT != 0 {
            return reply.error(libc::EPERM);
        }
        match self.new_entry(parent, name, "create") {
            Ok((name, path)) => {
                let i = self.kernel.fs.create(
                    parent,
                    &name,
                    Kind::File(Vec::new()),
                    mode & !umask & 0o7777,
                );
                self.kernel.note(format!("create {path}"));
                self.entry(i, reply)
            }
            Err(e) => reply.error(e),
        }
    }

    fn mkdir(
        &mut self,
        _req: &Request<'_>,
        parent: u64,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        match self.new_entry(parent, name, "mkdir") {
            Ok((name, path)) => {
                let i = self.kernel.fs.create(
                    parent,
                    &name,
                    Kind::Dir(Default::default()),
                    mode & !umask & 0o7777,
                );
                self.kernel.note(format!("mkdir {path}"));
                self.entry(i, reply)
            }
            Err(e) => reply.error(e),
        }
    }

    fn unlink(&mut self, _req: &Request<'_>, parent: u64, name: &OsStr, reply: ReplyEmpty) {
        if !self.live(parent) {
            return reply.error(STALE);
        }
        let Ok(name) = name_str(name) else {
            return reply.error(libc::EINVAL);
        };
        let path = self.child_path(parent, name);
        if parent >= CTL_DIR || in_sys(&path) {
            return reply.error(libc::EPERM);
        }
        let Some(i) = self.kernel.fs.child(parent, name) else {
            return reply.error(libc::ENOENT);
        };
        if matches!(self.kernel.fs.node(i).map(|n| &n.kind), Some(Kind::Dir(_))) {
            return reply.error(libc::EISDIR);
        }
        if let Some(e) = self.fault(&path, "unlink") {
            return reply.error(e);
        }
        self.kernel.fs.unlink_ino(i);
        self.kernel.note(format!("unlink {path}"));
        reply.ok()
    }

    fn rmdir(&mut self, _req: &Request<'_>, parent: u64, name: &OsStr, reply: ReplyEmpty) {
        if !self.live(parent) {
            return reply.error(STALE);
        }
        let Ok(name) = name_str(name) else {
            return reply.error(libc::EINVAL);
        };
        let path = self.child_path(parent, name);
        if parent >= CTL_DIR || in_sys(&path) || (parent == ROOT && name == CTL_DIR_NAME) {
            return reply.error(libc::EPERM);
        }
        let Some(i) = self.kernel.fs.child(parent, name) else {
            return reply.error(libc::ENOENT);
        };
        match self.kernel.fs.node(i).map(|n| &n.kind) {
            Some(Kind::Dir(e)) if !e.is_empty() => return reply.error(libc::ENOTEMPTY),
            Some(Kind::Dir(_)) => {}
            _ => return reply.error(libc::ENOTDIR),
        }
        if let Some(e) = self.fault(&path, "rmdir") {
            return reply.error(e);
        }
        self.kernel.fs.unlink_ino(i);
        self.kernel.note(format!("rmdir {path}"));
        reply.ok()
    }

    fn symlink(
        &mut self,
        _req: &Request<'_>,
        parent: u64,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        let Some(t) = target.to_str() else {
            return reply.error(libc::EINVAL);
        };
        match self.new_entry(parent, link_name, "symlink") {
            Ok((name, path)) => {
                let i = self
                    .kernel
                    .fs
                    .create(parent, &name, Kind::Link(t.to_string()), 0o777);
                self.kernel.note(format!("symlink {path} -> {t}"));
                self.entry(i, reply)
            }
            Err(e) => reply.error(e),
        }
    }

    fn rename(
        &mut self,
        _req: &Request<'_>,
        parent: u64,
        name: &OsStr,
        newparent: u64,
        newname: &OsStr,
        flags: u32,
        reply: ReplyEmpty,
    ) {
        if !self.live(parent) || !self.live(newparent) {
            return reply.error(STALE);
        }
        let (Ok(name), Ok(newname)) = (name_str(name), name_str(newname)) else {
            return reply.error(libc::EINVAL);
        };
        let from = self.child_path(parent, name);
        let to = self.child_path(newparent, newname);
        if parent >= CTL_DIR || newparent >= CTL_DIR || in_sys(&from) || in_sys(&to) {
            return reply.error(libc::EPERM);
        }
        if newparent == ROOT && newname == CTL_DIR_NAME {
            return reply.error(libc::EPERM);
        }
        if flags & libc::RENAME_EXCHANGE != 0 {
            return reply.error(libc::EINVAL);
        }
        let Some(src) = self.kernel.fs.child(parent, name) else {
            return reply.error(libc::ENOENT);
        };
        if !matches!(
            self.kernel.fs.node(newparent).map(|n| &n.kind),
            Some(Kind::Dir(_))
        ) {
            return reply.error(libc::ENOTDIR);
        }
        let src_dir = matches!(
            self.kernel.fs.node(src).map(|n| &n.kind),
            Some(Kind::Dir(_))
        );
        if src_dir {
            // A directory cannot move into itself.
            let mut p = newparent;
            loop {
                if p == src {
                    return reply.error(libc::EINVAL);
                }
                if p == ROOT {
                    break;
                }
                p = self.kernel.fs.node(p).map(|n| n.parent).unwrap_or(ROOT);
            }
        }
        if let Some(dst) = self.kernel.fs.child(newparent, newname) {
            if dst == src {
                return reply.ok();
            }
            if flags & libc::RENAME_NOREPLACE != 0 {
                return reply.error(libc::EEXIST);
            }
            match (src_dir, self.kernel.fs.node(dst).map(|n| &n.kind)) {
                (true, Some(Kind::Dir(e))) if !e.is_empty() => return reply.error(libc::ENOTEMPTY),
                (true, Some(Kind::Dir(_))) => {}
                (true, _) => return reply.error(libc::ENOTDIR),
                (false, Some(Kind::Dir(_))) => return reply.error(libc::EISDIR),
                _ => {}
            }
        }
        if let Some(e) = self.fault(&to, "rename") {
            return reply.error(e);
        }
        self.kernel.fs.rename(src, newparent, newname);
        self.kernel.note(format!("rename {from} -> {to}"));
        reply.ok()
    }

    fn open(&mut self, _req: &Request<'_>, ino: u64, flags: i32, reply: ReplyOpen) {
        if ino >= CTL_DIR {
            return reply.opened(0, FOPEN_DIRECT_IO);
        }
        let Some(n) = self.kernel.fs.node(ino) else {
            return reply.error(STALE);
        };
        let writing = flags & libc::O_ACCMODE != libc::O_RDONLY;
        let path = self.path(ino);
        if in_sys(&path) {
            // kernfs: no write bit, no writing; no read bit, no reading (even root).
            let reading = flags & libc::O_ACCMODE != libc::O_WRONLY;
            if (writing && n.mode & 0o222 == 0) || (reading && n.mode & 0o444 == 0) {
                return reply.error(libc::EACCES);
            }
            return reply.opened(0, FOPEN_DIRECT_IO);
        }
        reply.opened(0, 0)
    }

    fn read(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        offset: i64,
        size: u32,
        _flags: i32,
        _lock_owner: Option<u64>,
        reply: ReplyData,
    ) {
        let slice = |d: &[u8]| -> Vec<u8> {
            let start = (offset.max(0) as usize).min(d.len());
            let end = start.saturating_add(size as usize).min(d.len());
            d[start..end].to_vec()
        };
        if let Some(c) = self.ctl_content(ino) {
            return reply.data(&slice(&c));
        }
        match self.kernel.fs.node(ino) {
            Some(n) => match (&n.kind, n.read_errno) {
                (_, Some(e)) => reply.error(e),
                (Kind::File(d), None) => reply.data(&slice(d)),
                (Kind::Dir(_), _) => reply.error(libc::EISDIR),
                (Kind::Link(_), _) => reply.error(libc::EINVAL),
            },
            None => reply.error(STALE),
        }
    }

    fn write(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        offset: i64,
        data: &[u8],
        _write_flags: u32,
        _flags: i32,
        _lock_owner: Option<u64>,
        reply: ReplyWrite,
    ) {
        if ino == CTL_CTL {
            return match self.kernel.control(&String::from_utf8_lossy(data)) {
                Ok(()) => reply.written(data.len() as u32),
                Err(e) => reply.error(e),
            };
        }
        if ino >= CTL_DIR {
            return reply.error(libc::EACCES);
        }
        let path = self.path(ino);
        if let Some(e) = self.fault(&path, "write") {
            return reply.error(e);
        }
        if in_sys(&path) {
            let shown = String::from_utf8_lossy(data);
            let shown = shown.strip_suffix('\n').unwrap_or(&shown).to_string();
            let r = self.kernel.store(&path, data);
            match r {
                Ok(()) => {
                    self.kernel.note(format!("write {path} {shown:?} -> ok"));
                    reply.written(data.len() as u32)
                }
                Err(e) => {
                    self.kernel
                        .note(format!("write {path} {shown:?} -> {}", errno_name(e)));
                    reply.error(e)
                }
            }
        } else {
            match self.kernel.fs.node_mut(ino) {
                Some(n) => match &mut n.kind {
                    Kind::File(d) => {
                        let off = offset.max(0) as u64;
                        if off.saturating_add(data.len() as u64) > MAX_FILE {
                            return reply.error(libc::EFBIG);
                        }
                        let off = off as usize;
                        if d.len() < off + data.len() {
                            d.resize(off + data.len(), 0);
                        }
                        d[off..off + data.len()].copy_from_slice(data);
                        n.mtime = SystemTime::now();
                        self.kernel
                            .note(format!("write {path} ({} bytes at {off})", data.len()));
                        reply.written(data.len() as u32)
                    }
                    _ => reply.error(libc::EISDIR),
                },
                None => reply.error(STALE),
            }
        }
    }

    fn flush(
        &mut self,
        _req: &Request<'_>,
        _ino: u64,
        _fh: u64,
        _lock_owner: u64,
        reply: ReplyEmpty,
    ) {
        reply.ok()
    }

    fn fsync(
        &mut self,
        _req: &Request<'_>,
        _ino: u64,
        _fh: u64,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply.ok()
    }

    fn fsyncdir(
        &mut self,
        _req: &Request<'_>,
        _ino: u64,
        _fh: u64,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply.ok()
    }

    fn readdir(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        offset: i64,
        mut reply: ReplyDirectory,
    ) {
        let mut entries: Vec<(u64, FileType, String)> = Vec::new();
        if ino == CTL_DIR {
            entries.push((CTL_DIR, FileType::Directory, ".".into()));
            entries.push((ROOT, FileType::Directory, "..".into()));
            for (n, i) in CTL_FILES {
                entries.push((*i, FileType::RegularFile, n.to_string()));
            }
        } else {
            let Some(node) = self.kernel.fs.node(ino) else {
                return reply.error(STALE);
            };
            if !matches!(node.kind, Kind::Dir(_)) {
                return reply.error(libc::ENOTDIR);
            }
            entries.push((ino, FileType::Directory, ".".into()));
            entries.push((node.parent, FileType::Directory, "..".into()));
            for (name, c) in self.kernel.fs.children(ino) {
                let kind = match self.kernel.fs.node(c).map(|n| &n.kind) {
                    Some(Kind::Dir(_)) => FileType::Directory,
                    Some(Kind::Link(_)) => FileType::Symlink,
                    _ => FileType::RegularFile,
                };
                entries.push((c, kind, name));
            }
        }
        for (i, (ino, kind, name)) in entries.into_iter().enumerate().skip(offset.max(0) as usize) {
            if reply.add(ino, (i + 1) as i64, kind, name) {
                break;
            }
        }
        reply.ok()
    }

    fn statfs(&mut self, _req: &Request<'_>, _ino: u64, reply: ReplyStatfs) {
        let files = self.kernel.fs.len() as u64;
        reply.statfs(
            1 << 20,
            1 << 19,
            1 << 19,
            files + (1 << 20),
            1 << 20,
            4096,
            255,
            4096,
        )
    }

    fn access(&mut self, _req: &Request<'_>, ino: u64, _mask: i32, reply: ReplyEmpty) {
        if ino >= CTL_DIR || self.kernel.fs.node(ino).is_some() {
            reply.ok()
        } else {
            reply.error(STALE)
        }
    }

    fn create(
        &mut self,
        _req: &Request<'_>,
        parent: u64,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        match self.new_entry(parent, name, "create") {
            Ok((name, path)) => {
                let i = self.kernel.fs.create(
                    parent,
                    &name,
                    Kind::File(Vec::new()),
                    mode & !umask & 0o7777,
                );
                self.kernel.note(format!("create {path}"));
                match self.attr(i) {
                    Some(a) => reply.created(&TTL_ENTRY, &a, 0, 0, 0),
                    None => reply.error(libc::EIO),
                }
            }
            Err(e) => reply.error(e),
        }
    }
}
