//! Results of the engine as the JavaScript values the reference returns.

use napi::bindgen_prelude::{
    Array, Function, JsObjectValue, JsValue, Null, Object, ToNapiValue, Unknown,
};
use napi::{Env, Result};

use crate::operations::Reply;
use crate::{Session, SessionError, Style};

/// Turns stored `d` texts into objects with the JavaScript engine's own
/// `JSON.parse`, as the reference does: lone-surrogate escapes, NUL and
/// `__proto__` keys all come out as there (`__proto__` an own property).
/// `JSON.parse` is looked up once per answer, and only if a session has a `d`.
struct DataReader<'env, 't> {
    env: &'env Env,
    parse: Option<Function<'env, &'t str, Unknown<'env>>>,
}

impl<'env, 't> DataReader<'env, 't> {
    fn new(env: &'env Env) -> Self {
        Self { env, parse: None }
    }

    fn read(&mut self, text: &'t str) -> Result<Unknown<'env>> {
        let parse = match self.parse {
            Some(parse) => parse,
            None => {
                let json: Object = self.env.get_global()?.get_c_named_property(c"JSON")?;
                let parse = json.get_c_named_property(c"parse")?;
                *self.parse.insert(parse)
            }
        };
        parse.call(text)
    }
}

/// `{id, r, w, ttl, idle, ip}`, then `no_resave` and `d` when present, in the
/// reference's key order; then `handle` when the listing asked for handles.
pub fn session<'env>(env: &'env Env, s: &Session) -> Result<Object<'env>> {
    session_with(env, s, &mut DataReader::new(env))
}

fn session_with<'env, 't>(
    env: &'env Env,
    s: &'t Session,
    data: &mut DataReader<'env, 't>,
) -> Result<Object<'env>> {
    let mut object = Object::new(env)?;
    object.set_named_property("id", s.id.as_str())?;
    object.set_named_property("r", s.r)?;
    object.set_named_property("w", s.w)?;
    object.set_named_property("ttl", s.ttl)?;
    object.set_named_property("idle", s.idle)?;
    match &s.ip {
        Some(ip) => object.set_named_property("ip", ip.as_str())?,
        None => object.set_named_property("ip", Null)?,
    }
    if s.no_resave {
        object.set_named_property("no_resave", true)?;
    }
    if let Some(d) = &s.d {
        object.set_named_property("d", data.read(d)?)?;
    }
    if let Some(handle) = &s.handle {
        object.set_named_property("handle", handle.as_str())?;
    }
    Ok(object)
}

/// A `get` whose answer fills the JavaScript cache (`cache-hits.js`).
pub struct Cacheable {
    pub result: std::result::Result<Reply, SessionError>,
    pub token: String,
    pub stamp: f64,
}

/// What a method answers, before it becomes a JavaScript value.
pub enum Output {
    /// An operation's.
    Reply(Reply),
    /// A `get` for the JavaScript cache: the settler hands the answer to
    /// the cache's place `stamp` for `token` before it settles the Promise.
    Cacheable(Box<Cacheable>),
    /// quit's.
    Nothing,
    Migrated(crate::store::Step),
}

pub fn output(env: &Env, answer: Output, style: Style) -> Result<Unknown<'_>> {
    match answer {
        Output::Reply(Reply::Token(token)) => single(env, "token", token),
        Output::Reply(Reply::Session(s)) => maybe_session(env, s.as_ref(), style),
        Output::Reply(Reply::Sessions(list)) => sessions(env, &list),
        Output::Reply(Reply::Count(name, n)) => single(env, name, n as f64),
        Output::Reply(Reply::Text(text)) => text.into_unknown(env),
        Output::Reply(Reply::NewToken(Some(token))) => single(env, "token", token),
        Output::Reply(Reply::NewToken(None)) => maybe_session(env, None, style),
        Output::Cacheable(cacheable) => match cacheable.result {
            Ok(reply) => output(env, Output::Reply(reply), style),
            Err(err) => Err(error(env, &err)),
        },
        Output::Nothing => ().into_unknown(env),
        Output::Migrated(step) => migrated(env, &step),
    }
}

/// `{cursor, moved: [[app, old token, new token], ...], skipped, present}`.
fn migrated<'env>(env: &'env Env, step: &crate::store::Step) -> Result<Unknown<'env>> {
    let mut moved = env.create_array(u32::try_from(step.moved.len()).unwrap_or(u32::MAX))?;
    for (i, m) in step.moved.iter().enumerate() {
        let row = [m.app.as_str(), m.old.as_str(), m.new.as_str()];
        moved.set(u32::try_from(i).unwrap_or(u32::MAX), row.to_vec())?;
    }
    let mut object = Object::new(env)?;
    object.set_named_property("cursor", step.cursor.as_str())?;
    object.set_named_property("moved", moved)?;
    object.set_named_property("skipped", step.skipped as f64)?;
    object.set_named_property("present", step.present as f64)?;
    object.into_unknown(env)
}

/// A missing session: `{}` for callers of v3, `null` for v4.
pub fn maybe_session<'env>(
    env: &'env Env,
    s: Option<&Session>,
    style: Style,
) -> Result<Unknown<'env>> {
    match (s, style) {
        (Some(s), _) => session(env, s)?.into_unknown(env),
        (None, Style::Callback) => Object::new(env)?.into_unknown(env),
        (None, Style::Promise) => Null.into_unknown(env),
    }
}

/// A list as one JSON text that `JSON.parse` turns into the same objects
/// (key order, `d` parsed by the same parser from the same stored text): one
/// call into the JavaScript engine instead of eight per session. `None` when
/// a number is not finite or is -0 (a garbled field reads as `NaN`, which
/// JSON cannot carry): the list is then built property by property.
fn sessions_json(list: &[Session]) -> Option<String> {
    fn text(out: &mut String, value: &str) {
        out.push_str(&serde_json::Value::from(value).to_string());
    }
    let mut out = String::with_capacity(list.len() * 192 + 2);
    out.push('[');
    for (i, s) in list.iter().enumerate() {
        // JSON has no NaN or infinity, and `number_to_string` writes -0 as "0".
        let representable = |n: &f64| n.is_finite() && !(*n == 0.0 && n.is_sign_negative());
        if ![s.r, s.w, s.ttl, s.idle].iter().all(representable) {
            return None;
        }
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"id\":");
        text(&mut out, &s.id);
        for (name, n) in [("r", s.r), ("w", s.w), ("ttl", s.ttl), ("idle", s.idle)] {
            out.push_str(",\"");
            out.push_str(name);
            out.push_str("\":");
            out.push_str(&crate::js::number_to_string(n));
        }
        out.push_str(",\"ip\":");
        match &s.ip {
            Some(ip) => text(&mut out, ip),
            None => out.push_str("null"),
        }
        if s.no_resave {
            out.push_str(",\"no_resave\":true");
        }
        if let Some(d) = &s.d {
            out.push_str(",\"d\":");
            out.push_str(d);
        }
        if let Some(handle) = &s.handle {
            out.push_str(",\"handle\":");
            text(&mut out, handle);
        }
        out.push('}');
    }
    out.push(']');
    Some(out)
}

pub fn sessions<'env>(env: &'env Env, list: &[Session]) -> Result<Unknown<'env>> {
    if let Some(json) = sessions_json(list) {
        let array = DataReader::new(env).read(&json)?;
        return single(env, "sessions", array);
    }
    let mut array: Array = env.create_array(u32::try_from(list.len()).unwrap_or(u32::MAX))?;
    let mut data = DataReader::new(env);
    for (i, s) in list.iter().enumerate() {
        array.set(
            u32::try_from(i).unwrap_or(u32::MAX),
            session_with(env, s, &mut data)?,
        )?;
    }
    single(env, "sessions", array)
}

/// `{name: value}`.
pub fn single<'env, V: ToNapiValue>(env: &'env Env, name: &str, value: V) -> Result<Unknown<'env>> {
    let mut object = Object::new(env)?;
    object.set_named_property(name, value)?;
    object.into_unknown(env)
}

/// An `Error` whose `name` is the error's kind and whose `message` is the reference's text.
pub fn error(env: &Env, err: &SessionError) -> napi::Error {
    let build = || -> Result<napi::Error> {
        let mut object = env.create_error(napi::Error::from_reason(err.to_string()))?;
        object.delete_named_property("code")?;
        object.set_named_property("name", err.name())?;
        Ok(napi::Error::from(object.to_unknown()))
    };
    build().unwrap_or_else(|_| napi::Error::from_reason(err.to_string()))
}
