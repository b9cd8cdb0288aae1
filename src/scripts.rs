//! The Lua scripts that make each operation one atomic round trip. Every
//! script is the shared prelude followed by its own file; redis-rs sends
//! EVALSHA and loads the script on NOSCRIPT.

use std::sync::LazyLock;

use redis::Script;

macro_rules! script {
    ($name:ident, $file:literal) => {
        pub static $name: LazyLock<Script> = LazyLock::new(|| {
            Script::new(concat!(
                include_str!("lua/prelude.lua"),
                include_str!(concat!("lua/", $file))
            ))
        });
    };
}

script!(GET, "get.lua");
script!(SET, "set.lua");
script!(KILL, "kill.lua");
script!(KILLSOID, "killsoid.lua");
script!(KILLALL, "killall.lua");
script!(WIPE, "wipe.lua");
script!(SOID, "soid.lua");
script!(SOAPP, "soapp.lua");
