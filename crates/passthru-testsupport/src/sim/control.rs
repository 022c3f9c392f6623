//! The control channel: a hidden directory `.passthru-sim/` at the mount's root
//! (reachable by name, never listed) holding
//!
//! * `ctl` — write one command per line: `reboot`, `reboot cmdline=TEXT`,
//!   `fault PATH ERRNO [TIMES]`, `clear-faults`, `modprobe DRIVER`, `rmmod DRIVER`,
//!   `clear-log`. A bad command fails the write with EINVAL (the reason is logged).
//!   Reading it gives this usage.
//! * `faults` — pending faults, one per line: `PATH ERRNO REMAINING`.
//! * `log` — every change made through the mount and how the kernel answered.
//! * `status` — boots so far, counts of devices and VFs.

use super::kernel::{Errno, Fault, KResult, Kernel};

/// Usage text served by reading `.passthru-sim/ctl`.
pub const USAGE: &str = "\
passthru-sim control file: write one command per line.
  reboot                      forget runtime state, keep etc/ var/ boot/ ...
  reboot cmdline=TEXT         the same, booting with TEXT as proc/cmdline
  fault PATH ERRNO [TIMES]    fail the next TIMES (default 1) writes to PATH
  clear-faults                drop pending faults
  modprobe DRIVER             register a PCI driver and let it claim devices
  rmmod DRIVER                unbind a driver's devices and unregister it
  clear-log                   empty .passthru-sim/log
";

/// errno names the simulator understands (and prints).
pub const ERRNOS: &[(&str, i32)] = &[
    ("EPERM", libc::EPERM),
    ("ENOENT", libc::ENOENT),
    ("ESRCH", libc::ESRCH),
    ("EINTR", libc::EINTR),
    ("EIO", libc::EIO),
    ("ENXIO", libc::ENXIO),
    ("E2BIG", libc::E2BIG),
    ("EBADF", libc::EBADF),
    ("EAGAIN", libc::EAGAIN),
    ("ENOMEM", libc::ENOMEM),
    ("EACCES", libc::EACCES),
    ("EFAULT", libc::EFAULT),
    ("EBUSY", libc::EBUSY),
    ("EEXIST", libc::EEXIST),
    ("EXDEV", libc::EXDEV),
    ("ENODEV", libc::ENODEV),
    ("ENOTDIR", libc::ENOTDIR),
    ("EISDIR", libc::EISDIR),
    ("EINVAL", libc::EINVAL),
    ("ENFILE", libc::ENFILE),
    ("EMFILE", libc::EMFILE),
    ("ENOTTY", libc::ENOTTY),
    ("EFBIG", libc::EFBIG),
    ("ENOSPC", libc::ENOSPC),
    ("EROFS", libc::EROFS),
    ("EPIPE", libc::EPIPE),
    ("ERANGE", libc::ERANGE),
    ("EDEADLK", libc::EDEADLK),
    ("ENOSYS", libc::ENOSYS),
    ("ENOTEMPTY", libc::ENOTEMPTY),
    ("ENODATA", libc::ENODATA),
    ("ETIMEDOUT", libc::ETIMEDOUT),
    ("EOPNOTSUPP", libc::EOPNOTSUPP),
    ("EPROTO", libc::EPROTO),
    ("ECANCELED", libc::ECANCELED),
    ("EREMOTEIO", libc::EREMOTEIO),
    ("EDQUOT", libc::EDQUOT),
];

/// Parses an errno name (`EBUSY`, `busy`) or number.
pub fn parse_errno(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return (n > 0 && n < 4096).then_some(n);
    }
    let up = s.to_ascii_uppercase();
    let up = if up.starts_with('E') {
        up
    } else {
        format!("E{up}")
    };
    ERRNOS.iter().find(|(n, _)| *n == up).map(|(_, v)| *v)
}

/// The name of an errno (`EBUSY`), or its number.
pub fn errno_name(e: i32) -> String {
    ERRNOS
        .iter()
        .find(|(_, v)| *v == e)
        .map(|(n, _)| n.to_string())
        .unwrap_or_else(|| e.to_string())
}

impl Kernel {
    /// Registers a fault: the next `times` writes to `path` (relative to the root,
    /// links resolved; the file need not exist yet) fail with `errno`.
    pub fn add_fault(&mut self, path: &str, errno: Errno, times: u32) -> KResult<()> {
        let asked = path.trim_start_matches('/').to_string();
        let canon = self.fs.canonical_lenient(&asked).ok_or(libc::ENOENT)?;
        self.faults.retain(|f| f.path != canon && f.asked != asked);
        if times > 0 {
            self.note(format!(
                "fault armed: {canon} {} x{times}",
                errno_name(errno)
            ));
            self.faults.push(Fault {
                path: canon,
                asked,
                errno,
                remaining: times,
            });
        }
        Ok(())
    }

    /// Consumes one pending fault for a canonical path, if any: a fault matches by
    /// the path it resolved to when armed, or by what its asked path resolves to now.
    pub fn take_fault(&mut self, path: &str) -> Option<Errno> {
        let i = self.faults.iter().position(|f| {
            f.path == path || self.fs.canonical_lenient(&f.asked).as_deref() == Some(path)
        })?;
        let e = self.faults[i].errno;
        self.faults[i].remaining -= 1;
        if self.faults[i].remaining == 0 {
            self.faults.remove(i);
        }
        Some(e)
    }

    /// Pending faults as text.
    pub fn faults_text(&self) -> String {
        self.faults
            .iter()
            .map(|f| format!("{} {} {}\n", f.path, errno_name(f.errno), f.remaining))
            .collect()
    }

    /// A short status.
    pub fn status_text(&self) -> String {
        let devs = self.devices();
        let vfs = devs.iter().filter(|d| self.physfn(d).is_some()).count();
        format!(
            "boots {}\ndevices {}\nvfs {}\nfaults {}\n",
            self.boots,
            devs.len(),
            vfs,
            self.faults.len()
        )
    }

    /// Runs the commands written to `.passthru-sim/ctl`.
    pub fn control(&mut self, text: &str) -> KResult<()> {
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let r = self.control_line(line);
            match r {
                Ok(()) if line == "clear-log" => {}
                Ok(()) => self.note(format!("ctl {line:?} -> ok")),
                Err(e) => {
                    self.note(format!("ctl {line:?} -> {}", errno_name(e)));
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    fn control_line(&mut self, line: &str) -> KResult<()> {
        let (cmd, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        let args: Vec<&str> = rest.split_whitespace().collect();
        match cmd {
            "reboot" if rest.is_empty() => {
                self.reboot(None);
                Ok(())
            }
            "reboot" => match rest.strip_prefix("cmdline=") {
                Some(c) => {
                    self.reboot(Some(c));
                    Ok(())
                }
                None => Err(libc::EINVAL),
            },
            "fault" if args.len() == 2 || args.len() == 3 => {
                let errno = parse_errno(args[1]).ok_or(libc::EINVAL)?;
                let times = match args.get(2) {
                    Some(t) => t.parse::<u32>().map_err(|_| libc::EINVAL)?,
                    None => 1,
                };
                self.add_fault(args[0], errno, times)
            }
            "clear-faults" if args.is_empty() => {
                self.faults.clear();
                Ok(())
            }
            "modprobe" if args.len() == 1 => {
                self.load_driver(args[0]);
                Ok(())
            }
            "rmmod" if args.len() == 1 => self.unload_driver(args[0]),
            "clear-log" if args.is_empty() => {
                self.clear_log();
                Ok(())
            }
            _ => Err(libc::EINVAL),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_names_round_trip() {
        assert_eq!(parse_errno("EBUSY"), Some(libc::EBUSY));
        assert_eq!(parse_errno("busy"), Some(libc::EBUSY));
        assert_eq!(parse_errno("34"), Some(34));
        assert_eq!(parse_errno("EWHAT"), None);
        assert_eq!(errno_name(libc::ERANGE), "ERANGE");
    }
}
