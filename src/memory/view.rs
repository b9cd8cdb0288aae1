//! A namespace in memory as the Redis keys it stands for, for the behaviour
//! scenario (`__test__/helpers/scenario.js`), which compares what each
//! engine stores after every call: `dump` reads it in the reference's key
//! names and value types, `edit` writes the two fields the scenario changes
//! behind the engine's back (a session's `la`, an `_sessions` score). Not
//! part of the API: `index.js` does not expose it.

use serde_json::{json, Map, Value};

use super::space::Space;
use crate::js::number_to_string;

/// Every key, as `{key: hash object | [[member, score], ...] | [member, ...]}`.
pub fn dump(space: &Space, namespace: &str) -> Value {
    let mut keys = Map::new();
    let mut expiries = Vec::new();
    for (app, entry) in &space.apps {
        let prefix = format!("{namespace}:{app}:");
        let mut members = Vec::new();
        for (token, record) in &entry.sessions {
            let mut hash = Map::new();
            hash.insert("id".into(), json!(&*record.id));
            hash.insert("r".into(), json!(record.r.to_string()));
            hash.insert("w".into(), json!(record.w.to_string()));
            hash.insert("ip".into(), json!(record.ip()));
            hash.insert("la".into(), json!(number_to_string(record.la)));
            hash.insert("ttl".into(), json!(number_to_string(record.ttl)));
            if let Some(d) = record.d() {
                hash.insert("d".into(), json!(d));
            }
            if record.no_resave {
                hash.insert("no_resave".into(), json!("1"));
            }
            if let Some(ends) = record.ends {
                hash.insert("ends".into(), json!(number_to_string(ends)));
            }
            if record.hashed {
                hash.insert(crate::session::MARKER.into(), json!("1"));
            }
            keys.insert(format!("{prefix}{token}"), Value::Object(hash));
            members.push(json!([
                format!("{token}:{}", record.id),
                number_to_string(record.active)
            ]));
            expiries.push(json!([
                format!("{app}:{token}:{}", record.id),
                number_to_string(record.expires)
            ]));
        }
        if !members.is_empty() {
            keys.insert(format!("{prefix}_sessions"), Value::Array(members));
        }
        let mut users = Vec::new();
        for (id, user) in &entry.users {
            users.push(json!([&**id, number_to_string(user.active)]));
            let mut tokens: Vec<&str> = user.tokens.iter().map(|token| &**token).collect();
            tokens.sort_unstable();
            keys.insert(format!("{prefix}us:{id}"), json!(tokens));
        }
        if !users.is_empty() {
            keys.insert(format!("{prefix}_users"), Value::Array(users));
        }
    }
    if !expiries.is_empty() {
        keys.insert(format!("{namespace}:SESSIONS"), Value::Array(expiries));
    }
    Value::Object(keys)
}

/// Sets a session's `la` (`key` its hash, `field` "la"), or a session's
/// `_sessions` score (`key` the app's `_sessions`, `field` its member).
/// Returns whether there was such a session.
pub fn edit(space: &mut Space, namespace: &str, key: &str, field: &str, value: f64) -> bool {
    let Some((app, tail)) = key
        .strip_prefix(namespace)
        .and_then(|rest| rest.strip_prefix(':'))
        .and_then(|rest| rest.split_once(':'))
    else {
        return false;
    };
    if tail == "_sessions" {
        let token = field.get(..crate::keys::TOKEN_LEN).unwrap_or_default();
        return space
            .record_mut(app, token)
            .map(|record| record.active = value)
            .is_some();
    }
    field == "la"
        && space
            .record_mut(app, tail)
            .map(|record| record.la = value)
            .is_some()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::space::tests::record;
    use super::*;

    #[test]
    fn the_keys_of_the_reference_with_redis_values() {
        let mut space = Space::default();
        let token = "T".repeat(64);
        space.insert(
            "app",
            Arc::from(token.as_str()),
            record("u:1", 1000.0, 30.0),
        );
        let keys = dump(&space, "ns");
        assert_eq!(keys[format!("ns:app:{token}")]["la"], "1000");
        assert_eq!(
            keys["ns:app:_sessions"],
            json!([[format!("{token}:u:1"), "1000"]])
        );
        assert_eq!(keys["ns:app:_users"], json!([["u:1", "1000"]]));
        assert_eq!(keys["ns:app:us:u:1"], json!([&token]));
        assert_eq!(
            keys["ns:SESSIONS"],
            json!([[format!("app:{token}:u:1"), "1030"]])
        );
        assert!(edit(
            &mut space,
            "ns",
            &format!("ns:app:{token}"),
            "la",
            990.0
        ));
        assert!(edit(
            &mut space,
            "ns",
            "ns:app:_sessions",
            &format!("{token}:u:1"),
            1005.0
        ));
        assert!(!edit(&mut space, "ns", "ns:app:_sessions", "nobody", 1.0));
        let keys = dump(&space, "ns");
        assert_eq!(keys[format!("ns:app:{token}")]["la"], "990");
        assert_eq!(keys["ns:app:_sessions"][0][1], "1005");
    }
}
