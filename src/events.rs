//! Session events (option `events`): the scripts that create, kill, expire,
//! evict or rotate a session publish it, in the same atomic step, on the
//! namespace's channel `NS:events`; every instance with `events` hears it
//! there (`subscriber.rs`) and JavaScript emits `'session'`.
//!
//! A message is `TYPE:APP:HANDLE:ID`, and for a rotation
//! `rotated:APP:HANDLE:PREVIOUS:ID`: HANDLE is the device handle
//! (`handle.rs`) of the session's stored name, never a token. Ids may hold
//! `:`; types, apps and handles never do. `lua/events.lua` writes them.

/// One session event, as JavaScript gets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEvent {
    pub kind: String,
    pub app: String,
    pub id: String,
    pub handle: String,
    /// A rotation's handle before it.
    pub previous: Option<String>,
}

/// Reads a message; `None` for one of another shape.
pub fn parse(message: &str) -> Option<SessionEvent> {
    let (kind, rest) = message.split_once(':')?;
    let (app, rest) = rest.split_once(':')?;
    let (handle, rest) = rest.split_once(':')?;
    let (previous, id) = if kind == "rotated" {
        let (previous, id) = rest.split_once(':')?;
        (Some(previous.to_owned()), id)
    } else {
        (None, rest)
    };
    Some(SessionEvent {
        kind: kind.to_owned(),
        app: app.to_owned(),
        id: id.to_owned(),
        handle: handle.to_owned(),
        previous,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_back_ids_with_colons_included() {
        assert_eq!(
            parse("created:app:5ed525047bd65865:user:1:x"),
            Some(SessionEvent {
                kind: "created".to_owned(),
                app: "app".to_owned(),
                id: "user:1:x".to_owned(),
                handle: "5ed525047bd65865".to_owned(),
                previous: None,
            })
        );
        let rotated = parse("rotated:app:0123456789abcdef:fedcba9876543210:u").unwrap();
        assert_eq!(rotated.previous.as_deref(), Some("fedcba9876543210"));
        assert_eq!(rotated.id, "u");
        assert_eq!(parse("nonsense"), None);
    }
}
