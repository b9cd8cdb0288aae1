//! Reading script replies into plain Rust values.

use redis::Value;

use crate::error::{Result, SessionError};

/// Names the reply's type, never its contents: a reply holds session data.
pub fn unexpected(what: &str, value: &Value) -> SessionError {
    let kind = match value {
        Value::Nil => "nil",
        Value::Int(_) => "an integer",
        Value::BulkString(_) | Value::SimpleString(_) | Value::VerbatimString { .. } => "a string",
        Value::Array(_) | Value::Set(_) | Value::Map(_) => "a collection",
        Value::Okay => "OK",
        _ => "another type",
    };
    SessionError::Redis(format!("unexpected reply for {what}: {kind}"))
}

pub fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(n) => Some(n.to_string()),
        Value::Okay => Some("OK".to_owned()),
        _ => None,
    }
}

pub fn int(value: &Value, what: &str) -> Result<i64> {
    match value {
        Value::Int(n) => Ok(*n),
        other => Err(unexpected(what, other)),
    }
}

/// An array of bulk strings and nils; `None` for a nil reply.
pub fn fields(value: &Value, what: &str) -> Result<Option<Vec<Option<String>>>> {
    match value {
        Value::Nil => Ok(None),
        Value::Array(items) => Ok(Some(items.iter().map(text).collect())),
        other => Err(unexpected(what, other)),
    }
}

/// A two-integer array, such as killall's `{removed, seen}`.
pub fn pair(value: &Value, what: &str) -> Result<(i64, i64)> {
    match value {
        Value::Array(items) => match items.as_slice() {
            [a, b] => Ok((int(a, what)?, int(b, what)?)),
            _ => Err(unexpected(what, value)),
        },
        other => Err(unexpected(what, other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unexpected_reply_is_named_not_quoted() {
        let stored = Value::Array(vec![Value::BulkString(b"user-secret".to_vec())]);
        let message = int(&stored, "kill").unwrap_err().to_string();
        assert_eq!(
            message,
            "Redis command failed: unexpected reply for kill: a collection"
        );
        let message = fields(&Value::BulkString(b"s3cret".to_vec()), "get")
            .unwrap_err()
            .to_string();
        assert!(!message.contains("s3cret"), "{message}");
    }
}
