//! Constructor options, in the shapes of both reference versions (node_redis
//! v3's `options`/`client`, node-redis v4's `options.socket`) and ours
//! (`sentinel`, `cluster`, TLS files), read once into the engine's
//! `RawOptions`: where to connect into its `target`, how into its
//! `connection` (the one `ConnectionSettings`).

use napi::bindgen_prelude::{Buffer, JsObjectValue, JsValue, Object, Unknown, ValueType};
use napi::{Env, Result};

use super::args::{as_object, clear_pending_exception, number, optional_text, text};
use crate::config::RawHashTokens;
use crate::target::{RawNode, RawSentinel, RawTls};
use crate::{RawOptions, SessionError};

fn get<'env>(object: &Object<'env>, name: &str) -> Result<Unknown<'env>> {
    object.get_named_property(name)
}

/// A number, and nothing else: for a setting the references handed to their
/// client unread, which must not start failing on what it ignored (`false`).
fn only_number(value: &Unknown) -> Result<Option<f64>> {
    if value.get_type()? == ValueType::Number {
        number(value)
    } else {
        Ok(None)
    }
}

/// A number; any other value but `undefined`/`null` is `NaN`, which the
/// engine refuses: for a setting of ours, where no reference reading must be kept.
fn strict_number(value: &Unknown) -> Result<Option<f64>> {
    match value.get_type()? {
        ValueType::Undefined | ValueType::Null => Ok(None),
        ValueType::Number => number(value),
        _ => Ok(Some(f64::NAN)),
    }
}

/// `hashTokens`: a boolean, a string, or another type (named, to refuse).
fn hash_tokens(value: &Unknown) -> Result<Option<RawHashTokens>> {
    Ok(match value.get_type()? {
        ValueType::Undefined | ValueType::Null => None,
        ValueType::Boolean => Some(RawHashTokens::Flag(value.coerce_to_bool()?)),
        ValueType::String => Some(RawHashTokens::Text(text(value)?)),
        other => Some(RawHashTokens::Other(format!("{other:?}"))),
    })
}

/// A boolean option of ours: `Some(None)` for another type, which the engine refuses.
fn flag(value: &Unknown) -> Result<Option<Option<bool>>> {
    Ok(match value.get_type()? {
        ValueType::Undefined | ValueType::Null => None,
        ValueType::Boolean => Some(Some(value.coerce_to_bool()?)),
        _ => Some(None),
    })
}

/// PEM text from a string or a Buffer.
fn pem(value: &Unknown) -> Result<Option<Vec<u8>>> {
    if value.is_buffer()? {
        // SAFETY: the value was just checked to be a Buffer.
        let buffer: Buffer = unsafe { value.cast() }?;
        return Ok(Some(buffer.to_vec()));
    }
    Ok(optional_text(value)?.map(String::into_bytes))
}

/// `ca` may be one PEM or an array of them, as for `tls.connect`.
fn pems(value: &Unknown) -> Result<Vec<Vec<u8>>> {
    if !value.is_array()? {
        return Ok(pem(value)?.into_iter().collect());
    }
    let array = value.coerce_to_object()?;
    let length = number(&get(&array, "length")?)?.unwrap_or(0.0) as u32;
    let mut all = Vec::new();
    for i in 0..length {
        all.extend(pem(&array.get_element::<Unknown>(i)?)?);
    }
    Ok(all)
}

/// `tls: true`, or `tls.connect` options: `ca`, `cert`, `key`, `rejectUnauthorized`.
fn read_tls(value: &Unknown, files: Option<&Object>) -> Result<Option<RawTls>> {
    let from = match as_object(value)? {
        Some(object) => Some(object),
        None if value.coerce_to_bool()? => None,
        None => return Ok(None),
    };
    let mut tls = RawTls::default();
    if let Some(object) = from.as_ref().or(files) {
        tls.ca = pems(&get(object, "ca")?)?;
        tls.cert = pem(&get(object, "cert")?)?;
        tls.key = pem(&get(object, "key")?)?;
        let reject = get(object, "rejectUnauthorized")?;
        if reject.get_type()? == ValueType::Boolean {
            tls.reject_unauthorized = Some(reject.coerce_to_bool()?);
        }
    }
    Ok(Some(tls))
}

fn read_node(value: &Unknown) -> Result<RawNode> {
    Ok(match as_object(value)? {
        Some(object) => RawNode::Address(
            optional_text(&get(&object, "host")?)?,
            number(&get(&object, "port")?)?,
        ),
        None => RawNode::Url(text(value)?),
    })
}

fn read_nodes(value: &Unknown) -> Result<Vec<RawNode>> {
    let Some(array) = as_object(value)? else {
        return Ok(Vec::new());
    };
    let length = number(&get(&array, "length")?)?.unwrap_or(0.0) as u32;
    (0..length)
        .map(|i| read_node(&array.get_element::<Unknown>(i)?))
        .collect()
}

fn read_sentinel(value: &Unknown) -> Result<Option<RawSentinel>> {
    let Some(object) = as_object(value)? else {
        return Ok(None);
    };
    Ok(Some(RawSentinel {
        name: optional_text(&get(&object, "name")?)?,
        sentinels: read_nodes(&get(&object, "sentinels")?)?,
        username: optional_text(&get(&object, "username")?)?,
        password: optional_text(&get(&object, "password")?)?,
    }))
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
        raw.target.host = optional_text(&get(&object, "host")?)?;
        raw.target.port = number(&get(&object, "port")?)?;
        raw.namespace = optional_text(&get(&object, "namespace")?)?;
        raw.wipe = number(&get(&object, "wipe")?)?;
        raw.cachetime = number(&get(&object, "cachetime")?)?;
        raw.cachemax = number(&get(&object, "cachemax")?)?;
        raw.touch_after = strict_number(&get(&object, "touchAfter")?)?;
        raw.memory = get(&object, "memory")?.coerce_to_bool()?;
        raw.hash_tokens = hash_tokens(&get(&object, "hashTokens")?)?;
        raw.events = flag(&get(&object, "events")?)?;
        raw.connection.connect_timeout = number(&get(&object, "connectTimeout")?)?;
        raw.connection.command_timeout = number(&get(&object, "commandTimeout")?)?;
        raw.target.sentinel = read_sentinel(&get(&object, "sentinel")?)?;
        let cluster = get(&object, "cluster")?;
        if cluster.coerce_to_bool()? {
            raw.target.cluster = Some(read_nodes(&cluster)?);
        }
        if let Some(client) = as_object(&get(&object, "options")?)? {
            read_client_options(&client, &mut raw)?;
        }
        if let Some(existing) = as_object(&get(&object, "client")?)? {
            read_client(&existing, &mut raw)?;
            let target = &raw.target;
            warnings.push(format!(
                "redis-sessions-rs cannot share a node_redis client: it opened its own connection to {}:{}{}",
                target.host.as_deref().unwrap_or("127.0.0.1"),
                target.port.unwrap_or(6379.0),
                if target.tls.is_some() { " over TLS" } else { "" }
            ));
        }
        Ok(())
    };
    read().map_err(|err| {
        clear_pending_exception(env);
        SessionError::InvalidOptions(err.reason.clone())
    })?;
    Ok(raw)
}

/// Connection settings in the shape of node_redis v3's options or node-redis
/// v4's (`socket`); a setting already read is kept.
fn read_client_options(client: &Object, raw: &mut RawOptions) -> Result<()> {
    let target = &mut raw.target;
    let connection = &mut raw.connection;
    target.url = target.url.take().or(optional_text(&get(client, "url")?)?);
    target.username = target
        .username
        .take()
        .or(optional_text(&get(client, "username")?)?);
    target.password = match target.password.take() {
        Some(password) => Some(password),
        None => {
            optional_text(&get(client, "password")?)?.or(optional_text(&get(client, "auth_pass")?)?)
        }
    };
    target.db = match target.db {
        Some(db) => Some(db),
        None => number(&get(client, "db")?)?.or(number(&get(client, "database")?)?),
    };
    if target.tls.is_none() {
        target.tls = read_tls(&get(client, "tls")?, None)?;
    }
    if connection.keep_alive.is_none() {
        connection.keep_alive = only_number(&get(client, "socket_initial_delay")?)?;
    }
    if let Some(socket) = as_object(&get(client, "socket")?)? {
        target.socket_host = target
            .socket_host
            .take()
            .or(optional_text(&get(&socket, "host")?)?);
        target.socket_port = target.socket_port.or(number(&get(&socket, "port")?)?);
        if target.tls.is_none() {
            target.tls = read_tls(&get(&socket, "tls")?, Some(&socket))?;
        }
        if connection.connect_timeout.is_none() {
            connection.connect_timeout = number(&get(&socket, "connectTimeout")?)?;
        }
        if connection.keep_alive.is_none() {
            connection.keep_alive = only_number(&get(&socket, "keepAlive")?)?;
        }
    }
    Ok(())
}

/// Takes what can be read of a node_redis v3 client: its address
/// (`connection_options`), `selected_db`, and its `options` as for the
/// `options` option, TLS included: a TLS client must not become a plain
/// connection that sends its password in clear.
fn read_client(client: &Object, raw: &mut RawOptions) -> Result<()> {
    let target = &mut raw.target;
    if let Some(address) = as_object(&get(client, "connection_options")?)? {
        target.host = target
            .host
            .take()
            .or(optional_text(&get(&address, "host")?)?);
        target.port = target.port.or(number(&get(&address, "port")?)?);
    }
    target.db = target.db.or(number(&get(client, "selected_db")?)?);
    if let Some(options) = as_object(&get(client, "options")?)? {
        target.host = target
            .host
            .take()
            .or(optional_text(&get(&options, "host")?)?);
        target.port = target.port.or(number(&get(&options, "port")?)?);
        read_client_options(&options, raw)?;
    }
    Ok(())
}
