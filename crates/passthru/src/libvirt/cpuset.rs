//! CPU sets: libvirt's `cpuset` syntax (`0-11`, `1,3-5,^4`) and the kernel's
//! cpulist (`0-15,32-47`), which is the same syntax without `^`.

use serde::{Serialize, Serializer};
use std::collections::BTreeSet;
use std::fmt;

/// Why a CPU list is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{input}' is not a CPU list: {reason} (expected e.g. 0-11 or 1,3-5,^4)")]
pub struct CpuSetError {
    /// What was given.
    pub input: String,
    /// What is wrong.
    pub reason: &'static str,
}

/// A set of host CPU numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CpuSet(pub BTreeSet<u32>);

/// libvirt caps bitmaps far below this; a bound keeps `0-4294967295` from allocating.
const MAX_CPU: u32 = 1 << 16;

impl CpuSet {
    /// Parses libvirt's syntax (as `virBitmapParse` does): comma-separated `N`,
    /// `N-M` (N <= M) and `^N` (remove N from what came before); spaces around
    /// numbers are allowed. An empty string is an error, as in libvirt.
    pub fn parse(s: &str) -> Result<Self, CpuSetError> {
        let err = |reason| CpuSetError {
            input: s.to_string(),
            reason,
        };
        let t = s.trim();
        if t.is_empty() {
            return Err(err("empty"));
        }
        let mut set = BTreeSet::new();
        for part in t.split(',') {
            let part = part.trim();
            let (neg, body) = match part.strip_prefix('^') {
                Some(b) => (true, b),
                None => (false, part),
            };
            let num = |x: &str| -> Result<u32, CpuSetError> {
                let x = x.trim();
                if x.is_empty() || !x.bytes().all(|c| c.is_ascii_digit()) {
                    return Err(err("not a number"));
                }
                let n: u32 = x.parse().map_err(|_| err("number too large"))?;
                if n >= MAX_CPU {
                    return Err(err("CPU number too large"));
                }
                Ok(n)
            };
            match body.split_once('-') {
                Some(_) if neg => return Err(err("'^' takes a single CPU, not a range")),
                Some((a, b)) => {
                    let (a, b) = (num(a)?, num(b)?);
                    if b < a {
                        return Err(err("range end below its start"));
                    }
                    set.extend(a..=b);
                }
                None if neg => {
                    set.remove(&num(body)?);
                }
                None => {
                    set.insert(num(body)?);
                }
            }
        }
        Ok(CpuSet(set))
    }

    /// Whether the set holds no CPU.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a CPU is in the set.
    pub fn contains(&self, cpu: u32) -> bool {
        self.0.contains(&cpu)
    }

    /// Union with another set.
    pub fn union(&self, other: &CpuSet) -> CpuSet {
        CpuSet(self.0.union(&other.0).copied().collect())
    }

    /// CPUs in both sets.
    pub fn intersection(&self, other: &CpuSet) -> CpuSet {
        CpuSet(self.0.intersection(&other.0).copied().collect())
    }

    /// CPUs in this set and not in the other.
    pub fn difference(&self, other: &CpuSet) -> CpuSet {
        CpuSet(self.0.difference(&other.0).copied().collect())
    }

    /// Whether every CPU of this set is in the other.
    pub fn is_subset(&self, other: &CpuSet) -> bool {
        self.0.is_subset(&other.0)
    }
}

impl fmt::Display for CpuSet {
    /// Prints the kernel's compact form (`0-3,8,10-11`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut it = self.0.iter().copied().peekable();
        while let Some(start) = it.next() {
            let mut end = start;
            while it.peek() == Some(&(end + 1)) {
                end += 1;
                it.next();
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            if end == start {
                write!(f, "{start}")?;
            } else {
                write!(f, "{start}-{end}")?;
            }
        }
        Ok(())
    }
}

impl Serialize for CpuSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_libvirt_and_kernel_lists() {
        assert_eq!(CpuSet::parse("0-11").unwrap().0.len(), 12);
        let s = CpuSet::parse("1, 3-5 ,^4,8").unwrap();
        assert_eq!(s.0.into_iter().collect::<Vec<_>>(), vec![1, 3, 5, 8]);
        assert_eq!(CpuSet::parse("0-5,12-17").unwrap().to_string(), "0-5,12-17");
        assert_eq!(CpuSet::parse("3,1,2").unwrap().to_string(), "1-3");
    }

    #[test]
    fn rejects_what_libvirt_rejects() {
        for bad in ["", "a", "5-3", "^2-3", "1,,2", "1-", "-1", "99999999999"] {
            assert!(CpuSet::parse(bad).is_err(), "{bad}");
        }
    }
}
