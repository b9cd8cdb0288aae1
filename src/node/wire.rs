//! The host's side of a hosted connection (`crate::hosted`): a Node
//! `net.Socket` (from the `net` module `index.js` hands in), driven from
//! here. Its events call into the engine on the JavaScript thread, which
//! then runs the operations they woke and settles them (`settle::Handle`).
//!
//! The socket is touched only on its JavaScript thread; another thread's
//! write or close is posted there. It is unreferenced: an idle connection
//! does not keep Node alive, and while calls are in flight the settler's
//! threadsafe function does.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::{self, ThreadId};
use std::time::Duration;

use napi::bindgen_prelude::{
    Buffer, BufferSlice, FnArgs, Function, JsObjectValue, Object, Unknown,
};
use napi::{sys, Env, JsValue, Result};

use super::settle::Handle;
use crate::hosted::{Address, Dialer, Hosted, Wire};

/// A napi reference, used and deleted only on the JavaScript thread that
/// made it, while its environment lives.
struct JsRef {
    env: sys::napi_env,
    raw: sys::napi_ref,
}

// SAFETY: carried by other threads only inside `NodeWire`, which reaches the
// reference solely on the JavaScript thread that created it (`on_js_thread`).
unsafe impl Send for JsRef {}

/// Opens sockets with `net.connect` on the instance's JavaScript thread.
pub struct NodeDialer {
    js_thread: ThreadId,
    /// The connections it opened, ended with the JavaScript environment.
    live: Arc<Mutex<Vec<Weak<Hosted>>>>,
    /// The `net` module, until quit.
    net: Arc<Mutex<Option<JsRef>>>,
    settler: Handle,
}

// SAFETY: the `net` reference is only reached on `js_thread` (see `JsRef`).
unsafe impl Sync for NodeDialer {}

impl NodeDialer {
    pub fn new(env: &Env, net: &Object, settler: Handle) -> Result<Self> {
        let mut raw = std::ptr::null_mut();
        // SAFETY: a live env on its thread; `net` belongs to it.
        napi::check_status!(unsafe {
            sys::napi_create_reference(env.raw(), net.raw(), 1, &mut raw)
        })?;
        let live: Arc<Mutex<Vec<Weak<Hosted>>>> = Arc::default();
        let ending = Arc::clone(&live);
        settler.at_environment_end(Box::new(move || {
            for hosted in std::mem::take(&mut *lock(&ending)) {
                if let Some(hosted) = hosted.upgrade() {
                    hosted.ended("the JavaScript environment has ended");
                }
            }
        }));
        Ok(Self {
            js_thread: thread::current().id(),
            live,
            net: Arc::new(Mutex::new(Some(JsRef {
                env: env.raw(),
                raw,
            }))),
            settler,
        })
    }
}

impl NodeDialer {
    /// Lets go of the `net` module (at quit); a later dial fails.
    pub fn release(&self, env: &Env) {
        if thread::current().id() != self.js_thread {
            return;
        }
        if let Some(net) = lock(&self.net).take() {
            // SAFETY: on the JavaScript thread of this reference's env, deleted once.
            unsafe { sys::napi_delete_reference(env.raw(), net.raw) };
        }
    }
}

impl Dialer for NodeDialer {
    fn dial(&self, address: &Address, keep_alive: Duration, to: &Arc<Hosted>) -> Arc<dyn Wire> {
        {
            let mut live = lock(&self.live);
            live.retain(|hosted| hosted.strong_count() > 0);
            live.push(Arc::downgrade(to));
        }
        let wire = Arc::new_cyclic(|me| NodeWire {
            me: me.clone(),
            js_thread: self.js_thread,
            socket: Mutex::new(None),
            hosted: Arc::downgrade(to),
            settler: self.settler.clone(),
            error: Mutex::new(None),
            closing: Mutex::new(false),
        });
        let open = {
            let (wire, to, address) = (Arc::clone(&wire), Arc::clone(to), address.clone());
            let net = Arc::clone(&self.net);
            move |env: &Env| {
                let net = lock(&net).as_ref().map(|net| net.raw);
                let Some(net) = net else {
                    to.ended("the instance has quit");
                    return;
                };
                if let Err(err) = open(env, net, &wire, &to, &address, keep_alive) {
                    to.ended(&format!("could not open a socket: {err}"));
                }
            }
        };
        if thread::current().id() == self.js_thread {
            let env = lock(&self.net).as_ref().map(|net| net.env);
            match env {
                // On the JavaScript thread of this env, within a call from it.
                Some(env) => open(&Env::from_raw(env)),
                None => to.ended("the instance has quit"),
            }
        } else if !self.settler.post(Box::new(open)) {
            to.ended("the instance has quit, or its JavaScript environment has ended");
        }
        wire
    }
}

/// The `net.connect` call and the socket's listeners.
fn open(
    env: &Env,
    net: sys::napi_ref,
    wire: &Arc<NodeWire>,
    to: &Arc<Hosted>,
    address: &Address,
    keep_alive: Duration,
) -> Result<()> {
    let mut net_value = std::ptr::null_mut();
    // SAFETY: the reference was made in this env and is deleted only by `NodeDialer::release`.
    napi::check_status!(unsafe { sys::napi_get_reference_value(env.raw(), net, &mut net_value) })?;
    let net = Object::from_raw(env.raw(), net_value);
    let mut options = Object::new(env)?;
    match address {
        Address::Tcp { host, port } => {
            options.set_named_property("host", host.as_str())?;
            options.set_named_property("port", u32::from(*port))?;
        }
        Address::Unix { path } => options.set_named_property("path", path.as_str())?,
    }
    // Node 18 does not try each address of a name by default (`localhost` may be ::1 alone); redis-rs does.
    options.set_named_property("autoSelectFamily", true)?;
    let connect: Function<Object, Object> = net.get_named_property("connect")?;
    let socket = match connect.apply(net, options) {
        Ok(socket) => socket,
        Err(err) => {
            super::args::clear_pending_exception(env);
            return Err(err);
        }
    };
    call(env, &socket, "setNoDelay", FnArgs::from((true,)))?;
    call(
        env,
        &socket,
        "setKeepAlive",
        FnArgs::from((true, keep_alive.as_millis() as f64)),
    )?;
    call::<()>(env, &socket, "unref", ())?;

    let settler = wire.settler.clone();
    let hosted = Arc::clone(to);
    let on_connect = env.create_function_from_closure::<(), (), _>("connect", move |ctx| {
        settler.run_here(ctx.env, || hosted.connected());
        Ok(())
    })?;
    let settler = wire.settler.clone();
    let hosted = Arc::clone(to);
    let on_data = env.create_function_from_closure::<BufferSlice, (), _>("data", move |ctx| {
        let data = ctx.get::<BufferSlice>(0)?;
        settler.run_here(ctx.env, || hosted.received(&data));
        Ok(())
    })?;
    let error_of = Arc::clone(wire);
    let on_error = env.create_function_from_closure::<Unknown, (), _>("error", move |ctx| {
        let message = ctx
            .get::<Object>(0)
            .and_then(|err| err.get_named_property::<String>("message"))
            .unwrap_or_else(|_| "socket error".to_owned());
        *lock(&error_of.error) = Some(message);
        Ok(())
    })?;
    let settler = wire.settler.clone();
    let hosted = Arc::clone(to);
    let closed = Arc::clone(wire);
    let on_close = env.create_function_from_closure::<(), (), _>("close", move |ctx| {
        let why = lock(&closed.error)
            .take()
            .unwrap_or_else(|| "the connection was closed by the server".to_owned());
        closed.forget(ctx.env);
        settler.run_here(ctx.env, || hosted.ended(&why));
        Ok(())
    })?;
    on(env, &socket, "connect", on_connect)?;
    on(env, &socket, "data", on_data)?;
    on(env, &socket, "error", on_error)?;
    on(env, &socket, "close", on_close)?;

    let mut raw = std::ptr::null_mut();
    // SAFETY: a live env on its thread; `socket` belongs to it.
    napi::check_status!(unsafe {
        sys::napi_create_reference(env.raw(), socket.raw(), 1, &mut raw)
    })?;
    *lock(&wire.socket) = Some(JsRef {
        env: env.raw(),
        raw,
    });
    // Written before it connects: Node queues it.
    wire.write_now(env);
    if *lock(&wire.closing) {
        wire.destroy(env);
    }
    Ok(())
}

/// `object[method](...args)`. What JavaScript threw is cleared, not left
/// pending (it would fail every later napi call of this pass, and escape as
/// an uncaught exception from a socket's listener): it is the error returned.
fn call<Args: napi::bindgen_prelude::JsValuesTupleIntoVec>(
    env: &Env,
    object: &Object,
    method: &str,
    args: Args,
) -> Result<()> {
    let outcome = object
        .get_named_property::<Function<Args, Unknown>>(method)
        .and_then(|f| f.apply(object, args).map(drop));
    if outcome.is_err() {
        super::args::clear_pending_exception(env);
    }
    outcome
}

/// `socket.on(event, listener)`.
type Listen<'a, A> = Function<'a, FnArgs<(&'a str, Function<'a, A, ()>)>, Unknown<'a>>;

fn on<A: napi::bindgen_prelude::JsValuesTupleIntoVec>(
    env: &Env,
    socket: &Object,
    event: &str,
    listener: Function<A, ()>,
) -> Result<()> {
    let outcome = socket
        .get_named_property::<Listen<A>>("on")
        .and_then(|f| f.apply(socket, FnArgs::from((event, listener))).map(drop));
    if outcome.is_err() {
        super::args::clear_pending_exception(env);
    }
    outcome
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub struct NodeWire {
    /// Itself, for the work it posts to its JavaScript thread.
    me: Weak<NodeWire>,
    js_thread: ThreadId,
    /// The socket, from `net.connect` until it closes.
    socket: Mutex<Option<JsRef>>,
    hosted: Weak<Hosted>,
    settler: Handle,
    /// The socket's last error, told when it closes.
    error: Mutex<Option<String>>,
    /// Closed before its socket was opened.
    closing: Mutex<bool>,
}

// SAFETY: the socket reference is only reached on `js_thread` (see `JsRef`).
unsafe impl Sync for NodeWire {}

impl NodeWire {
    fn on_js_thread(&self) -> bool {
        thread::current().id() == self.js_thread
    }

    /// The socket as a value of `env`, if it is open.
    fn socket<'env>(&self, env: &'env Env) -> Option<Object<'env>> {
        let socket = lock(&self.socket);
        let socket = socket.as_ref()?;
        let mut value = std::ptr::null_mut();
        // SAFETY: on the JavaScript thread of this reference's env (callers check).
        let status = unsafe { sys::napi_get_reference_value(env.raw(), socket.raw, &mut value) };
        if status != sys::Status::napi_ok || value.is_null() {
            return None;
        }
        Some(Object::from_raw(env.raw(), value))
    }

    fn write_now(&self, env: &Env) {
        let Some(socket) = self.socket(env) else {
            return;
        };
        let Some(hosted) = self.hosted.upgrade() else {
            return;
        };
        let bytes = hosted.take_outgoing();
        if bytes.is_empty() {
            return;
        }
        let written = Buffer::from(bytes);
        if let Err(err) = call(env, &socket, "write", FnArgs::from((written,))) {
            hosted.ended(&format!("could not write to the socket: {err}"));
        }
    }

    fn destroy(&self, env: &Env) {
        if let Some(socket) = self.socket(env) {
            let _ = call::<()>(env, &socket, "destroy", ());
        }
    }

    /// Deletes the socket's reference (it has closed).
    fn forget(&self, env: &Env) {
        if let Some(socket) = lock(&self.socket).take() {
            // SAFETY: on the JavaScript thread of this reference's env, deleted once.
            unsafe { sys::napi_delete_reference(env.raw(), socket.raw) };
        }
    }

    fn env(&self) -> Option<Env> {
        if self.settler.is_gone() {
            return None;
        }
        let env = lock(&self.socket).as_ref().map(|socket| socket.env)?;
        // Only called on the JavaScript thread of that env (callers check).
        Some(Env::from_raw(env))
    }
}

impl NodeWire {
    /// Runs `work` on the socket's JavaScript thread: now if this is it,
    /// else posted there. False when it cannot be posted (the instance has
    /// quit, or its environment has ended).
    fn on_own_thread(&self, work: fn(&NodeWire, &Env)) -> bool {
        if self.on_js_thread() {
            if let Some(env) = self.env() {
                work(self, &env);
            }
            return true;
        }
        let me = self.me.clone();
        self.settler.post(Box::new(move |env| {
            if let Some(wire) = me.upgrade() {
                work(&wire, env);
            }
        }))
    }
}

impl Wire for NodeWire {
    fn flush(&self) {
        if !self.on_own_thread(NodeWire::write_now) {
            if let Some(hosted) = self.hosted.upgrade() {
                hosted.ended("the instance has quit, or its JavaScript environment has ended");
            }
        }
    }

    fn heartbeat(&self) {
        let hosted = self.hosted.clone();
        let posted = self.settler.post(Box::new(move |_| {
            if let Some(hosted) = hosted.upgrade() {
                hosted.turned();
            }
        }));
        if !posted {
            // No JavaScript thread will read a reply again: what is late is late.
            if let Some(hosted) = self.hosted.upgrade() {
                hosted.turned();
            }
        }
    }

    fn close(&self) {
        *lock(&self.closing) = true;
        // Not posted once the environment has ended: Node has closed the socket.
        let _ = self.on_own_thread(NodeWire::destroy);
    }
}
