//! Shared output helpers: JSON printing and the exit codes.

use crate::cli::ColorWhen;
use passthru::checks::Severity;
use serde::Serialize;
use std::cell::RefCell;
use std::process::ExitCode;
use std::sync::OnceLock;

/// Whether text output is coloured; decided once at start ([`init_color`]).
static COLOR: OnceLock<bool> = OnceLock::new();

/// Decides colour for this run: never with `--json`; `--color always|never` as said;
/// `auto` as anstream decides for stdout (a terminal that supports colour, and neither
/// NO_COLOR nor CLICOLOR=0 set; CLICOLOR_FORCE forces it).
pub fn init_color(when: ColorWhen, json: bool) {
    let on = !json
        && match when {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => {
                anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never
            }
        };
    let _ = COLOR.set(on);
}

/// `text` in the colour of a severity (FAIL red, WARN yellow, PASS green, INFO as is)
/// when colour is on.
pub fn paint(sev: Severity, text: &str) -> String {
    use anstyle::AnsiColor;
    let colour = match sev {
        Severity::Fail => AnsiColor::Red,
        Severity::Warn => AnsiColor::Yellow,
        Severity::Pass => AnsiColor::Green,
        Severity::Info => return text.to_string(),
    };
    if !COLOR.get().copied().unwrap_or(false) {
        return text.to_string();
    }
    let style = anstyle::Style::new().fg_color(Some(colour.into())).bold();
    format!("{}{text}{}", style.render(), style.render_reset())
}

thread_local! {
    /// Where this thread's command output goes instead of stdout/stderr: a fleet run
    /// reasons about each remote host in its own thread and collects what the
    /// single-host command printed, to show it under that host.
    static CAPTURE: RefCell<Option<Captured>> = const { RefCell::new(None) };
}

/// What a command printed while captured.
#[derive(Default, Debug)]
pub struct Captured {
    /// Its standard output.
    pub stdout: Vec<u8>,
    /// Its warnings (what would have gone to stderr).
    pub stderr: String,
}

/// Runs `f` with this thread's output captured, returning its result and the output.
pub fn capture<R>(f: impl FnOnce() -> R) -> (R, Captured) {
    CAPTURE.with(|c| *c.borrow_mut() = Some(Captured::default()));
    let r = f();
    let out = CAPTURE.with(|c| c.borrow_mut().take()).unwrap_or_default();
    (r, out)
}

/// Writes to the capture when there is one; `false` when output goes to the terminal.
fn captured(bytes: &[u8], err: bool) -> bool {
    CAPTURE.with(|c| match c.borrow_mut().as_mut() {
        Some(cap) if err => {
            cap.stderr.push_str(&String::from_utf8_lossy(bytes));
            true
        }
        Some(cap) => {
            cap.stdout.extend_from_slice(bytes);
            true
        }
        None => false,
    })
}

/// What a command found, mapped to the documented exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// All good: exit 0.
    Ok,
    /// Warnings: exit 1.
    Warn,
    /// Failures found: exit 2.
    Fail,
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> Self {
        ExitCode::from(match o {
            Outcome::Ok => 0,
            Outcome::Warn => 1,
            Outcome::Fail => 2,
        })
    }
}

/// Prints a value as pretty JSON on stdout, streamed through a buffer: a listing of
/// thousands of VFs is megabytes, and building it as one string first costs more
/// than reading the host did.
pub fn print_json<T: Serialize>(v: &T) -> anyhow::Result<()> {
    use std::io::Write;
    if CAPTURE.with(|c| c.borrow().is_some()) {
        let mut buf = serde_json::to_vec_pretty(v)?;
        buf.push(b'\n');
        captured(&buf, false);
        return Ok(());
    }
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    // Back to io::Error, so a closed pipe is recognised as one.
    serde_json::to_writer_pretty(&mut out, v).map_err(std::io::Error::from)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

/// Prints what went wrong while reading a host without stopping the scan (a device
/// that vanished or could not be read), on stderr so JSON on stdout stays whole.
pub fn print_warnings(host: &passthru::Host) {
    for w in &host.warnings {
        let line = format!("passthru: warning: {w}\n");
        if !captured(line.as_bytes(), true) {
            eprint!("{line}");
        }
    }
}

/// Writes text to stdout; a closed pipe (`| head`) is reported as an error the
/// caller turns into a quiet exit, never a panic.
pub fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    if captured(text.as_bytes(), false) {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// A text table laid out by comfy-table, which pads by display width (the `└` of
/// `ls --tree`, names with wide characters) instead of bytes. One column may be
/// *flexible*: when the table is wider than the screen it gives up width and its
/// cells are shortened with `…`; one column may be *droppable*: it goes first when even
/// the shortest flexible column does not fit. [`TextTable::prepend_column`] puts a
/// column in front (a fleet's HOST) and keeps both markers on their columns.
#[derive(Clone, Debug, Default)]
pub struct TextTable {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    flexible: Option<(usize, usize)>,
    droppable: Option<usize>,
}

/// Display width of a cell (what a terminal shows, not bytes or chars).
pub fn display_width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// `s` cut to at most `max` display columns, ending in `…` when cut.
pub fn shorten(s: &str, max: usize) -> String {
    let s = s.trim();
    if display_width(s) <= max {
        return s.to_string();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if w + cw + 1 > max {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push('…');
    out
}

impl TextTable {
    /// A table with these column headers.
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Self {
        TextTable {
            headers: headers.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }

    /// Adds a row (one cell per header).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Marks the column that shrinks (never below `min` columns) to fit the width.
    pub fn flexible(mut self, column: usize, min: usize) -> Self {
        self.flexible = Some((column, min));
        self
    }

    /// Marks the column dropped when the flexible one cannot shrink enough.
    pub fn droppable(mut self, column: usize) -> Self {
        self.droppable = Some(column);
        self
    }

    /// Puts a column in front: `values` holds one cell per row already added. For
    /// tables over many hosts (a HOST column); only the tests use it so far.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn prepend_column(&mut self, header: &str, values: Vec<String>) {
        self.headers.insert(0, header.to_string());
        for (r, v) in self.rows.iter_mut().zip(values) {
            r.insert(0, v);
        }
        self.flexible = self.flexible.map(|(c, m)| (c + 1, m));
        self.droppable = self.droppable.map(|c| c + 1);
    }

    /// The rows alone, laid out as [`TextTable::render`] lays them out (columns as wide
    /// as the headers too), one string per row, for output that puts lines between rows.
    pub fn body_lines(&self, width: usize) -> Vec<String> {
        self.render(width)
            .lines()
            .skip(1)
            .map(str::to_string)
            .collect()
    }

    /// The table fitted into `width` columns; lines carry no trailing blanks.
    pub fn render(&self, width: usize) -> String {
        let n = self.headers.len();
        let mut w: Vec<usize> = self.headers.iter().map(|h| display_width(h)).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(n) {
                w[i] = w[i].max(display_width(c));
            }
        }
        let mut keep: Vec<usize> = (0..n).collect();
        let mut flex_width = None;
        if let Some((fc, min)) = self.flexible {
            // Everything but the flexible column, each with its one-space gap.
            let others = |keep: &[usize]| -> usize {
                keep.iter().filter(|&&i| i != fc).map(|&i| w[i] + 1).sum()
            };
            if let Some(d) = self.droppable {
                if others(&keep) + min > width {
                    keep.retain(|&i| i != d);
                }
            }
            flex_width = Some((fc, w[fc].min(width.saturating_sub(others(&keep))).max(min)));
        }
        let cell = |i: usize, c: &str| -> String {
            match flex_width {
                Some((fc, fw)) if fc == i => shorten(c, fw),
                _ => c.to_string(),
            }
        };
        let mut t = comfy_table::Table::new();
        t.load_preset(comfy_table::presets::NOTHING)
            .set_content_arrangement(comfy_table::ContentArrangement::Disabled)
            .set_header(keep.iter().map(|&i| self.headers[i].clone()));
        for r in &self.rows {
            t.add_row(
                keep.iter()
                    .map(|&i| cell(i, r.get(i).map_or("", String::as_str))),
            );
        }
        // One space between columns, none at the edges.
        for c in t.column_iter_mut() {
            c.set_padding((0, 1));
        }
        let mut out = String::new();
        for l in t.lines() {
            out.push_str(l.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod table_tests {
    use super::*;

    fn table() -> TextTable {
        let mut t = TextTable::new(["ADDRESS", "NAME", "LINK"])
            .flexible(1, 6)
            .droppable(2);
        t.row(vec![
            "└ 07:10.0".into(),
            "I350 Ethernet Controller".into(),
            "5GT x4".into(),
        ]);
        t.row(vec!["06:00.0".into(), "日本語の名前".into(), "-".into()]);
        t
    }

    #[test]
    fn pads_by_display_width_and_trims_line_ends() {
        assert_eq!(
            table().render(200),
            "ADDRESS   NAME                     LINK\n\
             └ 07:10.0 I350 Ethernet Controller 5GT x4\n\
             06:00.0   日本語の名前             -\n"
        );
    }

    #[test]
    fn the_flexible_column_shrinks_then_the_droppable_one_goes() {
        assert_eq!(
            table().render(30),
            "ADDRESS   NAME          LINK\n\
             └ 07:10.0 I350 Etherne… 5GT x4\n\
             06:00.0   日本語の名前  -\n"
        );
        assert_eq!(
            table().render(16),
            "ADDRESS   NAME\n└ 07:10.0 I350 …\n06:00.0   日本…\n"
        );
    }

    #[test]
    fn a_leading_column_keeps_the_markers_on_their_columns() {
        let mut t = table();
        t.prepend_column("HOST", vec!["a".into(), "b".into()]);
        assert_eq!(
            t.render(21),
            "HOST ADDRESS   NAME\na    └ 07:10.0 I350 …\nb    06:00.0   日本…\n"
        );
    }
}
