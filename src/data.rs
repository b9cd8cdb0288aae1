//! The session's `d`: user data as the reference stores it, the exact text
//! `JSON.stringify` writes, because other programs read the same field.

use std::borrow::Cow;
use std::fmt::Write;

use serde::de::IgnoredAny;

use crate::js::number_to_string;

/// A JavaScript string. One cut through an emoji holds a lone surrogate,
/// which has no UTF-8 form, so such a string keeps its UTF-16 code units.
#[derive(Debug, Clone, PartialEq)]
pub enum JsText {
    Utf8(String),
    Utf16(Vec<u16>),
}

impl JsText {
    /// The string as a JSON literal, escaped exactly as `JSON.stringify` does.
    pub fn to_json(&self) -> String {
        match self {
            JsText::Utf8(s) => json_string(s),
            JsText::Utf16(units) => json_utf16(units),
        }
    }

    /// The string for a message, a lone surrogate shown as U+FFFD.
    pub fn to_lossy(&self) -> Cow<'_, str> {
        match self {
            JsText::Utf8(s) => Cow::Borrowed(s),
            JsText::Utf16(units) => Cow::Owned(String::from_utf16_lossy(units)),
        }
    }
}

impl From<&str> for JsText {
    fn from(s: &str) -> Self {
        JsText::Utf8(s.to_owned())
    }
}

impl From<String> for JsText {
    fn from(s: String) -> Self {
        JsText::Utf8(s)
    }
}

/// One value of `d` as a caller handed it over.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(f64),
    Text(JsText),
    /// Anything the reference refuses: objects, arrays, functions, undefined, symbols, bigints.
    Forbidden,
}

impl Value {
    /// The value's text inside a JSON document, as `JSON.stringify` writes it.
    pub fn to_json(&self) -> String {
        match self {
            Value::Null | Value::Forbidden => "null".to_owned(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) if n.is_finite() => number_to_string(*n),
            Value::Number(_) => "null".to_owned(),
            Value::Text(s) => s.to_json(),
        }
    }
}

/// A JSON string literal exactly as `JSON.stringify` escapes it.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    if s.bytes().any(needs_escape) {
        s.chars().for_each(|c| push_json_char(&mut out, c));
    } else {
        out.push_str(s);
    }
    out.push('"');
    out
}

/// `JSON.stringify` of a string given as UTF-16 code units: a lone surrogate
/// becomes `\udxxx` (lowercase hex), as in every engine since ES2019.
fn json_utf16(units: &[u16]) -> String {
    let mut out = String::with_capacity(units.len() + 2);
    out.push('"');
    for unit in char::decode_utf16(units.iter().copied()) {
        match unit {
            Ok(c) => push_json_char(&mut out, c),
            Err(lone) => push_unicode_escape(&mut out, u32::from(lone.unpaired_surrogate())),
        }
    }
    out.push('"');
    out
}

fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

fn push_json_char(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if c < ' ' => push_unicode_escape(out, u32::from(c)),
        c => out.push(c),
    }
}

fn push_unicode_escape(out: &mut String, unit: u32) {
    // Writing to a String cannot fail.
    let _ = write!(out, "\\u{unit:04x}");
}

/// `JSON.stringify` of an object whose keys are already in JavaScript order.
pub fn stringify(entries: &[(JsText, Value)]) -> String {
    let mut out = String::from("{");
    for (i, (key, value)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&key.to_json());
        out.push(':');
        out.push_str(&value.to_json());
    }
    out.push('}');
    out
}

/// Checks that a stored `d` is a JSON object that `JSON.parse` reads, which
/// then turns it into the caller's object. Lone-surrogate escapes (`\ud83d`),
/// which `JSON.stringify` writes, are valid here as they are there.
pub fn check_stored(text: &str) -> Result<(), String> {
    if !text
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .starts_with('{')
    {
        return Err("d is not a JSON object".to_owned());
    }
    serde_json::from_str::<IgnoredAny>(text)
        .map(|_| ())
        .map_err(|err| format!("d is not valid JSON: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    fn utf16(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    #[test]
    fn stringifies_like_javascript() {
        let entries = vec![
            ("a".into(), Value::Number(20.212)),
            ("b".into(), Value::Number(1e21)),
            ("c".into(), Value::Number(-0.0)),
            ("d".into(), Value::Number(f64::NAN)),
            ("e".into(), Value::Number(f64::INFINITY)),
            ("f".into(), Value::Bool(true)),
            ("g".into(), Value::Null),
            (
                "h".into(),
                text("quote\" back\\ nl\n tab\t \u{1} \u{7f} \u{2028} 😀 é"),
            ),
        ];
        assert_eq!(
            stringify(&entries),
            "{\"a\":20.212,\"b\":1e+21,\"c\":0,\"d\":null,\"e\":null,\"f\":true,\"g\":null,\
             \"h\":\"quote\\\" back\\\\ nl\\n tab\\t \\u0001 \u{7f} \u{2028} 😀 é\"}"
        );
    }

    #[test]
    fn escapes_control_characters_like_javascript() {
        assert_eq!(
            json_string("\u{8}\u{c}\r\u{1f}\u{0}"),
            "\"\\b\\f\\r\\u001f\\u0000\""
        );
    }

    #[test]
    fn lone_surrogates_are_escaped_like_javascript() {
        // JSON.stringify("x\ud83d") and JSON.stringify("\udc00😀\"\n").
        let cut = [u16::from(b'x'), 0xd83d];
        assert_eq!(JsText::Utf16(cut.to_vec()).to_json(), "\"x\\ud83d\"");
        let mut mixed = vec![0xdc00];
        mixed.extend(utf16("😀\"\n"));
        assert_eq!(JsText::Utf16(mixed).to_json(), "\"\\udc00😀\\\"\\n\"");
        assert_eq!(JsText::Utf16(cut.to_vec()).to_lossy(), "x\u{fffd}");
        assert_eq!(
            JsText::Utf16(utf16("é😀")).to_json(),
            JsText::from("é😀").to_json()
        );
    }

    #[test]
    fn stored_d_is_any_json_object_json_parse_reads() {
        for good in [
            "{}",
            " \n{\"z\":1,\"a\":\"x\"} ",
            "{\"s\":\"\\ud83d\",\"\\udc00\":1}",
            "{\"a\\u0000b\":\"\\u0000\"}",
            "{\"__proto__\":{\"admin\":true}}",
            "{\"big\":1e400,\"deep\":[{\"x\":[null]}]}",
        ] {
            assert_eq!(check_stored(good), Ok(()), "{good}");
        }
        for bad in [
            "[1]",
            "1",
            "\"{}\"",
            "{",
            "{oops",
            "{\"a\":1} x",
            "\u{feff}{}",
        ] {
            assert!(check_stored(bad).is_err(), "{bad}");
        }
    }
}
