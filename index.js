'use strict'
// The JavaScript face of the Rust engine: callback (v3) or Promise (v4)
// dispatch, bound methods and events. Everything else happens in Rust, except
// answering cache hits (cache-hits.js says why).
const { EventEmitter } = require('node:events')
const net = require('node:net')
const { isPromise } = require('node:util/types')
const { NativeSessions } = require('./binding.js')
const { CacheHits } = require('./cache-hits.js')
const { tracing, trace, appOf, connectionChanged } = require('./diagnostics.js')
const { foreignRealm, inCallersRealm } = require('./realm.js')

// One method per operation of the engine's table, and quit; sorted, as the class body had them.
const METHODS = [...NativeSessions.operations(), 'quit'].sort()

// Set (to anything but '', '0' or 'false'), every instance runs on the in-memory engine.
const MEMORY_VARIABLE = 'REDIS_SESSIONS_MEMORY'
const memoryFromEnvironment = () => !['', '0', 'false', undefined].includes(process.env[MEMORY_VARIABLE]?.toLowerCase())
// Set (to anything but '', '0' or 'false'), a standalone Redis without TLS is reached through a Node socket
// driven by the engine on the JavaScript thread, not redis-rs's connection on the engine's thread (How it works).
const NODE_SOCKETS_VARIABLE = 'REDIS_SESSIONS_NODE_SOCKETS'
const nodeSocketsFromEnvironment = () =>
  !['', '0', 'false', undefined].includes(process.env[NODE_SOCKETS_VARIABLE]?.toLowerCase())

// get's `app` and `token`, read once (a getter runs once, inherited properties count, as the engine reads
// them); undefined when the options are no object or a getter throws (the engine then reads and answers that).
function readAppToken(options) {
  if (options === null || typeof options !== 'object') return undefined
  try {
    const { app, token } = options
    return { app, token }
  } catch {
    return undefined
  }
}

// A callback gets its answer from a Promise reaction, not process.nextTick, which fake timers
// replace (jest's modern ones too): a suite with fake timers still gets its answers, from Redis or
// memory. What the callback throws still becomes an uncaught exception, never a rejection.
function answer(callback, failed, result) {
  try {
    if (failed) callback(result)
    else callback(null, result)
  } catch (err) {
    NativeSessions.raise(err)
  }
}

function soon(fn, args) {
  Promise.resolve().then(() => {
    try {
      fn(...args)
    } catch (err) {
      NativeSessions.raise(err)
    }
  })
}

class RedisSessions extends EventEmitter {
  #native
  #memory
  /** With `cachetime`: the cached answers of `get`. */
  #hits
  #quitTold = false
  #connectedBefore = false

  constructor(options) {
    super()
    // connect-redis-sessions reads `rds.redis.connected` and listens on `rds.redis`.
    this.redis = Object.assign(new EventEmitter(), { connected: false })
    this.connected = false
    this.#native = new NativeSessions(
      options,
      (event, message) => this.#onEvent(event, message),
      memoryFromEnvironment(),
      (serving, keys, apps, ids) => this.#hits?.invalidate(serving, keys, apps, ids),
      (token, stamp, answer, secondsLeft) => this.#hits?.fill(token, stamp, answer, secondsLeft),
      // With `events: true`: a session created, killed, expired, evicted or rotated by any instance.
      (type, app, id, handle, previous) => {
        this.emit('session', previous == null ? { type, app, id, handle } : { type, app, id, handle, previous })
      },
      // With REDIS_SESSIONS_NODE_SOCKETS set: Node's own sockets, driven by the engine.
      nodeSocketsFromEnvironment() ? net : undefined,
    )
    this.#memory = this.#native.memory
    const cache = this.#native.cache
    if (cache !== null) this.#hits = new CacheHits(cache[0], cache[1])
    for (const warning of this.#native.warnings) process.emitWarning(warning)
    if (this.#memory) {
      // Connected from the start; 'connect' still comes, after the constructor, for who waits on it.
      this.connected = this.redis.connected = true
      Promise.resolve().then(() => this.#onEvent('connect'))
    }
    for (const name of METHODS) this[name] = this[name].bind(this)
  }

  #onEvent(event, message) {
    this.connected = this.redis.connected = event === 'connect'
    if (event === 'disconnect') connectionChanged(event, message)
    else connectionChanged(this.#connectedBefore ? 'reconnect' : 'connect')
    this.#connectedBefore ||= this.connected
    this.redis.emit(event)
    this.emit(event)
    // Node throws on an 'error' event nobody listens to; a lost connection is not worth a crash.
    if (event === 'disconnect' && this.listenerCount('error') > 0) this.emit('error', new Error(message))
  }

  // A trailing function is a v3 callback: it gets (err, result) after this
  // call returns, and an exception it throws is an uncaught exception as with
  // the reference, never an unhandled rejection. Without one, the Promise is v4's.
  // The engine answers with a Promise (or a throw); a cache hit is a value.
  #call(name, args) {
    const callback = typeof args[args.length - 1] === 'function' ? args.pop() : undefined
    const legacy = callback !== undefined
    // As the closed connection does in Redis mode: 'disconnect' (message "quit") once, after quit
    // (a microtask: it comes after the quit below).
    if (this.#memory && name === 'quit' && !this.#quitTold) {
      this.#quitTold = true
      Promise.resolve().then(() => this.#onEvent('disconnect', 'quit'))
    }
    if (tracing()) return this.#traced(name, args[0], callback)
    let result
    let failed = false
    try {
      // The time is read here in memory mode, so that fake timers move it; Redis reads its own.
      if (this.#memory) result = this.#native[name](args[0], legacy, Date.now())
      else if (name === 'get' && this.#hits !== undefined) result = this.#get(args[0], legacy)
      else result = this.#native[name](args[0], legacy)
    } catch (err) {
      result = err
      failed = true
    }
    if (callback === undefined) return failed ? Promise.reject(result) : Promise.resolve(result)
    // The engine's Promises belong to the addon's realm, not to a vm context's (jest's
    // sandbox): `instanceof Promise` is false there, so this asks without the realm.
    if (!failed && isPromise(result)) {
      result.then(
        (value) => answer(callback, false, value),
        (err) => answer(callback, true, err),
      )
    } else Promise.resolve().then(() => answer(callback, failed, result))
    return undefined
  }

  // The same, published on the tracing channel (diagnostics.js). A cache hit is
  // looked up first, so that `cached` is known when `start` is published.
  #traced(name, options, callback) {
    const legacy = callback !== undefined
    const app = appOf(options)
    if (name === 'get' && this.#hits !== undefined) {
      // Read once, as #get reads them (inherited properties too), so that the trace says what answered.
      const read = readAppToken(options)
      if (read === undefined) {
        return trace({ method: name, app, cached: false }, () => this.#native.get(options, legacy), callback, soon)
      }
      const hit = this.#lookup(read)
      if (hit !== undefined) return trace({ method: name, app, cached: true }, () => hit, callback, soon)
      return trace({ method: name, app, cached: false }, () => this.#getRead(read, legacy), callback, soon)
    }
    const work = this.#memory
      ? () => this.#native[name](options, legacy, Date.now())
      : () => this.#native[name](options, legacy)
    return trace({ method: name, app, cached: false }, work, callback, soon)
  }

  /** Empties the in-memory store (memory mode) of `namespace`, or of every namespace. */
  static resetMemory(namespace) {
    NativeSessions.resetMemory(namespace)
  }

  // A cache hit answers here, without the engine. The options' properties are
  // read once, as the engine reads them: a getter runs once.
  #get(options, legacy) {
    const read = readAppToken(options)
    return read === undefined ? this.#native.get(options, legacy) : this.#getRead(read, legacy)
  }

  /** The cached answer for the `app` and `token` read, if any. */
  #lookup({ app, token }) {
    if (typeof app !== 'string' || typeof token !== 'string' || token.length !== 64) return undefined
    return this.#hits.lookup(app, token)
  }

  #getRead(read, legacy) {
    const { app, token } = read
    const hits = this.#hits
    if (typeof app === 'string' && typeof token === 'string' && token.length === 64) {
      const hit = hits.lookup(app, token)
      if (hit !== undefined) return hit
      const stamp = hits.reserve(app, token)
      // The engine hands the answer to hits.fill before it settles the Promise.
      if (stamp !== 0) return this.#native.getCacheable({ app, token }, legacy, token, stamp)
    }
    return this.#native.get({ app, token }, legacy)
  }

  // For redis-sessions-rs/express: the handle soid shows for a token's session on this instance (with
  // hashTokens, of its stored name). A symbol, so it is no method of the API.
  [Symbol.for('redis-sessions-rs.handleOfToken')](token) {
    return this.#native.handleOfToken(token)
  }

  static {
    for (const name of METHODS) {
      // A method as a class body would define it: named, not enumerable, not a constructor.
      const method = foreignRealm
        ? {
            [name](...args) {
              return inCallersRealm(args, (answered) => this.#call(name, answered))
            },
          }[name]
        : {
            [name](...args) {
              return this.#call(name, args)
            },
          }[name]
      Object.defineProperty(this.prototype, name, { value: method, writable: true, configurable: true })
    }
  }
}

module.exports = RedisSessions
module.exports.default = RedisSessions
module.exports.RedisSessions = RedisSessions
