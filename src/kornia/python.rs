//! Kornia's constructor calls as a Python script writes them:
//! `K.AugmentationSequential(K.RandomAffine(30, p=1.0), K.ColorJitter(0.2, 0.2), data_keys=
//! ["input", "bbox_xyxy"])`. A small reader of Python's call and literal syntax (calls on
//! dotted names, positional and keyword arguments, numbers, strings, `True`/`False`/`None`,
//! tuples, lists, dicts, `torch.tensor([...])`, enum members such as `Resample.BILINEAR`),
//! giving each call's class and its arguments as JSON for [`crate::AugSpec::from_kornia`].

use crate::{Error, Result};
use serde_json::{Map, Value};

const OP: &str = "AugSpec::from_kornia_python";

/// A call: the class (the last part of its dotted name), its positional and its keyword
/// arguments.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Call {
    pub(crate) class: String,
    pub(crate) args: Vec<Expr>,
    pub(crate) kwargs: Vec<(String, Expr)>,
}

/// An argument: a call (a container's step) or a value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Call(Call),
    Value(Value),
}

/// How deeply calls and literals may nest (a container's steps nest a few levels; this
/// bounds the reader's recursion).
const MAX_DEPTH: usize = 64;

/// Reads one call, the whole of `source` (blank space and a trailing `#` comment aside).
pub(crate) fn parse_call(source: &str) -> Result<Call> {
    let mut p = Parser {
        src: source.as_bytes(),
        text: source,
        at: 0,
        depth: 0,
    };
    let expr = p.expr()?;
    p.blank();
    if p.at < p.src.len() {
        return Err(p.error("the end of the call"));
    }
    match expr {
        Expr::Call(c) => Ok(c),
        Expr::Value(v) => Err(Error::Config {
            op: OP,
            name: "source",
            value: v.to_string(),
            allowed: "a Kornia constructor call, such as K.RandomAffine(30, p=1.0)".into(),
        }),
    }
}

struct Parser<'a> {
    src: &'a [u8],
    text: &'a str,
    at: usize,
    depth: usize,
}

impl Parser<'_> {
    fn error(&self, expected: &str) -> Error {
        let start = self.text[..self.at.min(self.text.len())]
            .char_indices()
            .rev()
            .nth(20)
            .map_or(0, |(i, _)| i);
        let end = (self.at + 20).min(self.text.len());
        let end = (end..=self.text.len())
            .find(|&i| self.text.is_char_boundary(i))
            .unwrap_or(self.text.len());
        Error::Config {
            op: OP,
            name: "source",
            value: format!(
                "{:?} at byte {} (`{}` ⟨here⟩ `{}`)",
                self.src
                    .get(self.at)
                    .map_or("the end".to_string(), |&b| (b as char).to_string()),
                self.at,
                &self.text[start..self.at.min(self.text.len())],
                &self.text[self.at.min(self.text.len())..end]
            ),
            allowed: expected.into(),
        }
    }

    /// Skips spaces, newlines and `#` comments.
    fn blank(&mut self) {
        while let Some(&b) = self.src.get(self.at) {
            match b {
                b' ' | b'\t' | b'\n' | b'\r' | b'\\' => self.at += 1,
                b'#' => {
                    while self.src.get(self.at).is_some_and(|&b| b != b'\n') {
                        self.at += 1;
                    }
                }
                _ => break,
            }
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.blank();
        self.src.get(self.at).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn ident(&mut self) -> Option<String> {
        self.blank();
        let start = self.at;
        while self
            .src
            .get(self.at)
            .is_some_and(|&b| b == b'_' || b.is_ascii_alphanumeric())
        {
            if self.at == start && self.src[self.at].is_ascii_digit() {
                break;
            }
            self.at += 1;
        }
        (self.at > start).then(|| self.text[start..self.at].to_string())
    }

    fn expr(&mut self) -> Result<Expr> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(&format!("values nested at most {MAX_DEPTH} deep")));
        }
        let e = self.expr_inner();
        self.depth -= 1;
        e
    }

    fn expr_inner(&mut self) -> Result<Expr> {
        let value = |v: Value| Ok(Expr::Value(v));
        match self.peek() {
            Some(b'(') => {
                self.at += 1;
                let (items, trailing_comma) = self.items(b')')?;
                // `(x)` is x; `(x,)` and `(x, y)` are tuples.
                if items.len() == 1 && !trailing_comma {
                    value(items.into_iter().next().unwrap_or(Value::Null))
                } else {
                    value(Value::Array(items))
                }
            }
            Some(b'[') => {
                self.at += 1;
                value(Value::Array(self.items(b']')?.0))
            }
            Some(b'{') => {
                self.at += 1;
                value(Value::Object(self.dict()?))
            }
            Some(b'"' | b'\'') => value(Value::String(self.string()?)),
            Some(b'-' | b'+' | b'.' | b'0'..=b'9') => value(self.number()?),
            Some(b) if b == b'_' || b.is_ascii_alphabetic() => self.name_or_call(),
            _ => Err(self.error(
                "a value: a number, a string, a tuple, a list, a dict, True, False, None or a call",
            )),
        }
    }

    /// Values up to `close`, comma-separated, and whether a comma ends them.
    fn items(&mut self, close: u8) -> Result<(Vec<Value>, bool)> {
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Ok((items, true));
            }
            items.push(self.value()?);
            if !self.eat(b',') {
                if self.eat(close) {
                    return Ok((items, false));
                }
                return Err(self.error(&format!("`,` or `{}`", close as char)));
            }
        }
    }

    /// A value (no call other than `torch.tensor(...)`).
    fn value(&mut self) -> Result<Value> {
        match self.expr()? {
            Expr::Value(v) => Ok(v),
            Expr::Call(c) => Err(Error::Config {
                op: OP,
                name: "source",
                value: format!("a call of {} inside a value", c.class),
                allowed: "values (numbers, strings, tuples, lists, dicts, torch.tensor([...])); \
                          calls only as a container's steps"
                    .into(),
            }),
        }
    }

    fn dict(&mut self) -> Result<Map<String, Value>> {
        let mut map = Map::new();
        loop {
            if self.eat(b'}') {
                return Ok(map);
            }
            let key = match self.value()? {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                _ => return Err(self.error("a string or number key")),
            };
            if !self.eat(b':') {
                return Err(self.error("`:`"));
            }
            map.insert(key, self.value()?);
            if !self.eat(b',') {
                if self.eat(b'}') {
                    return Ok(map);
                }
                return Err(self.error("`,` or `}`"));
            }
        }
    }

    fn string(&mut self) -> Result<String> {
        let quote = self.src[self.at];
        self.at += 1;
        let mut out = String::new();
        loop {
            let Some(&b) = self.src.get(self.at) else {
                return Err(self.error("the closing quote"));
            };
            if b == quote {
                self.at += 1;
                return Ok(out);
            }
            if b == b'\\' {
                let escaped = self.src.get(self.at + 1).copied();
                out.push(match escaped {
                    Some(b'n') => '\n',
                    Some(b't') => '\t',
                    Some(b'\\') => '\\',
                    Some(b'\'') => '\'',
                    Some(b'"') => '"',
                    _ => return Err(self.error("an escape: \\n, \\t, \\\\, \\' or \\\"")),
                });
                self.at += 2;
                continue;
            }
            let ch = self.text[self.at..].chars().next().unwrap_or('\u{fffd}');
            out.push(ch);
            self.at += ch.len_utf8();
        }
    }

    fn number(&mut self) -> Result<Value> {
        self.blank();
        let start = self.at;
        if matches!(self.src.get(self.at), Some(b'-' | b'+')) {
            self.at += 1;
        }
        while self.src.get(self.at).is_some_and(|&b| {
            b.is_ascii_digit()
                || b == b'.'
                || b == b'_'
                || b == b'e'
                || b == b'E'
                || ((b == b'-' || b == b'+') && matches!(self.src[self.at - 1], b'e' | b'E'))
        }) {
            self.at += 1;
        }
        let text: String = self.text[start..self.at].replace('_', "");
        if let Ok(i) = text.parse::<i64>() {
            return Ok(Value::from(i));
        }
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::from(f)),
            _ => {
                self.at = start;
                Err(self.error("a finite number"))
            }
        }
    }

    /// `True`, `False`, `None`, an enum member (`Resample.BILINEAR`: its name, as a
    /// string), `torch.tensor(v)` (`{"tensor": v}`), or a call.
    fn name_or_call(&mut self) -> Result<Expr> {
        let mut parts = vec![self.ident().unwrap_or_default()];
        while self.eat(b'.') {
            match self.ident() {
                Some(p) => parts.push(p),
                None => return Err(self.error("a name after `.`")),
            }
        }
        let last = parts.last().cloned().unwrap_or_default();
        if !self.eat(b'(') {
            return Ok(Expr::Value(match (parts.len(), last.as_str()) {
                (1, "True") => Value::Bool(true),
                (1, "False") => Value::Bool(false),
                (1, "None") => Value::Null,
                (n, name) if n > 1 => Value::String(name.to_string()),
                _ => {
                    return Err(Error::Config {
                        op: OP,
                        name: "source",
                        value: format!("the name `{last}`"),
                        allowed: "values written out (a script's variables are not known \
                                  here), True, False, None or an enum member such as \
                                  Resample.BILINEAR"
                            .into(),
                    })
                }
            }));
        }
        let mut args = Vec::new();
        let mut kwargs: Vec<(String, Expr)> = Vec::new();
        loop {
            if self.eat(b')') {
                break;
            }
            // A keyword: a name followed by `=` (not `==`).
            let mark = self.at;
            let keyword = match self.ident() {
                Some(k)
                    if self.peek() == Some(b'=') && self.src.get(self.at + 1) != Some(&b'=') =>
                {
                    self.at += 1;
                    Some(k)
                }
                _ => {
                    self.at = mark;
                    None
                }
            };
            let e = self.expr()?;
            match keyword {
                Some(k) => {
                    if kwargs.iter().any(|(name, _)| *name == k) {
                        return Err(self.error(&format!("`{k}` given once")));
                    }
                    kwargs.push((k, e));
                }
                None if !kwargs.is_empty() => {
                    return Err(self.error("keyword arguments after the positional ones"))
                }
                None => args.push(e),
            }
            if !self.eat(b',') {
                if self.eat(b')') {
                    break;
                }
                return Err(self.error("`,` or `)`"));
            }
        }
        if parts.len() == 2 && parts[0] == "torch" && matches!(last.as_str(), "tensor" | "Tensor") {
            return match (args.as_slice(), kwargs.is_empty()) {
                ([Expr::Value(v)], true) => Ok(Expr::Value(serde_json::json!({ "tensor": v }))),
                _ => Err(self.error("torch.tensor(values) with one argument")),
            };
        }
        Ok(Expr::Call(Call {
            class: last,
            args,
            kwargs,
        }))
    }
}
