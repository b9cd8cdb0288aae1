use thiserror::Error;

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
        // A demoted master (after a failover) refuses writes; treated as a
        // lost connection so the next call looks for the new master. In a
        // script or a transaction the code arrives inside the message.
        let text = err.to_string();
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

pub type Result<T> = std::result::Result<T, SessionError>;
