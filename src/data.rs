//! The session's `d`: user data as the reference stores it, the exact text
//! `JSON.stringify` writes, because other programs read the same field.

use crate::js::number_to_string;

/// One value of `d` as a caller handed it over.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
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
            Value::Text(s) => json_string(s),
        }
    }
}

/// A JSON string literal exactly as `JSON.stringify` escapes it.
pub fn json_string(s: &str) -> String {
    // serde_json escapes the same set as JSON.stringify: `"`, `\`, and control
    // characters, using the short forms and lowercase `\u00xx` for the rest.
    serde_json::Value::from(s).to_string()
}

/// Keys JavaScript orders first, ascending, in every object.
pub fn is_array_index(key: &str) -> bool {
    let canonical = key == "0" || (!key.starts_with('0') && !key.is_empty());
    canonical
        && key.len() <= 10
        && key.bytes().all(|b| b.is_ascii_digit())
        && key.parse::<u64>().is_ok_and(|n| n < u64::from(u32::MAX))
}

/// `JSON.stringify` of an object whose keys are already in JavaScript order.
pub fn stringify(entries: &[(String, Value)]) -> String {
    let mut out = String::from("{");
    for (i, (key, value)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&json_string(key));
        out.push(':');
        out.push_str(&value.to_json());
    }
    out.push('}');
    out
}

/// Parses a stored `d`, keeping the key order of the text.
pub fn parse(text: &str) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err("d is not a JSON object".to_owned()),
        Err(err) => Err(format!("d is not valid JSON: {err}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Value {
        Value::Text(s.to_owned())
    }

    #[test]
    fn stringifies_like_javascript() {
        let entries = vec![
            ("a".to_owned(), Value::Number(20.212)),
            ("b".to_owned(), Value::Number(1e21)),
            ("c".to_owned(), Value::Number(-0.0)),
            ("d".to_owned(), Value::Number(f64::NAN)),
            ("e".to_owned(), Value::Number(f64::INFINITY)),
            ("f".to_owned(), Value::Bool(true)),
            ("g".to_owned(), Value::Null),
            (
                "h".to_owned(),
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
        assert_eq!(json_string("\u{8}\u{c}\r\u{1f}"), "\"\\b\\f\\r\\u001f\"");
    }

    #[test]
    fn array_indexes_are_canonical_integers_below_2_pow_32_minus_1() {
        assert!(is_array_index("0"));
        assert!(is_array_index("42"));
        assert!(is_array_index("4294967294"));
        assert!(!is_array_index("4294967295"));
        assert!(!is_array_index("01"));
        assert!(!is_array_index("-1"));
        assert!(!is_array_index("1.5"));
        assert!(!is_array_index(""));
    }

    #[test]
    fn parse_keeps_order_and_refuses_non_objects() {
        let map = parse("{\"z\":1,\"a\":\"x\"}").unwrap();
        assert_eq!(map.keys().collect::<Vec<_>>(), vec!["z", "a"]);
        assert!(parse("[1]").is_err());
        assert!(parse("{").is_err());
    }
}
