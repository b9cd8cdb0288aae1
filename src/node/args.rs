//! Reading JavaScript arguments the way the reference reads them: truthiness,
//! `String(value)`, `Number(value)` and the order of an object's keys.

use std::ffi::CStr;

use napi::bindgen_prelude::{JsObjectValue, JsValue, Object, Unknown, ValueType};
use napi::JsString;
use napi::{Env, Result};

use crate::data::{JsText, Value};
use crate::fields::Field;
use crate::validate::NumberArg;
use crate::{Arg, Args, DataArg, SessionError};

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

pub fn clear_pending_exception(env: &Env) {
    let raw = env.raw();
    let mut pending = false;
    // SAFETY: `raw` is the live env of the current call, on its own thread.
    let status = unsafe { napi::sys::napi_is_exception_pending(raw, &mut pending) };
    if status == napi::sys::Status::napi_ok && pending {
        let mut exception = std::ptr::null_mut();
        // Its status is not checked: with the live env and a valid out
        // pointer it cannot fail, and if it did there would be nothing else to do.
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

pub fn text(value: &Unknown) -> Result<String> {
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

pub fn number(value: &Unknown) -> Result<Option<f64>> {
    match value.get_type()? {
        ValueType::Undefined | ValueType::Null => Ok(None),
        _ => Ok(Some(value.coerce_to_number()?.get_double()?)),
    }
}

pub fn optional_text(value: &Unknown) -> Result<Option<String>> {
    match value.get_type()? {
        ValueType::Undefined | ValueType::Null => Ok(None),
        _ => Ok(Some(text(value)?)),
    }
}

/// An option of ours that takes a number: `undefined` is absent, and only a
/// JavaScript number counts as one (no `String`/`Number` coercion).
fn number_arg(value: &Unknown) -> Result<NumberArg> {
    Ok(match value.get_type()? {
        ValueType::Undefined => NumberArg::Absent,
        ValueType::Number => NumberArg::Number(value.coerce_to_number()?.get_double()?),
        _ => NumberArg::NotANumber,
    })
}

/// A string as JavaScript holds it. The UTF-8 read shows a lone surrogate as
/// U+FFFD, so only a string showing one is read again, as UTF-16.
fn js_text(s: JsString) -> Result<JsText> {
    let utf8 = s.into_utf8()?.into_owned()?;
    if !utf8.contains('\u{fffd}') {
        return Ok(JsText::Utf8(utf8));
    }
    let utf16 = s.into_utf16()?;
    // napi-rs's buffer ends with the NUL terminator.
    let units = utf16
        .as_slice()
        .split_last()
        .map_or(&[][..], |(_, units)| units);
    let has_lone_surrogate = char::decode_utf16(units.iter().copied()).any(|c| c.is_err());
    Ok(if has_lone_surrogate {
        JsText::Utf16(units.to_vec())
    } else {
        JsText::Utf8(utf8)
    })
}

fn data_value(value: &Unknown) -> Result<Value> {
    Ok(match value.get_type()? {
        ValueType::Null => Value::Null,
        ValueType::Boolean => Value::Bool(value.coerce_to_bool()?),
        ValueType::Number => Value::Number(value.coerce_to_number()?.get_double()?),
        ValueType::String => Value::Text(js_text(value.coerce_to_string()?)?),
        _ => Value::Forbidden,
    })
}

/// `d` as the reference reads it: without an own enumerable key it has no
/// key at all (`_.keys`); otherwise every key a `for...in` lists counts,
/// inherited enumerable ones included, since the reference checks those
/// and lodash's `omit` copies them into what it stores.
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
    // In `for...in` order: own keys first, then the prototypes'.
    let keys = object.get_property_names()?;
    let count = keys.get_array_length_unchecked()?;
    let mut entries = Vec::with_capacity(usize::try_from(count).unwrap_or_default());
    for i in 0..count {
        let key: JsString = keys.get_element(i)?;
        if i == 0 && !object.has_own_property_js(key)? {
            return Ok(DataArg::Object(Vec::new()));
        }
        // Read with the key itself, not a C string: a key may hold NUL.
        let item: Unknown = object.get_property_unchecked(key)?;
        entries.push((js_text(key)?, data_value(&item)?));
    }
    Ok(DataArg::Object(entries))
}

/// Reads the fields an operation checks (its row of the table of
/// operations); a non-object reads as `{}`.
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
            Field::Ttl | Field::OptionalTtl => args.ttl = arg(&get(c"ttl")?)?,
            Field::D | Field::OptionalD => args.d = data_arg(&get(c"d")?)?,
            Field::NoResave => {
                let value = get(c"no_resave")?;
                args.no_resave =
                    value.get_type()? == ValueType::Boolean && value.coerce_to_bool()?;
            }
            Field::Window => {
                args.dt = arg(&get(c"dt")?)?;
                args.delta_time = arg(&get(c"deltaTime")?)?;
            }
            Field::TokenOrHandle => {
                args.token = arg(&get(c"token")?)?;
                args.id = arg(&get(c"id")?)?;
                args.handle = arg(&get(c"handle")?)?;
            }
            Field::Handles => {
                // `true` only, as `no_resave`.
                let value = get(c"handles")?;
                args.handles = value.get_type()? == ValueType::Boolean && value.coerce_to_bool()?;
            }
            Field::Max => args.max = number_arg(&get(c"max")?)?,
            Field::MaxAge => args.max_age = number_arg(&get(c"maxAge")?)?,
            Field::Except => args.except = arg(&get(c"except")?)?,
        }
    }
    Ok(args)
}
