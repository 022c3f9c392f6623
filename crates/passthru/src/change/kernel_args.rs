//! Planning kernel command line changes: `passthru kernel-args --iommu [--pt]`.
//!
//! The argument depends on the CPU vendor (Intel needs `intel_iommu=on`; AMD-Vi and
//! Arm SMMUs are on by default) and the change goes through the tooling that owns the
//! host's command line:
//! - `grubby` (Fedora, RHEL and relatives) edits every boot entry itself;
//! - `etc/kernel/cmdline` (systemd-boot, kernel-install, proxmox-boot-tool);
//! - `etc/default/grub` (`etc/sysconfig/grub` on RHEL is a link to it) and then
//!   `update-grub`, or `grub2-mkconfig -o` the `grub.cfg` the firmware really reads:
//!   on UEFI the one on the ESP (`boot/efi/EFI/<distro>/grub.cfg`), unless that is
//!   only the stub newer distributions put there to chain to `boot/grub2/grub.cfg`
//!   (regenerating the BIOS path on a UEFI host is a classic way to change nothing).

use crate::change::persist::desire_file;
use crate::change::plan::{Action, Command, Expect, Plan, UndoCommand};
use crate::change::{enforce, ChangeError, Refusal};
use crate::checks::args::{has, iommu_off_args, norm_key};
use crate::checks::fix::passthrough_arg;
use crate::host::change_facts::ChangeFacts;
use crate::host::model::Host;
use crate::host::system::CpuVendor;

/// What the user asked for.
#[derive(Clone, Debug, Default)]
pub struct KernelArgsRequest {
    /// The vendor's IOMMU argument.
    pub iommu: bool,
    /// Passthrough mode for host devices (`iommu=pt`, `iommu.passthrough=1` on Arm):
    /// faster host DMA, same isolation for guests.
    pub pt: bool,
    /// Extra arguments to add.
    pub add: Vec<String>,
    /// Arguments to remove (`key` removes every `key=...`).
    pub remove: Vec<String>,
    /// Make a change that switches the IOMMU off or takes vfio out of the boot.
    pub force: bool,
}

impl KernelArgsRequest {
    /// Whether nothing is asked.
    pub fn is_empty(&self) -> bool {
        !self.iommu && !self.pt && self.add.is_empty() && self.remove.is_empty()
    }
}

/// The arguments a request means on a CPU vendor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DesiredArgs {
    /// Arguments to add.
    pub add: Vec<String>,
    /// Removal patterns.
    pub remove: Vec<String>,
    /// Notes for the user.
    pub notes: Vec<String>,
}

/// The arguments to add and to remove for a request on a CPU vendor, with notes.
pub fn desired_args(
    vendor: CpuVendor,
    req: &KernelArgsRequest,
) -> Result<DesiredArgs, ChangeError> {
    let mut add: Vec<String> = Vec::new();
    let mut remove: Vec<String> = Vec::new();
    let mut notes = Vec::new();
    if req.iommu {
        match vendor {
            CpuVendor::Intel => {
                add.push("intel_iommu=on".into());
                remove.extend(["intel_iommu=off".into(), "iommu=off".into()]);
            }
            CpuVendor::Amd => {
                remove.extend(["amd_iommu=off".into(), "iommu=off".into()]);
                notes.push("AMD CPU: AMD-Vi is on by default when the firmware enables it (IOMMU/SVM in the setup); no argument is needed to turn it on".into());
            }
            CpuVendor::Arm => {
                notes.push("Arm CPU: the SMMU is on by default; no argument is needed".into());
            }
            _ => {
                return Err(ChangeError::Invalid(
                    "cannot tell the CPU vendor from proc/cpuinfo, so not which IOMMU argument applies; give it with --add (intel_iommu=on on Intel)".into(),
                ))
            }
        }
    }
    if req.pt {
        match passthrough_arg(vendor) {
            "iommu=pt" => {
                add.push("iommu=pt".into());
                remove.extend(["iommu=nopt".into(), "iommu=off".into()]);
            }
            other => {
                add.push(other.into());
                remove.push("iommu.passthrough=0".into());
            }
        }
    }
    for (flag, given, out) in [
        ("--add", &req.add, &mut add),
        ("--remove", &req.remove, &mut remove),
    ] {
        for a in given {
            let w = a.trim();
            if w.is_empty() || w.chars().any(char::is_whitespace) {
                return Err(ChangeError::Invalid(format!(
                    "{flag} '{a}': one kernel argument per {flag}, without spaces (the kernel would read {} argument(s)); give {}",
                    w.split_whitespace().count(),
                    if w.is_empty() {
                        format!("{flag} ARG with an argument")
                    } else {
                        w.split_whitespace()
                            .map(|x| format!("{flag} {x}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    }
                )));
            }
            out.push(w.to_string());
        }
    }
    // An argument asked for explicitly is never also removed.
    remove.retain(|r| !add.iter().any(|a| removes(r, a)));
    dedup_keep_order(&mut add);
    dedup_keep_order(&mut remove);
    Ok(DesiredArgs { add, remove, notes })
}

fn dedup_keep_order(v: &mut Vec<String>) {
    let mut seen: Vec<String> = Vec::new();
    v.retain(|x| {
        if seen.contains(x) {
            false
        } else {
            seen.push(x.clone());
            true
        }
    });
}

/// Whether a removal pattern matches an argument: `key` matches `key` and `key=...`;
/// `key=value` matches exactly.
pub fn removes(pattern: &str, arg: &str) -> bool {
    if pattern.contains('=') {
        arg == pattern
    } else {
        arg == pattern || arg.split_once('=').is_some_and(|(k, _)| k == pattern)
    }
}

/// The key of an argument as the kernel compares it (`vfio-pci.ids=1` -> `vfio_pci.ids`).
fn arg_key(arg: &str) -> String {
    norm_key(arg.split_once('=').map_or(arg, |(k, _)| k))
}

/// Keys that may rightly appear several times, each occurrence adding to the others:
/// the consoles, modprobe's blacklist, and dracut's `rd.*` lists (`rd.lvm.lv=` twice
/// in the first seed). Every other key has one value: a new one replaces the old.
fn repeatable(key: &str) -> bool {
    matches!(key, "console" | "modprobe.blacklist" | "ip" | "nameserver") || key.starts_with("rd.")
}

/// The words of a command line that an added argument replaces: other values of the
/// same key (one value per key; the kernel would use the last and ignore the rest).
pub fn replaced_by(words: &[String], add: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in words {
        let k = arg_key(w);
        if !repeatable(&k) && add.iter().any(|a| arg_key(a) == k && a != w) && !out.contains(w) {
            out.push(w.clone());
        }
    }
    out
}

/// Refusals for a command-line change that switches the IOMMU off (an argument that
/// turns it off, by the rule doctor's IOMMU check applies, or `intel_iommu=on` taken
/// away on Intel) or takes vfio out of the boot (a `vfio*` argument or
/// `rd.driver.pre=vfio*` removed, vfio blacklisted).
pub fn dangerous(
    vendor: CpuVendor,
    configured: Option<&[String]>,
    add: &[String],
    remove: &[String],
) -> Vec<Refusal> {
    let mut out = Vec::new();
    let before = configured.map(|w| w.join(" ")).unwrap_or_default();
    let after = configured.map_or_else(|| add.join(" "), |w| edit_args(&w.join(" "), add, remove));
    let newly_off: Vec<String> = iommu_off_args(&after)
        .into_iter()
        .filter(|a| !iommu_off_args(&before).contains(a))
        .collect();
    let intel_on_lost = vendor == CpuVendor::Intel
        && has(&before, "intel_iommu", "on")
        && !has(&after, "intel_iommu", "on");
    if !newly_off.is_empty() || intel_on_lost {
        let what = if newly_off.is_empty() {
            "removes intel_iommu=on".to_string()
        } else {
            format!("puts {} on the command line", newly_off.join(" "))
        };
        out.push(Refusal::forceable(
            None,
            format!("this change {what}: the next boot runs without the IOMMU, so no device can go to a guest through vfio"),
            "leave the IOMMU on (passthru kernel-args --iommu), or --force if that is what you want".into(),
        ));
    }
    let vfio = |w: &str| w.replace('-', "_").contains("vfio");
    let mut lost: Vec<String> = match configured {
        Some(words) => words
            .iter()
            .filter(|w| vfio(w) && remove.iter().any(|r| removes(r, w)))
            // A new value of the same key is a replacement, not a removal.
            .filter(|w| !add.iter().any(|a| arg_key(a) == arg_key(w)))
            .cloned()
            .collect(),
        None => remove.iter().filter(|r| vfio(r)).cloned().collect(),
    };
    lost.extend(
        add.iter()
            .filter(|a| {
                matches!(
                    arg_key(a).as_str(),
                    "modprobe.blacklist" | "module_blacklist" | "rd.driver.blacklist"
                ) && vfio(a)
            })
            .cloned(),
    );
    if !lost.is_empty() {
        out.push(Refusal::forceable(
            None,
            format!(
                "this change takes vfio out of the boot ({}): devices meant for guests stay on host drivers",
                lost.join(" ")
            ),
            "keep the vfio arguments, or --force if no device needs vfio-pci at boot any more".into(),
        ));
    }
    out
}

/// Edits a command line: drops what `remove` matches, appends what `add` lacks.
/// Other words keep their order and spelling.
pub fn edit_args(cmdline: &str, add: &[String], remove: &[String]) -> String {
    let mut words: Vec<&str> = cmdline
        .split_whitespace()
        .filter(|w| !remove.iter().any(|r| removes(r, w)))
        .collect();
    for a in add {
        if !words.contains(&a.as_str()) {
            words.push(a);
        }
    }
    words.join(" ")
}

/// Whether a command line already has every `add` and no `remove`.
pub fn satisfied(cmdline: &str, add: &[String], remove: &[String]) -> bool {
    let words: Vec<&str> = cmdline.split_whitespace().collect();
    add.iter().all(|a| words.contains(&a.as_str()))
        && !words.iter().any(|w| remove.iter().any(|r| removes(r, w)))
}

/// An assignment in a shell-style config file (`etc/default/grub`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShellVar {
    /// 0-based line index of the last assignment.
    pub line: usize,
    /// The value, unquoted.
    pub value: String,
}

/// The last assignment of `var` (`VAR="..."`, `VAR='...'`, `VAR=word`, optionally after
/// `export `).
pub fn find_var(text: &str, var: &str) -> Option<ShellVar> {
    let mut found = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        let t = t.strip_prefix("export ").unwrap_or(t).trim_start();
        let Some(rest) = t.strip_prefix(var).and_then(|r| r.strip_prefix('=')) else {
            continue;
        };
        let value = if let Some(r) = rest.strip_prefix('"') {
            r.rsplit_once('"').map(|(v, _)| v).unwrap_or(r).to_string()
        } else if let Some(r) = rest.strip_prefix('\'') {
            r.rsplit_once('\'').map(|(v, _)| v).unwrap_or(r).to_string()
        } else {
            rest.split_whitespace().next().unwrap_or("").to_string()
        };
        found = Some(ShellVar { line: i, value });
    }
    found
}

/// Sets `var` to `value` (double-quoted): replaces its last assignment line, or
/// appends one. Every other byte of the file is kept.
pub fn set_var(text: &str, var: &str, value: &str) -> String {
    let new_line = format!("{var}=\"{}\"", value.replace('"', "\\\""));
    match find_var(text, var) {
        Some(v) => {
            let mut out = String::with_capacity(text.len() + 32);
            for (i, seg) in text.split_inclusive('\n').enumerate() {
                if i == v.line {
                    let indent: String = seg
                        .chars()
                        .take_while(|c| c.is_whitespace() && *c != '\n')
                        .collect();
                    let export = if seg.trim_start().starts_with("export ") {
                        "export "
                    } else {
                        ""
                    };
                    out.push_str(&indent);
                    out.push_str(export);
                    out.push_str(&new_line);
                    if seg.ends_with('\n') {
                        out.push('\n');
                    }
                } else {
                    out.push_str(seg);
                }
            }
            out
        }
        None => {
            let mut out = text.to_string();
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&new_line);
            out.push('\n');
            out
        }
    }
}

/// How this host's kernel command line is configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BootMethod {
    /// `grubby --update-kernel=ALL`.
    Grubby,
    /// `etc/default/grub` (at this real path), then a regeneration command.
    GrubDefault {
        /// The file as asked (`etc/default/grub` or `etc/sysconfig/grub`).
        file: String,
        /// The regeneration command.
        regen: Command,
    },
    /// `etc/kernel/cmdline`, then an optional regeneration command.
    KernelCmdline {
        /// The regeneration command, when one is known.
        regen: Option<Command>,
    },
}

/// Whether a `grub.cfg` is the small stub that chains to another one.
pub fn is_grub_stub(text: &str) -> bool {
    text.contains("configfile") && !text.contains("menuentry") && !text.contains("blscfg")
}

/// Picks the boot method from the facts.
pub fn boot_method(facts: &ChangeFacts) -> Result<BootMethod, ChangeError> {
    if facts.has_tool("grubby") {
        return Ok(BootMethod::Grubby);
    }
    let grub_file = ["etc/default/grub", "etc/sysconfig/grub"]
        .into_iter()
        .find(|f| facts.file(f).is_some());
    let cmdline = facts.file("etc/kernel/cmdline").is_some();
    if cmdline
        && (facts.has_tool("proxmox-boot-tool")
            || facts.grub_cfgs.is_empty()
            || grub_file.is_none())
    {
        return Ok(BootMethod::KernelCmdline {
            regen: kernel_install_regen(facts),
        });
    }
    if let Some(file) = grub_file {
        return Ok(BootMethod::GrubDefault {
            file: file.to_string(),
            regen: grub_regen(facts),
        });
    }
    Err(ChangeError::Invalid(
        "cannot find how this host sets its kernel command line: no grubby, etc/default/grub, etc/sysconfig/grub or etc/kernel/cmdline under the root".into(),
    ))
}

fn kernel_install_regen(facts: &ChangeFacts) -> Option<Command> {
    if facts.has_tool("proxmox-boot-tool") {
        return Some(Command::rerun("proxmox-boot-tool", &["refresh"]));
    }
    let k = facts.kernel_release.as_deref()?;
    if facts.has_tool("kernel-install") || facts.bls_entries.iter().any(|_| true) {
        let image = format!("/lib/modules/{k}/vmlinuz");
        return Some(Command {
            program: "kernel-install".into(),
            args: vec!["add".into(), k.to_string(), image],
            undo: UndoCommand::Rerun,
        });
    }
    None
}

/// The command that regenerates the `grub.cfg` the firmware reads.
pub fn grub_regen(facts: &ChangeFacts) -> Command {
    if facts.has_tool("update-grub") {
        return Command::rerun("update-grub", &[]);
    }
    let grub2 = facts.has_tool("grub2-mkconfig")
        || (!facts.has_tool("grub-mkconfig")
            && (facts.file("etc/sysconfig/grub").is_some()
                || facts.grub_cfgs.iter().any(|c| c.starts_with("boot/grub2/"))));
    if !grub2 && !facts.has_tool("grub-mkconfig") {
        // Debian and Ubuntu: update-grub is the documented way.
        return Command::rerun("update-grub", &[]);
    }
    let (prog, bios) = if grub2 {
        ("grub2-mkconfig", "boot/grub2/grub.cfg")
    } else {
        ("grub-mkconfig", "boot/grub/grub.cfg")
    };
    let target = if facts.efi {
        facts
            .grub_cfgs
            .iter()
            .filter(|c| c.starts_with("boot/efi/EFI/") && !c.starts_with("boot/efi/EFI/BOOT/"))
            .find(|c| facts.file(c).is_some_and(|f| !is_grub_stub(&f.text)))
            .cloned()
            .unwrap_or_else(|| bios.to_string())
    } else {
        bios.to_string()
    };
    Command::rerun(prog, &["-o", &format!("/{target}")])
}

/// Plans a kernel command line change.
pub fn plan_kernel_args(
    host: &Host,
    facts: &ChangeFacts,
    req: &KernelArgsRequest,
) -> Result<Plan, ChangeError> {
    if req.is_empty() {
        return Err(ChangeError::Invalid(
            "nothing asked: give --iommu, --pt, --add ARG or --remove ARG".into(),
        ));
    }
    let DesiredArgs {
        add,
        mut remove,
        notes,
    } = desired_args(facts.cpu_vendor, req)?;
    let method = boot_method(facts)?;
    let configured = configured_args(facts, &method);
    // One value per key: an added `key=value` replaces the key's other values.
    let replaced = configured
        .as_deref()
        .map(|w| replaced_by(w, &add))
        .unwrap_or_default();
    for r in &replaced {
        if !remove.contains(r) {
            remove.push(r.clone());
        }
    }
    let mut plan = Plan::new(describe_change(&add, &remove, configured.as_deref()));
    enforce(
        dangerous(facts.cpu_vendor, configured.as_deref(), &add, &remove),
        req.force,
        &mut plan.warnings,
    )?;
    plan.notes.extend(notes);
    match &method {
        BootMethod::Grubby => grubby_steps(&mut plan, facts, &add, &remove),
        BootMethod::GrubDefault { file, regen } => {
            grub_steps(&mut plan, facts, file, regen, &add, &remove)
        }
        BootMethod::KernelCmdline { regen } => {
            cmdline_steps(&mut plan, facts, regen.as_ref(), &add, &remove)
        }
    }
    let running = host.kernel_cmdline.clone().unwrap_or_default();
    if !satisfied(&running, &add, &remove) {
        plan.reboot_required = true;
        if plan.is_empty() {
            plan.notes.push(
                "the boot configuration already has these arguments but the running kernel does not: reboot to use them".into(),
            );
        }
    } else if plan.is_empty() {
        plan.notes.push(
            "the running kernel and the boot configuration already have these arguments".into(),
        );
    }
    Ok(plan)
}

/// The arguments the boot configuration holds now (every word of the places the
/// method edits), or `None` when they cannot be read (grubby without entries).
fn configured_args(facts: &ChangeFacts, method: &BootMethod) -> Option<Vec<String>> {
    let texts: Vec<String> = match method {
        BootMethod::Grubby => {
            let mut v: Vec<String> = facts
                .bls_entries
                .iter()
                .filter_map(|p| facts.file(p))
                .flat_map(|f| {
                    f.text
                        .lines()
                        .filter_map(|l| l.trim().strip_prefix("options").map(str::to_string))
                        .collect::<Vec<_>>()
                })
                .collect();
            if v.is_empty() {
                v.extend(
                    ["etc/default/grub", "etc/sysconfig/grub"]
                        .iter()
                        .filter_map(|f| facts.file(f))
                        .find_map(|f| find_var(&f.text, "GRUB_CMDLINE_LINUX"))
                        .map(|v| v.value),
                );
            }
            v
        }
        BootMethod::GrubDefault { file, .. } => {
            let f = facts.file(file)?;
            ["GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT"]
                .iter()
                .filter_map(|v| find_var(&f.text, v).map(|x| x.value))
                .collect()
        }
        BootMethod::KernelCmdline { .. } => vec![facts.file("etc/kernel/cmdline")?.text.clone()],
    };
    if texts.is_empty() && matches!(method, BootMethod::Grubby) {
        return None;
    }
    Some(
        texts
            .iter()
            .flat_map(|t| t.split_whitespace().map(str::to_string))
            .collect(),
    )
}

/// The title of a kernel-args plan: what changes in the boot configuration (the
/// arguments it lacks, the words it holds that go), or every pattern when it cannot
/// be read.
fn describe_change(add: &[String], remove: &[String], configured: Option<&[String]>) -> String {
    let (add, remove): (Vec<String>, Vec<String>) = match configured {
        Some(words) => {
            let add = add.iter().filter(|a| !words.contains(a)).cloned().collect();
            let mut gone: Vec<String> = words
                .iter()
                .filter(|w| remove.iter().any(|r| removes(r, w)))
                .cloned()
                .collect();
            dedup_keep_order(&mut gone);
            (add, gone)
        }
        None => (add.to_vec(), remove.to_vec()),
    };
    // A word gone for an added word of the same key is a replacement.
    let mut parts = Vec::new();
    let mut replace = Vec::new();
    let mut plain_add = Vec::new();
    let mut gone = remove.clone();
    for a in &add {
        let old: Vec<String> = gone
            .iter()
            .filter(|w| w.contains('=') && arg_key(w) == arg_key(a))
            .cloned()
            .collect();
        if old.is_empty() {
            plain_add.push(a.clone());
        } else {
            gone.retain(|w| !old.contains(w));
            replace.push(format!("{} with {a}", old.join(" ")));
        }
    }
    if !replace.is_empty() {
        parts.push(format!("replace {}", replace.join(", ")));
    }
    if !plain_add.is_empty() {
        parts.push(format!("add {}", plain_add.join(" ")));
    }
    if !gone.is_empty() {
        parts.push(format!("remove {}", gone.join(" ")));
    }
    if parts.is_empty() {
        "kernel command line: the boot configuration already has what is asked".into()
    } else {
        format!("kernel command line: {}", parts.join(", "))
    }
}

fn grubby_steps(plan: &mut Plan, facts: &ChangeFacts, add: &[String], remove: &[String]) {
    // What the entries hold now: BLS `options` lines, else GRUB_CMDLINE_LINUX.
    let mut current: Vec<String> = facts
        .bls_entries
        .iter()
        .filter_map(|p| facts.file(p))
        .flat_map(|f| {
            f.text
                .lines()
                .filter_map(|l| {
                    l.trim()
                        .strip_prefix("options")
                        .map(|o| o.trim().to_string())
                })
                .collect::<Vec<_>>()
        })
        .collect();
    if current.is_empty() {
        if let Some(v) = ["etc/default/grub", "etc/sysconfig/grub"]
            .iter()
            .filter_map(|f| facts.file(f))
            .find_map(|f| find_var(&f.text, "GRUB_CMDLINE_LINUX"))
        {
            current.push(v.value);
        }
    }
    let known = !current.is_empty();
    let to_add: Vec<String> = add
        .iter()
        .filter(|a| {
            !known
                || current
                    .iter()
                    .any(|c| !c.split_whitespace().any(|w| w == a.as_str()))
        })
        .cloned()
        .collect();
    let to_remove: Vec<String> = remove
        .iter()
        .filter(|r| {
            !known
                || current
                    .iter()
                    .any(|c| c.split_whitespace().any(|w| removes(r, w)))
        })
        .cloned()
        .collect();
    if to_add.is_empty() && to_remove.is_empty() {
        return;
    }
    // Undo removes exactly what was added and puts back exactly what was removed.
    let removed_words: Vec<String> = current
        .iter()
        .flat_map(|c| c.split_whitespace())
        .filter(|w| to_remove.iter().any(|r| removes(r, w)))
        .map(str::to_string)
        .fold(Vec::new(), |mut v, w| {
            if !v.contains(&w) {
                v.push(w);
            }
            v
        });
    let mut args = vec!["--update-kernel=ALL".to_string()];
    let mut undo = vec!["--update-kernel=ALL".to_string()];
    if !to_add.is_empty() {
        args.push(format!("--args={}", to_add.join(" ")));
        undo.push(format!("--remove-args={}", to_add.join(" ")));
    }
    if !to_remove.is_empty() {
        args.push(format!("--remove-args={}", to_remove.join(" ")));
        if !removed_words.is_empty() {
            undo.push(format!("--args={}", removed_words.join(" ")));
        }
    }
    let cmd = Command {
        program: "grubby".into(),
        args,
        undo: UndoCommand::Run {
            program: "grubby".into(),
            args: undo,
        },
    };
    plan.expect.push(Expect::Ran {
        command: cmd.line(),
    });
    plan.step(
        Action::Run(cmd),
        "grubby updates every boot entry (and GRUB_CMDLINE_LINUX)",
    );
}

fn file_steps(
    plan: &mut Plan,
    facts: &ChangeFacts,
    file: &str,
    new_text: String,
    why: String,
) -> bool {
    desire_file(plan, facts, file, Some(&new_text), &why)
}

fn grub_steps(
    plan: &mut Plan,
    facts: &ChangeFacts,
    file: &str,
    regen: &Command,
    add: &[String],
    remove: &[String],
) {
    let Some(f) = facts.file(file) else { return };
    let linux = find_var(&f.text, "GRUB_CMDLINE_LINUX").map(|v| v.value);
    let default = find_var(&f.text, "GRUB_CMDLINE_LINUX_DEFAULT").map(|v| v.value);
    let mut text = f.text.clone();
    // GRUB_CMDLINE_LINUX reaches every entry (recovery too); removals clean both.
    let new_linux = edit_args(linux.as_deref().unwrap_or(""), add, remove);
    if linux.as_deref() != Some(new_linux.as_str()) && !(linux.is_none() && new_linux.is_empty()) {
        text = set_var(&text, "GRUB_CMDLINE_LINUX", &new_linux);
    }
    if let Some(d) = &default {
        let nd = edit_args(d, &[], remove);
        let nd = nd
            .split_whitespace()
            .filter(|w| !add.iter().any(|a| a == w))
            .collect::<Vec<_>>()
            .join(" ");
        if nd != *d {
            text = set_var(&text, "GRUB_CMDLINE_LINUX_DEFAULT", &nd);
        }
    }
    let changed = file_steps(
        plan,
        facts,
        file,
        text,
        format!("GRUB_CMDLINE_LINUX in {file}: read by every grub.cfg regeneration"),
    );
    // Regenerate when the file changed, or when the generated grub.cfg lags behind it.
    let target = regen
        .args
        .iter()
        .position(|a| a == "-o")
        .and_then(|i| regen.args.get(i + 1))
        .map(|p| p.trim_start_matches('/').to_string());
    let stale = target
        .as_deref()
        .or_else(|| facts.grub_cfgs.first().map(String::as_str))
        .and_then(|t| facts.file(t))
        .is_some_and(|cfg| {
            let lines: Vec<&str> = cfg
                .text
                .lines()
                .map(str::trim)
                .filter(|l| l.starts_with("linux"))
                .collect();
            !lines.is_empty() && lines.iter().any(|l| !satisfied(l, add, remove))
        });
    if changed || stale {
        plan.expect.push(Expect::Ran {
            command: regen.line(),
        });
        plan.step(
            Action::Run(regen.clone()),
            match &target {
                Some(t) if facts.efi => {
                    format!("regenerate /{t}, the grub.cfg this UEFI host boots from")
                }
                Some(t) => format!("regenerate /{t}, the grub.cfg this BIOS host boots from"),
                None => "regenerate grub.cfg".into(),
            },
        );
    }
}

fn cmdline_steps(
    plan: &mut Plan,
    facts: &ChangeFacts,
    regen: Option<&Command>,
    add: &[String],
    remove: &[String],
) {
    let Some(f) = facts.file("etc/kernel/cmdline") else {
        return;
    };
    let new = edit_args(f.text.trim(), add, remove);
    let changed = file_steps(
        plan,
        facts,
        "etc/kernel/cmdline",
        format!("{new}\n"),
        "etc/kernel/cmdline: the command line kernel-install puts in boot entries".into(),
    );
    if changed {
        match regen {
            Some(c) => {
                plan.expect.push(Expect::Ran { command: c.line() });
                plan.step(Action::Run(c.clone()), "write the boot entries again from etc/kernel/cmdline");
            }
            None => plan.notes.push(
                "no kernel-install or proxmox-boot-tool found: regenerate the boot entries (or the UKI) yourself".into(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::plan::{describe_action, Contents, FileDigest};
    use crate::host::change_facts::FileFact;

    fn fact(text: &str, real: &str) -> FileFact {
        FileFact {
            real_path: real.into(),
            text: text.into(),
            digest: FileDigest::of(text.as_bytes()),
        }
    }

    const RHEL_GRUB: &str = "GRUB_TIMEOUT=5\nGRUB_DISTRIBUTOR=\"$(sed 's, release .*$,,g' /etc/system-release)\"\nGRUB_CMDLINE_LINUX=\"rd.lvm.lv=rhel/swap crashkernel=auto rd.lvm.lv=rhel/root rhgb quiet\"\nGRUB_DISABLE_RECOVERY=\"true\"\n";

    fn intel_iommu() -> KernelArgsRequest {
        KernelArgsRequest {
            iommu: true,
            ..Default::default()
        }
    }

    fn rhel7(efi: bool) -> ChangeFacts {
        // The first seed's host: etc/sysconfig/grub -> etc/default/grub, grub2-mkconfig.
        let mut f = ChangeFacts {
            cpu_vendor: CpuVendor::Intel,
            efi,
            tools: vec!["grub2-mkconfig".into()],
            ..Default::default()
        };
        f.files.insert(
            "etc/default/grub".into(),
            fact(RHEL_GRUB, "etc/default/grub"),
        );
        f.files.insert(
            "etc/sysconfig/grub".into(),
            fact(RHEL_GRUB, "etc/default/grub"),
        );
        f.files.insert(
            "boot/grub2/grub.cfg".into(),
            fact(
                "menuentry 'RHEL' {\n  linux16 /vmlinuz root=/dev/x ro quiet\n}\n",
                "boot/grub2/grub.cfg",
            ),
        );
        f.grub_cfgs.push("boot/grub2/grub.cfg".into());
        if efi {
            f.files.insert(
                "boot/efi/EFI/redhat/grub.cfg".into(),
                fact(
                    "menuentry 'RHEL' {\n  linuxefi /vmlinuz ro quiet\n}\n",
                    "boot/efi/EFI/redhat/grub.cfg",
                ),
            );
            f.grub_cfgs.push("boot/efi/EFI/redhat/grub.cfg".into());
        }
        f
    }

    #[test]
    fn the_first_seeds_bios_and_uefi_paths() {
        let h = Host::default();
        for (efi, path) in [
            (false, "/boot/grub2/grub.cfg"),
            (true, "/boot/efi/EFI/redhat/grub.cfg"),
        ] {
            let p = plan_kernel_args(&h, &rhel7(efi), &intel_iommu()).unwrap();
            let a: Vec<String> = p.steps.iter().map(|s| describe_action(&s.action)).collect();
            assert!(a[0].starts_with("write etc/default/grub"), "{a:?}");
            assert_eq!(a[1], format!("run grub2-mkconfig -o {path}"));
            let Action::WriteFile {
                contents: Contents::Text(t),
                ..
            } = &p.steps[0].action
            else {
                panic!()
            };
            assert!(t.contains("GRUB_CMDLINE_LINUX=\"rd.lvm.lv=rhel/swap crashkernel=auto rd.lvm.lv=rhel/root rhgb quiet intel_iommu=on\"\n"));
            assert!(
                t.starts_with("GRUB_TIMEOUT=5\nGRUB_DISTRIBUTOR=\"$(sed"),
                "other lines untouched"
            );
            assert!(p.reboot_required);
        }
    }

    #[test]
    fn the_title_names_what_changes_in_the_boot_configuration() {
        let h = Host::default();
        // --iommu --pt --remove rhgb on the seed's grub: intel_iommu=off, iommu=off
        // and iommu=nopt are removal patterns, not words this file holds.
        let req = KernelArgsRequest {
            iommu: true,
            pt: true,
            add: vec!["pci=realloc".into()],
            remove: vec!["rhgb".into()],
            force: false,
        };
        let p = plan_kernel_args(&h, &rhel7(false), &req).unwrap();
        assert_eq!(
            p.title,
            "kernel command line: add intel_iommu=on iommu=pt pci=realloc, remove rhgb"
        );
        // Patterns are deduplicated (iommu=off comes from --iommu and --pt).
        let d = desired_args(CpuVendor::Intel, &req).unwrap();
        assert_eq!(
            d.remove,
            ["intel_iommu=off", "iommu=off", "iommu=nopt", "rhgb"]
        );
        // Configured already (a reboot pending): the title says so.
        let mut f = rhel7(false);
        let t = RHEL_GRUB.replace("quiet\"", "quiet intel_iommu=on\"");
        f.files
            .insert("etc/default/grub".into(), fact(&t, "etc/default/grub"));
        let p = plan_kernel_args(&h, &f, &intel_iommu()).unwrap();
        assert_eq!(
            p.title,
            "kernel command line: the boot configuration already has what is asked"
        );
    }

    fn adding(words: &[&str], force: bool) -> KernelArgsRequest {
        KernelArgsRequest {
            add: words.iter().map(|w| w.to_string()).collect(),
            force,
            ..Default::default()
        }
    }

    fn grub_text(p: &Plan) -> String {
        p.steps
            .iter()
            .find_map(|s| match &s.action {
                Action::WriteFile {
                    contents: Contents::Text(t),
                    ..
                } => find_var(t, "GRUB_CMDLINE_LINUX").map(|v| v.value),
                _ => None,
            })
            .unwrap_or_default()
    }

    #[test]
    fn one_value_per_key_an_added_value_replaces_the_old_one() {
        let h = Host::default();
        let mut f = rhel7(false);
        let t = RHEL_GRUB.replace(
            "quiet\"",
            "quiet intel_iommu=on iommu=pt vfio-pci.ids=10de:1b80\"",
        );
        f.files
            .insert("etc/default/grub".into(), fact(&t, "etc/default/grub"));
        let p = plan_kernel_args(
            &h,
            &f,
            &adding(&["vfio_pci.ids=10de:1b80,10de:10f0"], false),
        )
        .unwrap();
        assert_eq!(
            p.title,
            "kernel command line: replace vfio-pci.ids=10de:1b80 with vfio_pci.ids=10de:1b80,10de:10f0"
        );
        assert_eq!(
            grub_text(&p),
            "rd.lvm.lv=rhel/swap crashkernel=auto rd.lvm.lv=rhel/root rhgb quiet intel_iommu=on iommu=pt vfio_pci.ids=10de:1b80,10de:10f0"
        );
        // rd.* lists add up: the seed's two rd.lvm.lv stay, a third joins them.
        let p = plan_kernel_args(&h, &f, &adding(&["rd.lvm.lv=rhel/home"], false)).unwrap();
        assert_eq!(p.title, "kernel command line: add rd.lvm.lv=rhel/home");
        // Turning the IOMMU off: refused, and with --force a replacement, not a second value.
        let e = plan_kernel_args(&h, &f, &adding(&["intel_iommu=off"], false)).unwrap_err();
        let ChangeError::Refused(r) = &e else {
            panic!("{e}")
        };
        assert!(
            r[0].message
                .contains("puts intel_iommu=off on the command line"),
            "{e}"
        );
        assert!(r[0].forceable);
        let p = plan_kernel_args(&h, &f, &adding(&["intel_iommu=off"], true)).unwrap();
        assert_eq!(
            p.title,
            "kernel command line: replace intel_iommu=on with intel_iommu=off"
        );
        assert!(
            !grub_text(&p).contains("intel_iommu=on"),
            "{}",
            grub_text(&p)
        );
        assert!(p.warnings[0].starts_with("--force: "), "{:?}", p.warnings);
        // Removing intel_iommu=on on Intel, or vfio: refused too.
        let rm = |w: &str| KernelArgsRequest {
            remove: vec![w.to_string()],
            ..Default::default()
        };
        let e = plan_kernel_args(&h, &f, &rm("intel_iommu")).unwrap_err();
        assert!(e.to_string().contains("removes intel_iommu=on"), "{e}");
        let e = plan_kernel_args(&h, &f, &rm("vfio-pci.ids")).unwrap_err();
        assert!(
            e.to_string()
                .contains("takes vfio out of the boot (vfio-pci.ids=10de:1b80)"),
            "{e}"
        );
        let e =
            plan_kernel_args(&h, &f, &adding(&["modprobe.blacklist=vfio_pci"], false)).unwrap_err();
        assert!(e.to_string().contains("takes vfio out"), "{e}");
        // --iommu over an intel_iommu=off is a replacement the other way, and allowed.
        let t = RHEL_GRUB.replace("quiet\"", "quiet intel_iommu=off\"");
        f.files
            .insert("etc/default/grub".into(), fact(&t, "etc/default/grub"));
        let p = plan_kernel_args(&h, &f, &intel_iommu()).unwrap();
        assert_eq!(
            p.title,
            "kernel command line: replace intel_iommu=off with intel_iommu=on"
        );
    }

    #[test]
    fn one_argument_per_add() {
        for bad in ["foo bar", " ", "a\tb"] {
            let e = desired_args(CpuVendor::Intel, &adding(&[bad], false)).unwrap_err();
            assert!(
                e.to_string().contains("one kernel argument per --add"),
                "{e}"
            );
        }
        let e = desired_args(CpuVendor::Intel, &adding(&["foo bar"], false)).unwrap_err();
        assert!(e.to_string().contains("give --add foo --add bar"), "{e}");
    }

    #[test]
    fn a_uefi_stub_on_the_esp_is_not_regenerated() {
        let mut f = rhel7(true);
        f.files.insert(
            "boot/efi/EFI/redhat/grub.cfg".into(),
            fact("search --no-floppy --fs-uuid --set=dev 1234\nset prefix=($dev)/grub2\nexport $prefix\nconfigfile $prefix/grub.cfg\n", "boot/efi/EFI/redhat/grub.cfg"),
        );
        assert_eq!(
            grub_regen(&f).line(),
            "grub2-mkconfig -o /boot/grub2/grub.cfg"
        );
    }

    #[test]
    fn already_configured_is_nothing_but_a_pending_reboot() {
        let mut f = rhel7(false);
        let t = RHEL_GRUB.replace("quiet\"", "quiet intel_iommu=on\"");
        f.files
            .insert("etc/default/grub".into(), fact(&t, "etc/default/grub"));
        f.files.insert(
            "boot/grub2/grub.cfg".into(),
            fact(
                "  linux16 /vmlinuz ro quiet intel_iommu=on\n",
                "boot/grub2/grub.cfg",
            ),
        );
        let h = Host {
            kernel_cmdline: Some("BOOT_IMAGE=/vmlinuz ro quiet".into()),
            ..Host::default()
        };
        let p = plan_kernel_args(&h, &f, &intel_iommu()).unwrap();
        assert!(p.is_empty() && p.reboot_required);
        // A stale grub.cfg is regenerated even when the file is right.
        f.files.insert(
            "boot/grub2/grub.cfg".into(),
            fact("  linux16 /vmlinuz ro quiet\n", "boot/grub2/grub.cfg"),
        );
        let p = plan_kernel_args(&h, &f, &intel_iommu()).unwrap();
        assert_eq!(p.steps.len(), 1);
        assert!(describe_action(&p.steps[0].action).starts_with("run grub2-mkconfig"));
    }

    #[test]
    fn debian_update_grub_and_removals_from_both_variables() {
        let mut f = ChangeFacts {
            cpu_vendor: CpuVendor::Intel,
            tools: vec!["update-grub".into()],
            ..Default::default()
        };
        let t = "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet intel_iommu=off\"\nGRUB_CMDLINE_LINUX=\"\"\n";
        f.files
            .insert("etc/default/grub".into(), fact(t, "etc/default/grub"));
        let p = plan_kernel_args(
            &Host::default(),
            &f,
            &KernelArgsRequest {
                iommu: true,
                pt: true,
                ..Default::default()
            },
        )
        .unwrap();
        let Action::WriteFile {
            contents: Contents::Text(new),
            ..
        } = &p.steps[0].action
        else {
            panic!()
        };
        assert_eq!(new, "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"intel_iommu=on iommu=pt\"\n");
        assert_eq!(describe_action(&p.steps[1].action), "run update-grub");
    }

    #[test]
    fn grubby_and_its_undo_and_systemd_boot() {
        let mut f = ChangeFacts {
            cpu_vendor: CpuVendor::Intel,
            tools: vec!["grubby".into()],
            ..Default::default()
        };
        f.files.insert(
            "boot/loader/entries/x.conf".into(),
            fact(
                "title X\noptions root=/dev/x ro iommu=off\n",
                "boot/loader/entries/x.conf",
            ),
        );
        f.bls_entries.push("boot/loader/entries/x.conf".into());
        let p = plan_kernel_args(&Host::default(), &f, &intel_iommu()).unwrap();
        let Action::Run(c) = &p.steps[0].action else {
            panic!()
        };
        // Only what the entries hold is removed.
        assert_eq!(
            c.line(),
            "grubby --update-kernel=ALL --args=intel_iommu=on --remove-args=iommu=off"
        );
        assert_eq!(
            c.undo,
            UndoCommand::Run {
                program: "grubby".into(),
                args: vec![
                    "--update-kernel=ALL".into(),
                    "--remove-args=intel_iommu=on".into(),
                    "--args=iommu=off".into()
                ]
            }
        );
        let mut f = ChangeFacts {
            cpu_vendor: CpuVendor::Amd,
            tools: vec!["proxmox-boot-tool".into()],
            ..Default::default()
        };
        f.files.insert(
            "etc/kernel/cmdline".into(),
            fact("root=ZFS=rpool/ROOT/pve-1 boot=zfs\n", "etc/kernel/cmdline"),
        );
        let p = plan_kernel_args(
            &Host::default(),
            &f,
            &KernelArgsRequest {
                iommu: true,
                pt: true,
                ..Default::default()
            },
        )
        .unwrap();
        let Action::WriteFile {
            contents: Contents::Text(new),
            ..
        } = &p.steps[0].action
        else {
            panic!()
        };
        assert_eq!(new, "root=ZFS=rpool/ROOT/pve-1 boot=zfs iommu=pt\n");
        assert_eq!(
            describe_action(&p.steps[1].action),
            "run proxmox-boot-tool refresh"
        );
        assert!(p.notes[0].contains("AMD-Vi"));
    }

    #[test]
    fn unknown_vendor_and_shell_vars() {
        let e = plan_kernel_args(&Host::default(), &ChangeFacts::default(), &intel_iommu())
            .unwrap_err();
        assert!(e.to_string().contains("CPU vendor"));
        assert_eq!(find_var("export X='a b'\n", "X").unwrap().value, "a b");
        assert_eq!(set_var("A=1\nX=old", "X", "n e w"), "A=1\nX=\"n e w\"");
        assert_eq!(set_var("A=1", "X", "v"), "A=1\nX=\"v\"\n");
        assert_eq!(
            edit_args(
                "a pci=noaer iommu=soft",
                &["iommu=pt".into()],
                &["iommu".into()]
            ),
            "a pci=noaer iommu=pt"
        );
    }
}
