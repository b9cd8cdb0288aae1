'use strict'
// The JavaScript face of the Rust engine: callback (v3) or Promise (v4)
// dispatch, bound methods and events. Everything else happens in Rust.
const { EventEmitter } = require('node:events')
const { NativeSessions } = require('./binding.js')

const METHODS = ['activity', 'create', 'get', 'kill', 'killall', 'killsoid', 'ping', 'quit', 'set', 'soapp', 'soid']

class RedisSessions extends EventEmitter {
  #native

  constructor(options) {
    super()
    // connect-redis-sessions reads `rds.redis.connected` and listens on `rds.redis`.
    this.redis = Object.assign(new EventEmitter(), { connected: false })
    this.connected = false
    this.#native = new NativeSessions(options, (event, message) => this.#onEvent(event, message))
    for (const warning of this.#native.warnings) process.emitWarning(warning)
    for (const name of METHODS) this[name] = this[name].bind(this)
  }

  #onEvent(event, message) {
    this.connected = this.redis.connected = event === 'connect'
    this.redis.emit(event)
    this.emit(event)
    // Node throws on an 'error' event nobody listens to; a lost connection is not worth a crash.
    if (event === 'disconnect' && this.listenerCount('error') > 0) this.emit('error', new Error(message))
  }

  // A trailing function is a v3 callback: it gets (err, result) on a later
  // tick, so an exception it throws is an uncaught exception as with the
  // reference, never an unhandled rejection. Without one, the Promise is v4's.
  // The native side answers with a Promise, a value (a cache hit) or a throw.
  #call(name, args) {
    const callback = typeof args[args.length - 1] === 'function' ? args.pop() : undefined
    let result
    let failed = false
    try {
      result = this.#native[name](args[0], callback !== undefined)
    } catch (err) {
      result = err
      failed = true
    }
    if (callback === undefined) return failed ? Promise.reject(result) : Promise.resolve(result)
    if (failed) process.nextTick(callback, result)
    else if (result instanceof Promise) {
      result.then((value) => process.nextTick(callback, null, value), (err) => process.nextTick(callback, err))
    } else process.nextTick(callback, null, result)
    return undefined
  }

  activity(...args) { return this.#call('activity', args) }
  create(...args) { return this.#call('create', args) }
  get(...args) { return this.#call('get', args) }
  kill(...args) { return this.#call('kill', args) }
  killall(...args) { return this.#call('killall', args) }
  killsoid(...args) { return this.#call('killsoid', args) }
  ping(...args) { return this.#call('ping', args) }
  quit(...args) { return this.#call('quit', args) }
  set(...args) { return this.#call('set', args) }
  soapp(...args) { return this.#call('soapp', args) }
  soid(...args) { return this.#call('soid', args) }
}

module.exports = RedisSessions
module.exports.default = RedisSessions
module.exports.RedisSessions = RedisSessions
