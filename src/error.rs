use thiserror::Error;

use crate::redact::unquoted;

/// Everything an operation can answer instead of a result.
///
/// The three validation kinds carry the reference's exact messages: callers
/// compare them byte for byte, and JavaScript sees the kind as `err.name`.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum SessionError {
    #[error("No {0} supplied")]
    MissingParameter(&'static str),
    #[error("Invalid {0} format")]
    InvalidFormat(&'static str),
    #[error("{0}")]
    InvalidValue(String),
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    #[error("Redis connection failed: {0}")]
    Connection(String),
    #[error("Redis command failed: {0}")]
    Redis(String),
    #[error("Redis returned an unreadable session: {0}")]
    CorruptSession(String),
    #[error("This RedisSessions instance has been quit")]
    Closed,
    #[error("internal error: {0}")]
    Internal(String),
}

impl SessionError {
    /// The `name` a JavaScript caller sees on the error object.
    pub fn name(&self) -> &'static str {
        match self {
            Self::MissingParameter(_) => "missingParameter",
            Self::InvalidFormat(_) => "invalidFormat",
            Self::InvalidValue(_) => "invalidValue",
            Self::InvalidOptions(_) => "invalidOptions",
            Self::Connection(_) => "redisConnectionError",
            Self::Redis(_) => "redisError",
            Self::CorruptSession(_) => "corruptSession",
            Self::Closed => "closed",
            Self::Internal(_) => "internalError",
        }
    }
}

impl From<redis::RedisError> for SessionError {
    fn from(err: redis::RedisError) -> Self {
        let text = describe(&err);
        // A demoted master (after a failover) refuses writes; treated as a
        // lost connection so the next call looks for the new master. In a
        // script or a transaction the code arrives inside the message.
        if matches!(
            err.kind(),
            redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly)
        ) || ["READONLY", "ReadOnly:"]
            .iter()
            .any(|code| text.contains(code))
        {
            return Self::Connection(format!("the server is a read-only replica: {text}"));
        }
        if err.is_io_error()
            || err.is_connection_dropped()
            || err.is_connection_refusal()
            || err.is_timeout()
        {
            Self::Connection(text)
        } else {
            Self::Redis(text)
        }
    }
}

/// A Redis error's text without the data it may quote (SECURITY.md promises
/// that error messages never hold session data): a reply redis-rs could not
/// convert is quoted whole in its message, so only its category is kept.
fn describe(err: &redis::RedisError) -> String {
    match err.kind() {
        redis::ErrorKind::Parse | redis::ErrorKind::UnexpectedReturnType => {
            format!(
                "{}: Redis sent a reply of an unexpected type",
                err.category()
            )
        }
        _ => unquoted(&err.to_string()),
    }
}

pub type Result<T> = std::result::Result<T, SessionError>;

#[cfg(test)]
mod tests {
    use super::*;

    const STORED: &str = "9223372036854775807";

    #[test]
    fn a_reply_error_keeps_its_code_and_not_the_values_it_quotes() {
        let err = redis::RedisError::from((
            redis::ErrorKind::Server(redis::ServerErrorKind::ResponseError),
            "An error was signalled by the server",
            format!("unknown command 'HSET', with args beginning with: 'rs:a:T' 'r' '{STORED}'"),
        ));
        let message = SessionError::from(err).to_string();
        assert!(message.starts_with("Redis command failed: "), "{message}");
        assert!(message.contains("unknown command"), "{message}");
        assert!(
            !message.contains(STORED) && !message.contains("rs:a:T"),
            "{message}"
        );
    }

    #[test]
    fn a_reply_of_the_wrong_type_is_not_quoted() {
        // One past i64::MAX: a counter redis-rs cannot read as an integer.
        let stored = "9223372036854775808";
        let value = redis::Value::BulkString(stored.as_bytes().to_vec());
        let parsed: std::result::Result<i64, _> = redis::from_redis_value(value);
        let err = redis::RedisError::from(parsed.unwrap_err());
        assert!(
            err.to_string().contains(stored),
            "redis-rs quotes the reply"
        );
        let session_error = SessionError::from(err);
        assert_eq!(session_error.name(), "redisError");
        assert!(
            !session_error.to_string().contains(stored),
            "{session_error}"
        );
    }

    #[test]
    fn a_read_only_replica_is_a_lost_connection() {
        let err = redis::RedisError::from((
            redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly),
            "An error was signalled by the server",
            "You can't write against a read only replica.".to_owned(),
        ));
        let session_error = SessionError::from(err);
        assert_eq!(session_error.name(), "redisConnectionError");
        assert!(
            session_error.to_string().contains("can't write"),
            "{session_error}"
        );
    }
}
