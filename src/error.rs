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
        // lost connection so the next call looks for the new master.
        if err.is_read_only_replica() {
            Self::Connection(format!("the server is a read-only replica: {text}"))
        } else if err.is_unauthenticated_protocol_error() {
            Self::Connection(format!(
                "NOAUTH: Authentication required (the server refused a long command before authentication: {text})"
            ))
        } else if err.is_lost_connection() {
            Self::Connection(text)
        } else {
            Self::Redis(text)
        }
    }
}

/// What a Redis failure says about the connection it happened on, read from
/// redis-rs's error kinds and Redis's error codes rather than message text.
pub(crate) trait RedisFailure {
    /// Redis answered `READONLY`: this server is a replica now. Found in a
    /// lone reply, in a pipeline's or a transaction's, and in a script's.
    fn is_read_only_replica(&self) -> bool;
    /// The connection failed, was refused or dropped, or timed out.
    fn is_lost_connection(&self) -> bool;
    /// Redis answers a command of more than 10 arguments from a client that
    /// has not authenticated with a protocol error instead of `NOAUTH`, and
    /// closes the connection: what the caller lacks is the password.
    fn is_unauthenticated_protocol_error(&self) -> bool;
}

impl RedisFailure for redis::RedisError {
    fn is_read_only_replica(&self) -> bool {
        let read_only = redis::ServerErrorKind::ReadOnly;
        if self.kind() == redis::ErrorKind::Server(read_only) {
            return true;
        }
        let Some(replies) = self.clone().into_server_errors() else {
            return false;
        };
        replies.iter().any(|(_, reply)| {
            reply.kind() == Some(read_only)
                || reply
                    .details()
                    .and_then(failed_script_call_code)
                    .is_some_and(|code| code == READ_ONLY_CODE)
        })
    }

    fn is_unauthenticated_protocol_error(&self) -> bool {
        self.detail()
            .is_some_and(|detail| detail.starts_with("Protocol error: unauthenticated"))
    }

    fn is_lost_connection(&self) -> bool {
        self.is_io_error()
            || self.is_connection_dropped()
            || self.is_connection_refusal()
            || self.is_timeout()
    }
}

/// Redis's code for `ServerErrorKind::ReadOnly` (redis-rs keeps its own copy private).
const READ_ONLY_CODE: &str = "READONLY";

/// The code of the command that failed inside a script, which Redis before
/// 7.0 reports as an `ERR` whose detail ends with that command's error:
/// `Error running script (call to f_…): @user_script:1: -READONLY You can't …`.
/// Redis 7 answers with the command's own code instead.
fn failed_script_call_code(detail: &str) -> Option<&str> {
    if !detail.starts_with("Error running script") {
        return None;
    }
    let (_, reply) = detail.split_once(": -")?;
    reply.split_whitespace().next()
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

    fn server_error(kind: redis::ErrorKind, detail: &str) -> redis::RedisError {
        redis::RedisError::from((
            kind,
            "An error was signalled by the server",
            detail.to_owned(),
        ))
    }

    #[test]
    fn read_only_is_told_by_its_code_not_by_words_in_a_message() {
        let replica = server_error(
            redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly),
            "You can't write against a read only replica.",
        );
        assert!(replica.is_read_only_replica());
        // Redis before 7.0: the code of the failed call inside a script's ERR.
        let old_script = redis::make_extension_error(
            "ERR".to_owned(),
            Some(
                "Error running script (call to f_1): @user_script:1: @user_script: 1: \
                 -READONLY You can't write against a read only replica."
                    .to_owned(),
            ),
        );
        assert!(old_script.is_read_only_replica());
        for not_read_only in [
            // Data that happens to say READONLY is not a replica's refusal.
            server_error(
                redis::ErrorKind::Server(redis::ServerErrorKind::ResponseError),
                "WRONGTYPE READONLY ReadOnly: the value quotes it",
            ),
            redis::make_extension_error(
                "ERR".to_owned(),
                Some(
                    "Error running script (call to f_1): @user_script:1: -WRONGTYPE READONLY"
                        .to_owned(),
                ),
            ),
            redis::make_extension_error("NOAUTH".to_owned(), Some("READONLY".to_owned())),
        ] {
            assert!(!not_read_only.is_read_only_replica(), "{not_read_only}");
            assert_eq!(SessionError::from(not_read_only).name(), "redisError");
        }
    }

    #[test]
    fn a_lost_connection_is_told_by_its_kind() {
        let dropped =
            redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(dropped.is_lost_connection());
        assert_eq!(SessionError::from(dropped).name(), "redisConnectionError");
        let refused = server_error(
            redis::ErrorKind::Server(redis::ServerErrorKind::ResponseError),
            "connection reset by peer",
        );
        assert!(!refused.is_lost_connection());
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
