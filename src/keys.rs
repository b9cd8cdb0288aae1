//! The reference's Redis key layout, shared byte for byte with other programs.

/// A token is exactly this long; members are parsed by it, so ids may contain `:`.
pub const TOKEN_LEN: usize = 64;

#[derive(Debug, Clone)]
pub struct Keys {
    /// The namespace followed by `:`.
    prefix: String,
}

impl Keys {
    pub fn new(namespace: &str) -> Self {
        Self::with_prefix(format!("{namespace}:"))
    }

    /// Keys that start with `prefix` instead of `NS:` (cluster buckets).
    pub fn with_prefix(prefix: String) -> Self {
        Self { prefix }
    }

    /// `ns:` — the start of every key.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `ns:APP:` — followed by a token this is a session hash.
    pub fn app_prefix(&self, app: &str) -> String {
        format!("{}{app}:", self.prefix)
    }

    /// `ns:APP:us:` — followed by an id this is that id's token set.
    pub fn user_prefix(&self, app: &str) -> String {
        format!("{}{app}:us:", self.prefix)
    }

    pub fn session(&self, app: &str, token: &str) -> String {
        format!("{}{app}:{token}", self.prefix)
    }

    pub fn app_sessions(&self, app: &str) -> String {
        format!("{}{app}:_sessions", self.prefix)
    }

    pub fn app_users(&self, app: &str) -> String {
        format!("{}{app}:_users", self.prefix)
    }

    pub fn user_sessions(&self, app: &str, id: &str) -> String {
        format!("{}{app}:us:{id}", self.prefix)
    }

    pub fn all_sessions(&self) -> String {
        format!("{}SESSIONS", self.prefix)
    }

    pub fn cache_channel(&self) -> String {
        format!("{}cache", self.prefix)
    }

    /// Session events (option `events`), `events.rs`.
    pub fn events_channel(&self) -> String {
        format!("{}events", self.prefix)
    }

    /// Held by the instance that wipes this period, so a fleet wipes once.
    pub fn wipe_lock(&self) -> String {
        format!("{}_wipelock", self.prefix)
    }
}

/// Member of `ns:APP:_sessions`.
pub fn app_member(token: &str, id: &str) -> String {
    format!("{token}:{id}")
}

/// Member of `ns:SESSIONS`, also the payload of a cache message without the id.
pub fn global_member(app: &str, token: &str, id: &str) -> String {
    format!("{app}:{token}:{id}")
}

/// `APP:TOKEN`, the cache key and the invalidation message.
pub fn cache_key(app: &str, token: &str) -> String {
    format!("{app}:{token}")
}

/// Splits `TOKEN:ID` knowing the token's length, where the reference splits at every `:`.
pub fn split_app_member(member: &str) -> Option<(&str, &str)> {
    let token = member.get(..TOKEN_LEN)?;
    let id = member.get(TOKEN_LEN..)?.strip_prefix(':')?;
    Some((token, id))
}

/// Splits `APP:TOKEN:ID`; apps never contain `:`.
pub fn split_global_member(member: &str) -> Option<(&str, &str, &str)> {
    let (app, rest) = member.split_once(':')?;
    let (token, id) = split_app_member(rest)?;
    Some((app, token, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_the_reference() {
        let keys = Keys::new("rs");
        assert_eq!(keys.session("app", "T"), "rs:app:T");
        assert_eq!(keys.app_sessions("app"), "rs:app:_sessions");
        assert_eq!(keys.app_users("app"), "rs:app:_users");
        assert_eq!(keys.user_sessions("app", "u:1"), "rs:app:us:u:1");
        assert_eq!(keys.all_sessions(), "rs:SESSIONS");
        assert_eq!(keys.cache_channel(), "rs:cache");
        assert_eq!(global_member("app", "T", "u"), "app:T:u");
    }

    #[test]
    fn members_with_colons_in_ids_split_by_token_length() {
        let token = "a".repeat(64);
        let member = app_member(&token, "user:42:x");
        assert_eq!(
            split_app_member(&member),
            Some((token.as_str(), "user:42:x"))
        );
        let global = global_member("app", &token, "::");
        assert_eq!(
            split_global_member(&global),
            Some(("app", token.as_str(), "::"))
        );
        assert_eq!(split_app_member("short:id"), None);
    }
}
