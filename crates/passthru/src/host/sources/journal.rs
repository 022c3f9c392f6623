//! Reads the change-set journal (`var/lib/passthru/journal/*/journal.json`).

use crate::change::journal::{touched_files, ChangeSet, TouchedNow, JOURNAL_DIR};
use crate::change::plan::FileDigest;
use crate::host::root::Root;

/// Every readable change set, oldest first; unreadable ones are reported as warnings.
pub fn read_change_sets(root: &Root) -> (Vec<ChangeSet>, Vec<String>) {
    let mut sets = Vec::new();
    let mut warnings = Vec::new();
    for id in root.list(JOURNAL_DIR).unwrap_or_default() {
        let path = format!("{JOURNAL_DIR}/{id}/journal.json");
        match root.read_string(&path) {
            Ok(t) => match serde_json::from_str::<ChangeSet>(&t) {
                Ok(cs) => sets.push(cs),
                Err(e) => warnings.push(format!(
                    "{}: not a passthru journal: {e}",
                    root.display(&path).display()
                )),
            },
            Err(e) => warnings.push(format!("{}: {e}", root.display(&path).display())),
        }
    }
    sets.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
    (sets, warnings)
}

/// The current digests of the files a change set touched (`None`: absent).
pub fn touched_now(root: &Root, cs: &ChangeSet) -> TouchedNow {
    TouchedNow {
        files: touched_files(cs)
            .into_iter()
            .map(|t| {
                let d = root.read(&t.path).ok().map(|b| FileDigest::of(&b));
                (t.path, d)
            })
            .collect(),
    }
}

/// The running boot's id (`proc/sys/kernel/random/boot_id`), when the root has one.
pub fn read_boot_id(root: &Root) -> Option<String> {
    root.read_string("proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}
