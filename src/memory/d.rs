//! `set`'s merge of `d` in memory, as `lua/set.lua` does it in Redis: the
//! stored text is split into its keys' and values' JSON texts, the patch is
//! laid over it (a `null` value removes its key), and the object is written
//! again in JavaScript's key order: array-index keys first, in numeric order,
//! then the others in the order they were first added. Values are copied as
//! text, never re-encoded.

use crate::data::{JsText, Value};

/// The merged `d`, or `None` when no key is left. A stored text that is not
/// a JSON object (never written by this engine) is an error.
pub fn merge(stored: Option<&str>, patch: &[(JsText, Value)]) -> Result<Option<String>, String> {
    let mut entries: Vec<(String, Option<String>)> = Vec::new();
    let mut put =
        |key: String, value: Option<String>| match entries.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None if value.is_some() => entries.push((key, value)),
            None => {}
        };
    if let Some(text) = stored.filter(|text| !text.is_empty()) {
        let pairs = split_object(text).ok_or("session has a d that is not a JSON object")?;
        for (key, value) in pairs {
            put(key.to_owned(), Some(value.to_owned()));
        }
    }
    for (key, value) in patch {
        let value = match value {
            Value::Null => None,
            other => Some(other.to_json()),
        };
        put(key.to_json(), value);
    }
    let mut indexes: Vec<(u64, &(String, Option<String>))> = Vec::new();
    let mut names = Vec::new();
    for entry in entries.iter().filter(|(_, value)| value.is_some()) {
        match array_index(&entry.0) {
            Some(index) => indexes.push((index, entry)),
            None => names.push(entry),
        }
    }
    if indexes.is_empty() && names.is_empty() {
        return Ok(None);
    }
    indexes.sort_by_key(|(index, _)| *index);
    let mut out = String::from("{");
    for (i, (key, value)) in indexes.into_iter().map(|(_, e)| e).chain(names).enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(key);
        out.push(':');
        out.push_str(value.as_deref().unwrap_or("null"));
    }
    out.push('}');
    Ok(Some(out))
}

/// A key's JSON text that is an array index (`"0"` … `"4294967294"`, no
/// leading zero): JavaScript lists such keys first, in numeric order.
fn array_index(key_json: &str) -> Option<u64> {
    let digits = key_json.strip_prefix('"')?.strip_suffix('"')?;
    let canonical = !digits.is_empty()
        && digits.len() <= 10
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    let index: u64 = digits.parse().ok().filter(|_| canonical)?;
    (index < 4_294_967_295).then_some(index)
}

/// The `(key, value)` JSON texts of a JSON object's members, in order.
fn split_object(text: &str) -> Option<Vec<(&str, &str)>> {
    let bytes = text.as_bytes();
    let skip_space = |mut i: usize| {
        while bytes.get(i).is_some_and(|b| b" \t\r\n".contains(b)) {
            i += 1;
        }
        i
    };
    let mut i = skip_space(0);
    if bytes.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_space(i + 1);
    let mut out = Vec::new();
    if bytes.get(i) == Some(&b'}') {
        return Some(out);
    }
    loop {
        if bytes.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = string_end(bytes, i)?;
        let key = text.get(i..=key_end)?;
        i = skip_space(key_end + 1);
        if bytes.get(i) != Some(&b':') {
            return None;
        }
        let start = skip_space(i + 1);
        let end = value_end(bytes, start)?;
        out.push((key, text.get(start..=end)?));
        i = skip_space(end + 1);
        match bytes.get(i) {
            Some(b'}') => return Some(out),
            Some(b',') => i = skip_space(i + 1),
            _ => return None,
        }
    }
}

/// The index of the `"` closing the string that opens at `start`.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    loop {
        match bytes.get(i)? {
            b'"' => return Some(i),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
}

/// The index of the last byte of the value that starts at `start`: a string,
/// an object or array (nested ones included), or a scalar.
fn value_end(bytes: &[u8], start: usize) -> Option<usize> {
    match bytes.get(start)? {
        b'"' => string_end(bytes, start),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = start;
            loop {
                match bytes.get(i)? {
                    b'"' => i = string_end(bytes, i)?,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            let mut i = start;
            while bytes.get(i + 1).is_some_and(|b| !b",}] \t\r\n".contains(b)) {
                i += 1;
            }
            Some(i)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(entries: &[(&str, Value)]) -> Vec<(JsText, Value)> {
        entries
            .iter()
            .map(|(key, value)| (JsText::from(*key), value.clone()))
            .collect()
    }

    #[test]
    fn merges_as_set_lua_does() {
        // The scenario's 'set merges d, null removes' step.
        let merged = merge(
            Some("{\"foo\":\"bar\",\"n\":34}"),
            &patch(&[
                ("n", Value::Null),
                ("last", Value::Text("/read".into())),
                ("7", Value::Bool(true)),
                ("2", Value::Number(1.5)),
            ]),
        );
        assert_eq!(
            merged.unwrap().as_deref(),
            Some("{\"2\":1.5,\"7\":true,\"foo\":\"bar\",\"last\":\"/read\"}")
        );
    }

    #[test]
    fn removing_every_key_removes_d_and_values_stay_as_written() {
        let gone = merge(Some("{\"a\":1}"), &patch(&[("a", Value::Null)]));
        assert_eq!(gone, Ok(None));
        assert_eq!(merge(None, &patch(&[("a", Value::Null)])), Ok(None));
        let kept = merge(
            Some("{\"s\":\"a\\\"b,}\",\"big\":1e+21,\"10\":0,\"01\":1}"),
            &patch(&[("n", Value::Number(-0.0))]),
        );
        assert_eq!(
            kept.unwrap().as_deref(),
            Some("{\"10\":0,\"s\":\"a\\\"b,}\",\"big\":1e+21,\"01\":1,\"n\":0}")
        );
    }

    #[test]
    fn array_indexes_are_canonical_and_below_two_to_the_32_minus_one() {
        assert_eq!(array_index("\"0\""), Some(0));
        assert_eq!(array_index("\"4294967294\""), Some(4_294_967_294));
        for not_index in ["\"4294967295\"", "\"01\"", "\"\"", "\"1a\"", "\"-1\"", "1"] {
            assert_eq!(array_index(not_index), None, "{not_index}");
        }
    }

    #[test]
    fn a_stored_text_that_is_not_an_object_is_refused() {
        for bad in ["[1]", "{\"a\"}", "{\"a\":1", "x"] {
            assert!(merge(Some(bad), &[]).is_err(), "{bad}");
        }
        assert_eq!(
            split_object(" { \"a\" : [1,{\"b\":\"]\"}] , \"c\":null } "),
            Some(vec![("\"a\"", "[1,{\"b\":\"]\"}]"), ("\"c\"", "null")])
        );
    }
}
