//! JavaScript value semantics that callers of the reference observe:
//! `parseInt`, `Number()`, `String(number)`, UTF-16 lengths and line terminators.

/// Characters JavaScript's `String.prototype.trim` and `parseInt` skip.
fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\u{9}' | '\u{a}' | '\u{b}' | '\u{c}' | '\u{d}' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

/// What a JavaScript regex `.` refuses.
pub fn is_line_terminator(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}')
}

/// `str.length` in JavaScript.
pub fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// `parseInt(s, 10)`; `None` where JavaScript gives `NaN`.
pub fn parse_int(s: &str) -> Option<f64> {
    let s = s.trim_start_matches(is_js_whitespace);
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let end = digits
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    if end == 0 {
        return None;
    }
    // Parsing the digit run as a float rounds exactly as V8 does for long runs.
    let magnitude: f64 = digits[..end].parse().ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

/// `Number(s)` for a string read from Redis, `Number(null)` for `None`.
pub fn to_number(s: Option<&str>) -> f64 {
    let Some(s) = s else { return 0.0 };
    let t = s.trim_matches(is_js_whitespace);
    if t.is_empty() {
        return 0.0;
    }
    match t {
        "Infinity" | "+Infinity" => return f64::INFINITY,
        "-Infinity" => return f64::NEG_INFINITY,
        _ => {}
    }
    for prefix in ["0x", "0X"] {
        if let Some(hex) = t.strip_prefix(prefix) {
            return u64::from_str_radix(hex, 16).map_or(f64::NAN, |v| v as f64);
        }
    }
    let plain = t
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if !plain {
        return f64::NAN;
    }
    t.parse().unwrap_or(f64::NAN)
}

/// `String(n)` for a number, which is also how JSON and node_redis write finite numbers.
pub fn number_to_string(n: f64) -> String {
    let mut buffer = ryu_js::Buffer::new();
    buffer.format(n).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_int_reads_like_javascript() {
        assert_eq!(parse_int("30abc"), Some(30.0));
        assert_eq!(parse_int("15.9"), Some(15.0));
        assert_eq!(parse_int("  \n-12"), Some(-12.0));
        assert_eq!(parse_int("+7"), Some(7.0));
        assert_eq!(parse_int("1e+21"), Some(1.0));
        assert_eq!(parse_int("abc"), None);
        assert_eq!(parse_int("-"), None);
        assert_eq!(parse_int(""), None);
        assert_eq!(parse_int("\u{feff}42"), Some(42.0));
    }

    #[test]
    fn to_number_reads_like_javascript() {
        assert_eq!(to_number(Some("12")), 12.0);
        assert_eq!(to_number(Some(" 12 ")), 12.0);
        assert_eq!(to_number(Some("")), 0.0);
        assert_eq!(to_number(None), 0.0);
        assert_eq!(to_number(Some("0x10")), 16.0);
        assert!(to_number(Some("12abc")).is_nan());
        assert!(to_number(Some("inf")).is_nan());
        assert_eq!(to_number(Some("-Infinity")), f64::NEG_INFINITY);
    }

    #[test]
    fn numbers_print_like_javascript() {
        assert_eq!(number_to_string(20.212), "20.212");
        assert_eq!(number_to_string(1e21), "1e+21");
        assert_eq!(number_to_string(-0.0), "0");
        assert_eq!(number_to_string(7200.0), "7200");
        assert_eq!(number_to_string(0.000001), "0.000001");
        assert_eq!(number_to_string(1e-7), "1e-7");
    }

    #[test]
    fn lengths_count_utf16_units() {
        assert_eq!(utf16_len("abc"), 3);
        assert_eq!(utf16_len("😀"), 2);
        assert_eq!(utf16_len("é"), 1);
    }
}
