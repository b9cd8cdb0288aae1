//! The Lua scripts that make each operation one atomic round trip. Every
//! script is the shared parts it uses followed by its own file (a part's
//! functions are made anew on every call, so each script takes only what it
//! needs); redis-rs sends EVALSHA and loads the script on NOSCRIPT.

use std::sync::LazyLock;

use redis::Script;

macro_rules! scripts {
    ($($name:ident = [$($part:literal),*] $file:literal),* $(,)?) => {
        $(
            pub static $name: LazyLock<Script> = LazyLock::new(|| Script::new(source::$name));
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
    GET = ["session.lua", "touch.lua"] "get.lua",
    SET = ["session.lua", "touch.lua"] "set.lua",
    KILL = ["session.lua", "types.lua", "kill_one.lua"] "kill.lua",
    KILLSOID = ["types.lua"] "killsoid.lua",
    KILLALL = ["types.lua", "member.lua"] "killall.lua",
    WIPE = ["kill_one.lua", "member.lua"] "wipe.lua",
}
