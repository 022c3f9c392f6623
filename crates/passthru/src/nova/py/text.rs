//! Python's string predicates and conversions that nova's decisions depend on:
//! `str.strip()`, `int(x, base)`, oslo's `bool_from_string`, `repr()` of a string.
//!
//! nova runs every hex field through `int(x, 16)` and every flag through
//! `strutils.bool_from_string`, so their exact leniency (signs, `0x`, `_`,
//! Unicode digits and spaces) decides what nova accepts.

use super::tables::{ALNUM, DECIMAL, DECIMAL_ZEROS, NOT_PRINTABLE};

fn in_ranges(table: &[(u32, u32)], c: char) -> bool {
    let c = c as u32;
    table
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Python `str.isspace()` for one character.
pub fn is_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n'
            | '\u{b}'
            | '\u{c}'
            | '\r'
            | '\u{1c}'..='\u{1f}'
            | ' '
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// Python `str.strip()` (no argument).
pub fn strip(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// Python `str.lstrip()` (no argument).
pub fn lstrip(s: &str) -> &str {
    s.trim_start_matches(is_space)
}

/// Python `str.rstrip()` (no argument).
pub fn rstrip(s: &str) -> &str {
    s.trim_end_matches(is_space)
}

/// Python `str.isdecimal()` for one character.
pub fn is_decimal(c: char) -> bool {
    in_ranges(DECIMAL, c)
}

/// The value of a decimal digit (any script), as `unicodedata.decimal()`.
pub fn decimal_value(c: char) -> Option<u32> {
    if !is_decimal(c) {
        return None;
    }
    let cp = c as u32;
    // Decimal digits come in runs of ten starting at a zero.
    let i = DECIMAL_ZEROS.partition_point(|&(z, _)| z <= cp);
    let zero = DECIMAL_ZEROS.get(i.checked_sub(1)?)?.0;
    let v = cp - zero;
    (v < 10).then_some(v)
}

/// Python `str.isprintable()` for one character.
pub fn is_printable(c: char) -> bool {
    !in_ranges(NOT_PRINTABLE, c)
}

/// Python `str.isalnum()` for one character.
pub fn is_alnum(c: char) -> bool {
    in_ranges(ALNUM, c)
}

/// A whitespace character as `int()` skips it: ASCII `isspace` plus non-ASCII
/// Unicode spaces (`\x1c`..`\x1f` are *not* skipped, unlike `str.strip()`).
fn is_int_space(c: char) -> bool {
    if (c as u32) < 127 {
        matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r')
    } else {
        is_space(c)
    }
}

/// A Python integer parsed from text: sign and digits in the parse base,
/// lower case, without leading zeros (`"0"` for zero).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PyInt {
    /// The value is negative (never for zero).
    pub negative: bool,
    /// Digits in the base it was parsed in, lower case, no leading zeros.
    pub digits: String,
}

impl PyInt {
    /// Whether the value is greater than `max` (base-16 digits).
    pub fn hex_greater_than(&self, max: u64) -> bool {
        if self.negative {
            return false;
        }
        match u64::from_str_radix(&self.digits, 16) {
            Ok(v) => v > max,
            Err(_) => true, // more digits than fit: certainly larger
        }
    }

    /// Python `'%0Nx' % value` for a value parsed in base 16.
    pub fn format_hex(&self, width: usize) -> String {
        let sign = if self.negative { "-" } else { "" };
        let body_width = width.saturating_sub(sign.len());
        format!("{sign}{:0>body_width$}", self.digits)
    }

    /// The value as an `i64`, when it fits (base-10 parse).
    pub fn to_i64(&self) -> Option<i64> {
        let v: i64 = self.digits.parse().ok()?;
        Some(if self.negative { -v } else { v })
    }
}

/// Python `int(text, base)` for base 10 or 16. `None` when Python raises
/// `ValueError` ("invalid literal for int() with base N: ...").
pub fn parse_int(text: &str, base: u32) -> Option<PyInt> {
    // Python first maps non-ASCII decimal digits to ASCII and non-ASCII spaces to
    // ' '; any other non-ASCII character makes the literal invalid.
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        if (c as u32) < 127 {
            s.push(c);
        } else if is_int_space(c) {
            s.push(' ');
        } else if let Some(d) = decimal_value(c) {
            s.push(char::from_digit(d, 10)?);
        } else {
            return None;
        }
    }
    let t = s.trim_matches(is_int_space);
    let (negative, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut t = t;
    if base == 16 {
        if let Some(rest) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            // One underscore may follow the prefix.
            t = rest.strip_prefix('_').unwrap_or(rest);
        }
    }
    if t.is_empty() || t.starts_with('_') || t.ends_with('_') || t.contains("__") {
        return None;
    }
    let mut digits = String::with_capacity(t.len());
    for c in t.chars() {
        if c == '_' {
            continue;
        }
        if !c.is_digit(base) {
            return None;
        }
        digits.push(c.to_ascii_lowercase());
    }
    let trimmed = digits.trim_start_matches('0');
    let digits = if trimmed.is_empty() {
        "0".to_string()
    } else {
        trimmed.to_string()
    };
    let negative = negative && digits != "0";
    Some(PyInt { negative, digits })
}

/// oslo.utils `strutils.bool_from_string`'s accepted spellings, sorted as its
/// error message lists them.
pub const BOOL_STRINGS_SORTED: [&str; 12] = [
    "0", "1", "f", "false", "n", "no", "off", "on", "t", "true", "y", "yes",
];

/// oslo.utils `bool_from_string` on the text form of a value: `Some(bool)` for a
/// recognised spelling (case-insensitive, stripped), `None` otherwise.
pub fn bool_from_str(subject: &str) -> Option<bool> {
    // Only ASCII letters can lower-case into the accepted spellings.
    let lowered = strip(subject).to_ascii_lowercase();
    match lowered.as_str() {
        "1" | "t" | "true" | "on" | "y" | "yes" => Some(true),
        "0" | "f" | "false" | "off" | "n" | "no" => Some(false),
        _ => None,
    }
}

/// The `ValueError` text of a strict `bool_from_string` on `subject` (its `str()`).
pub fn bool_error_message(subject: &str) -> String {
    let acceptable: Vec<String> = BOOL_STRINGS_SORTED
        .iter()
        .map(|s| format!("'{s}'"))
        .collect();
    format!(
        "Unrecognized value '{subject}', acceptable values are: {}",
        acceptable.join(", ")
    )
}

/// Python `repr()` of a string.
pub fn repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if (c as u32) < 0x7f => out.push(c),
            c if is_printable(c) => out.push(c),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push(quote);
    out
}

/// Python `repr()` of a float.
pub fn repr_float(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // Rust's `{:e}` gives the shortest round-tripping digits, like Python's repr.
    let e = format!("{:e}", x.abs());
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let decpt = exp + 1; // value = 0.DIGITS * 10^decpt
    let sign = if x < 0.0 { "-" } else { "" };
    let n = digits.len() as i32;
    let body = if decpt <= -4 || decpt > 16 {
        let mut m = digits[..1].to_string();
        if n > 1 {
            m.push('.');
            m.push_str(&digits[1..]);
        }
        let ex = decpt - 1;
        format!("{m}e{}{:02}", if ex < 0 { '-' } else { '+' }, ex.abs())
    } else if decpt <= 0 {
        format!("0.{}{}", "0".repeat((-decpt) as usize), digits)
    } else if decpt >= n {
        format!("{}{}.0", digits, "0".repeat((decpt - n) as usize))
    } else {
        format!(
            "{}.{}",
            &digits[..decpt as usize],
            &digits[decpt as usize..]
        )
    };
    format!("{sign}{body}")
}

/// Python's `len()` of a string: code points.
pub fn py_len(s: &str) -> usize {
    s.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Option<String> {
        parse_int(s, 16).map(|v| v.format_hex(4))
    }

    #[test]
    fn int_base16_is_as_lenient_as_python() {
        assert_eq!(hex("8086").as_deref(), Some("8086"));
        assert_eq!(hex(" 0x8086\n").as_deref(), Some("8086"));
        assert_eq!(hex("0X_ab_CD").as_deref(), Some("abcd"));
        assert_eq!(hex("+86").as_deref(), Some("0086"));
        assert_eq!(hex("-1").as_deref(), Some("-001"));
        assert_eq!(hex("-0").as_deref(), Some("0000"));
        assert_eq!(hex("８０８６").as_deref(), Some("8086"));
        assert_eq!(hex("\u{a0}12\u{3000}").as_deref(), Some("0012"));
        for bad in [
            "", " ", "0x", "_1", "1_", "1__2", "80*", "- 1", "\u{1c}12", "1\0", "ａ",
        ] {
            assert_eq!(hex(bad), None, "{bad:?}");
        }
        assert!(parse_int("10000", 16).unwrap().hex_greater_than(0xffff));
        assert!(!parse_int("ffff", 16).unwrap().hex_greater_than(0xffff));
        assert!(parse_int("1000000000000000000000", 16)
            .unwrap()
            .hex_greater_than(0xffff));
    }

    #[test]
    fn strip_uses_python_whitespace() {
        assert_eq!(strip("\u{1c} a \u{3000}"), "a");
        assert_eq!(strip("\u{200b}a"), "\u{200b}a"); // zero-width space is not a space
    }

    #[test]
    fn bool_strings() {
        assert_eq!(bool_from_str(" YES "), Some(true));
        assert_eq!(bool_from_str("Off"), Some(false));
        assert_eq!(bool_from_str("2"), None);
        assert_eq!(
            bool_error_message("2"),
            "Unrecognized value '2', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'"
        );
    }

    #[test]
    fn repr_matches_python() {
        assert_eq!(repr_str("a'b"), "\"a'b\"");
        assert_eq!(repr_str("a\"b"), "'a\"b'");
        assert_eq!(repr_str("a'\"b"), "'a\\'\"b'");
        assert_eq!(
            repr_str("\u{7f}\u{80}\u{a0}\u{ad}\u{200b}😀"),
            "'\\x7f\\x80\\xa0\\xad\\u200b😀'"
        );
        assert_eq!(repr_float(1e16), "1e+16");
        assert_eq!(repr_float(1e15), "1000000000000000.0");
        assert_eq!(repr_float(0.0001), "0.0001");
        assert_eq!(repr_float(0.00001), "1e-05");
        assert_eq!(repr_float(1.5e300), "1.5e+300");
        assert_eq!(repr_float(-0.0), "-0.0");
        assert_eq!(repr_float(123456789.123), "123456789.123");
        assert_eq!(repr_float(f64::NAN), "nan");
    }

    #[test]
    fn decimal_digits_of_other_scripts() {
        assert_eq!(decimal_value('٣'), Some(3));
        assert_eq!(decimal_value('𝟗'), Some(9));
        assert_eq!(decimal_value('a'), None);
    }
}
