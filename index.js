'use strict'
// The JavaScript face of the Rust engine: callback (v3) or Promise (v4)
// dispatch, bound methods and events. Everything else happens in Rust.
const { EventEmitter } = require('node:events')
const { NativeSessions } = require('./binding.js')

class RedisSessions extends EventEmitter {
  #native

  constructor(options) {
    super()
    this.#native = new NativeSessions(options)
    for (const name of ['activity', 'create', 'get', 'kill', 'killall', 'killsoid', 'ping', 'quit', 'set', 'soapp', 'soid']) {
      this[name] = this[name].bind(this)
    }
  }

  // A trailing function is a v3 callback: it gets (err, result) on a later
  // tick, so an exception it throws is an uncaught exception as with the
  // reference, never an unhandled rejection. Without one, the Promise is v4's.
  #call(name, args) {
    const callback = typeof args[args.length - 1] === 'function' ? args.pop() : undefined
    let promise
    try {
      promise = this.#native[name](args[0], callback !== undefined)
    } catch (err) {
      promise = Promise.reject(err)
    }
    if (callback === undefined) return promise
    promise.then(
      (result) => process.nextTick(callback, null, result),
      (err) => process.nextTick(callback, err),
    )
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
