//! Results of the engine as the JavaScript values the reference returns.

use napi::bindgen_prelude::{Array, JsObjectValue, JsValue, Null, Object, ToNapiValue, Unknown};
use napi::{Env, Result};

use crate::{Session, SessionError, Style};

fn json<'env>(env: &'env Env, value: &serde_json::Value) -> Result<Unknown<'env>> {
    match value {
        serde_json::Value::Null => Null.into_unknown(env),
        serde_json::Value::Bool(b) => b.into_unknown(env),
        serde_json::Value::Number(n) => n.as_f64().unwrap_or(f64::NAN).into_unknown(env),
        serde_json::Value::String(s) => s.as_str().into_unknown(env),
        serde_json::Value::Array(items) => {
            let mut array = env.create_array(u32::try_from(items.len()).unwrap_or(u32::MAX))?;
            for (i, item) in items.iter().enumerate() {
                array.set(u32::try_from(i).unwrap_or(u32::MAX), json(env, item)?)?;
            }
            array.into_unknown(env)
        }
        serde_json::Value::Object(map) => json_object(env, map)?.into_unknown(env),
    }
}

fn json_object<'env>(
    env: &'env Env,
    map: &serde_json::Map<String, serde_json::Value>,
) -> Result<Object<'env>> {
    let mut object = Object::new(env)?;
    for (key, value) in map {
        object.set_named_property(key, json(env, value)?)?;
    }
    Ok(object)
}

/// `{id, r, w, ttl, idle, ip}`, then `no_resave` and `d` when present, in the reference's key order.
pub fn session<'env>(env: &'env Env, s: &Session) -> Result<Object<'env>> {
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
        object.set_named_property("d", json_object(env, d)?)?;
    }
    Ok(object)
}

/// What an operation answers, before it becomes a JavaScript value.
pub enum Output {
    Token(String),
    Session(Option<Session>),
    Sessions(Vec<Session>),
    Count(&'static str, i64),
    Text(String),
    Nothing,
    Migrated(crate::store::Step),
}

pub fn output(env: &Env, output: Output, style: Style) -> Result<Unknown<'_>> {
    match output {
        Output::Token(token) => single(env, "token", token),
        Output::Session(s) => maybe_session(env, s.as_ref(), style),
        Output::Sessions(list) => sessions(env, &list),
        Output::Count(name, n) => single(env, name, n as f64),
        Output::Text(text) => text.into_unknown(env),
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

pub fn sessions<'env>(env: &'env Env, list: &[Session]) -> Result<Unknown<'env>> {
    let mut array: Array = env.create_array(u32::try_from(list.len()).unwrap_or(u32::MAX))?;
    for (i, s) in list.iter().enumerate() {
        array.set(u32::try_from(i).unwrap_or(u32::MAX), session(env, s)?)?;
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
