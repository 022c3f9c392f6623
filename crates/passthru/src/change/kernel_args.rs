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
use crate::change::ChangeError;
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
    for a in &req.add {
        add.extend(a.split_whitespace().map(str::to_string));
    }
    for r in &req.remove {
        remove.extend(r.split_whitespace().map(str::to_string));
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
    let DesiredArgs { add, remove, notes } = desired_args(facts.cpu_vendor, req)?;
    let method = boot_method(facts)?;
    let mut plan = Plan::new(describe_change(
        &add,
        &remove,
        configured_args(facts, &method).as_deref(),
    ));
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
    let mut parts = Vec::new();
    if !add.is_empty() {
        parts.push(format!("add {}", add.join(" ")));
    }
    if !remove.is_empty() {
        parts.push(format!("remove {}", remove.join(" ")));
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
