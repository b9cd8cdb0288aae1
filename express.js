'use strict'
// An express-session Store on the engine (issue 16): `require('redis-sessions-rs/express')`.
//
// A session is one engine session of `app`: its token is a one-way function of
// the sid (computed in Rust, so no sid reaches Redis), each top-level key of the
// express session is one entry of `d` holding that value's JSON text, and its id
// is the session's user (`userId(sess)`) or, without one, an id of its own
// derived from the token. A request remembers what it loaded (on the Session
// express-session builds with `createSession`), and its save writes only the
// keys whose JSON changed, merged by the engine's atomic `set`, which answers
// not-found for a session killed meanwhile: a save never brings one back.
const session = requireExpressSession()
const { tokenForSid, anonymousId, handleOfToken, NativeSessions } = require('./binding.js')

const { Store } = session

/** RedisSessions' handle of a token's session on that instance (index.js). */
const HANDLE_OF_TOKEN = Symbol.for('redis-sessions-rs.handleOfToken')
/** What a request loaded, kept on its Session (not enumerable, so express-session never hashes or saves it). */
const LOADED = Symbol('redis-sessions-rs loaded')
/** The engine's least ttl; a shorter cookie is enforced by its `expires`, stored in the cookie entry. */
const MIN_TTL = 10
/** soapp's window for `all`: every session, however long idle. */
const EVERYTHING = 2 ** 31
/** Longest ip the engine takes (an IPv6 address in full). */
const MAX_IP = 39

const defaultUserId = (sess) => (sess.userId !== undefined ? sess.userId : sess.passport && sess.passport.user)

/**
 * Answers through `callback` when there is one, else as a Promise. The callback runs in a Promise reaction, not on
 * process.nextTick (which fake timers replace), and what it throws is an uncaught exception, as express expects.
 */
function settle(promise, callback) {
  if (typeof callback !== 'function') return promise
  const answer = (...args) => {
    try {
      callback(...args)
    } catch (err) {
      NativeSessions.raise(err)
    }
  }
  promise.then(
    (value) => answer(null, value),
    (err) => answer(err),
  )
  return undefined
}

/**
 * The cookie's lifetime in milliseconds, or undefined for a browser-session cookie: its originalMaxAge, which
 * express-session keeps when it extends the cookie (and which may drift by a millisecond a request).
 */
function cookieMaxAge(cookie) {
  if (!cookie) return undefined
  if (typeof cookie.originalMaxAge === 'number') return cookie.originalMaxAge
  if (typeof cookie.maxAge === 'number') return cookie.maxAge
  if (cookie.expires) return new Date(cookie.expires).getTime() - Date.now()
  return undefined
}

/** Whether the cookie lives less than the engine's least ttl, so that its stored `expires` is what ends it. */
function isShort(cookie) {
  const maxAge = cookieMaxAge(cookie)
  return maxAge !== undefined && maxAge < MIN_TTL * 1000
}

/**
 * Whether two cookie entries differ in `expires` alone: express-session moves it on every request, and for a
 * cookie of 10 s or more the engine's idle timeout, which every read moves, is what ends the session.
 */
function sameButExpires(before, after) {
  const a = parseEntry(before)
  const b = parseEntry(after)
  if (!a || !b || typeof a !== 'object' || typeof b !== 'object') return false
  return JSON.stringify({ ...a, expires: null }) === JSON.stringify({ ...b, expires: null })
}

/** Whether a stored cookie says its session has ended: only one shorter than the engine's least ttl is told by it. */
function endedByCookie(cookie, now) {
  if (!cookie || !cookie.expires || typeof cookie.originalMaxAge !== 'number') return false
  return cookie.originalMaxAge < MIN_TTL * 1000 && new Date(cookie.expires).getTime() <= now
}

class RedisSessionsStore extends Store {
  #client
  #app
  #userId
  #ttl

  /**
   * @param {object} options `client` (a RedisSessions), `app`, `userId(sess)`, `ttl` (seconds, or a function of the
   *   session) for a cookie without maxAge.
   */
  constructor(options = {}) {
    super()
    const { client, app, userId = defaultUserId, ttl = 86400 } = options
    if (!client || typeof client.createWithToken !== 'function') {
      throw new TypeError('RedisSessionsStore needs `client`: a RedisSessions instance of redis-sessions-rs')
    }
    if (typeof app !== 'string' || !/^[a-zA-Z0-9_-]{3,20}$/.test(app)) {
      throw new TypeError('RedisSessionsStore needs `app`: 3 to 20 of a-z, A-Z, 0-9, _ and -')
    }
    if (typeof userId !== 'function') throw new TypeError('`userId` must be a function of the session')
    if (typeof ttl !== 'function' && !(Number.isInteger(ttl) && ttl >= MIN_TTL)) {
      throw new TypeError(`\`ttl\` must be a whole number of seconds >= ${MIN_TTL}, or a function of the session`)
    }
    this.#client = client
    this.#app = app
    this.#userId = userId
    this.#ttl = ttl
    // No 'disconnect' is passed on to express-session: it would then serve requests without a session (a
    // logged-out user); while Redis is down each request fails instead, within the engine's timeouts.
  }

  /** The RedisSessions this store writes through. */
  get client() {
    return this.#client
  }

  get app() {
    return this.#app
  }

  get(sid, callback) {
    return settle(this.#get(sid), callback)
  }

  set(sid, sess, callback) {
    return settle(this.#set(sid, sess), callback)
  }

  touch(sid, sess, callback) {
    return settle(this.#touch(sid, sess), callback)
  }

  destroy(sid, callback) {
    return settle(this.#destroy(sid), callback)
  }

  all(callback) {
    return settle(this.#all(), callback)
  }

  /**
   * The app's live sessions, counted in Redis without reading them (`count`). Unlike `all`, it also counts a
   * session of the app that this store did not write, and one whose cookie shorter than 10 s has ended but which
   * the engine holds until its least ttl.
   */
  length(callback) {
    return settle(
      this.#client.count({ app: this.#app }).then(({ count }) => count),
      callback,
    )
  }

  clear(callback) {
    return settle(
      this.#client.killall({ app: this.#app }).then(() => undefined),
      callback,
    )
  }

  /** express-session builds the request's Session from what `get` answered: it keeps what was loaded. */
  createSession(req, sess) {
    const loaded = sess[LOADED]
    const built = super.createSession(req, sess)
    if (loaded) Object.defineProperty(built, LOADED, { value: loaded, configurable: true })
    return built
  }

  /** A user's live sessions: `[{handle, ip, idle, r, w, ttl}]`, most recent first. */
  sessionsOf(userId) {
    return this.#client.soid({ app: this.#app, id: String(userId), handles: true }).then(({ sessions }) => {
      const now = Date.now()
      return sessions
        .filter((s) => !endedByCookie(parseEntry(s.d && s.d.cookie), now))
        .sort((a, b) => a.idle - b.idle)
        .map(({ handle, ip, idle, r, w, ttl }) => ({ handle, ip, idle, r, w, ttl }))
    })
  }

  /** The handle of the session whose sid this is, as `sessionsOf` shows it ("this device"). */
  handleOf(sid) {
    const token = tokenForSid(String(sid))
    // The client's own answer follows its hashTokens; a client without it names handles by token.
    const own = this.#client[HANDLE_OF_TOKEN]
    return typeof own === 'function' ? own.call(this.#client, token) : handleOfToken(token)
  }

  /** Logs out the user's session with this handle: 1, or 0 when there was none. */
  destroyHandle(userId, handle) {
    return this.#client.kill({ app: this.#app, id: String(userId), handle }).then(({ kill }) => kill)
  }

  /**
   * Logs out every session of the user, or every one but `except` (a sid): the number killed. One atomic call
   * (killsoid, keeping the except sid's session in the same script); in cluster mode one step per bucket the
   * user's sessions live in (README, cluster mode).
   */
  async destroyUser(userId, { except } = {}) {
    const options = { app: this.#app, id: String(userId) }
    if (except !== undefined) options.except = tokenForSid(String(except))
    return (await this.#client.killsoid(options)).kill
  }

  async #get(sid) {
    const token = tokenForSid(String(sid))
    const found = await this.#client.get({ app: this.#app, token })
    if (!found) return null
    const json = new Map(Object.entries(found.d || {}))
    const sess = {}
    for (const [key, text] of json) {
      const value = parseEntry(text)
      // Not a session this store wrote (another program's, in the same app): none for express.
      if (value === undefined) return null
      sess[key] = value
    }
    if (!sess.cookie || typeof sess.cookie !== 'object') return null
    if (endedByCookie(sess.cookie, Date.now())) {
      await this.#client.kill({ app: this.#app, token })
      return null
    }
    Object.defineProperty(sess, LOADED, {
      value: { sid: String(sid), token, id: found.id, ttl: found.ttl, json },
      configurable: true,
    })
    return sess
  }

  async #set(sid, sess) {
    sid = String(sid)
    const loaded = sess[LOADED]
    if (loaded && loaded.sid === sid) return this.#update(loaded, sess)
    const token = tokenForSid(sid)
    const json = entriesOf(sess)
    const ttl = this.#ttlOf(sess)
    const id = this.#idOf(sess, token)
    const created = await this.#client.createWithToken({
      app: this.#app,
      token,
      id,
      ip: ipOf(sess.req),
      ttl,
      d: Object.fromEntries(json),
    })
    if (!created) {
      // A session this request did not load already has this sid: merge every key, as an update would.
      return this.#update({ sid, token, id: undefined, ttl: undefined, json: new Map() }, sess)
    }
    remember(sess, { sid, token, id, ttl, json })
  }

  /** Writes what changed since `loaded`; a session gone meanwhile stays gone. */
  async #update(loaded, sess) {
    const { token } = loaded
    const json = entriesOf(sess)
    const patch = {}
    let changed = false
    const short = isShort(sess.cookie)
    for (const [key, text] of json) {
      const before = loaded.json.get(key)
      if (before !== text && !(key === 'cookie' && !short && sameButExpires(before, text))) {
        patch[key] = text
        changed = true
      }
    }
    for (const key of loaded.json.keys()) {
      if (!json.has(key)) {
        patch[key] = null
        changed = true
      }
    }
    const id = this.#idOf(sess, token)
    const ttl = this.#ttlOf(sess)
    const app = this.#app
    if (loaded.id !== undefined && id !== loaded.id) {
      const { moved } = await this.#client.moveToId({ app, token, id })
      if (!moved) return
    }
    if (changed && !(await this.#client.set({ app, token, d: patch }))) return
    if (loaded.ttl !== undefined && ttl !== loaded.ttl && !(await this.#client.touch({ app, token, ttl }))) return
    remember(sess, { sid: loaded.sid, token, id, ttl, json })
  }

  /**
   * express-session's touch (an unmodified session, `resave: false`). The engine's `get` that loaded the session
   * has already moved its idle timeout, so only a new lifetime ("remember me") or a cookie shorter than the
   * engine's least ttl (its stored expiry) is written; a session gone meanwhile stays gone.
   */
  async #touch(sid, sess) {
    sid = String(sid)
    const app = this.#app
    const loaded = sess[LOADED]
    const ttl = this.#ttlOf(sess)
    if (!loaded || loaded.sid !== sid) {
      await this.#client.touch({ app, token: tokenForSid(sid), ttl })
      return
    }
    const { token } = loaded
    if (ttl !== loaded.ttl) {
      if (await this.#client.touch({ app, token, ttl })) loaded.ttl = ttl
    }
    if (isShort(sess.cookie)) {
      const cookie = JSON.stringify(sess.cookie)
      if (cookie !== loaded.json.get('cookie') && (await this.#client.set({ app, token, d: { cookie } }))) {
        loaded.json.set('cookie', cookie)
      }
    }
  }

  async #destroy(sid) {
    await this.#client.kill({ app: this.#app, token: tokenForSid(String(sid)) })
  }

  async #all() {
    const { sessions } = await this.#client.soapp({ app: this.#app, dt: EVERYTHING })
    const now = Date.now()
    const out = []
    for (const found of sessions) {
      const sess = {}
      let ours = true
      for (const [key, text] of Object.entries(found.d || {})) {
        const value = parseEntry(text)
        if (value === undefined) ours = false
        else sess[key] = value
      }
      if (ours && sess.cookie && !endedByCookie(sess.cookie, now)) out.push(sess)
    }
    return out
  }

  /** The engine ttl: the cookie's maxAge in the nearest whole seconds (at least the engine's least), else `ttl`. */
  #ttlOf(sess) {
    const maxAge = cookieMaxAge(sess.cookie)
    if (maxAge !== undefined) return Math.max(MIN_TTL, Math.round(maxAge / 1000))
    return typeof this.#ttl === 'function' ? Math.max(MIN_TTL, Math.ceil(this.#ttl(sess))) : this.#ttl
  }

  /** The session's user as a string, or its own anonymous id. */
  #idOf(sess, token) {
    const user = this.#userId(sess)
    if ((typeof user === 'string' && user !== '' && !/[\n\r\u2028\u2029]/.test(user)) || Number.isFinite(user)) {
      return String(user)
    }
    return anonymousId(token)
  }
}

/** Each top-level key's JSON text, as `JSON.stringify` writes the session (undefined and functions left out). */
function entriesOf(sess) {
  const json = new Map()
  for (const key of Object.keys(sess)) {
    const text = JSON.stringify(sess[key])
    if (text !== undefined) json.set(key, text)
  }
  return json
}

/** A stored entry's value; undefined when it is not JSON text. */
function parseEntry(text) {
  if (typeof text !== 'string') return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

function ipOf(req) {
  const ip = (req && (req.ip || (req.socket && req.socket.remoteAddress))) || 'unknown'
  return String(ip).slice(0, MAX_IP)
}

/** express-session is an optional peer dependency: say what to install when it is missing. */
function requireExpressSession() {
  try {
    return require('express-session')
  } catch (err) {
    if (err.code !== 'MODULE_NOT_FOUND' || !String(err.message).includes("'express-session'")) throw err
    throw new Error('redis-sessions-rs/express needs express-session: npm install express-session', { cause: err })
  }
}

function remember(sess, loaded) {
  Object.defineProperty(sess, LOADED, { value: loaded, configurable: true })
}

module.exports = { RedisSessionsStore }
module.exports.RedisSessionsStore = RedisSessionsStore
module.exports.default = RedisSessionsStore
