//! The Lua scripts that make each operation one atomic round trip. Every
//! script is the shared prelude followed by its own file; redis-rs sends
//! EVALSHA and loads the script on NOSCRIPT.

use std::sync::LazyLock;

use redis::Script;

macro_rules! scripts {
    ($($name:ident = $file:literal),* $(,)?) => {
        $(
            pub static $name: LazyLock<Script> = LazyLock::new(|| Script::new(source::$name));
        )*

        mod source {
            $(
                pub const $name: &str = concat!(
                    include_str!("lua/prelude.lua"),
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
    GET = "get.lua",
    SET = "set.lua",
    KILL = "kill.lua",
    KILLSOID = "killsoid.lua",
    KILLALL = "killall.lua",
    WIPE = "wipe.lua",
    SOID = "soid.lua",
    SOAPP = "soapp.lua",
}
