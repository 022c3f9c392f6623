//! Python's `re` module, as far as nova's decisions need it: the pattern grammar of
//! Python 3.11 (what compiles and what raises `re.error`) and a backtracking matcher
//! with `re.match` (anchored at the start only), `re.search` and `re.fullmatch`.
//!
//! nova compiles `device_spec` address regexes with `re.compile` and turns any
//! `re.error` into "incorrect format"; Rust's `regex` crate accepts and rejects
//! different patterns (`a{`, look-arounds, back-references), so passthru follows
//! Python's grammar instead. Subjects are short (address fields, flavor values),
//! so plain backtracking is fast enough.
//!
//! Known limits: `\N{NAME}` escapes are rejected (no Unicode name table), and
//! case-insensitive matching uses simple one-to-one case mappings.

use super::text::{is_alnum, is_decimal, is_space};

/// A pattern Python would refuse, with Python's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReError {
    /// What `re.error` (or `OverflowError`) says.
    pub message: String,
    /// The Python exception type when it is not `re.error` (`OverflowError` for a
    /// repeat count too large, `ValueError` for `(?a)` with `(?u)`): nova does not
    /// catch those, so the service crashes instead of reporting a format error.
    pub crash: Option<&'static str>,
}

const MAXREPEAT: u64 = 4_294_967_295;
const MAXGROUPS: usize = 1_073_741_823;

const F_IGNORECASE: u32 = 2;
const F_LOCALE: u32 = 4;
const F_MULTILINE: u32 = 8;
const F_DOTALL: u32 = 16;
const F_UNICODE: u32 = 32;
const F_VERBOSE: u32 = 64;
const F_ASCII: u32 = 256;
const TYPE_FLAGS: u32 = F_ASCII | F_LOCALE | F_UNICODE;
const GLOBAL_FLAGS: u32 = 1; // TEMPLATE ('t'); DEBUG has no inline letter

fn flag_of(c: char) -> Option<u32> {
    Some(match c {
        'i' => F_IGNORECASE,
        'L' => F_LOCALE,
        'm' => F_MULTILINE,
        's' => F_DOTALL,
        'x' => F_VERBOSE,
        'a' => F_ASCII,
        't' => 1, // TEMPLATE: a global-only flag in 3.11
        'u' => F_UNICODE,
        _ => return None,
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cat {
    Digit,
    NotDigit,
    Space,
    NotSpace,
    Word,
    NotWord,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum At {
    Beginning,
    BeginningString,
    End,
    EndString,
    Boundary,
    NonBoundary,
}

#[derive(Clone, Debug, PartialEq)]
enum SetItem {
    Lit(u32),
    Range(u32, u32),
    Cat(Cat),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RepKind {
    Greedy,
    Lazy,
    Possessive,
}

/// Flags that change how a node matches, fixed per node at parse time because
/// Python applies scoped flags `(?i:...)` to the nodes inside.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
struct NodeFlags(u32);

#[derive(Clone, Debug, PartialEq)]
enum Node {
    Lit(u32, NodeFlags),
    NotLit(u32, NodeFlags),
    Any(NodeFlags),
    Set(bool, Vec<SetItem>, NodeFlags),
    Cat(Cat, NodeFlags),
    At(At, NodeFlags),
    Group(Option<usize>, Vec<Node>),
    Branch(Vec<Vec<Node>>),
    Repeat(u64, u64, RepKind, Vec<Node>),
    Backref(usize, NodeFlags),
    Assert {
        ahead: bool,
        negate: bool,
        body: Vec<Node>,
        width: usize,
    },
    Atomic(Vec<Node>),
    Cond(usize, Vec<Node>, Option<Vec<Node>>),
}

/// A compiled Python pattern.
#[derive(Clone, Debug)]
pub struct PyRegex {
    nodes: Vec<Node>,
    groups: usize,
}

// ---------------------------------------------------------------- parsing

struct Tok<'a> {
    s: &'a [char],
    i: usize,
}

impl Tok<'_> {
    /// The next token: one character, or a backslash with the character after it.
    fn peek(&self) -> Result<Option<String>, ReError> {
        match self.s.get(self.i) {
            None => Ok(None),
            Some('\\') => match self.s.get(self.i + 1) {
                None => Err(err("bad escape (end of pattern)")),
                Some(c) => Ok(Some(format!("\\{c}"))),
            },
            Some(c) => Ok(Some(c.to_string())),
        }
    }
    fn get(&mut self) -> Result<Option<String>, ReError> {
        let t = self.peek()?;
        if let Some(t) = &t {
            self.i += t.chars().count();
        }
        Ok(t)
    }
    fn next_is(&self, c: char) -> bool {
        // A backslash token never equals a plain character.
        self.s.get(self.i) == Some(&c) && (c != '\\')
    }
    fn next_char_token(&self) -> Option<char> {
        match self.s.get(self.i) {
            Some('\\') | None => None,
            Some(c) => Some(*c),
        }
    }
    fn eat(&mut self, c: char) -> bool {
        if self.next_is(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn getwhile(&mut self, n: usize, ok: impl Fn(char) -> bool) -> String {
        let mut out = String::new();
        for _ in 0..n {
            match self.next_char_token() {
                Some(c) if ok(c) => {
                    out.push(c);
                    self.i += 1;
                }
                _ => break,
            }
        }
        out
    }
    fn getuntil(&mut self, term: char, name: &str) -> Result<String, ReError> {
        let mut out = String::new();
        loop {
            let t = self.get()?;
            match t {
                None => {
                    return Err(if out.is_empty() {
                        err(&format!("missing {name}"))
                    } else {
                        err(&format!("missing {term}, unterminated name"))
                    })
                }
                Some(t) if t.len() == term.len_utf8() && t.starts_with(term) => {
                    if out.is_empty() {
                        return Err(err(&format!("missing {name}")));
                    }
                    return Ok(out);
                }
                Some(t) => out.push_str(&t),
            }
        }
    }
}

fn err(m: &str) -> ReError {
    ReError {
        message: m.to_string(),
        crash: None,
    }
}

struct State {
    flags: u32,
    groupdict: Vec<(String, usize)>,
    groupwidths: Vec<Option<(u64, u64)>>,
    lookbehindgroups: Option<usize>,
    grouprefpos: Vec<usize>,
}

impl State {
    fn groups(&self) -> usize {
        self.groupwidths.len()
    }
    fn checkgroup(&self, gid: usize) -> bool {
        gid < self.groups() && self.groupwidths[gid].is_some()
    }
    fn checklookbehindgroup(&self, gid: usize) -> Result<(), ReError> {
        if let Some(lb) = self.lookbehindgroups {
            if !self.checkgroup(gid) {
                return Err(err("cannot refer to an open group"));
            }
            if gid >= lb {
                return Err(err(
                    "cannot refer to group defined in the same lookbehind subpattern",
                ));
            }
        }
        Ok(())
    }
}

const MAXWIDTH: u64 = 1 << 32; // larger than any real width; only compared

fn width(nodes: &[Node], st: &State) -> (u64, u64) {
    let (mut lo, mut hi) = (0u64, 0u64);
    for n in nodes {
        let (l, h) = match n {
            Node::Lit(..) | Node::NotLit(..) | Node::Any(_) | Node::Set(..) | Node::Cat(..) => {
                (1, 1)
            }
            Node::At(..) | Node::Assert { .. } => (0, 0),
            Node::Group(_, b) | Node::Atomic(b) => width(b, st),
            Node::Branch(alts) => {
                let mut i = MAXWIDTH;
                let mut j = 0;
                for a in alts {
                    let (l, h) = width(a, st);
                    i = i.min(l);
                    j = j.max(h);
                }
                (i, j)
            }
            Node::Repeat(min, max, _, b) => {
                let (i, j) = width(b, st);
                let l = i.saturating_mul(*min);
                let h = if *max == MAXREPEAT && j > 0 {
                    MAXWIDTH
                } else {
                    j.saturating_mul(*max)
                };
                (l, h)
            }
            Node::Backref(g, _) => st.groupwidths.get(*g).copied().flatten().unwrap_or((0, 0)),
            Node::Cond(_, yes, no) => {
                let (i, j) = width(yes, st);
                match no {
                    Some(no) => {
                        let (l, h) = width(no, st);
                        (i.min(l), j.max(h))
                    }
                    None => (0, j),
                }
            }
        };
        lo = lo.saturating_add(l);
        hi = hi.saturating_add(h);
    }
    (lo.min(MAXWIDTH), hi.min(MAXWIDTH))
}

fn category(esc: &str) -> Option<Result<Cat, At>> {
    Some(match esc {
        "\\d" => Ok(Cat::Digit),
        "\\D" => Ok(Cat::NotDigit),
        "\\s" => Ok(Cat::Space),
        "\\S" => Ok(Cat::NotSpace),
        "\\w" => Ok(Cat::Word),
        "\\W" => Ok(Cat::NotWord),
        "\\A" => Err(At::BeginningString),
        "\\Z" => Err(At::EndString),
        "\\b" => Err(At::Boundary),
        "\\B" => Err(At::NonBoundary),
        _ => return None,
    })
}

fn simple_escape(esc: &str) -> Option<u32> {
    Some(match esc {
        "\\a" => 7,
        "\\b" => 8,
        "\\f" => 12,
        "\\n" => 10,
        "\\r" => 13,
        "\\t" => 9,
        "\\v" => 11,
        "\\\\" => '\\' as u32,
        _ => return None,
    })
}

enum Esc {
    Lit(u32),
    Cat(Cat),
    At(At),
    Ref(usize),
}

fn hex_escape(tok: &mut Tok, esc: &str, n: usize) -> Result<u32, ReError> {
    let digits = tok.getwhile(n, |c| c.is_ascii_hexdigit());
    if digits.len() != n {
        return Err(err(&format!("incomplete escape {esc}{digits}")));
    }
    u32::from_str_radix(&digits, 16).map_err(|_| err("bad escape"))
}

fn class_escape(tok: &mut Tok, esc: &str) -> Result<Esc, ReError> {
    if let Some(v) = simple_escape(esc) {
        return Ok(Esc::Lit(v));
    }
    if let Some(Ok(c)) = category(esc) {
        return Ok(Esc::Cat(c));
    }
    let c = esc.chars().nth(1).unwrap_or('\\');
    match c {
        'x' => return hex_escape(tok, esc, 2).map(Esc::Lit),
        'u' => return hex_escape(tok, esc, 4).map(Esc::Lit),
        'U' => {
            let v = hex_escape(tok, esc, 8)?;
            if v > 0x10ffff {
                return Err(err(&format!("bad escape {esc}")));
            }
            return Ok(Esc::Lit(v));
        }
        'N' => return Err(err("\\N{...} escapes are not supported")),
        '0'..='7' => {
            let more = tok.getwhile(2, |c| ('0'..='7').contains(&c));
            let v = u32::from_str_radix(&format!("{c}{more}"), 8).unwrap_or(0);
            if v > 0o377 {
                return Err(err(&format!(
                    "octal escape value \\{c}{more} outside of range 0-0o377"
                )));
            }
            return Ok(Esc::Lit(v));
        }
        '8' | '9' => return Err(err(&format!("bad escape {esc}"))),
        _ => {}
    }
    if c.is_ascii_alphabetic() {
        return Err(err(&format!("bad escape {esc}")));
    }
    Ok(Esc::Lit(c as u32))
}

fn escape(tok: &mut Tok, esc: &str, st: &mut State) -> Result<Esc, ReError> {
    match category(esc) {
        Some(Ok(c)) => return Ok(Esc::Cat(c)),
        Some(Err(a)) => return Ok(Esc::At(a)),
        None => {}
    }
    if let Some(v) = simple_escape(esc) {
        return Ok(Esc::Lit(v));
    }
    let c = esc.chars().nth(1).unwrap_or('\\');
    match c {
        'x' => return hex_escape(tok, esc, 2).map(Esc::Lit),
        'u' => return hex_escape(tok, esc, 4).map(Esc::Lit),
        'U' => {
            let v = hex_escape(tok, esc, 8)?;
            if v > 0x10ffff {
                return Err(err(&format!("bad escape {esc}")));
            }
            return Ok(Esc::Lit(v));
        }
        'N' => return Err(err("\\N{...} escapes are not supported")),
        '0' => {
            let more = tok.getwhile(2, |c| ('0'..='7').contains(&c));
            return Ok(Esc::Lit(
                u32::from_str_radix(&format!("0{more}"), 8).unwrap_or(0),
            ));
        }
        '1'..='9' => {
            let mut digits = c.to_string();
            if let Some(d) = tok.next_char_token().filter(|d| d.is_ascii_digit()) {
                tok.i += 1;
                digits.push(d);
                let oct = |c: char| ('0'..='7').contains(&c);
                if oct(c) && oct(d) {
                    if let Some(e) = tok.next_char_token().filter(|e| oct(*e)) {
                        tok.i += 1;
                        digits.push(e);
                        let v = u32::from_str_radix(&digits, 8).unwrap_or(0);
                        if v > 0o377 {
                            return Err(err(&format!(
                                "octal escape value \\{digits} outside of range 0-0o377"
                            )));
                        }
                        return Ok(Esc::Lit(v));
                    }
                }
            }
            let group: usize = digits.parse().unwrap_or(0);
            if group < st.groups() {
                if !st.checkgroup(group) {
                    return Err(err("cannot refer to an open group"));
                }
                st.checklookbehindgroup(group)?;
                return Ok(Esc::Ref(group));
            }
            return Err(err(&format!("invalid group reference {group}")));
        }
        _ => {}
    }
    if c.is_ascii_alphabetic() {
        return Err(err(&format!("bad escape {esc}")));
    }
    Ok(Esc::Lit(c as u32))
}

fn is_identifier(name: &str) -> bool {
    let mut cs = name.chars();
    match cs.next() {
        Some(c) if c == '_' || c.is_alphabetic() => {}
        _ => return false,
    }
    cs.all(|c| c == '_' || c.is_alphanumeric())
}

fn parse_sub(
    tok: &mut Tok,
    st: &mut State,
    verbose: bool,
    nested: usize,
    fl: u32,
) -> Result<Vec<Node>, ReError> {
    let mut items = Vec::new();
    let mut verbose = verbose;
    loop {
        let first = nested == 0 && items.is_empty();
        items.push(parse(tok, st, verbose, nested + 1, first, fl)?);
        if !tok.eat('|') {
            break;
        }
        if nested == 0 {
            verbose = st.flags & F_VERBOSE != 0;
        }
    }
    if items.len() == 1 {
        return Ok(items.pop().unwrap_or_default());
    }
    Ok(vec![Node::Branch(items)])
}

fn parse(
    tok: &mut Tok,
    st: &mut State,
    verbose: bool,
    nested: usize,
    first: bool,
    fl: u32,
) -> Result<Vec<Node>, ReError> {
    let mut out: Vec<Node> = Vec::new();
    let mut verbose = verbose;
    loop {
        // Global flags seen so far apply to the whole pattern; scoped ones to `fl`.
        let flags = NodeFlags(fl | st.flags);
        let Some(this) = tok.peek()? else { break };
        if this == "|" || this == ")" {
            break;
        }
        tok.get()?;
        if verbose {
            let c = this.chars().next().unwrap_or(' ');
            if this.len() == c.len_utf8() && " \t\n\r\u{b}\u{c}".contains(c) {
                continue;
            }
            if this == "#" {
                loop {
                    match tok.get()? {
                        None => break,
                        Some(t) if t == "\n" => break,
                        _ => {}
                    }
                }
                continue;
            }
        }
        if this.starts_with('\\') {
            match escape(tok, &this, st)? {
                Esc::Lit(v) => out.push(Node::Lit(v, flags)),
                Esc::Cat(c) => out.push(Node::Cat(c, flags)),
                Esc::At(a) => out.push(Node::At(a, flags)),
                Esc::Ref(g) => out.push(Node::Backref(g, flags)),
            }
            continue;
        }
        let c = this.chars().next().unwrap_or('\0');
        match c {
            '[' => out.push(parse_set(tok, flags)?),
            '?' | '*' | '+' | '{' => {
                let here = tok.i;
                let (min, max) = match c {
                    '?' => (0, 1),
                    '*' => (0, MAXREPEAT),
                    '+' => (1, MAXREPEAT),
                    _ => {
                        if tok.next_is('}') {
                            out.push(Node::Lit('{' as u32, flags));
                            continue;
                        }
                        let lo = tok.getwhile(usize::MAX, |c| c.is_ascii_digit());
                        let hi = if tok.eat(',') {
                            tok.getwhile(usize::MAX, |c| c.is_ascii_digit())
                        } else {
                            lo.clone()
                        };
                        if !tok.eat('}') {
                            out.push(Node::Lit('{' as u32, flags));
                            tok.i = here;
                            continue;
                        }
                        let big = |s: &str| {
                            s.len() > 10 || s.parse::<u64>().map_or(true, |v| v >= MAXREPEAT)
                        };
                        let overflow = ReError {
                            message: "the repetition number is too large".into(),
                            crash: Some("OverflowError"),
                        };
                        let min = if lo.is_empty() {
                            0
                        } else if big(&lo) {
                            return Err(overflow);
                        } else {
                            lo.parse().unwrap_or(0)
                        };
                        let max = if hi.is_empty() {
                            MAXREPEAT
                        } else if big(&hi) {
                            return Err(overflow);
                        } else {
                            hi.parse().unwrap_or(0)
                        };
                        if max < min {
                            return Err(err("min repeat greater than max repeat"));
                        }
                        (min, max)
                    }
                };
                let item = match out.pop() {
                    None | Some(Node::At(..)) => return Err(err("nothing to repeat")),
                    Some(Node::Repeat(..)) => return Err(err("multiple repeat")),
                    Some(n) => n,
                };
                let kind = if tok.eat('?') {
                    RepKind::Lazy
                } else if tok.eat('+') {
                    RepKind::Possessive
                } else {
                    RepKind::Greedy
                };
                let body = match item {
                    Node::Group(None, b) => b,
                    other => vec![other],
                };
                out.push(Node::Repeat(min, max, kind, body));
            }
            '.' => out.push(Node::Any(flags)),
            '^' => out.push(Node::At(At::Beginning, flags)),
            '$' => out.push(Node::At(At::End, flags)),
            '(' => {
                let mut capture = true;
                let mut atomic = false;
                let mut name: Option<String> = None;
                let mut add = 0u32;
                let mut del = 0u32;
                if tok.eat('?') {
                    let Some(ch) = tok.get()? else {
                        return Err(err("unexpected end of pattern"));
                    };
                    match ch.as_str() {
                        "P" => {
                            if tok.eat('<') {
                                let n = tok.getuntil('>', "group name")?;
                                if !is_identifier(&n) {
                                    return Err(err(&format!("bad character in group name '{n}'")));
                                }
                                name = Some(n);
                            } else if tok.eat('=') {
                                let n = tok.getuntil(')', "group name")?;
                                if !is_identifier(&n) {
                                    return Err(err(&format!("bad character in group name '{n}'")));
                                }
                                let Some(gid) =
                                    st.groupdict.iter().find(|(k, _)| *k == n).map(|(_, g)| *g)
                                else {
                                    return Err(err(&format!("unknown group name '{n}'")));
                                };
                                if !st.checkgroup(gid) {
                                    return Err(err("cannot refer to an open group"));
                                }
                                st.checklookbehindgroup(gid)?;
                                out.push(Node::Backref(gid, flags));
                                continue;
                            } else {
                                return Err(match tok.get()? {
                                    None => err("unexpected end of pattern"),
                                    Some(c) => err(&format!("unknown extension ?P{c}")),
                                });
                            }
                        }
                        ":" => capture = false,
                        "#" => {
                            loop {
                                match tok.get()? {
                                    None => return Err(err("missing ), unterminated comment")),
                                    Some(t) if t == ")" => break,
                                    _ => {}
                                }
                            }
                            continue;
                        }
                        "=" | "!" | "<" => {
                            let mut kind = ch.clone();
                            let mut ahead = true;
                            let mut saved_lb = None;
                            if kind == "<" {
                                let Some(k2) = tok.get()? else {
                                    return Err(err("unexpected end of pattern"));
                                };
                                if k2 != "=" && k2 != "!" {
                                    return Err(err(&format!("unknown extension ?<{k2}")));
                                }
                                kind = k2;
                                ahead = false;
                                saved_lb = Some(st.lookbehindgroups);
                                if st.lookbehindgroups.is_none() {
                                    st.lookbehindgroups = Some(st.groups());
                                }
                            }
                            let body = parse_sub(tok, st, verbose, nested + 1, fl)?;
                            if let Some(prev) = saved_lb {
                                if prev.is_none() {
                                    st.lookbehindgroups = None;
                                }
                            }
                            if !tok.eat(')') {
                                return Err(err("missing ), unterminated subpattern"));
                            }
                            let (lo, hi) = width(&body, st);
                            if !ahead && lo != hi {
                                return Err(err("look-behind requires fixed-width pattern"));
                            }
                            out.push(Node::Assert {
                                ahead,
                                negate: kind == "!",
                                body,
                                width: lo as usize,
                            });
                            continue;
                        }
                        "(" => {
                            let cond = tok.getuntil(')', "group name")?;
                            let gid = if is_identifier(&cond) {
                                match st.groupdict.iter().find(|(k, _)| *k == cond) {
                                    Some((_, g)) => *g,
                                    None => {
                                        return Err(err(&format!("unknown group name '{cond}'")))
                                    }
                                }
                            } else {
                                // Python's int(): Unicode digits and signs accepted.
                                let v = super::text::parse_int(&cond, 10)
                                    .filter(|v| !v.negative)
                                    .ok_or_else(|| {
                                    err(&format!("bad character in group name '{cond}'"))
                                })?;
                                let g = if v.digits.len() > 12 {
                                    usize::MAX
                                } else {
                                    v.digits.parse().unwrap_or(usize::MAX)
                                };
                                if g == 0 {
                                    return Err(err("bad group number"));
                                }
                                if g >= MAXGROUPS {
                                    return Err(err(&format!("invalid group reference {g}")));
                                }
                                st.grouprefpos.push(g);
                                g
                            };
                            st.checklookbehindgroup(gid)?;
                            let yes = parse(tok, st, verbose, nested + 1, false, fl)?;
                            let no = if tok.eat('|') {
                                let no = parse(tok, st, verbose, nested + 1, false, fl)?;
                                if tok.next_is('|') {
                                    return Err(err(
                                        "conditional backref with more than two branches",
                                    ));
                                }
                                Some(no)
                            } else {
                                None
                            };
                            if !tok.eat(')') {
                                return Err(err("missing ), unterminated subpattern"));
                            }
                            out.push(Node::Cond(gid, yes, no));
                            continue;
                        }
                        ">" => {
                            capture = false;
                            atomic = true;
                        }
                        s if s == "-"
                            || s.chars().next().and_then(flag_of).is_some()
                                && s.chars().count() == 1 =>
                        {
                            match parse_flags(tok, st, s.chars().next().unwrap_or('-'))? {
                                None => {
                                    if !first || !out.is_empty() {
                                        return Err(err(
                                            "global flags not at the start of the expression",
                                        ));
                                    }
                                    verbose = st.flags & F_VERBOSE != 0;
                                    continue;
                                }
                                Some((a, d)) => {
                                    add = a;
                                    del = d;
                                    capture = false;
                                }
                            }
                        }
                        other => return Err(err(&format!("unknown extension ?{other}"))),
                    }
                }
                let group = if capture {
                    let gid = st.groups();
                    st.groupwidths.push(None);
                    if st.groups() > MAXGROUPS {
                        return Err(err("too many groups"));
                    }
                    if let Some(n) = &name {
                        if st.groupdict.iter().any(|(k, _)| k == n) {
                            return Err(err(&format!("redefinition of group name '{n}'")));
                        }
                        st.groupdict.push((n.clone(), gid));
                    }
                    Some(gid)
                } else {
                    None
                };
                let sub_verbose = (verbose || add & F_VERBOSE != 0) && del & F_VERBOSE == 0;
                let sub_fl = (fl | add) & !del;
                let body = parse_sub(tok, st, sub_verbose, nested + 1, sub_fl)?;
                if !tok.eat(')') {
                    return Err(err("missing ), unterminated subpattern"));
                }
                if let Some(g) = group {
                    st.groupwidths[g] = Some(width(&body, st));
                }
                if atomic {
                    out.push(Node::Atomic(body));
                } else {
                    out.push(Node::Group(group, body));
                }
            }
            _ => out.push(Node::Lit(c as u32, flags)),
        }
    }
    Ok(out)
}

fn parse_flags(tok: &mut Tok, st: &mut State, first: char) -> Result<Option<(u32, u32)>, ReError> {
    let mut add = 0u32;
    let mut del = 0u32;
    let mut ch = Some(first);
    if first != '-' {
        loop {
            let c = ch.unwrap_or(')');
            let f = flag_of(c).unwrap_or(0);
            if c == 'L' {
                return Err(err(
                    "bad inline flags: cannot use 'L' flag with a str pattern",
                ));
            }
            add |= f;
            if f & TYPE_FLAGS != 0 && add & TYPE_FLAGS != f {
                return Err(err(
                    "bad inline flags: flags 'a', 'u' and 'L' are incompatible",
                ));
            }
            ch = tok.get()?.and_then(|t| {
                if t.chars().count() == 1 {
                    t.chars().next()
                } else {
                    Some('\u{0}')
                }
            });
            match ch {
                None => return Err(err("missing -, : or )")),
                Some(')' | '-' | ':') => break,
                Some(c) if flag_of(c).is_none() => {
                    return Err(err(if c.is_alphabetic() {
                        "unknown flag"
                    } else {
                        "missing -, : or )"
                    }))
                }
                _ => {}
            }
        }
    }
    if ch == Some(')') {
        st.flags |= add;
        return Ok(None);
    }
    if add & GLOBAL_FLAGS != 0 {
        return Err(err("bad inline flags: cannot turn on global flag"));
    }
    if ch == Some('-') {
        ch = tok.get()?.and_then(|t| t.chars().next());
        match ch {
            None => return Err(err("missing flag")),
            Some(c) if flag_of(c).is_none() => {
                return Err(err(if c.is_alphabetic() {
                    "unknown flag"
                } else {
                    "missing flag"
                }))
            }
            _ => {}
        }
        loop {
            let c = ch.unwrap_or(':');
            let f = flag_of(c).unwrap_or(0);
            if f & TYPE_FLAGS != 0 {
                return Err(err(
                    "bad inline flags: cannot turn off flags 'a', 'u' and 'L'",
                ));
            }
            del |= f;
            ch = tok.get()?.and_then(|t| {
                if t.chars().count() == 1 {
                    t.chars().next()
                } else {
                    Some('\u{0}')
                }
            });
            match ch {
                None => return Err(err("missing :")),
                Some(':') => break,
                Some(c) if flag_of(c).is_none() => {
                    return Err(err(if c.is_alphabetic() {
                        "unknown flag"
                    } else {
                        "missing :"
                    }))
                }
                _ => {}
            }
        }
    }
    if add & del != 0 {
        return Err(err("bad inline flags: flag turned on and off"));
    }
    Ok(Some((add, del)))
}

fn parse_set(tok: &mut Tok, flags: NodeFlags) -> Result<Node, ReError> {
    let mut set: Vec<SetItem> = Vec::new();
    let negate = tok.eat('^');
    loop {
        let Some(this) = tok.get()? else {
            return Err(err("unterminated character set"));
        };
        if this == "]" && !set.is_empty() {
            break;
        }
        let code1 = if this.starts_with('\\') {
            class_escape(tok, &this)?
        } else {
            Esc::Lit(this.chars().next().unwrap_or('\0') as u32)
        };
        if tok.eat('-') {
            let Some(that) = tok.get()? else {
                return Err(err("unterminated character set"));
            };
            if that == "]" {
                set.push(esc_item(code1));
                set.push(SetItem::Lit('-' as u32));
                break;
            }
            let code2 = if that.starts_with('\\') {
                class_escape(tok, &that)?
            } else {
                Esc::Lit(that.chars().next().unwrap_or('\0') as u32)
            };
            match (code1, code2) {
                (Esc::Lit(lo), Esc::Lit(hi)) if hi >= lo => set.push(SetItem::Range(lo, hi)),
                _ => return Err(err(&format!("bad character range {this}-{that}"))),
            }
        } else {
            set.push(esc_item(code1));
        }
    }
    if set.len() == 1 {
        if let SetItem::Lit(v) = set[0] {
            return Ok(if negate {
                Node::NotLit(v, flags)
            } else {
                Node::Lit(v, flags)
            });
        }
    }
    Ok(Node::Set(negate, set, flags))
}

fn esc_item(e: Esc) -> SetItem {
    match e {
        Esc::Lit(v) => SetItem::Lit(v),
        Esc::Cat(c) => SetItem::Cat(c),
        // Class escapes never produce anchors or references.
        Esc::At(_) | Esc::Ref(_) => SetItem::Lit(0),
    }
}

impl PyRegex {
    /// Python `re.compile(pattern)`.
    pub fn compile(pattern: &str) -> Result<PyRegex, ReError> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut tok = Tok { s: &chars, i: 0 };
        let mut st = State {
            flags: 0,
            groupdict: Vec::new(),
            groupwidths: vec![None],
            lookbehindgroups: None,
            grouprefpos: Vec::new(),
        };
        let mut nodes = parse_sub(&mut tok, &mut st, false, 0, 0)?;
        if st.flags & F_ASCII != 0 && st.flags & F_UNICODE != 0 {
            return Err(ReError {
                message: "ASCII and UNICODE flags are incompatible".into(),
                crash: Some("ValueError"),
            });
        }
        if tok.peek()?.is_some() {
            return Err(err("unbalanced parenthesis"));
        }
        for g in &st.grouprefpos {
            if *g >= st.groups() {
                return Err(err(&format!("invalid group reference {g}")));
            }
        }
        // Global flags found anywhere at the start apply to every node.
        let global = st.flags;
        apply_global(&mut nodes, global);
        Ok(PyRegex {
            nodes,
            groups: st.groups(),
        })
    }

    /// `re.match`: a match starting at position 0 (any length).
    pub fn is_match_start(&self, subject: &str) -> bool {
        let s: Vec<char> = subject.chars().collect();
        self.match_at(&s, 0, false)
    }

    /// `re.fullmatch`.
    pub fn is_full_match(&self, subject: &str) -> bool {
        let s: Vec<char> = subject.chars().collect();
        self.match_at(&s, 0, true)
    }

    /// `re.search`: a match starting anywhere.
    pub fn is_search_match(&self, subject: &str) -> bool {
        let s: Vec<char> = subject.chars().collect();
        (0..=s.len()).any(|i| self.match_at(&s, i, false))
    }

    fn match_at(&self, s: &[char], start: usize, full: bool) -> bool {
        let m = Matcher { s };
        let mut caps: Caps = vec![None; self.groups];
        m.seq(&self.nodes, start, &mut caps, &mut |p, _| {
            !full || p == s.len()
        })
    }
}

fn apply_global(nodes: &mut [Node], g: u32) {
    for n in nodes {
        match n {
            Node::Lit(_, f)
            | Node::NotLit(_, f)
            | Node::Any(f)
            | Node::Set(_, _, f)
            | Node::Cat(_, f)
            | Node::At(_, f)
            | Node::Backref(_, f) => f.0 |= g,
            Node::Group(_, b) | Node::Atomic(b) | Node::Repeat(_, _, _, b) => apply_global(b, g),
            Node::Assert { body, .. } => apply_global(body, g),
            Node::Branch(alts) => {
                for a in alts {
                    apply_global(a, g);
                }
            }
            Node::Cond(_, y, n) => {
                apply_global(y, g);
                if let Some(n) = n {
                    apply_global(n, g);
                }
            }
        }
    }
}

// ---------------------------------------------------------------- matching

type Caps = Vec<Option<(usize, usize)>>;
type Cont<'k> = &'k mut dyn FnMut(usize, &mut Caps) -> bool;

struct Matcher<'s> {
    s: &'s [char],
}

fn lower(c: u32) -> u32 {
    char::from_u32(c)
        .map(|ch| {
            let mut l = ch.to_lowercase();
            match (l.next(), l.next()) {
                (Some(x), None) => x as u32,
                _ => c,
            }
        })
        .unwrap_or(c)
}

fn upper(c: u32) -> u32 {
    char::from_u32(c)
        .map(|ch| {
            let mut u = ch.to_uppercase();
            match (u.next(), u.next()) {
                (Some(x), None) => x as u32,
                _ => c,
            }
        })
        .unwrap_or(c)
}

fn cat_match(cat: Cat, c: char, f: NodeFlags) -> bool {
    let ascii = f.0 & F_ASCII != 0;
    let digit = |c: char| {
        if ascii {
            c.is_ascii_digit()
        } else {
            is_decimal(c)
        }
    };
    let space = |c: char| {
        if ascii {
            matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{b}' | '\u{c}')
        } else {
            is_space(c)
        }
    };
    let word = |c: char| {
        if ascii {
            c.is_ascii_alphanumeric() || c == '_'
        } else {
            c == '_' || is_alnum(c)
        }
    };
    match cat {
        Cat::Digit => digit(c),
        Cat::NotDigit => !digit(c),
        Cat::Space => space(c),
        Cat::NotSpace => !space(c),
        Cat::Word => word(c),
        Cat::NotWord => !word(c),
    }
}

fn lit_eq(lit: u32, c: char, f: NodeFlags) -> bool {
    let c = c as u32;
    if c == lit {
        return true;
    }
    if f.0 & F_IGNORECASE != 0 {
        if f.0 & F_ASCII != 0 {
            return c < 128 && lit < 128 && lower(c) == lower(lit);
        }
        return lower(c) == lower(lit) || upper(c) == upper(lit);
    }
    false
}

fn set_match(items: &[SetItem], c: char, f: NodeFlags) -> bool {
    let icase = f.0 & F_IGNORECASE != 0;
    let cands: Vec<u32> = if icase {
        let v = c as u32;
        let mut out = vec![v, lower(v), upper(v)];
        if f.0 & F_ASCII != 0 && v >= 128 {
            out.truncate(1);
        }
        out
    } else {
        vec![c as u32]
    };
    items.iter().any(|it| match it {
        SetItem::Lit(l) => cands.iter().any(|x| x == l),
        SetItem::Range(lo, hi) => cands.iter().any(|x| lo <= x && x <= hi),
        SetItem::Cat(cat) => cat_match(*cat, c, f),
    })
}

impl Matcher<'_> {
    fn one(&self, n: &Node, pos: usize) -> Option<bool> {
        let c = self.s.get(pos).copied();
        Some(match n {
            Node::Lit(v, f) => c.is_some_and(|c| lit_eq(*v, c, *f)),
            Node::NotLit(v, f) => c.is_some_and(|c| !lit_eq(*v, c, *f)),
            Node::Any(f) => c.is_some_and(|c| c != '\n' || f.0 & F_DOTALL != 0),
            Node::Set(neg, items, f) => c.is_some_and(|c| set_match(items, c, *f) != *neg),
            Node::Cat(cat, f) => c.is_some_and(|c| cat_match(*cat, c, *f)),
            _ => return None,
        })
    }

    fn at(&self, a: At, pos: usize, f: NodeFlags) -> bool {
        let s = self.s;
        let ml = f.0 & F_MULTILINE != 0;
        let word = |c: char| cat_match(Cat::Word, c, f);
        match a {
            At::BeginningString => pos == 0,
            At::Beginning => pos == 0 || (ml && s.get(pos - 1) == Some(&'\n')),
            At::EndString => pos == s.len(),
            At::End => {
                pos == s.len()
                    || (pos + 1 == s.len() && s[pos] == '\n')
                    || (ml && s.get(pos) == Some(&'\n'))
            }
            At::Boundary | At::NonBoundary => {
                if s.is_empty() {
                    return false;
                }
                let before = pos > 0 && word(s[pos - 1]);
                let after = pos < s.len() && word(s[pos]);
                (before != after) == (a == At::Boundary)
            }
        }
    }

    fn seq(&self, nodes: &[Node], pos: usize, caps: &mut Caps, k: Cont) -> bool {
        let Some((first, rest)) = nodes.split_first() else {
            return k(pos, caps);
        };
        if let Some(ok) = self.one(first, pos) {
            return ok && self.seq(rest, pos + 1, caps, k);
        }
        self.node(first, pos, caps, &mut |p, c| self.seq(rest, p, c, k))
    }

    fn node(&self, n: &Node, pos: usize, caps: &mut Caps, k: Cont) -> bool {
        match n {
            Node::At(a, f) => self.at(*a, pos, *f) && k(pos, caps),
            Node::Group(None, body) => self.seq(body, pos, caps, k),
            Node::Group(Some(g), body) => {
                let g = *g;
                self.seq(body, pos, caps, &mut |p, c| {
                    let saved = c[g];
                    c[g] = Some((pos, p));
                    if k(p, c) {
                        return true;
                    }
                    c[g] = saved;
                    false
                })
            }
            Node::Branch(alts) => alts.iter().any(|a| self.seq(a, pos, caps, k)),
            Node::Repeat(min, max, kind, body) => match kind {
                RepKind::Possessive => {
                    let mut p = pos;
                    let mut count = 0u64;
                    while count < *max {
                        match self.first_end(body, p, caps) {
                            Some(np) if !(np == p && count >= *min) => {
                                p = np;
                                count += 1;
                            }
                            _ => break,
                        }
                    }
                    count >= *min && k(p, caps)
                }
                _ => self.rep(body, *min, *max, *kind, 0, pos, None, caps, k),
            },
            Node::Backref(g, f) => {
                let Some(Some((a, b))) = caps.get(*g).copied() else {
                    return false;
                };
                let len = b - a;
                if pos + len > self.s.len() {
                    return false;
                }
                let ok = (0..len).all(|i| lit_eq(self.s[a + i] as u32, self.s[pos + i], *f));
                ok && k(pos + len, caps)
            }
            Node::Assert {
                ahead,
                negate,
                body,
                width,
            } => {
                let found = if *ahead {
                    let mut tmp = caps.clone();
                    self.seq(body, pos, &mut tmp, &mut |_, _| true)
                } else if pos < *width {
                    false
                } else {
                    let mut tmp = caps.clone();
                    self.seq(body, pos - width, &mut tmp, &mut |p, _| p == pos)
                };
                found != *negate && k(pos, caps)
            }
            Node::Atomic(body) => match self.first_end(body, pos, caps) {
                Some(p) => k(p, caps),
                None => false,
            },
            Node::Cond(g, yes, no) => {
                let set = caps.get(*g).copied().flatten().is_some();
                if set {
                    self.seq(yes, pos, caps, k)
                } else if let Some(no) = no {
                    self.seq(no, pos, caps, k)
                } else {
                    k(pos, caps)
                }
            }
            other => match self.one(other, pos) {
                Some(true) => k(pos + 1, caps),
                _ => false,
            },
        }
    }

    /// The end of the first way `body` matches at `pos` (atomic: no backtracking in).
    fn first_end(&self, body: &[Node], pos: usize, caps: &mut Caps) -> Option<usize> {
        let mut end = None;
        let mut found_caps = None;
        self.seq(body, pos, caps, &mut |p, c| {
            end = Some(p);
            found_caps = Some(c.clone());
            true
        });
        if let Some(c) = found_caps {
            *caps = c;
        }
        end
    }

    #[allow(clippy::too_many_arguments)]
    fn rep(
        &self,
        body: &[Node],
        min: u64,
        max: u64,
        kind: RepKind,
        count: u64,
        pos: usize,
        last_start: Option<usize>,
        caps: &mut Caps,
        k: Cont,
    ) -> bool {
        // Single-character bodies: count matches iteratively (no deep recursion).
        if let [one] = body {
            if self.one(one, pos).is_some() {
                let mut n = 0usize;
                while (count + n as u64) < max && self.one(one, pos + n) == Some(true) {
                    n += 1;
                }
                let need = min.saturating_sub(count) as usize;
                if n < need {
                    return false;
                }
                return match kind {
                    RepKind::Lazy => (need..=n).any(|i| k(pos + i, caps)),
                    _ => (need..=n).rev().any(|i| k(pos + i, caps)),
                };
            }
        }
        if count < min {
            return self.seq(body, pos, caps, &mut |p, c| {
                self.rep(body, min, max, kind, count + 1, p, last_start, c, k)
            });
        }
        // Another optional iteration only if the previous optional one moved.
        let may_iterate = count < max && last_start != Some(pos);
        let more = |caps: &mut Caps, k: Cont| {
            may_iterate
                && self.seq(body, pos, caps, &mut |p, c| {
                    self.rep(body, min, max, kind, count + 1, p, Some(pos), c, k)
                })
        };
        match kind {
            RepKind::Lazy => k(pos, caps) || more(caps, k),
            _ => more(caps, k) || k(pos, caps),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(p: &str) -> PyRegex {
        PyRegex::compile(p).unwrap_or_else(|e| panic!("{p:?}: {}", e.message))
    }

    #[test]
    fn compile_errors_like_python() {
        for bad in [
            "*",
            "[6[-7]",
            "(",
            ")",
            "a**",
            "a{2,1}",
            "\\q",
            "[z-a]",
            "(?<a>x)",
            "\\1",
            "(?P<1>x)",
            "a|*",
            "^*",
            "(?i",
            "x(?i)",
            "(?<=a+)b",
            "\\",
            "[a",
            "(?P=n)",
            "\\x4",
            "(?(2)a)",
            "(a)(?(1)b|c|d)",
            "(?L)a",
            "(?au)a",
            "(?-a:x)",
        ] {
            assert!(PyRegex::compile(bad).is_err(), "{bad:?} should not compile");
        }
        for good in [
            "a{",
            "a{,}",
            "{",
            "a{1",
            "[]a]",
            "[a-]",
            "(?i)0A",
            "(?=0)0",
            "(?<=0)7",
            "a*?",
            "a*+",
            "(?>a)",
            "(a)\\1",
            "(?P<n>a)(?P=n)",
            "\\d{2}",
            "[\\d]",
            "(?#c)",
            "(?x) 0 7 # c",
            "(?i:a)b",
            "\\0",
            "\\08",
            "[\\b]",
            "a{,2}",
            "(?s).",
            "\\-",
        ] {
            ok(good);
        }
        assert_eq!(
            PyRegex::compile("a{99999999999}").unwrap_err().crash,
            Some("OverflowError")
        );
    }

    #[test]
    fn match_is_anchored_at_start_only() {
        let r = ok("0");
        assert!(r.is_match_start("07"));
        assert!(r.is_match_start("0a"));
        assert!(!r.is_match_start("10"));
        assert!(!ok("0$").is_match_start("07"));
        assert!(ok("07$").is_match_start("07\n"));
        assert!(ok("[0-2]").is_match_start("1"));
        assert!(!ok("0A").is_match_start("0a"));
        assert!(ok("(?i)0A").is_match_start("0a"));
        assert!(ok("a{").is_match_start("a{"));
        assert!(ok("(a)\\1").is_match_start("aa"));
        assert!(ok("(?<=0)7|0").is_match_start("07"));
        assert!(!ok("\\b").is_match_start(""));
        assert!(ok("(?:a|ab)c").is_match_start("abc"));
        assert!(!ok("(?>a|ab)c").is_match_start("abc"));
        assert!(!ok("a*+a").is_match_start("aaa"));
        assert!(ok("(a*)*b").is_match_start("b"));
    }

    #[test]
    fn flavor_pattern_fullmatch() {
        let r = ok(r"[^:]+:\d+(?:\s*,\s*[^:]+:\d+)*");
        assert!(r.is_full_match("igbnic:1"));
        assert!(r.is_full_match("a1:2 , a2:1"));
        assert!(r.is_full_match("a1,a2:1"));
        assert!(!r.is_full_match("a1 : 2"));
        assert!(r.is_full_match("a:٣"));
        assert!(!r.is_full_match("a:"));
    }
}
