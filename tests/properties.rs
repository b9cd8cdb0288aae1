//! Property tests of the pure engine: whatever the input, no panic, and the
//! encodings round-trip.

use proptest::prelude::*;
use redis_sessions_rs::data::{self, JsText, Value};
use redis_sessions_rs::js::{is_line_terminator, parse_int, to_number, utf16_len};
use redis_sessions_rs::keys::{app_member, global_member, split_app_member, split_global_member};
use redis_sessions_rs::session::decode;
use redis_sessions_rs::validate::{self, Arg, Args, DataArg, Style};

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<f64>().prop_map(Value::Number),
        any::<String>().prop_map(|s| Value::Text(s.into())),
        Just(Value::Forbidden),
    ]
}

proptest! {
    #[test]
    fn validation_never_panics(app in any::<String>(), id in any::<String>(), ip in any::<String>(),
                               token in any::<String>(), ttl in any::<String>(), dt in any::<String>(),
                               entries in prop::collection::vec((any::<String>(), value()), 0..8)) {
        let entries = entries.into_iter().map(|(k, v)| (k.into(), v)).collect();
        let args = Args {
            app: Arg::Text(app), id: Arg::Text(id.clone()), ip: Arg::Text(ip.clone()), token: Arg::Text(token),
            ttl: Arg::Text(ttl), dt: Arg::Text(dt.clone()), delta_time: Arg::Text(dt),
            d: DataArg::Object(entries), no_resave: false, ..Args::default()
        };
        let _ = validate::app(&args.app);
        let _ = validate::token(&args.token);
        let _ = validate::ttl(&args.ttl);
        let _ = validate::window(&args, Style::Callback);
        let _ = validate::window(&args, Style::Promise);
        let _ = validate::data(&args.d);
        prop_assert_eq!(validate::id(&args.id).is_ok(), !id.chars().any(is_line_terminator));
        let ip_ok = (1..=39).contains(&utf16_len(&ip)) && !ip.chars().any(is_line_terminator);
        prop_assert_eq!(validate::ip(&args.ip).is_ok(), ip_ok);
    }

    #[test]
    fn parse_int_reads_leading_digits(digits in "[0-9]{1,15}", tail in "[a-z. ]{0,5}") {
        prop_assert_eq!(parse_int(&format!("{digits}{tail}")), Some(digits.parse::<f64>().unwrap()));
        let _ = to_number(Some(&tail));
    }

    #[test]
    fn stringify_is_json_with_keys_in_order(entries in prop::collection::vec((any::<String>(), value()), 0..8)) {
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<(JsText, Value)> = entries.into_iter().filter(|(k, _)| seen.insert(k.clone())).map(|(k, v)| (k.into(), v)).collect();
        let text = data::stringify(&unique);
        prop_assert_eq!(data::check_stored(&text), Ok(()));
        let parsed: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let keys: Vec<&str> = parsed.keys().map(String::as_str).collect();
        let expected: Vec<String> = unique.iter().map(|(k, _)| k.to_lossy().into_owned()).collect();
        prop_assert_eq!(keys, expected.iter().map(String::as_str).collect::<Vec<_>>());
        for (key, v) in &unique {
            let got = &parsed[key.to_lossy().as_ref()];
            match v {
                Value::Text(s) => {
                    let expected = s.to_lossy();
                    prop_assert_eq!(got.as_str(), Some(expected.as_ref()));
                }
                Value::Bool(b) => prop_assert_eq!(got.as_bool(), Some(*b)),
                Value::Number(n) if n.is_finite() => prop_assert_eq!(got.as_f64(), Some(*n + 0.0)),
                _ => prop_assert!(got.is_null()),
            }
        }
    }

    #[test]
    fn strings_cut_anywhere_stringify_as_a_valid_stored_d(units in prop::collection::vec(any::<u16>(), 0..12)) {
        let text = data::stringify(&[(JsText::Utf16(units.clone()), Value::Text(JsText::Utf16(units.clone())))]);
        prop_assert_eq!(text.contains('\u{fffd}'), units.contains(&0xfffd), "a lone surrogate is escaped, never replaced");
        prop_assert_eq!(data::check_stored(&text), Ok(()));
    }

    #[test]
    fn members_round_trip_whatever_the_id(token in "[A-Za-z0-9]{64}", id in any::<String>(), app in "[a-zA-Z0-9_-]{3,20}") {
        let member = app_member(&token, &id);
        prop_assert_eq!(split_app_member(&member), Some((token.as_str(), id.as_str())));
        let global = global_member(&app, &token, &id);
        prop_assert_eq!(split_global_member(&global), Some((app.as_str(), token.as_str(), id.as_str())));
    }

    #[test]
    fn decode_never_panics(fields in prop::collection::vec(prop::option::of(any::<String>()), 0..10), now in any::<f64>()) {
        let _ = decode(&fields, now);
    }
}
