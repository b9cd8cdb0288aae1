//! The Lua scripts that make each operation one atomic round trip, and one
//! function per script that builds its invocation: its KEYS, in the one
//! order every operation's script takes (`operation_keys`), and its ARGV.
//! Every script is the shared parts it uses followed by its own file (a
//! part's functions are made anew on every call, so each script takes only
//! what it needs); redis-rs sends EVALSHA and loads the script on NOSCRIPT.

use std::sync::LazyLock;

use redis::{Script, ScriptInvocation};

use crate::data::{JsText, Value};
use crate::js::number_to_string;
use crate::keys::Keys;
use crate::operations::{Operation, Scope};

macro_rules! scripts {
    ($($name:ident = [$($part:literal),*] $file:literal),* $(,)?) => {
        $(
            static $name: LazyLock<Script> = LazyLock::new(|| Script::new(source::$name));
        )*

        mod source {
            $(
                pub const $name: &str = concat!(
                    $(include_str!(concat!("lua/", $part)),)*
                    include_str!(concat!("lua/", $file))
                );
            )*
        }

        /// Every script's text, loaded when a connection opens so that even
        /// the first call of each is a single EVALSHA.
        pub const ALL: &[&str] = &[$(source::$name),*];
    };
}

scripts! {
    GET = ["flags.lua", "session.lua", "touch.lua", "read.lua"] "get.lua",
    SET = ["flags.lua", "session.lua", "touch.lua"] "set.lua",
    KILL = ["handle.lua", "flags.lua", "events.lua", "session.lua", "types.lua", "kill_one.lua"] "kill.lua",
    KILLSOID = ["handle.lua", "flags.lua", "events.lua", "types.lua"] "killsoid.lua",
    KILLALL = ["handle.lua", "flags.lua", "events.lua", "types.lua", "member.lua"] "killall.lua",
    WIPE = ["handle.lua", "flags.lua", "events.lua", "kill_one.lua", "member.lua"] "wipe.lua",
    KILL_HANDLE = ["handle.lua", "flags.lua", "events.lua", "session.lua", "types.lua", "kill_one.lua"] "kill_handle.lua",
    CREATE = ["handle.lua", "flags.lua", "events.lua", "session.lua", "types.lua", "kill_one.lua"] "create.lua",
    ROTATE = ["handle.lua", "flags.lua", "events.lua", "session.lua", "types.lua"] "rotate.lua",
    TOUCH = ["flags.lua", "session.lua", "touch.lua", "read.lua"] "touch_session.lua",
    CREATE_WITH_TOKEN = ["handle.lua", "flags.lua", "events.lua", "types.lua"] "create_token.lua",
    MOVE_TO_ID = ["flags.lua", "session.lua", "types.lua"] "move_to_id.lua",
    ADOPT = ["flags.lua", "session.lua", "types.lua"] "adopt.lua",
    COUNT = ["flags.lua", "session.lua", "member.lua"] "count.lua",
}

/// An invocation of `op`'s script with its KEYS: `ns:APP:_sessions`,
/// `ns:APP:_users`, `ns:SESSIONS`, then the key the table's scope names
/// (`ns:APP:TOKEN` for a session, `ns:APP:us:ID` for a user) from `subject`,
/// the token or the id.
fn operation_keys(
    script: &'static Script,
    op: Operation,
    keys: &Keys,
    app: &str,
    subject: &str,
) -> ScriptInvocation<'static> {
    scoped_keys(script, op.scope(), keys, app, subject)
}

/// As `operation_keys`, for a script whose scope is not its operation's
/// (kill by handle reaches a user, kill by token a session).
fn scoped_keys(
    script: &'static Script,
    scope: Scope,
    keys: &Keys,
    app: &str,
    subject: &str,
) -> ScriptInvocation<'static> {
    let mut invocation = script.prepare_invoke();
    invocation
        .key(keys.app_sessions(app))
        .key(keys.app_users(app))
        .key(keys.all_sessions());
    match scope {
        Scope::Session => invocation.key(keys.session(app, subject)),
        Scope::User => invocation.key(keys.user_sessions(app, subject)),
        Scope::App | Scope::Server => &mut invocation,
    };
    invocation
}

/// Appends the flags (`lua/flags.lua`) when there are any.
fn flagged(invocation: &mut ScriptInvocation<'static>, flags: Option<&str>) {
    if let Some(flags) = flags {
        invocation.arg(flags);
    }
}

/// ARGV: now, app, token, then touchAfter when it is on (not 0) or flags
/// follow, then the flags. With neither, the command is the 10 arguments it
/// always was: Redis refuses more than 10 from a client that has not
/// authenticated with a protocol error, where with 10 it answers that
/// authentication is required.
pub fn get(
    keys: &Keys,
    app: &str,
    token: &str,
    now: u64,
    touch_after: u64,
    flags: Option<&str>,
) -> ScriptInvocation<'static> {
    let mut invocation = operation_keys(&GET, Operation::Get, keys, app, token);
    invocation.arg(now).arg(app).arg(token);
    if touch_after > 0 || flags.is_some() {
        invocation.arg(touch_after);
    }
    flagged(&mut invocation, flags);
    invocation
}

/// ARGV: now, app, token, cache channel, then for each key of the patch
/// its JSON text and its value's, or `""` to delete it, then the flags.
pub fn set(
    keys: &Keys,
    app: &str,
    token: &str,
    now: u64,
    channel: &str,
    patch: &[(JsText, Value)],
    flags: Option<&str>,
) -> ScriptInvocation<'static> {
    let mut invocation = operation_keys(&SET, Operation::Set, keys, app, token);
    invocation.arg(now).arg(app).arg(token).arg(channel);
    for (key, value) in patch {
        invocation.arg(key.to_json());
        match value {
            Value::Null => invocation.arg(""),
            other => invocation.arg(other.to_json()),
        };
    }
    flagged(&mut invocation, flags);
    invocation
}

/// ARGV: now, app, token, `ns:APP:us:`, cache channel, then the flags.
pub fn kill(
    keys: &Keys,
    app: &str,
    token: &str,
    now: u64,
    channel: &str,
    flags: Option<&str>,
) -> ScriptInvocation<'static> {
    let mut invocation = operation_keys(&KILL, Operation::Kill, keys, app, token);
    invocation
        .arg(now)
        .arg(app)
        .arg(token)
        .arg(keys.user_prefix(app))
        .arg(channel);
    flagged(&mut invocation, flags);
    invocation
}

/// Kill by handle, in the id's scope. ARGV: now, app, id, handle,
/// `ns:APP:`, `ns:APP:us:`, cache channel, then the flags.
pub fn kill_by_handle(
    keys: &Keys,
    app: &str,
    id: &str,
    handle: &str,
    now: u64,
    channel: &str,
    flags: Option<&str>,
) -> ScriptInvocation<'static> {
    let mut invocation = scoped_keys(&KILL_HANDLE, Scope::User, keys, app, id);
    invocation
        .arg(now)
        .arg(app)
        .arg(id)
        .arg(handle)
        .arg(keys.app_prefix(app))
        .arg(keys.user_prefix(app))
        .arg(channel);
    flagged(&mut invocation, flags);
    invocation
}

/// ARGV: app, id, `ns:APP:`, cache channel, the stored name of the session
/// kept (`""` for none), then the flags.
pub fn killsoid(
    keys: &Keys,
    app: &str,
    id: &str,
    channel: &str,
    kept: Option<&str>,
    flags: Option<&str>,
) -> ScriptInvocation<'static> {
    let mut invocation = operation_keys(&KILLSOID, Operation::Killsoid, keys, app, id);
    invocation
        .arg(app)
        .arg(id)
        .arg(keys.app_prefix(app))
        .arg(channel)
        .arg(kept.unwrap_or_default());
    flagged(&mut invocation, flags);
    invocation
}

/// ARGV: app, `ns:APP:`, cache channel, batch size, then the flags.
pub fn killall(
    keys: &Keys,
    app: &str,
    channel: &str,
    batch: usize,
    flags: Option<&str>,
) -> ScriptInvocation<'static> {
    let mut invocation = operation_keys(&KILLALL, Operation::Killall, keys, app, "");
    invocation
        .arg(app)
        .arg(keys.app_prefix(app))
        .arg(channel)
        .arg(batch);
    flagged(&mut invocation, flags);
    invocation
}

/// create with `max` (without it create is one MULTI, as the reference
/// writes). ARGV: now, app, token, id, the expiry score, max, `ns:APP:`,
/// cache channel, then the hash's field/value pairs, then the flags.
#[allow(clippy::too_many_arguments, reason = "the script's ARGV, each named")]
pub fn create(
    keys: &Keys,
    app: &str,
    token: &str,
    id: &str,
    now: u64,
    expires: &str,
    max: &str,
    channel: &str,
    fields: &[(&str, String)],
    flags: Option<&str>,
) -> ScriptInvocation<'static> {
    let mut invocation = operation_keys(&CREATE, Operation::Create, keys, app, id);
    invocation
        .arg(now)
        .arg(app)
        .arg(token)
        .arg(id)
        .arg(expires)
        .arg(max)
        .arg(keys.app_prefix(app))
        .arg(channel);
    for (field, value) in fields {
        invocation.arg(*field).arg(value);
    }
    flagged(&mut invocation, flags);
    invocation
}

/// KEYS: the table's, then the new token's session hash (in the same bucket).
/// ARGV: now, app, token, new token, `ns:APP:us:`, cache channel, then the flags.
pub fn rotate(
    keys: &Keys,
    app: &str,
    token: &str,
    new_token: &str,
    now: u64,
    channel: &str,
    flags: Option<&str>,
) -> ScriptInvocation<'static> {
    let mut invocation = operation_keys(&ROTATE, Operation::Rotate, keys, app, token);
    invocation
        .key(keys.session(app, new_token))
        .arg(now)
        .arg(app)
        .arg(token)
        .arg(new_token)
        .arg(keys.user_prefix(app))
        .arg(channel);
    flagged(&mut invocation, flags);
    invocation
}

/// ARGV: now, app, token, the new ttl as the reference writes numbers or
/// `""` to keep the session's, cache channel, then the flags.
pub fn touch(
    keys: &Keys,
    app: &str,
    token: &str,
    now: u64,
    ttl: Option<f64>,
    channel: &str,
    flags: Option<&str>,
) -> ScriptInvocation<'static> {
    let mut invocation = operation_keys(&TOUCH, Operation::Touch, keys, app, token);
    invocation
        .arg(now)
        .arg(app)
        .arg(token)
        .arg(ttl.map(number_to_string).unwrap_or_default())
        .arg(channel);
    flagged(&mut invocation, flags);
    invocation
}

/// KEYS: the table's (the session hash). ARGV: now, app, token, id, the
/// expiry score, `ns:APP:us:`, then the hash's field/value pairs, then the flags.
#[allow(clippy::too_many_arguments, reason = "the script's ARGV, each named")]
pub fn create_with_token(
    keys: &Keys,
    app: &str,
    token: &str,
    id: &str,
    now: u64,
    expires: &str,
    fields: &[(&str, String)],
    flags: Option<&str>,
) -> ScriptInvocation<'static> {
    let mut invocation = operation_keys(
        &CREATE_WITH_TOKEN,
        Operation::CreateWithToken,
        keys,
        app,
        token,
    );
    invocation
        .arg(now)
        .arg(app)
        .arg(token)
        .arg(id)
        .arg(expires)
        .arg(keys.user_prefix(app));
    for (field, value) in fields {
        invocation.arg(*field).arg(value);
    }
    flagged(&mut invocation, flags);
    invocation
}

/// ARGV: now, app, token, the new id, `ns:APP:us:`, cache channel, then the flags.
pub fn move_to_id(
    keys: &Keys,
    app: &str,
    token: &str,
    id: &str,
    now: u64,
    channel: &str,
    flags: Option<&str>,
) -> ScriptInvocation<'static> {
    let mut invocation = operation_keys(&MOVE_TO_ID, Operation::MoveToId, keys, app, token);
    invocation
        .arg(now)
        .arg(app)
        .arg(token)
        .arg(id)
        .arg(keys.user_prefix(app))
        .arg(channel);
    flagged(&mut invocation, flags);
    invocation
}

/// ARGV: now, app, `ns:APP:`.
pub fn count(keys: &Keys, app: &str, now: u64) -> ScriptInvocation<'static> {
    let mut invocation = operation_keys(&COUNT, Operation::Count, keys, app, "");
    invocation.arg(now).arg(app).arg(keys.app_prefix(app));
    invocation
}

/// hashTokens 'migrate': KEYS the table's with the hashed name's session
/// hash, then the hash under the token (the same bucket: the hashed name
/// keeps the token's). ARGV: app, stored name, token, `ns:APP:us:`.
pub fn adopt(keys: &Keys, app: &str, stored: &str, token: &str) -> ScriptInvocation<'static> {
    let mut invocation = scoped_keys(&ADOPT, Scope::Session, keys, app, stored);
    invocation
        .key(keys.session(app, token))
        .arg(app)
        .arg(stored)
        .arg(token)
        .arg(keys.user_prefix(app));
    invocation
}

/// Not an operation: KEYS `ns:SESSIONS`; ARGV now, `ns:`, cache channel,
/// batch size, then the flags.
pub fn wipe(
    keys: &Keys,
    now: u64,
    channel: &str,
    batch: usize,
    flags: Option<&str>,
) -> ScriptInvocation<'static> {
    let mut invocation = WIPE.prepare_invoke();
    invocation
        .key(keys.all_sessions())
        .arg(now)
        .arg(keys.prefix())
        .arg(channel)
        .arg(batch);
    flagged(&mut invocation, flags);
    invocation
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What each script's header says its KEYS are must be what is sent.
    #[test]
    fn every_operation_script_declares_the_one_keys_order() {
        let order = "-- KEYS: ns:APP:_sessions, ns:APP:_users, ns:SESSIONS";
        for (file, subject) in [
            (include_str!("lua/get.lua"), ", session hash\n"),
            (include_str!("lua/set.lua"), ", session hash\n"),
            (include_str!("lua/kill.lua"), ", session hash\n"),
            (include_str!("lua/killsoid.lua"), ", ns:APP:us:ID\n"),
            (include_str!("lua/killall.lua"), "\n"),
            (include_str!("lua/count.lua"), "\n"),
            (include_str!("lua/kill_handle.lua"), ", ns:APP:us:ID\n"),
            (include_str!("lua/create.lua"), ", ns:APP:us:ID\n"),
            (include_str!("lua/touch_session.lua"), ", session hash\n"),
            (include_str!("lua/create_token.lua"), ", session hash\n"),
            (include_str!("lua/move_to_id.lua"), ", session hash\n"),
            (
                include_str!("lua/rotate.lua"),
                ", session hash, the new token's session hash\n",
            ),
        ] {
            assert!(file.starts_with(&format!("{order}{subject}")), "{file}");
        }
    }

    /// Records the command an invocation sends instead of sending it.
    #[derive(Default)]
    struct Recorder(Vec<u8>);

    impl redis::ConnectionLike for Recorder {
        fn req_packed_command(&mut self, cmd: &[u8]) -> redis::RedisResult<redis::Value> {
            self.0 = cmd.to_vec();
            Ok(redis::Value::Int(0))
        }
        fn req_packed_commands(
            &mut self,
            _: &[u8],
            _: usize,
            _: usize,
        ) -> redis::RedisResult<Vec<redis::Value>> {
            Ok(Vec::new())
        }
        fn get_db(&self) -> i64 {
            0
        }
        fn check_connection(&mut self) -> bool {
            true
        }
        fn is_open(&self) -> bool {
            true
        }
    }

    /// The RESP arguments after EVALSHA and the SHA: the number of keys, then the keys and ARGV.
    fn sent(invocation: &ScriptInvocation) -> Vec<String> {
        let mut recorder = Recorder::default();
        invocation.invoke::<i64>(&mut recorder).unwrap();
        let text = String::from_utf8(recorder.0).unwrap();
        let parts: Vec<&str> = text.split("\r\n").collect();
        parts
            .iter()
            .skip(2)
            .step_by(2)
            .skip(2)
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn keys_follow_the_tables_scope() {
        let keys = Keys::new("rs");
        let token = "T".repeat(64);
        let indexes = ["rs:app:_sessions", "rs:app:_users", "rs:SESSIONS"];
        let hash = format!("rs:app:{token}");
        let with = |last: &str| {
            let mut expected: Vec<String> = indexes.iter().map(|k| k.to_string()).collect();
            expected.push(last.to_owned());
            expected
        };
        let get_lazy = sent(&get(&keys, "app", &token, 7, 30, None));
        assert_eq!(get_lazy[5..], ["7", "app", &token, "30"][..]);
        let get = sent(&get(&keys, "app", &token, 7, 0, None));
        assert_eq!(get[0], "4");
        assert_eq!(get[1..5], with(&hash)[..]);
        assert_eq!(get[5..], ["7", "app", &token][..]);
        let set = sent(&set(&keys, "app", &token, 7, "rs:cache", &[], None));
        assert_eq!(set[1..5], with(&hash)[..]);
        let kill = sent(&kill(&keys, "app", &token, 7, "rs:cache", None));
        assert_eq!(kill[1..5], with(&hash)[..]);
        assert_eq!(
            kill[5..],
            ["7", "app", &token, "rs:app:us:", "rs:cache"][..]
        );
        let killsoid = sent(&killsoid(&keys, "app", "u:1", "rs:cache", None, None));
        assert_eq!(killsoid[1..5], with("rs:app:us:u:1")[..]);
        assert_eq!(killsoid[5..], ["app", "u:1", "rs:app:", "rs:cache", ""][..]);
        let keeping = sent(&super::killsoid(
            &keys,
            "app",
            "u:1",
            "rs:cache",
            Some(&token),
            Some("h"),
        ));
        assert_eq!(keeping[9..], [&token, "h"][..]);
        let by_handle = sent(&kill_by_handle(
            &keys,
            "app",
            "u:1",
            "0123456789abcdef",
            7,
            "rs:cache",
            None,
        ));
        assert_eq!(by_handle[1..5], with("rs:app:us:u:1")[..]);
        assert_eq!(
            by_handle[5..],
            [
                "7",
                "app",
                "u:1",
                "0123456789abcdef",
                "rs:app:",
                "rs:app:us:",
                "rs:cache"
            ][..]
        );
        let fields = [("id", "u:1".to_owned()), ("r", "1".to_owned())];
        let create = sent(&create(
            &keys, "app", &token, "u:1", 7, "17", "2", "rs:cache", &fields, None,
        ));
        assert_eq!(create[1..5], with("rs:app:us:u:1")[..]);
        assert_eq!(
            create[5..],
            ["7", "app", &token, "u:1", "17", "2", "rs:app:", "rs:cache", "id", "u:1", "r", "1"][..]
        );
        let new_token = "N".repeat(64);
        let rotate = sent(&rotate(
            &keys, "app", &token, &new_token, 7, "rs:cache", None,
        ));
        assert_eq!(rotate[0], "5");
        assert_eq!(rotate[1..5], with(&hash)[..]);
        assert_eq!(rotate[5], format!("rs:app:{new_token}"));
        assert_eq!(
            rotate[6..],
            ["7", "app", &token, &new_token, "rs:app:us:", "rs:cache"][..]
        );
        let touch_keeping = sent(&touch(&keys, "app", &token, 7, None, "rs:cache", None));
        assert_eq!(touch_keeping[1..5], with(&hash)[..]);
        assert_eq!(touch_keeping[5..], ["7", "app", &token, "", "rs:cache"][..]);
        let touch_with_ttl = sent(&touch(
            &keys,
            "app",
            &token,
            7,
            Some(60.0),
            "rs:cache",
            None,
        ));
        assert_eq!(touch_with_ttl[8], "60");
        let created = sent(&create_with_token(
            &keys, "app", &token, "u:1", 7, "17", &fields, None,
        ));
        assert_eq!(created[1..5], with(&hash)[..]);
        assert_eq!(
            created[5..],
            [
                "7",
                "app",
                &token,
                "u:1",
                "17",
                "rs:app:us:",
                "id",
                "u:1",
                "r",
                "1"
            ][..]
        );
        let moved = sent(&move_to_id(
            &keys, "app", &token, "u:2", 7, "rs:cache", None,
        ));
        assert_eq!(moved[1..5], with(&hash)[..]);
        assert_eq!(
            moved[5..],
            ["7", "app", &token, "u:2", "rs:app:us:", "rs:cache"][..]
        );
        let count = sent(&count(&keys, "app", 7));
        assert_eq!(count[0], "3");
        assert_eq!(count[1..4], indexes[..]);
        assert_eq!(count[4..], ["7", "app", "rs:app:"][..]);
        let killall = sent(&killall(&keys, "app", "rs:cache", 10, None));
        assert_eq!(killall[0], "3");
        assert_eq!(killall[1..4], indexes[..]);
        // Flags follow the last argument; get sends touchAfter before them.
        let flagged = sent(&super::get(&keys, "app", &token, 7, 0, Some("h")));
        assert_eq!(flagged[5..], ["7", "app", &token, "0", "h"][..]);
        let pair = [(JsText::Utf8("a".to_owned()), Value::Null)];
        let set_flagged = sent(&super::set(
            &keys,
            "app",
            &token,
            7,
            "rs:cache",
            &pair,
            Some("h"),
        ));
        assert_eq!(set_flagged[9..], ["\"a\"", "", "h"][..]);
        let adopt = sent(&adopt(&keys, "app", &new_token, &token));
        assert_eq!(adopt[0], "5");
        assert_eq!(adopt[4], format!("rs:app:{new_token}"));
        assert_eq!(adopt[5], hash);
        assert_eq!(adopt[6..], ["app", &new_token, &token, "rs:app:us:"][..]);
    }
}
