//! Real OpenSSH servers on loopback for fleet tests: [`SshFleet::start`] runs one
//! `sshd` per "host" on 127.0.0.2, 127.0.0.3, ... (an unprivileged port each), with
//! host keys, a client key, `known_hosts` and an `ssh_config` (one `Host hN` alias per
//! server) all made by the test in a temporary directory. Everything stops by pid on
//! drop. Loopback only: no other address is ever used.
//!
//! ```no_run
//! use passthru_testsupport::sshd::{SshFleet, HostOptions};
//! if !passthru_testsupport::sshd::sshd_or_skip() { return; }
//! let fleet = SshFleet::start(&[HostOptions::default(), HostOptions::delayed(4)]).unwrap();
//! let out = fleet.ssh(0).arg("hostname").output().unwrap();   // ssh -F CONFIG h1 hostname
//! assert!(out.status.success());
//! // passthru --ssh-config fleet.ssh_config() --host h1 --host h2 doctor
//! ```
//!
//! Every session's `PATH` starts with the host's own `bin/` directory
//! ([`SshHost::bin_dir`]), where tests put programs the far side should find
//! (`passthru`, stand-ins). `reboot`, `systemctl`, `shutdown`, `poweroff`, `halt`,
//! `init` and `telinit` there are always **stand-ins**: by default they refuse; with
//! [`SshHost::on_reboot`] they run the test's shell snippet (e.g. the simulator's
//! reboot) and stop this host's sshd for a while. The loopback "hosts" are this
//! machine, so a real reboot command must never be reachable from a test session.
//!
//! As root, sshd insists on `/run/sshd`; rather than create it on the machine, each
//! sshd runs in a private mount namespace (`unshare -m`) with a fresh tmpfs on `/run`.

use std::fmt::Write as _;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian (and most distributions) install the server.
const SSHD_CANDIDATES: &[&str] = &["/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd"];

/// Commands that could reboot or stop this machine: always stand-ins on a test host's PATH.
pub const REBOOT_COMMANDS: &[&str] = &[
    "reboot",
    "systemctl",
    "shutdown",
    "poweroff",
    "halt",
    "init",
    "telinit",
];

/// The sshd binary, when installed.
pub fn sshd_binary() -> Option<PathBuf> {
    SSHD_CANDIDATES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// Whether real sshd tests can run here: `Err(reason)` when sshd, ssh or ssh-keygen
/// is missing.
pub fn sshd_usable() -> Result<(), String> {
    if sshd_binary().is_none() {
        return Err("sshd is not installed (Debian package openssh-server)".into());
    }
    for p in ["ssh", "ssh-keygen"] {
        if crate::peer::find_program(p).is_none() {
            return Err(format!(
                "`{p}` is not on PATH (Debian package openssh-client)"
            ));
        }
    }
    Ok(())
}

/// [`crate::peer::require`] for sshd: `true` when the tests can run, otherwise prints
/// why they skip (or panics under `CI=true`).
pub fn sshd_or_skip() -> bool {
    crate::peer::require("sshd (OpenSSH server)", sshd_usable())
}

/// How one test host behaves.
#[derive(Clone, Debug, Default)]
pub struct HostOptions {
    /// Seconds every session waits before running its command (a `ForceCommand`
    /// wrapper that sleeps: a slow or distant host).
    pub delay_secs: u64,
    /// Extra `KEY=VALUE` environment for every session (`SetEnv`).
    pub env: Vec<(String, String)>,
}

impl HostOptions {
    /// A host whose every session starts `secs` seconds late.
    pub fn delayed(secs: u64) -> HostOptions {
        HostOptions {
            delay_secs: secs,
            ..Default::default()
        }
    }
}

/// One running test sshd.
pub struct SshHost {
    alias: String,
    addr: Ipv4Addr,
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

/// N test sshd with their client configuration; all stopped on drop.
pub struct SshFleet {
    dir: tempfile::TempDir,
    hosts: Vec<SshHost>,
}

fn write_exec(path: &Path, text: &str) -> io::Result<()> {
    std::fs::write(path, text)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

/// Quotes a path or word for a POSIX shell script.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn keygen(path: &Path) -> io::Result<()> {
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(path.with_extension("pub"));
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "passthru-test", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()?;
    if !st.success() {
        return Err(io::Error::other(format!(
            "ssh-keygen -f {} failed ({st})",
            path.display()
        )));
    }
    Ok(())
}

/// A free TCP port on `addr` (bound and released; sshd binds it right after).
fn free_port(addr: Ipv4Addr) -> io::Result<u16> {
    let l = TcpListener::bind(SocketAddr::from((addr, 0)))?;
    Ok(l.local_addr()?.port())
}

fn user_name() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| {
            // SAFETY: getuid has no preconditions.
            if unsafe { libc::getuid() } == 0 {
                "root".into()
            } else {
                "nobody".into()
            }
        })
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

impl SshFleet {
    /// Starts one sshd per entry of `hosts`: `h1` on 127.0.0.2, `h2` on 127.0.0.3, ...
    /// and waits (up to 20 s each) until each accepts connections.
    pub fn start(hosts: &[HostOptions]) -> io::Result<SshFleet> {
        if hosts.len() > 200 {
            return Err(io::Error::other("at most 200 test hosts (127.0.0.2-201)"));
        }
        let sshd = sshd_binary().ok_or_else(|| io::Error::other("sshd is not installed"))?;
        let dir = tempfile::Builder::new().prefix("pt-ssh").tempdir()?;
        let base = dir.path().to_path_buf();
        keygen(&base.join("id_ed25519"))?;
        std::fs::copy(base.join("id_ed25519.pub"), base.join("authorized_keys"))?;
        let mut fleet = SshFleet {
            dir,
            hosts: Vec::new(),
        };
        for (i, opts) in hosts.iter().enumerate() {
            let addr = Ipv4Addr::new(127, 0, 0, 2 + i as u8);
            let alias = format!("h{}", i + 1);
            let hdir = base.join(&alias);
            std::fs::create_dir_all(hdir.join("bin"))?;
            keygen(&hdir.join("ssh_host_ed25519_key"))?;
            let port = free_port(addr)?;
            let host = SshHost {
                alias,
                addr,
                port,
                dir: hdir,
                child: None,
            };
            host.write_config(&base, &sshd, opts)?;
            host.write_guards()?;
            fleet.hosts.push(host);
        }
        fleet.write_client_files()?;
        for h in &mut fleet.hosts {
            h.start()?;
        }
        Ok(fleet)
    }

    /// `n` plain hosts.
    pub fn start_n(n: usize) -> io::Result<SshFleet> {
        Self::start(&vec![HostOptions::default(); n])
    }

    /// The directory holding keys and configuration.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The client configuration (`ssh -F` this): aliases `h1`.., the client key,
    /// the test `known_hosts`, strict host key checking, batch mode.
    pub fn ssh_config(&self) -> PathBuf {
        self.dir.path().join("ssh_config")
    }

    /// The `known_hosts` file the client configuration uses.
    pub fn known_hosts(&self) -> PathBuf {
        self.dir.path().join("known_hosts")
    }

    /// The client's private key.
    pub fn client_key(&self) -> PathBuf {
        self.dir.path().join("id_ed25519")
    }

    /// The hosts, in order (`h1` first).
    pub fn hosts(&self) -> &[SshHost] {
        &self.hosts
    }

    /// One host.
    pub fn host(&self, i: usize) -> &SshHost {
        &self.hosts[i]
    }

    /// One host, to stop, restart or re-key it.
    pub fn host_mut(&mut self, i: usize) -> &mut SshHost {
        &mut self.hosts[i]
    }

    /// The aliases (`h1`, `h2`, ...), as `--host` takes them.
    pub fn aliases(&self) -> Vec<String> {
        self.hosts.iter().map(|h| h.alias.clone()).collect()
    }

    /// `ssh -F CONFIG hN`, ready for the remote command's arguments.
    pub fn ssh(&self, i: usize) -> Command {
        let mut c = Command::new("ssh");
        c.arg("-F").arg(self.ssh_config()).arg(&self.hosts[i].alias);
        c
    }

    /// Writes `ssh_config` and `known_hosts` for the current host keys.
    fn write_client_files(&self) -> io::Result<()> {
        let base = self.dir.path();
        let mut cfg = String::from("# written by passthru-testsupport (sshd.rs)\n");
        let mut kh = String::new();
        for h in &self.hosts {
            let _ = writeln!(
                cfg,
                "Host {}\n  HostName {}\n  Port {}\n",
                h.alias, h.addr, h.port
            );
            let key = std::fs::read_to_string(h.dir.join("ssh_host_ed25519_key.pub"))?;
            let mut words = key.split_whitespace();
            let (kind, blob) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
            let _ = writeln!(kh, "[{}]:{} {kind} {blob}", h.addr, h.port);
        }
        let _ = write!(
            cfg,
            "Host *\n  User {user}\n  IdentityFile {key}\n  IdentitiesOnly yes\n  \
             UserKnownHostsFile {kh}\n  GlobalKnownHostsFile /dev/null\n  \
             StrictHostKeyChecking yes\n  BatchMode yes\n  LogLevel ERROR\n  ConnectTimeout 10\n",
            user = user_name(),
            key = base.join("id_ed25519").display(),
            kh = base.join("known_hosts").display(),
        );
        std::fs::write(base.join("ssh_config"), cfg)?;
        std::fs::write(base.join("known_hosts"), kh)?;
        Ok(())
    }

    /// Gives host `i` a new host key and restarts it, leaving `known_hosts` with the
    /// old one: the client must refuse it ("REMOTE HOST IDENTIFICATION HAS CHANGED").
    pub fn change_host_key(&mut self, i: usize) -> io::Result<()> {
        let h = &mut self.hosts[i];
        h.stop();
        keygen(&h.dir.join("ssh_host_ed25519_key"))?;
        h.start()
    }
}

impl SshHost {
    /// The alias in the fleet's ssh_config (`h1`).
    pub fn alias(&self) -> &str {
        &self.alias
    }

    /// The loopback address it listens on.
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// This host's directory (sshd_config, host key, `bin/`, sshd.log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The directory first on every session's PATH: put programs here.
    pub fn bin_dir(&self) -> PathBuf {
        self.dir.join("bin")
    }

    /// The sshd's pid while it runs (after a restart by a reboot stand-in, the new one).
    pub fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.dir.join("sshd.pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    /// Puts `target` on this host's PATH as `name` (a symlink).
    pub fn install(&self, name: &str, target: &Path) -> io::Result<()> {
        let link = self.bin_dir().join(name);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(target, link)
    }

    /// Puts a shell script on this host's PATH as `name`.
    pub fn install_script(&self, name: &str, body: &str) -> io::Result<()> {
        write_exec(&self.bin_dir().join(name), &format!("#!/bin/sh\n{body}\n"))
    }

    /// Makes the reboot stand-ins "reboot": they append a line to
    /// [`SshHost::reboot_log`], run `snippet` (shell; e.g. the simulator's reboot),
    /// stop this sshd, and start it again `down_secs` later, all in the background so
    /// the calling session ends normally.
    pub fn on_reboot(&self, snippet: &str, down_secs: u64) -> io::Result<()> {
        write_exec(
            &self.dir.join("reboot-hook"),
            &format!(
                "#!/bin/sh\n# The test's stand-in for a reboot; never reboots this machine.\n{snippet}\n\
                 {restart} {down_secs}\n",
                restart = sh_quote(&self.dir.join("restart").display().to_string())
            ),
        )
    }

    /// Lines appended by each stand-in reboot (`COMMAND ARGS`).
    pub fn reboot_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("reboots")).unwrap_or_default()
    }

    /// Writes sshd_config, the delay wrapper and the start/stop/restart scripts.
    fn write_config(&self, base: &Path, sshd: &Path, o: &HostOptions) -> io::Result<()> {
        let d = &self.dir;
        let path = format!(
            "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            self.bin_dir().display()
        );
        let mut cfg = format!(
            "# written by passthru-testsupport (sshd.rs)\n\
             ListenAddress {addr}:{port}\nHostKey {hk}\nPidFile none\n\
             AuthorizedKeysFile {ak}\nPermitRootLogin prohibit-password\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
             StrictModes no\nMaxStartups 100:30:200\nMaxSessions 100\n\
             PrintMotd no\nPrintLastLog no\nLogLevel ERROR\n\
             Subsystem sftp internal-sftp\n",
            addr = self.addr,
            port = self.port,
            hk = d.join("ssh_host_ed25519_key").display(),
            ak = base.join("authorized_keys").display(),
        );
        let mut env = format!("SetEnv PATH={path}");
        for (k, v) in &o.env {
            let _ = write!(env, " {k}={v}");
        }
        let _ = writeln!(cfg, "{env}");
        // Every session goes through this wrapper: the login shell (bash for root) reads
        // ~/.bashrc, which may put its own directories first; the wrapper sets PATH
        // last, so the stand-ins always win. With a delay, it sleeps first.
        let wrapper = d.join("session");
        write_exec(
            &wrapper,
            &format!(
                "#!/bin/sh\n# Every session of this test host: its own PATH{delay_note}.\n\
                 {sleep}export PATH={path}\n\
                 if [ -n \"$SSH_ORIGINAL_COMMAND\" ]; then exec /bin/sh -c \"$SSH_ORIGINAL_COMMAND\"; fi\n\
                 exec /bin/sh\n",
                delay_note = if o.delay_secs > 0 { ", started late (a slow host)" } else { "" },
                sleep = if o.delay_secs > 0 { format!("sleep {}\n", o.delay_secs) } else { String::new() },
                path = sh_quote(&path),
            ),
        )?;
        let _ = writeln!(cfg, "ForceCommand {}", wrapper.display());
        std::fs::write(d.join("sshd_config"), cfg)?;
        // start: sshd in the foreground (-D) so its pid is the one we get; as root in a
        // private mount namespace with its own /run (sshd needs /run/sshd).
        let q = |p: &Path| sh_quote(&p.display().to_string());
        let launch = if is_root() {
            format!(
                "exec unshare --mount --propagation slave -- /bin/sh -c \
                 'mount -t tmpfs -o mode=755 pt-sshd-run /run && mkdir -m 755 /run/sshd && exec \"$0\" -D -e -f \"$1\"' \
                 {} {}",
                q(sshd),
                q(&d.join("sshd_config"))
            )
        } else {
            format!("exec {} -D -e -f {}", q(sshd), q(&d.join("sshd_config")))
        };
        write_exec(
            &d.join("launch"),
            &format!("#!/bin/sh\n# Runs this test host's sshd in the foreground.\n{launch}\n"),
        )?;
        // restart SECS: what a stand-in reboot does to this host's sshd. Bounded: it
        // gives up when the fleet was dropped meanwhile (the `stopped` marker).
        write_exec(
            &d.join("restart"),
            &format!(
                "#!/bin/sh\n# Stops this test sshd, waits, starts it again (a simulated reboot).\n\
                 D={dir}\n\
                 ( pid=$(cat \"$D/sshd.pid\" 2>/dev/null); [ -n \"$pid\" ] && kill \"$pid\" 2>/dev/null\n\
                   rm -f \"$D/sshd.pid\"; sleep \"$1\"\n\
                   [ -e \"$D/stopped\" ] && exit 0\n\
                   \"$D/launch\" >>\"$D/sshd.log\" 2>&1 </dev/null &\n\
                   echo $! > \"$D/sshd.pid\" ) </dev/null >/dev/null 2>&1 &\n",
                dir = q(d)
            ),
        )?;
        Ok(())
    }

    /// The stand-ins for every command that could reboot this machine.
    fn write_guards(&self) -> io::Result<()> {
        let hook = self.dir.join("reboot-hook");
        let log = self.dir.join("reboots");
        for name in REBOOT_COMMANDS {
            write_exec(
                &self.bin_dir().join(name),
                &format!(
                    "#!/bin/sh\n# passthru test stand-in for `{name}`: the test hosts are this machine,\n\
                     # so this never reboots anything. It runs the test's reboot hook, if any.\n\
                     echo \"{name} $*\" >> {log}\n\
                     if [ -x {hook} ]; then setsid {hook} </dev/null >/dev/null 2>&1 & exit 0; fi\n\
                     echo \"stand-in {name}: refusing (no reboot hook installed by the test)\" >&2\nexit 1\n",
                    log = sh_quote(&log.display().to_string()),
                    hook = sh_quote(&hook.display().to_string()),
                ),
            )?;
        }
        Ok(())
    }

    /// Starts sshd and waits until it accepts connections.
    pub fn start(&mut self) -> io::Result<()> {
        let _ = std::fs::remove_file(self.dir.join("stopped"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("sshd.log"))?;
        let child = Command::new(self.dir.join("launch"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        std::fs::write(self.dir.join("sshd.pid"), child.id().to_string())?;
        self.child = Some(child);
        self.wait_listening(Duration::from_secs(20))
    }

    /// Waits until the port accepts a TCP connection.
    pub fn wait_listening(&mut self, limit: Duration) -> io::Result<()> {
        let deadline = Instant::now() + limit;
        let sa = SocketAddr::from((self.addr, self.port));
        loop {
            if TcpStream::connect_timeout(&sa, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            let ours = self.child.as_ref().map(Child::id);
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    self.child = None;
                    if self.pid() != ours {
                        // Restarted by a reboot stand-in: the new sshd is not our child.
                        continue;
                    }
                    return Err(io::Error::other(format!(
                        "sshd for {} exited ({st}): {}",
                        self.alias,
                        self.log()
                    )));
                }
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "sshd for {} did not listen on {sa} within {limit:?}: {}",
                    self.alias,
                    self.log()
                )));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// What sshd logged (errors only).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
    }

    /// Stops sshd (SIGTERM by pid, SIGKILL after 5 s). Sessions already open end
    /// with their clients.
    pub fn stop(&mut self) {
        let _ = std::fs::write(self.dir.join("stopped"), "");
        let pid = self.pid();
        let _ = std::fs::remove_file(self.dir.join("sshd.pid"));
        if let Some(pid) = pid {
            // SAFETY: kill(2) on the pid of the sshd this harness (or its restart
            // script) started.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGTERM);
            }
        }
        if let Some(mut c) = self.child.take() {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = c.kill();
                    let _ = c.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl Drop for SshFleet {
    fn drop(&mut self) {
        for h in &mut self.hosts {
            h.stop();
        }
    }
}
