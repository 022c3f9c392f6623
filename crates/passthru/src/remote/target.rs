//! SSH targets as users write them: `host`, `user@host`, `host:port`,
//! `user@host:port`, `[v6addr]:port`, `ssh://user@host:port`, or an ssh_config alias.

use super::RemoteError;
use serde::Serialize;
use std::fmt;

/// One host to reach over SSH.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Target {
    /// The name shown in output (as the user wrote it, or the inventory's host name).
    pub name: String,
    /// The host name, address or ssh_config alias handed to `ssh`.
    pub host: String,
    /// The login user, when given (`-l`).
    pub user: Option<String>,
    /// The port, when given (`-p`).
    pub port: Option<u16>,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl Target {
    /// Parses a target as `ssh` would take it, plus `host:port`.
    pub fn parse(text: &str) -> Result<Target, RemoteError> {
        let bad = |why: &str| RemoteError::BadTarget {
            target: text.to_string(),
            why: why.to_string(),
        };
        let t = text.trim();
        let rest = t.strip_prefix("ssh://").unwrap_or(t);
        if rest.is_empty() {
            return Err(bad("it is empty"));
        }
        // `-oProxyCommand=...` must never reach ssh as a host: it would be an option.
        if rest.starts_with('-') {
            return Err(bad("a host cannot start with '-'"));
        }
        if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("it contains white space"));
        }
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) if !u.is_empty() => (Some(u.to_string()), h),
            Some(_) => return Err(bad("the user before '@' is empty")),
            None => (None, rest),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (addr, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("'[' without ']' (write [ADDR]:PORT)"))?;
            match after.strip_prefix(':') {
                Some(p) => (addr.to_string(), Some(p)),
                None if after.is_empty() => (addr.to_string(), None),
                None => return Err(bad("only ':PORT' may follow ']'")),
            }
        } else if hostport.matches(':').count() == 1 {
            let (h, p) = hostport.split_once(':').unwrap_or((hostport, ""));
            (h.to_string(), Some(p))
        } else {
            // A bare IPv6 address (several colons) has no port.
            (hostport.to_string(), None)
        };
        if host.is_empty() || host.starts_with('-') {
            return Err(bad("the host name is empty or starts with '-'"));
        }
        let port = match port {
            Some(p) => Some(
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?,
            ),
            None => None,
        };
        Ok(Target {
            name: text.trim().to_string(),
            host,
            user,
            port,
        })
    }

    /// The `ssh` arguments naming this target (`-p`, `-l`, then the host after `--`
    /// is not possible with ssh, so the host is checked never to start with '-').
    pub fn ssh_args(&self) -> Vec<String> {
        let mut a = Vec::new();
        if let Some(p) = self.port {
            a.push("-p".into());
            a.push(p.to_string());
        }
        if let Some(u) = &self.user {
            a.push("-l".into());
            a.push(u.clone());
        }
        a.push(self.host.clone());
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_users_write() {
        let t = Target::parse("root@node1:2222").unwrap();
        assert_eq!(
            (t.user.as_deref(), t.host.as_str(), t.port),
            (Some("root"), "node1", Some(2222))
        );
        assert_eq!(t.ssh_args(), ["-p", "2222", "-l", "root", "node1"]);
        assert_eq!(
            Target::parse("compute-7").unwrap().ssh_args(),
            ["compute-7"]
        );
        let v6 = Target::parse("[fe80::1]:22").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("fe80::1", Some(22)));
        assert_eq!(Target::parse("fe80::1").unwrap().host, "fe80::1");
        let url = Target::parse("ssh://admin@10.0.0.5:2200").unwrap();
        assert_eq!(url.ssh_args(), ["-p", "2200", "-l", "admin", "10.0.0.5"]);
        assert_eq!(url.name, "ssh://admin@10.0.0.5:2200");
    }

    #[test]
    fn options_and_garbage_are_refused() {
        for bad in [
            "",
            "-oProxyCommand=sh",
            "a b",
            "@host",
            "host:0",
            "host:99999",
            "host:x",
            "[::1",
            "u@-x",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
