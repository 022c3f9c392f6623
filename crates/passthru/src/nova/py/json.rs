//! Python's `json.loads` (the C scanner, `strict=True`) and the Python values it
//! produces, with their `repr()` and `str()`.
//!
//! nova parses every `device_spec` and `alias` value with `json.loads` and quotes
//! Python reprs in its messages, so passthru decodes the same way: `NaN` and
//! `Infinity` accepted, duplicate keys keep the first position and the last value,
//! integers of any size, and the decoder's own error texts with line, column and
//! character offsets counted in code points.

use super::text::{repr_float, repr_str};
use serde::Serialize;

/// A value as Python's `json` module builds it.
#[derive(Clone, Debug, PartialEq)]
pub enum PyValue {
    /// `None` (JSON `null`).
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An `int`, kept as its decimal text (Python ints have no size limit).
    Int(String),
    /// A `float` (also `NaN`, `Infinity`, `-Infinity`).
    Float(f64),
    /// A `str`.
    Str(String),
    /// A `list`.
    List(Vec<PyValue>),
    /// A `dict` in insertion order.
    Dict(Vec<(String, PyValue)>),
}

impl PyValue {
    /// Python truthiness.
    pub fn truthy(&self) -> bool {
        match self {
            PyValue::None => false,
            PyValue::Bool(b) => *b,
            PyValue::Int(s) => !s.trim_start_matches('-').trim_start_matches('0').is_empty(),
            PyValue::Float(f) => *f != 0.0,
            PyValue::Str(s) => !s.is_empty(),
            PyValue::List(l) => !l.is_empty(),
            PyValue::Dict(d) => !d.is_empty(),
        }
    }

    /// Python type name (`type(v).__name__`).
    pub fn type_name(&self) -> &'static str {
        match self {
            PyValue::None => "NoneType",
            PyValue::Bool(_) => "bool",
            PyValue::Int(_) => "int",
            PyValue::Float(_) => "float",
            PyValue::Str(_) => "str",
            PyValue::List(_) => "list",
            PyValue::Dict(_) => "dict",
        }
    }

    /// The string, when this is a `str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            PyValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Python `repr()`.
    pub fn repr(&self) -> String {
        let mut out = String::new();
        self.write_repr(&mut out);
        out
    }

    /// Python `str()`: like `repr()` except that a string is itself.
    pub fn to_py_str(&self) -> String {
        match self {
            PyValue::Str(s) => s.clone(),
            other => other.repr(),
        }
    }

    fn write_repr(&self, out: &mut String) {
        match self {
            PyValue::None => out.push_str("None"),
            PyValue::Bool(true) => out.push_str("True"),
            PyValue::Bool(false) => out.push_str("False"),
            PyValue::Int(s) => out.push_str(s),
            PyValue::Float(f) => out.push_str(&repr_float(*f)),
            PyValue::Str(s) => out.push_str(&repr_str(s)),
            PyValue::List(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.write_repr(out);
                }
                out.push(']');
            }
            PyValue::Dict(items) => {
                out.push('{');
                for (i, (k, v)) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&repr_str(k));
                    out.push_str(": ");
                    v.write_repr(out);
                }
                out.push('}');
            }
        }
    }

    /// Looks a key up in a dict.
    pub fn get(&self, key: &str) -> Option<&PyValue> {
        match self {
            PyValue::Dict(items) => items.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value as JSON for passthru's own output (non-finite floats become
    /// strings, since JSON cannot hold them).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            PyValue::None => Value::Null,
            PyValue::Bool(b) => Value::Bool(*b),
            PyValue::Int(s) => s
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::String(s.clone())),
            PyValue::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(repr_float(*f))),
            PyValue::Str(s) => Value::String(s.clone()),
            PyValue::List(l) => Value::Array(l.iter().map(|v| v.to_json()).collect()),
            PyValue::Dict(d) => {
                Value::Object(d.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
        }
    }
}

impl Serialize for PyValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

/// Why `json.loads` failed, as Python says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError {
    /// The message without position (`Expecting value`).
    pub msg: String,
    /// Character (code point) offset.
    pub pos: usize,
    /// 1-based line.
    pub lineno: usize,
    /// 1-based column.
    pub colno: usize,
    /// The Python exception: `JSONDecodeError`, or `ValueError` (the int-size
    /// limit) and `RecursionError` (nesting too deep), whose texts have no position.
    pub exception: &'static str,
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.exception != "JSONDecodeError" {
            write!(f, "{}", self.msg)
        } else {
            write!(
                f,
                "{}: line {} column {} (char {})",
                self.msg, self.lineno, self.colno, self.pos
            )
        }
    }
}

/// Python 3.11's limit on decimal digits converted to an `int`.
const INT_MAX_STR_DIGITS: usize = 4300;

/// How deep arrays and objects may nest before Python's recursion guard trips.
const MAX_DEPTH: usize = 990;

struct Scanner<'a> {
    s: &'a [char],
    depth: std::cell::Cell<usize>,
}

enum Fail {
    /// `StopIteration(pos)`: becomes "Expecting value" at `pos`.
    Stop(usize),
    /// A `JSONDecodeError` with its message.
    Err(&'static str, usize),
    /// A plain exception (`ValueError`, `RecursionError`) with its text.
    Plain(&'static str, String),
}

fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

impl Scanner<'_> {
    fn skip_ws(&self, mut i: usize) -> usize {
        while i < self.s.len() && is_ws(self.s[i]) {
            i += 1;
        }
        i
    }

    fn starts(&self, i: usize, lit: &str) -> bool {
        lit.chars()
            .enumerate()
            .all(|(k, c)| self.s.get(i + k) == Some(&c))
    }

    fn scan_once(&self, i: usize) -> Result<(PyValue, usize), Fail> {
        let Some(&c) = self.s.get(i) else {
            return Err(Fail::Stop(i));
        };
        match c {
            '"' => {
                let (s, end) = self.scan_string(i + 1)?;
                Ok((PyValue::Str(s), end))
            }
            '{' | '[' => {
                if self.depth.get() >= MAX_DEPTH {
                    let what = if c == '{' { "object" } else { "array" };
                    return Err(Fail::Plain(
                        "RecursionError",
                        format!("maximum recursion depth exceeded while decoding a JSON {what} from a unicode string"),
                    ));
                }
                self.depth.set(self.depth.get() + 1);
                let r = if c == '{' {
                    self.parse_object(i + 1)
                } else {
                    self.parse_array(i + 1)
                };
                self.depth.set(self.depth.get() - 1);
                r
            }
            'n' if self.starts(i, "null") => Ok((PyValue::None, i + 4)),
            't' if self.starts(i, "true") => Ok((PyValue::Bool(true), i + 4)),
            'f' if self.starts(i, "false") => Ok((PyValue::Bool(false), i + 5)),
            'N' if self.starts(i, "NaN") => Ok((PyValue::Float(f64::NAN), i + 3)),
            'I' if self.starts(i, "Infinity") => Ok((PyValue::Float(f64::INFINITY), i + 8)),
            '-' if self.starts(i, "-Infinity") => Ok((PyValue::Float(f64::NEG_INFINITY), i + 9)),
            _ => self.scan_number(i),
        }
    }

    fn scan_number(&self, start: usize) -> Result<(PyValue, usize), Fail> {
        let s = self.s;
        let digit = |j: usize| s.get(j).is_some_and(|c| c.is_ascii_digit());
        let mut i = start;
        if s.get(i) == Some(&'-') {
            i += 1;
        }
        match s.get(i) {
            Some('1'..='9') => {
                i += 1;
                while digit(i) {
                    i += 1;
                }
            }
            Some('0') => i += 1,
            _ => return Err(Fail::Stop(start)),
        }
        let mut is_float = false;
        if s.get(i) == Some(&'.') && digit(i + 1) {
            is_float = true;
            i += 2;
            while digit(i) {
                i += 1;
            }
        }
        if matches!(s.get(i), Some('e' | 'E')) {
            let e_start = i;
            i += 1;
            if matches!(s.get(i), Some('+' | '-')) {
                i += 1;
            }
            let d0 = i;
            while digit(i) {
                i += 1;
            }
            if i > d0 {
                is_float = true;
            } else {
                i = e_start;
            }
        }
        let text: String = s[start..i].iter().collect();
        if is_float {
            let f: f64 = text.parse().map_err(|_| Fail::Stop(start))?;
            Ok((PyValue::Float(f), i))
        } else {
            let (neg, digits) = match text.strip_prefix('-') {
                Some(d) => (true, d),
                None => (false, text.as_str()),
            };
            if digits.len() > INT_MAX_STR_DIGITS {
                return Err(Fail::Plain("ValueError", format!(
                    "Exceeds the limit ({INT_MAX_STR_DIGITS} digits) for integer string conversion: value has {} digits; use sys.set_int_max_str_digits() to increase the limit",
                    digits.len()
                )));
            }
            let v = if neg && digits != "0" {
                format!("-{digits}")
            } else {
                digits.to_string()
            };
            Ok((PyValue::Int(v), i))
        }
    }

    /// Decodes a string whose opening quote is at `begin - 1`.
    fn scan_string(&self, begin: usize) -> Result<(String, usize), Fail> {
        let s = self.s;
        let mut out = String::new();
        let mut i = begin;
        loop {
            let Some(&c) = s.get(i) else {
                return Err(Fail::Err("Unterminated string starting at", begin - 1));
            };
            match c {
                '"' => return Ok((out, i + 1)),
                '\\' => {
                    let Some(&e) = s.get(i + 1) else {
                        return Err(Fail::Err("Unterminated string starting at", begin - 1));
                    };
                    match e {
                        '"' => out.push('"'),
                        '\\' => out.push('\\'),
                        '/' => out.push('/'),
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        'u' => {
                            let u = self
                                .hex4(i + 2)
                                .ok_or(Fail::Err("Invalid \\uXXXX escape", i + 1))?;
                            let mut ch = u;
                            let mut next = i + 6;
                            if (0xd800..0xdc00).contains(&u)
                                && s.get(next) == Some(&'\\')
                                && s.get(next + 1) == Some(&'u')
                            {
                                let lo = self
                                    .hex4(next + 2)
                                    .ok_or(Fail::Err("Invalid \\uXXXX escape", next + 1))?;
                                if (0xdc00..0xe000).contains(&lo) {
                                    ch = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
                                    next += 6;
                                }
                            }
                            // A lone surrogate cannot live in a Rust string.
                            out.push(char::from_u32(ch).unwrap_or('\u{fffd}'));
                            i = next;
                            continue;
                        }
                        _ => return Err(Fail::Err("Invalid \\escape", i)),
                    }
                    i += 2;
                }
                c if (c as u32) < 0x20 => {
                    return Err(Fail::Err("Invalid control character at", i));
                }
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
    }

    fn hex4(&self, i: usize) -> Option<u32> {
        let mut v = 0u32;
        for k in 0..4 {
            let d = self.s.get(i + k)?.to_digit(16)?;
            v = v * 16 + d;
        }
        Some(v)
    }

    fn parse_object(&self, start: usize) -> Result<(PyValue, usize), Fail> {
        let s = self.s;
        let mut items: Vec<(String, PyValue)> = Vec::new();
        let mut i = self.skip_ws(start);
        if s.get(i) != Some(&'}') {
            loop {
                if s.get(i) != Some(&'"') {
                    return Err(Fail::Err(
                        "Expecting property name enclosed in double quotes",
                        i,
                    ));
                }
                let (key, next) = self.scan_string(i + 1)?;
                i = self.skip_ws(next);
                if s.get(i) != Some(&':') {
                    return Err(Fail::Err("Expecting ':' delimiter", i));
                }
                i = self.skip_ws(i + 1);
                let (val, next) = self.scan_once(i)?;
                match items.iter_mut().find(|(k, _)| *k == key) {
                    Some(slot) => slot.1 = val,
                    None => items.push((key, val)),
                }
                i = self.skip_ws(next);
                if s.get(i) == Some(&'}') {
                    break;
                }
                if s.get(i) != Some(&',') {
                    return Err(Fail::Err("Expecting ',' delimiter", i));
                }
                i = self.skip_ws(i + 1);
            }
        }
        Ok((PyValue::Dict(items), i + 1))
    }

    fn parse_array(&self, start: usize) -> Result<(PyValue, usize), Fail> {
        let s = self.s;
        let mut items = Vec::new();
        let mut i = self.skip_ws(start);
        if s.get(i) != Some(&']') {
            loop {
                let (val, next) = self.scan_once(i)?;
                items.push(val);
                i = self.skip_ws(next);
                if s.get(i) == Some(&']') {
                    break;
                }
                if s.get(i) != Some(&',') {
                    return Err(Fail::Err("Expecting ',' delimiter", i));
                }
                i = self.skip_ws(i + 1);
            }
        }
        Ok((PyValue::List(items), i + 1))
    }
}

fn error_at(chars: &[char], msg: &str, pos: usize) -> JsonError {
    let before = &chars[..pos.min(chars.len())];
    let lineno = before.iter().filter(|c| **c == '\n').count() + 1;
    let colno = match before.iter().rposition(|c| *c == '\n') {
        Some(nl) => pos - nl,
        None => pos + 1,
    };
    JsonError {
        msg: msg.to_string(),
        pos,
        lineno,
        colno,
        exception: "JSONDecodeError",
    }
}

/// Python `json.loads(text)`.
pub fn loads(text: &str) -> Result<PyValue, JsonError> {
    let chars: Vec<char> = text.chars().collect();
    if chars.first() == Some(&'\u{feff}') {
        return Err(error_at(
            &chars,
            "Unexpected UTF-8 BOM (decode using utf-8-sig)",
            0,
        ));
    }
    let sc = Scanner {
        s: &chars,
        depth: std::cell::Cell::new(0),
    };
    let start = sc.skip_ws(0);
    match sc.scan_once(start) {
        Ok((v, end)) => {
            let end = sc.skip_ws(end);
            if end != chars.len() {
                return Err(error_at(&chars, "Extra data", end));
            }
            Ok(v)
        }
        Err(Fail::Stop(pos)) => Err(error_at(&chars, "Expecting value", pos)),
        Err(Fail::Err(msg, pos)) => Err(error_at(&chars, msg, pos)),
        Err(Fail::Plain(exception, msg)) => Err(JsonError {
            msg,
            pos: 0,
            lineno: 0,
            colno: 0,
            exception,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> String {
        loads(s).unwrap_err().to_string()
    }

    #[test]
    fn error_messages_match_python() {
        assert_eq!(err(""), "Expecting value: line 1 column 1 (char 0)");
        assert_eq!(err("["), "Expecting value: line 1 column 2 (char 1)");
        assert_eq!(
            err("[1"),
            "Expecting ',' delimiter: line 1 column 3 (char 2)"
        );
        assert_eq!(err("[1,]"), "Expecting value: line 1 column 4 (char 3)");
        assert_eq!(
            err("{\"a\":1,}"),
            "Expecting property name enclosed in double quotes: line 1 column 8 (char 7)"
        );
        assert_eq!(
            err("{'a':1}"),
            "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
        );
        assert_eq!(
            err("{\"a\" 1}"),
            "Expecting ':' delimiter: line 1 column 6 (char 5)"
        );
        assert_eq!(err("[1] x"), "Extra data: line 1 column 5 (char 4)");
        assert_eq!(err("1."), "Extra data: line 1 column 2 (char 1)");
        assert_eq!(err("-"), "Expecting value: line 1 column 1 (char 0)");
        assert_eq!(
            err("\"abc"),
            "Unterminated string starting at: line 1 column 1 (char 0)"
        );
        assert_eq!(
            err("\"a\\q\""),
            "Invalid \\escape: line 1 column 3 (char 2)"
        );
        assert_eq!(
            err("\"a\\u12\""),
            "Invalid \\uXXXX escape: line 1 column 4 (char 3)"
        );
        assert_eq!(
            err("\"a\u{1}\""),
            "Invalid control character at: line 1 column 3 (char 2)"
        );
        assert_eq!(
            err("\u{feff}{}"),
            "Unexpected UTF-8 BOM (decode using utf-8-sig): line 1 column 1 (char 0)"
        );
        assert_eq!(
            err("[1,\n 2,\n x]"),
            "Expecting value: line 3 column 2 (char 9)"
        );
        assert_eq!(err("0123"), "Extra data: line 1 column 2 (char 1)");
        assert!(err(&format!("[{}]", "1".repeat(5000))).starts_with("Exceeds the limit (4300"));
        assert_eq!(
            loads(&"[".repeat(100_000)).unwrap_err().exception,
            "RecursionError"
        );
    }

    #[test]
    fn values_and_reprs() {
        let v =
            loads(r#" {"b": 1, "a": [NaN, -Infinity, 1e5, -0, true, null], "b": "x'"} "#).unwrap();
        assert_eq!(
            v.repr(),
            r#"{'b': "x'", 'a': [nan, -inf, 100000.0, 0, True, None]}"#
        );
        assert_eq!(
            loads(r#""\ud83d\ude00""#).unwrap(),
            PyValue::Str("😀".into())
        );
        assert!(!loads("0.0").unwrap().truthy());
        assert!(loads("NaN").unwrap().truthy());
        assert!(!loads("-0").unwrap().truthy());
    }
}
