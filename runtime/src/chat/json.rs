//! `tojson` exactly as Hugging Face's chat-template environment defines it: Python's
//! `json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)`.
//!
//! Python details reproduced: `", "` and `": "` separators without indent, `","` and `": "`
//! with one; `indent` as a number of spaces or a string; floats in `repr` form (`1.0`,
//! `1e-07`, `NaN`, `Infinity`); non-ASCII kept raw unless `ensure_ascii` (then `\uXXXX`,
//! surrogate pairs above the BMP); control characters as `\n`, `\t`, ... or `\u00XX`; dict
//! keys that are numbers, booleans or None become strings as Python does.

use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Error, ErrorKind};

/// Serialization options (the keyword arguments of `json.dumps` HF exposes).
#[derive(Debug, Clone)]
pub(crate) struct JsonOpts {
    pub ensure_ascii: bool,
    pub indent: Option<String>,
    pub item_sep: String,
    pub key_sep: String,
    pub sort_keys: bool,
}

impl JsonOpts {
    /// Build from the filter's positional (HF order: ensure_ascii, indent, separators,
    /// sort_keys) and keyword arguments.
    pub(crate) fn from_args(args: &[Value], kwargs: &Kwargs) -> Result<Self, Error> {
        let arg = |i: usize, name: &str| -> Result<Option<Value>, Error> {
            if kwargs.has(name) { Ok(Some(kwargs.get::<Value>(name)?)) } else { Ok(args.get(i).cloned()) }
        };
        if args.len() > 4 {
            return Err(Error::new(ErrorKind::TooManyArguments, "tojson takes at most 4 arguments"));
        }
        let ensure_ascii = arg(0, "ensure_ascii")?.is_some_and(|v| v.is_true());
        let indent = match arg(1, "indent")? {
            None => None,
            Some(v) if v.is_none() || v.is_undefined() => None,
            Some(v) if v.kind() == ValueKind::String => Some(String::from(v.as_str().unwrap_or(""))),
            Some(v) => {
                let n = i64::try_from(v).map_err(|_| {
                    Error::new(ErrorKind::InvalidOperation, "tojson: indent must be an int or a string")
                })?;
                Some(" ".repeat(n.max(0) as usize))
            }
        };
        let (item_sep, key_sep) = if indent.is_some() { (",", ": ") } else { (", ", ": ") };
        let (mut item_sep, mut key_sep) = (String::from(item_sep), String::from(key_sep));
        if let Some(seps) = arg(2, "separators")?
            && !seps.is_none()
            && !seps.is_undefined()
        {
            let parts: Vec<Value> = seps.try_iter()?.collect();
            if parts.len() != 2 {
                return Err(Error::new(ErrorKind::InvalidOperation, "tojson: separators must be a pair"));
            }
            item_sep = parts[0].as_str().unwrap_or(",").into();
            key_sep = parts[1].as_str().unwrap_or(":").into();
        }
        let sort_keys = arg(3, "sort_keys")?.is_some_and(|v| v.is_true());
        kwargs.assert_all_used()?;
        Ok(Self { ensure_ascii, indent, item_sep, key_sep, sort_keys })
    }
}

/// Python's `float.__repr__`: shortest round-trip digits, fixed notation for exponents in
/// `[-4, 16)`, otherwise `d.ddde+XX` with at least two exponent digits.
pub(crate) fn py_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "-1.2345e-7", "1e16", "0e0".
    let e = format!("{x:e}");
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mant) = mant.strip_prefix('-').map_or((false, mant), |m| (true, m));
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let sign = if neg { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let n = digits.len() as i32;
        let s = if exp >= 0 {
            if n <= exp + 1 {
                format!("{digits}{}.0", "0".repeat((exp + 1 - n) as usize))
            } else {
                let (a, b) = digits.split_at((exp + 1) as usize);
                format!("{a}.{b}")
            }
        } else {
            format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
        };
        format!("{sign}{s}")
    } else {
        let (a, b) = digits.split_at(1);
        let m = if b.is_empty() { String::from(a) } else { format!("{a}.{b}") };
        let es = if exp < 0 { '-' } else { '+' };
        format!("{sign}{m}e{es}{:02}", exp.abs())
    }
}

fn write_str(out: &mut String, s: &str, ensure_ascii: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (ensure_ascii && (c as u32) > 0x7e) => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The string Python uses for a dict key.
fn key_string(k: &Value) -> Result<String, Error> {
    Ok(match k.kind() {
        ValueKind::String => String::from(k.as_str().unwrap_or("")),
        ValueKind::Bool => String::from(if k.is_true() { "true" } else { "false" }),
        ValueKind::None => String::from("null"),
        ValueKind::Number if k.is_integer() => k.to_string(),
        ValueKind::Number => py_float_repr(f64::try_from(k.clone())?),
        _ => {
            return Err(Error::new(
                ErrorKind::BadSerialization,
                "tojson: keys must be str, int, float, bool or None",
            ));
        }
    })
}

fn newline(out: &mut String, opts: &JsonOpts, level: usize) {
    if let Some(ind) = &opts.indent {
        out.push('\n');
        for _ in 0..level {
            out.push_str(ind);
        }
    }
}

/// Serialize `v` like `json.dumps`.
pub(crate) fn dumps(v: &Value, opts: &JsonOpts, level: usize, out: &mut String) -> Result<(), Error> {
    if level > 256 {
        return Err(Error::new(ErrorKind::BadSerialization, "tojson: nesting too deep"));
    }
    match v.kind() {
        ValueKind::Undefined => {
            return Err(Error::new(
                ErrorKind::BadSerialization,
                "tojson: Undefined is not JSON serializable",
            ));
        }
        ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number if v.is_integer() => out.push_str(&v.to_string()),
        ValueKind::Number => out.push_str(&py_float_repr(f64::try_from(v.clone())?)),
        ValueKind::String => write_str(out, v.as_str().unwrap_or(""), opts.ensure_ascii),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = v.try_iter()?.collect();
            if items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(&opts.item_sep);
                }
                newline(out, opts, level + 1);
                dumps(it, opts, level + 1, out)?;
            }
            newline(out, opts, level);
            out.push(']');
        }
        ValueKind::Map => {
            let mut pairs = Vec::new();
            for k in v.try_iter()? {
                let val = v.get_item(&k)?;
                pairs.push((key_string(&k)?, val));
            }
            if opts.sort_keys {
                pairs.sort_by(|a, b| a.0.cmp(&b.0));
            }
            if pairs.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            out.push('{');
            for (i, (k, val)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push_str(&opts.item_sep);
                }
                newline(out, opts, level + 1);
                write_str(out, k, opts.ensure_ascii);
                out.push_str(&opts.key_sep);
                dumps(val, opts, level + 1, out)?;
            }
            newline(out, opts, level);
            out.push('}');
        }
        _ => {
            return Err(Error::new(
                ErrorKind::BadSerialization,
                format!("tojson: a {} is not JSON serializable", v.kind()),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_like_python() {
        // values and their Python 3 repr()
        for (x, s) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (1e-7, "1e-07"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (1234567890123456.0, "1234567890123456.0"),
            (1.5e300, "1.5e+300"),
            (0.0, "0.0"),
            (123.456, "123.456"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ] {
            assert_eq!(py_float_repr(x), s, "{x}");
        }
    }
}
