//! Undoing stderr spliced into lspci's stdout.
//!
//! `lspci -nnvvv > out 2>&1` interleaves pcilib's unbuffered stderr with lspci's
//! block-buffered stdout, so a whole stderr line (`pcilib: ...\n`) can land in the middle
//! of a stdout line or even a word (`IOMMpcilib: sysfs_read_vpd: read failed: No such
//! device\nU group: 10`). The stderr text always runs to the end of its line and stdout
//! resumes at the start of the next one, so cutting the message and joining the two
//! pieces restores the original line.

/// Where stderr text starts: pcilib's warnings and lspci's own.
const MARKERS: &[&str] = &["pcilib: ", "lspci: "];

/// One line of repaired text, with the 1-based number of its first physical line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Line {
    pub number: usize,
    pub text: String,
}

/// Repaired lines and the stderr messages cut out of them.
#[derive(Debug, Default)]
pub(super) struct Repaired {
    pub lines: Vec<Line>,
    pub stderr: Vec<String>,
}

fn marker_at(s: &str) -> Option<usize> {
    MARKERS.iter().filter_map(|m| s.find(m)).min()
}

/// Splits text into lines (LF or CRLF), cutting spliced stderr and rejoining the halves.
pub(super) fn repair(text: &str) -> Repaired {
    let mut out = Repaired::default();
    let mut physical = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .enumerate()
        .peekable();
    while let Some((i, first)) = physical.next() {
        let mut line = first.to_string();
        // Loop: the continuation can itself carry another stderr line.
        while let Some(pos) = marker_at(&line) {
            out.stderr.push(line[pos..].trim_end().to_string());
            line.truncate(pos);
            if let Some((_, next)) = physical.next() {
                line.push_str(next);
            }
        }
        out.lines.push(Line {
            number: i + 1,
            text: line,
        });
    }
    // `split` yields a final empty piece after a trailing newline; it is no line.
    if text.ends_with('\n') {
        if let Some(last) = out.lines.last() {
            if last.text.is_empty() {
                out.lines.pop();
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(r: &Repaired) -> Vec<&str> {
        r.lines.iter().map(|l| l.text.as_str()).collect()
    }

    #[test]
    fn rejoins_a_word_cut_by_stderr() {
        let r = repair("\tIOMMpcilib: sysfs_read_vpd: read failed: No such device\nU group: 10\n\tRegion 0: x\n");
        assert_eq!(texts(&r), ["\tIOMMU group: 10", "\tRegion 0: x"]);
        assert_eq!(
            r.stderr,
            ["pcilib: sysfs_read_vpd: read failed: No such device"]
        );
        assert_eq!(r.lines[1].number, 3);
    }

    #[test]
    fn whole_stderr_line_disappears() {
        let r = repair("a\npcilib: Error reading x\nb\n");
        assert_eq!(texts(&r), ["a", "b"]);
    }

    #[test]
    fn two_messages_in_a_row_and_crlf() {
        let r = repair("\tMemorypcilib: one\r\npcilib: two\r\n behind bridge: 1\r\n");
        assert_eq!(texts(&r), ["\tMemory behind bridge: 1"]);
        assert_eq!(r.stderr.len(), 2);
    }

    #[test]
    fn stderr_on_the_last_line_without_continuation() {
        let r = repair("x\n\tKernel driver in use: igbpcilib: late");
        assert_eq!(texts(&r), ["x", "\tKernel driver in use: igb"]);
    }
}
