//! Reading script replies into plain Rust values.

use redis::Value;

use crate::error::{Result, SessionError};

fn unexpected(what: &str, value: &Value) -> SessionError {
    SessionError::Redis(format!("unexpected reply for {what}: {value:?}"))
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
