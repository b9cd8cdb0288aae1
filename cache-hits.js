'use strict'
// The cache of `get` answers (`cachetime` > 0), kept on the JavaScript side.
//
// Why here and not in Rust like the rest of the engine: a hit must cost no
// more than the reference's own Map lookup, and any call into the native
// addon costs more than that (about 1.5 µs of N-API call and argument reading,
// benchmark/NOTES.md). So the answers live in a Map of this thread, and the
// engine only tells this cache what to forget (src/cache.rs): the sessions this
// instance wrote, every APP:TOKEN the subscriber hears on `ns:cache`, and
// whether that subscription stands. Those batches arrive before any answer
// that follows them is settled, so a write is forgotten before its caller
// sees it done.
//
// The rules: at most `max` entries, the least recently used leaving first;
// an entry lives `seconds`, never longer than its session has left; nothing is
// answered while the subscription is down, and everything is dropped when it
// changes. A place is taken when a read starts, so recency follows the order of
// calls, and a read that an invalidation overtook caches nothing. After quit()
// what is cached still answers until it expires, as in both references.

// Entries are keyed by token alone, the app kept in the entry: a token the
// caller reuses hashes once, where an `APP:TOKEN` string would be built and
// hashed on every call. Two apps holding the same token (only if made so on
// purpose) share one place: the later read takes it.

const TOKEN_LENGTH = 64
const COLON = 58

class CacheHits {
  /** token → { app, stamp, session, expires }; Map order is recency, oldest first. */
  #entries = new Map()
  #serving = false
  #stamps = 0
  #lifetime
  #max

  constructor(seconds, max) {
    this.#lifetime = seconds * 1000
    this.#max = max
  }

  /** The cached answer for the session, or undefined. */
  lookup(app, token) {
    const entry = this.#entries.get(token)
    if (entry === undefined || entry.session === undefined || entry.app !== app) return undefined
    if (entry.expires <= performance.now()) return undefined
    this.#entries.delete(token)
    this.#entries.set(token, entry)
    return entry.session
  }

  /** Takes a place for a read of the session; 0 when the cache serves nothing. */
  reserve(app, token) {
    if (!this.#serving) return 0
    const stamp = ++this.#stamps
    let entry = this.#entries.get(token)
    if (entry === undefined) entry = { app, stamp, session: undefined, expires: 0 }
    else {
      // Reused: fewer objects that outlive a scavenge.
      this.#entries.delete(token)
      entry.app = app
      entry.stamp = stamp
      entry.session = undefined
    }
    this.#entries.set(token, entry)
    if (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value)
    return stamp
  }

  /** Completes the read that `reserve` gave `stamp`; a missing session (or a failure) frees the place. */
  fill(token, stamp, session, secondsLeft) {
    const entry = this.#entries.get(token)
    if (entry === undefined || entry.stamp !== stamp) return
    if (session === undefined || secondsLeft <= 0) {
      this.#entries.delete(token)
      return
    }
    entry.session = session
    entry.expires = performance.now() + Math.min(this.#lifetime, secondsLeft * 1000)
  }

  /**
   * A batch from the engine: the subscription's new state if it changed
   * (everything goes either way), then the `APP:TOKEN` keys to forget, then
   * every session of each app (of one id when ids[i] is not null).
   */
  invalidate(serving, keys, apps, ids) {
    if (serving !== undefined && serving !== null) {
      this.#entries.clear()
      this.#serving = serving
    }
    for (const key of keys) this.#forget(key)
    for (let i = 0; i < apps.length; i++) this.#forgetApp(apps[i], ids[i])
  }

  #forget(key) {
    const colon = key.length - TOKEN_LENGTH - 1
    if (colon < 0 || key.charCodeAt(colon) !== COLON) return
    const token = key.slice(colon + 1)
    const entry = this.#entries.get(token)
    if (entry !== undefined && entry.app === key.slice(0, colon)) this.#entries.delete(token)
  }

  #forgetApp(app, id) {
    for (const [token, entry] of this.#entries) {
      if (entry.app === app && (id === null || entry.session === undefined || entry.session.id === id)) {
        this.#entries.delete(token)
      }
    }
  }

  get size() {
    return this.#entries.size
  }
}

module.exports = { CacheHits }
