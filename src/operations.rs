//! The table of operations: every method of redis-sessions that takes an
//! options object, with its fields in the reference's order of validation,
//! the keys it reaches and what it answers. The engine's dispatch, each
//! operation's checked input and the binding's methods are all made from
//! this one table, so the fields the binding reads are the fields the engine
//! checks, and JavaScript gets a method for every operation.
//!
//! Adding an operation: a row here, the engine method the row names (in
//! `store.rs`, taking the row's `input::`), its script in `lua/` with its
//! invocation in `scripts.rs`, the method of the same name on
//! `memory::Sessions` (the in-memory engine; it takes the time too), and its
//! types in `index.d.ts`.

use std::marker::PhantomData;

use crate::error::Result;
use crate::fields::{kind, Check, Field};
use crate::session::Session;
use crate::store::Store;
use crate::validate::{Args, Style};

/// Which keys an operation reaches. A script's KEYS are its app's indexes
/// (`_sessions`, `_users`, `SESSIONS`), then the key its scope names
/// (`scripts::operation_keys`); in cluster mode the scope also says which
/// bucket holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One session: its hash, in the bucket its token names.
    Session,
    /// One id's sessions: its token set `us:ID`, in the bucket of the id.
    User,
    /// The app's indexes only, in every bucket.
    App,
    /// No key of the sessions.
    Server,
}

/// What an operation answers, before it becomes a JavaScript value.
#[derive(Debug)]
pub enum Reply {
    Token(String),
    Session(Option<Session>),
    Sessions(Vec<Session>),
    /// `{name: n}`.
    Count(&'static str, i64),
    Text(String),
    /// `{token}`, or not-found (`{}` / `null`) when there was no session.
    NewToken(Option<String>),
}

/// Calls `$then!` with the table. A row:
/// `name: Variant [field: Kind, ...] Scope -> Reply = engine_method;`
/// where each `Kind` is a type of `fields::kind` and the fields are checked
/// in the order written.
macro_rules! for_each_operation {
    ($then:ident) => {
        $then! {
            /// Creates a session for an id: `{token}`. `max` and `max_age`
            /// are ours, checked after the reference's fields.
            create: Create [app: App, id: Id, ip: Ip, ttl: Ttl, d: OptionalD, no_resave: NoResave,
                max: Max, max_age: MaxAge]
                User -> Token = create;
            /// The session, counting this read. With `cachetime`, the
            /// JavaScript cache (`cache-hits.js`) answers first when it can.
            get: Get [app: App, token: Token] Session -> Session = get_uncached;
            /// Merges `d` into the session: the session after the update.
            set: Set [app: App, token: Token, d: D] Session -> Session = set;
            /// Kills one session, named by its token or by its id and handle: `{kill: 0 or 1}`.
            kill: Kill [app: App, session: TokenOrHandle] Session -> Count("kill") = kill;
            /// Kills every session of the app: `{kill: n}`.
            killall: Killall [app: App] App -> Count("kill") = killall;
            /// Kills every session of an id, or with `except` (a token; ours)
            /// every one but that token's, in one script: `{kill: n}`.
            killsoid: Killsoid [app: App, id: Id, except: Except] User -> Count("kill") = killsoid;
            /// The sessions of an id, with `handles: true` each with its handle: `{sessions}`.
            soid: Soid [app: App, id: Id, handles: Handles] User -> Sessions = soid;
            /// The app's sessions active within the window, most recent first,
            /// with `handles: true` each with its handle: `{sessions}`.
            soapp: Soapp [app: App, window: Window, handles: Handles] App -> Sessions = soapp;
            /// The app's live sessions, counted without reading them (ours):
            /// `{count: n}`.
            count: Count [app: App] App -> Count("count") = count;
            /// Unique ids active within the window: `{activity: n}`.
            activity: Activity [app: App, window: Window] App -> Count("activity") = activity;
            /// Redis's answer to PING.
            ping: Ping [] Server -> Text = ping;
            /// Moves the session to a new token, keeping all of it: `{token}`,
            /// or not-found as `get` answers it.
            rotate: Rotate [app: App, token: Token] Session -> NewToken = rotate;
            /// A touching `get` that may give the session a new idle timeout.
            touch: Touch [app: App, token: Token, ttl: OptionalTtl] Session -> Session = touch;
            /// Creates a session under the token given (the express store's,
            /// derived from a sid): `{token}`, or not-found when a session
            /// already has that token, which it leaves as it is.
            createWithToken: CreateWithToken [app: App, token: Token, id: Id, ip: Ip, ttl: Ttl, d: OptionalD]
                Session -> NewToken = create_with_token;
            /// Makes a live session the id's, keeping its token and data: `{moved: 1 or 0}`.
            moveToId: MoveToId [app: App, token: Token, id: Id] Session -> Count("moved") = move_to_id;
        }
    };
}
pub(crate) use for_each_operation;

macro_rules! define_operations {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident: $op:ident [$($field:ident: $kind:ident),*]
            $scope:ident -> $reply:ident $(($label:literal))? = $method:ident;
    )*) => {
        /// Every operation of the table.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Operation {
            $($(#[doc = $doc])* $op,)*
        }

        impl Operation {
            /// In the table's order.
            pub const ALL: &'static [Operation] = &[$(Operation::$op),*];

            /// The method's name in JavaScript.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$op => stringify!($name),)*
                }
            }

            /// The fields the binding reads, in the order the engine checks them.
            pub fn fields(self) -> &'static [Field] {
                match self {
                    $(Self::$op => &[$(<kind::$kind as Check>::FIELD),*],)*
                }
            }

            pub fn scope(self) -> Scope {
                match self {
                    $(Self::$op => Scope::$scope,)*
                }
            }
        }

        /// Each operation's arguments once checked: made only by `check`,
        /// which checks the row's fields in the row's order, so an engine
        /// method cannot read a field its row does not list.
        pub mod input {
            use super::*;

            $(
                $(#[doc = $doc])*
                pub struct $op<'a> {
                    $(pub $field: <kind::$kind as Check>::Valid<'a>,)*
                    read_from: PhantomData<&'a Args>,
                }

                impl<'a> $op<'a> {
                    /// The first failing field's error wins, as in the reference.
                    #[allow(unused_variables, reason = "an operation without fields reads nothing")]
                    pub fn check(args: &'a Args, style: Style) -> Result<Self> {
                        Ok(Self {
                            $($field: <kind::$kind as Check>::check(args, style)?,)*
                            read_from: PhantomData,
                        })
                    }
                }
            )*
        }

        impl Store {
            /// Checks the operation's fields, then runs its engine method.
            pub async fn perform(&self, op: Operation, args: &Args, style: Style) -> Result<Reply> {
                match op {
                    $(Operation::$op => self
                        .$method(input::$op::check(args, style)?)
                        .await
                        .map(|answer| Reply::$reply($($label,)? answer)),)*
                }
            }
        }
    };
}

for_each_operation!(define_operations);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_javascript_identifiers() {
        let mut names: Vec<&str> = Operation::ALL.iter().map(|op| op.name()).collect();
        // The reference's are lowercase; ours may be camelCase (createWithToken).
        assert!(names
            .iter()
            .all(|n| n.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && n.chars().all(|c| c.is_ascii_alphanumeric())));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Operation::ALL.len());
    }

    #[test]
    fn fields_are_checked_in_the_tables_order() {
        // create checks app, id, ip, ttl, then d: with all of them bad the
        // first one's error wins, and each fixed one lets the next show.
        let mut args = Args::default();
        let message = |args: &Args| {
            input::Create::check(args, Style::Callback)
                .err()
                .map(|err| err.to_string())
        };
        assert_eq!(message(&args).as_deref(), Some("No app supplied"));
        args.app = crate::Arg::text("app");
        assert_eq!(message(&args).as_deref(), Some("No id supplied"));
        args.id = crate::Arg::text("u");
        assert_eq!(message(&args).as_deref(), Some("No ip supplied"));
        args.ip = crate::Arg::text("1.2.3.4");
        args.ttl = crate::Arg::text("9");
        assert_eq!(
            message(&args).as_deref(),
            Some("ttl must be a positive integer >= 10")
        );
        args.ttl = crate::Arg::Falsy;
        args.d = crate::DataArg::NotAnObject;
        assert_eq!(message(&args).as_deref(), Some("d must be an object"));
        args.d = crate::DataArg::Falsy;
        args.max = crate::validate::NumberArg::Number(0.0);
        args.max_age = crate::validate::NumberArg::Number(5.0);
        assert_eq!(
            message(&args).as_deref(),
            Some("max must be a positive integer")
        );
        args.max = crate::validate::NumberArg::Absent;
        assert_eq!(
            message(&args).as_deref(),
            Some("maxAge must be a positive integer >= 10")
        );
        args.max_age = crate::validate::NumberArg::Absent;
        assert_eq!(message(&args), None);
        assert_eq!(
            Operation::Create.fields(),
            [
                Field::App,
                Field::Id,
                Field::Ip,
                Field::Ttl,
                Field::OptionalD,
                Field::NoResave,
                Field::Max,
                Field::MaxAge
            ]
        );
    }

    #[test]
    fn the_window_speaks_the_callers_style() {
        let args = Args {
            app: crate::Arg::text("app"),
            ..Args::default()
        };
        let message = |style| {
            input::Activity::check(&args, style)
                .err()
                .map(|err| err.to_string())
        };
        assert_eq!(
            message(Style::Callback).as_deref(),
            Some("ttl must be a positive integer >= 10")
        );
        assert_eq!(
            message(Style::Promise).as_deref(),
            Some("deltaTime must be a positive integer >= 10")
        );
    }

    #[test]
    fn touch_keeps_the_ttl_unless_one_is_given() {
        let mut args = Args {
            app: crate::Arg::text("app"),
            token: crate::Arg::text("a".repeat(64)),
            ..Args::default()
        };
        let ttl = |args: &Args| input::Touch::check(args, Style::Promise).map(|input| input.ttl);
        assert_eq!(ttl(&args).ok(), Some(None));
        args.ttl = crate::Arg::text("3600abc");
        assert_eq!(ttl(&args).ok(), Some(Some(3600.0)));
        args.ttl = crate::Arg::text("9");
        assert_eq!(
            ttl(&args).err().map(|err| err.to_string()).as_deref(),
            Some("ttl must be a positive integer >= 10")
        );
        args.token = crate::Arg::Falsy;
        assert_eq!(
            ttl(&args).err().map(|err| err.to_string()).as_deref(),
            Some("No token supplied")
        );
    }
}
