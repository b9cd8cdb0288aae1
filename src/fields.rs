//! The fields of a method's options object that operations read, and how
//! the engine checks each. `operations` lists the fields of each operation;
//! the binding reads exactly those (`node/args.rs`).

use crate::data::{JsText, Value};
use crate::error::{Result, SessionError};
use crate::handle::{self, SessionRef};
use crate::validate::{self, Arg, Args, DataArg, Style};

/// A kind of field of an options object, named after its property. One
/// field may be read from either of two properties where the reference lets
/// one stand in for the other (`Window`: `dt` or `deltaTime`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    App,
    Id,
    Ip,
    Token,
    Ttl,
    /// `d`, required (set).
    D,
    /// `d`, which may be left out (create).
    OptionalD,
    NoResave,
    /// The activity window: `dt` or `deltaTime`.
    Window,
    /// The session a kill names: `token`, or `id` and `handle` (`handle.rs`).
    TokenOrHandle,
    /// `handles`: listings show each session's handle when it is `true`.
    Handles,
    /// create's `max`: the most live sessions an id keeps (ours, not the reference's).
    Max,
    /// create's `maxAge`: seconds the session lives at most (ours, not the reference's).
    MaxAge,
    /// `ttl`, which may be left out: no default (touch keeps the session's).
    OptionalTtl,
    /// killsoid's `except`: a token, which may be left out (ours, not the reference's).
    Except,
}

/// One kind of field as a type: what it is once checked, and the check.
/// `operations` builds each operation's input from these, in its table's
/// order, which is the reference's order of validation.
pub trait Check {
    const FIELD: Field;
    type Valid<'a>;
    fn check(args: &Args, style: Style) -> Result<Self::Valid<'_>>;
}

/// The types of the fields, named as `Field`'s variants.
pub mod kind {
    use super::*;

    pub struct App;
    pub struct Id;
    pub struct Ip;
    pub struct Token;
    pub struct Ttl;
    pub struct D;
    pub struct OptionalD;
    pub struct NoResave;
    pub struct Window;
    pub struct TokenOrHandle;
    pub struct Handles;
    pub struct Max;
    pub struct MaxAge;
    pub struct OptionalTtl;
    pub struct Except;

    impl Check for App {
        const FIELD: Field = Field::App;
        type Valid<'a> = &'a str;
        fn check(args: &Args, _: Style) -> Result<&str> {
            validate::app(&args.app)
        }
    }

    impl Check for Id {
        const FIELD: Field = Field::Id;
        type Valid<'a> = &'a str;
        fn check(args: &Args, _: Style) -> Result<&str> {
            validate::id(&args.id)
        }
    }

    impl Check for Ip {
        const FIELD: Field = Field::Ip;
        type Valid<'a> = &'a str;
        fn check(args: &Args, _: Style) -> Result<&str> {
            validate::ip(&args.ip)
        }
    }

    impl Check for Token {
        const FIELD: Field = Field::Token;
        type Valid<'a> = &'a str;
        fn check(args: &Args, _: Style) -> Result<&str> {
            validate::token(&args.token)
        }
    }

    impl Check for Ttl {
        const FIELD: Field = Field::Ttl;
        type Valid<'a> = f64;
        fn check(args: &Args, _: Style) -> Result<f64> {
            validate::ttl(&args.ttl)
        }
    }

    impl Check for D {
        const FIELD: Field = Field::D;
        type Valid<'a> = &'a [(JsText, Value)];
        fn check(args: &Args, _: Style) -> Result<&[(JsText, Value)]> {
            validate::data(&args.d)
        }
    }

    impl Check for OptionalD {
        const FIELD: Field = Field::OptionalD;
        type Valid<'a> = &'a [(JsText, Value)];
        fn check(args: &Args, _: Style) -> Result<&[(JsText, Value)]> {
            match &args.d {
                DataArg::Falsy => Ok(&[]),
                other => validate::data(other),
            }
        }
    }

    impl Check for NoResave {
        const FIELD: Field = Field::NoResave;
        type Valid<'a> = bool;
        fn check(args: &Args, _: Style) -> Result<bool> {
            Ok(args.no_resave)
        }
    }

    impl Check for Window {
        const FIELD: Field = Field::Window;
        type Valid<'a> = f64;
        fn check(args: &Args, style: Style) -> Result<f64> {
            validate::window(args, style)
        }
    }

    impl Check for TokenOrHandle {
        const FIELD: Field = Field::TokenOrHandle;
        type Valid<'a> = SessionRef<'a>;
        fn check(args: &Args, _: Style) -> Result<SessionRef<'_>> {
            handle::token_or_handle(args)
        }
    }

    impl Check for Handles {
        const FIELD: Field = Field::Handles;
        type Valid<'a> = bool;
        fn check(args: &Args, _: Style) -> Result<bool> {
            Ok(args.handles)
        }
    }

    impl Check for Max {
        const FIELD: Field = Field::Max;
        type Valid<'a> = Option<f64>;
        fn check(args: &Args, _: Style) -> Result<Option<f64>> {
            validate::max(args.max)
        }
    }

    impl Check for MaxAge {
        const FIELD: Field = Field::MaxAge;
        type Valid<'a> = Option<f64>;
        fn check(args: &Args, _: Style) -> Result<Option<f64>> {
            validate::max_age(args.max_age)
        }
    }

    impl Check for OptionalTtl {
        const FIELD: Field = Field::OptionalTtl;
        type Valid<'a> = Option<f64>;
        /// A falsy ttl (absent, `0`, `""`, `null`) is no ttl, where the
        /// reference's `ttl || 7200` would read the default; any other is
        /// read by the reference's rule.
        fn check(args: &Args, _: Style) -> Result<Option<f64>> {
            match &args.ttl {
                Arg::Falsy => Ok(None),
                given => validate::ttl(given).map(Some),
            }
        }
    }

    impl Check for Except {
        const FIELD: Field = Field::Except;
        type Valid<'a> = Option<&'a str>;
        /// A falsy `except` keeps no session; any other must be a token
        /// (`Invalid except format`).
        fn check(args: &Args, _: Style) -> Result<Option<&str>> {
            match &args.except {
                Arg::Falsy => Ok(None),
                given => validate::token(given)
                    .map(Some)
                    .map_err(|_| SessionError::InvalidFormat("except")),
            }
        }
    }
}
