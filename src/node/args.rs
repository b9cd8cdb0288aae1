//! Reading JavaScript arguments the way the reference reads them: truthiness,
//! `String(value)`, `Number(value)` and the order of an object's keys.

use std::ffi::CStr;

use napi::bindgen_prelude::{JsObjectValue, JsValue, Object, Unknown, ValueType};
use napi::{Env, Result};

use crate::data::Value;
use crate::{Arg, Args, DataArg, RawOptions, SessionError};

/// Runs N-API reads, turning a thrown getter or an unconvertible value into a
/// plain error and clearing the exception it left, which would otherwise be
/// thrown at the caller synchronously.
pub fn guarded<T>(
    env: &Env,
    what: &str,
    read: impl FnOnce() -> Result<T>,
) -> std::result::Result<T, SessionError> {
    read().map_err(|err| {
        clear_pending_exception(env);
        SessionError::InvalidValue(format!("could not read {what}: {}", err.reason))
    })
}

fn clear_pending_exception(env: &Env) {
    let raw = env.raw();
    let mut pending = false;
    // SAFETY: `raw` is the live env of the current call, on its own thread.
    let status = unsafe { napi::sys::napi_is_exception_pending(raw, &mut pending) };
    if status == napi::sys::Status::napi_ok && pending {
        let mut exception = std::ptr::null_mut();
        // SAFETY: as above; the exception value is dropped, its message already taken.
        unsafe { napi::sys::napi_get_and_clear_last_exception(raw, &mut exception) };
    }
}

/// The object whose properties are read, or `None` for a primitive.
pub fn as_object<'env>(value: &Unknown<'env>) -> Result<Option<Object<'env>>> {
    match value.get_type()? {
        ValueType::Object | ValueType::Function => Ok(Some(value.coerce_to_object()?)),
        _ => Ok(None),
    }
}

fn text(value: &Unknown) -> Result<String> {
    value.coerce_to_string()?.into_utf8()?.into_owned()
}

fn arg(value: &Unknown) -> Result<Arg> {
    match value.get_type()? {
        // The common case, read without coercions: two fewer N-API calls.
        ValueType::String => {
            // SAFETY: the value was just checked to be a string.
            let s: String = unsafe { value.cast() }?;
            Ok(if s.is_empty() {
                Arg::Falsy
            } else {
                Arg::Text(s)
            })
        }
        ValueType::Undefined | ValueType::Null => Ok(Arg::Falsy),
        _ if value.coerce_to_bool()? => Ok(Arg::Text(text(value)?)),
        _ => Ok(Arg::Falsy),
    }
}

fn number(value: &Unknown) -> Result<Option<f64>> {
    match value.get_type()? {
        ValueType::Undefined | ValueType::Null => Ok(None),
        _ => Ok(Some(value.coerce_to_number()?.get_double()?)),
    }
}

fn optional_text(value: &Unknown) -> Result<Option<String>> {
    match value.get_type()? {
        ValueType::Undefined | ValueType::Null => Ok(None),
        _ => Ok(Some(text(value)?)),
    }
}

fn data_value(value: &Unknown) -> Result<Value> {
    Ok(match value.get_type()? {
        ValueType::Null => Value::Null,
        ValueType::Boolean => Value::Bool(value.coerce_to_bool()?),
        ValueType::Number => Value::Number(value.coerce_to_number()?.get_double()?),
        ValueType::String => Value::Text(text(value)?),
        _ => Value::Forbidden,
    })
}

fn data_arg(value: &Unknown) -> Result<DataArg> {
    if !value.coerce_to_bool()? {
        return Ok(DataArg::Falsy);
    }
    let Some(object) = as_object(value)? else {
        return Ok(DataArg::NotAnObject);
    };
    if value.is_array()? {
        return Ok(DataArg::NotAnObject);
    }
    let keys = Object::keys(&object)?;
    let mut entries = Vec::with_capacity(keys.len());
    for key in keys {
        let item: Unknown = object.get_named_property(&key)?;
        entries.push((key, data_value(&item)?));
    }
    Ok(DataArg::Object(entries))
}

/// Properties of a method's options object.
#[derive(Debug, Clone, Copy)]
pub enum Field {
    App,
    Id,
    Ip,
    Token,
    Ttl,
    D,
    NoResave,
    Window,
}

/// Reads the fields a method validates; a non-object reads as `{}`.
pub fn read_args(options: &Unknown, fields: &[Field]) -> Result<Args> {
    let mut args = Args::default();
    let Some(object) = as_object(options)? else {
        return Ok(args);
    };
    // C string names: no allocation per property on this hot path.
    let get = |name: &CStr| -> Result<Unknown> { object.get_c_named_property(name) };
    for field in fields {
        match field {
            Field::App => args.app = arg(&get(c"app")?)?,
            Field::Id => args.id = arg(&get(c"id")?)?,
            Field::Ip => args.ip = arg(&get(c"ip")?)?,
            Field::Token => args.token = arg(&get(c"token")?)?,
            Field::Ttl => args.ttl = arg(&get(c"ttl")?)?,
            Field::D => args.d = data_arg(&get(c"d")?)?,
            Field::NoResave => {
                let value = get(c"no_resave")?;
                args.no_resave =
                    value.get_type()? == ValueType::Boolean && value.coerce_to_bool()?;
            }
            Field::Window => {
                args.dt = arg(&get(c"dt")?)?;
                args.delta_time = arg(&get(c"deltaTime")?)?;
            }
        }
    }
    Ok(args)
}

/// Reads constructor options in the shapes of both reference versions.
pub fn read_options(
    env: &Env,
    options: &Unknown,
    warnings: &mut Vec<String>,
) -> std::result::Result<RawOptions, SessionError> {
    let mut raw = RawOptions::default();
    let object = match options
        .get_type()
        .map_err(|e| SessionError::InvalidOptions(e.reason.clone()))?
    {
        ValueType::Undefined => return Ok(raw),
        ValueType::Object => as_object(options)
            .ok()
            .flatten()
            .ok_or_else(|| SessionError::InvalidOptions("options could not be read".to_owned()))?,
        ValueType::Null => {
            return Err(SessionError::InvalidOptions(
                "options must be an object, got null".to_owned(),
            ))
        }
        other => {
            return Err(SessionError::InvalidOptions(format!(
                "options must be an object, got {other:?}"
            )))
        }
    };
    let mut read = || -> Result<()> {
        let get = |o: &Object, name: &str| -> Result<Unknown> { o.get_named_property(name) };
        raw.host = optional_text(&get(&object, "host")?)?;
        raw.port = number(&get(&object, "port")?)?;
        raw.namespace = optional_text(&get(&object, "namespace")?)?;
        raw.wipe = number(&get(&object, "wipe")?)?;
        raw.cachetime = number(&get(&object, "cachetime")?)?;
        raw.cachemax = number(&get(&object, "cachemax")?)?;
        raw.connect_timeout_ms = number(&get(&object, "connectTimeout")?)?;
        raw.command_timeout_ms = number(&get(&object, "commandTimeout")?)?;
        if let Some(existing) = as_object(&get(&object, "client")?)? {
            read_client(&existing, &mut raw)?;
            warnings.push(format!(
                "redis-sessions-rs cannot share a node_redis client: it opened its own connection to {}:{}",
                raw.host.as_deref().unwrap_or("127.0.0.1"),
                raw.port.unwrap_or(6379.0)
            ));
        }
        if let Some(client) = as_object(&get(&object, "options")?)? {
            raw.url = optional_text(&get(&client, "url")?)?;
            raw.username = optional_text(&get(&client, "username")?)?;
            raw.password = optional_text(&get(&client, "password")?)?
                .or(optional_text(&get(&client, "auth_pass")?)?);
            raw.db = number(&get(&client, "db")?)?.or(number(&get(&client, "database")?)?);
            raw.tls = get(&client, "tls")?.coerce_to_bool()?;
            if let Some(socket) = as_object(&get(&client, "socket")?)? {
                raw.socket_host = optional_text(&get(&socket, "host")?)?;
                raw.socket_port = number(&get(&socket, "port")?)?;
                raw.tls |= get(&socket, "tls")?.coerce_to_bool()?;
                if raw.connect_timeout_ms.is_none() {
                    raw.connect_timeout_ms = number(&get(&socket, "connectTimeout")?)?;
                }
            }
        }
        Ok(())
    };
    read().map_err(|err| {
        clear_pending_exception(env);
        SessionError::InvalidOptions(err.reason.clone())
    })?;
    Ok(raw)
}

/// Takes what can be read of a node_redis v3 client: `connection_options`
/// (host, port), `options` (password, db) and `selected_db`.
fn read_client(client: &Object, raw: &mut RawOptions) -> Result<()> {
    let get = |o: &Object, name: &str| -> Result<Unknown> { o.get_named_property(name) };
    if let Some(address) = as_object(&get(client, "connection_options")?)? {
        raw.host = raw.host.take().or(optional_text(&get(&address, "host")?)?);
        raw.port = raw.port.or(number(&get(&address, "port")?)?);
    }
    if let Some(options) = as_object(&get(client, "options")?)? {
        raw.host = raw.host.take().or(optional_text(&get(&options, "host")?)?);
        raw.port = raw.port.or(number(&get(&options, "port")?)?);
        raw.password = optional_text(&get(&options, "password")?)?
            .or(optional_text(&get(&options, "auth_pass")?)?);
        raw.db = number(&get(&options, "db")?)?;
    }
    raw.db = number(&get(client, "selected_db")?)?.or(raw.db);
    Ok(())
}
