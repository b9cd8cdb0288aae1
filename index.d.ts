import { EventEmitter } from 'node:events'

/** A value `d` may hold. `null` in `set` removes the key. */
export type DataValue = string | number | boolean

export type SessionData = Record<string, DataValue>

/** A session as `get`, `set`, `soid` and `soapp` return it. */
export interface Session<D extends SessionData = SessionData> {
  /** The user id the session belongs to. */
  id: string
  /** Reads so far; `get` returns the count before this read. */
  r: number
  /** Writes so far; `set` returns the count after this write. */
  w: number
  /** Idle timeout in seconds; for `no_resave` sessions the seconds left. */
  ttl: number
  /** Seconds since the last activity. */
  idle: number
  /** `null` when the stored session has no ip (written by another program). */
  ip: string | null
  /** Present when the session holds data. */
  d?: Partial<D>
  /** Present (true) when the session was created with `no_resave`. */
  no_resave?: true
}

/** A session as `soid` and `soapp` list it with `handles: true`. */
export interface HandledSession<D extends SessionData = SessionData> extends Session<D> {
  /** Its device handle: 16 lowercase hex digits; `kill({app, id, handle})` kills it, nothing reads it. */
  handle: string
}

/** node_redis v3 (`url`, `password`, `db`) or node-redis v4 (`url`, `username`, `password`, `database`, `socket`) settings. */
export interface ConnectionOptions {
  url?: string
  username?: string
  password?: string
  /** node_redis v3 */
  auth_pass?: string
  /** node_redis v3 */
  db?: number
  /** node-redis v4 */
  database?: number
  /** node_redis v3: ms idle before the first TCP keepalive probe. Default 5000; keepalive stays on. */
  socket_initial_delay?: number
  /**
   * node-redis v4; `tls: true` with `ca`, `cert`, `key`, `rejectUnauthorized` beside it.
   * `keepAlive`: ms idle before the first TCP keepalive probe. Default 5000; `false` keeps the default, keepalive stays on.
   */
  socket?: { host?: string; port?: number; connectTimeout?: number; keepAlive?: number | false; tls?: boolean } & TlsOptions
  /** node_redis v3: `true`, or the certificates to use (a `rediss://` url also turns TLS on; its `#insecure` fragment is refused: use `rejectUnauthorized: false`). */
  tls?: boolean | TlsOptions
}

/** PEM text or Buffers, as for `tls.connect`. */
export interface TlsOptions {
  /** Certificates to trust instead of the system's. */
  ca?: string | Buffer | Array<string | Buffer>
  /** Client certificate and its key, for servers that ask for one (`tls-auth-clients yes`). */
  cert?: string | Buffer
  key?: string | Buffer
  /** `false` accepts any server certificate. Default true. */
  rejectUnauthorized?: boolean
}

export type NodeAddress = { host?: string; port: number } | string

/** Sentinel: the sessions go to whichever server the Sentinels name as master, and follow failovers. */
export interface SentinelOptions {
  /** The master's name, as in `sentinel monitor NAME ...`. */
  name: string
  /** Some of the Sentinels: `{host, port}` or `redis://host:port`. */
  sentinels: NodeAddress[]
  /** For the Sentinels themselves; the master takes `options.username`/`password`. */
  username?: string
  password?: string
}

export interface RedisSessionsOptions {
  /** Redis port. Default 6379. */
  port?: number
  /** Redis host. Default "127.0.0.1". */
  host?: string
  /** Prefix of every Redis key. Default "rs". */
  namespace?: string
  /** Seconds between wipes of expired sessions. Default 600; 0 disables; below 10 becomes 10. */
  wipe?: number
  /** Seconds to cache `get` answers in memory. Default 0 (off). */
  cachetime?: number
  /** Most sessions the cache keeps; least recently used go first. Default 5000. */
  cachemax?: number
  /**
   * Lazy touch: a `get` less than this many whole seconds after the session's
   * last touch writes nothing (`r` stays, `idle`, `soapp` and `activity` lag by
   * up to this). A session whose ttl is not above it is touched on every get.
   * Default 0 (every get touches); larger than 1e9 becomes 1e9; negative or not
   * a number is an `invalidOptions` error.
   */
  touchAfter?: number
  /**
   * Store sessions under a one-way hash of their token, so that no token is at
   * rest in Redis. `'migrate'`: also move sessions stored under their token on
   * their first use. Default false. Anything else is an `invalidOptions` error.
   */
  hashTokens?: boolean | 'migrate'
  /**
   * Emit `'session'` for every session created, killed, expired, evicted or
   * rotated by any instance with `events: true` on this Redis and namespace.
   * Default false.
   */
  events?: boolean
  /** Milliseconds a call waits for a connection before failing. Default 5000. */
  connectTimeout?: number
  /** Milliseconds a Redis command may take before failing. Default 5000. */
  commandTimeout?: number
  options?: ConnectionOptions
  /** Connect through Redis Sentinel instead of to `host`/`port`. */
  sentinel?: SentinelOptions
  /**
   * Redis Cluster: some of its nodes. Uses the cluster key layout (hash tags
   * over 64 buckets; see the README), not the reference's; `options` username,
   * password and tls apply to every node.
   */
  cluster?: NodeAddress[]
  /** A node_redis v3 client: its host, port, password and db are used for a connection of our own. */
  client?: unknown
  /**
   * The in-memory engine instead of Redis, for test suites: the same answers and errors, no
   * connection (host, port, options, sentinel, cluster and client are checked, then unused).
   * Instances with the same namespace share one store per process, worker threads included.
   * Time is `Date.now()`, so fake timers move it. The environment variable
   * REDIS_SESSIONS_MEMORY=1 turns it on for every instance. Default false.
   */
  memory?: boolean
}

export type Callback<T> = (err: Error | null, result: T) => void

/**
 * Every error a call answers. A bad argument: "missingParameter", "invalidFormat" or
 * "invalidValue", with the reference's message. Bad constructor options: "invalidOptions".
 * Redis unreachable or lost: "redisConnectionError"; a command Redis refused: "redisError";
 * a stored session that cannot be read: "corruptSession"; a call after `quit()`: "closed";
 * a bug of this package: "internalError". No message quotes a password or session data.
 */
export interface RedisSessionsError extends Error {
  name: 'missingParameter' | 'invalidFormat' | 'invalidValue' | 'invalidOptions' | 'redisConnectionError' | 'redisError' | 'corruptSession' | 'closed' | 'internalError'
}

export interface AppOptions { app: string }
export interface TokenOptions { app: string; token: string }
export interface IdOptions { app: string; id: string }
/** killsoid's options; `except`: the token of the one session of the id to keep (ours, not the reference's). */
export interface KillsoidOptions extends IdOptions { except?: string }
/** Kill by device handle: the session of `id` whose handle (from `soid`/`soapp` with `handles: true`) this is. */
export interface HandleOptions { app: string; id: string; handle: string; token?: undefined }
/** `handles: true`: each listed session carries its `handle`. */
export interface HandlesOption { handles: true }
/** The activity window in seconds (>= 10): `deltaTime` (v4) or `dt` (v3); either is accepted. */
export type WindowOptions = { app: string } & ({ deltaTime: number; dt?: number } | { dt: number; deltaTime?: number })

export interface CreateOptions<D extends SessionData> {
  app: string
  id: string
  ip: string
  /** Seconds. Default 7200; at least 10. */
  ttl?: number
  d?: { [K in keyof D]?: D[K] | null }
  /** Fixed expiry: using the session does not extend it. */
  no_resave?: boolean
  /**
   * Not in the reference: the most live sessions the id keeps in the app (an integer >= 1). The least
   * recently active others (lowest `la`, then the earliest created, then the lowest token) are killed
   * in the same atomic step; the new session is always kept. Absent or undefined: no cap.
   */
  max?: number
  /**
   * Not in the reference: seconds after creation at which the session ends, whatever its activity
   * (an integer >= 10). Absent or undefined: no absolute lifetime.
   */
  maxAge?: number
}

export interface CreateWithTokenOptions<D extends SessionData> {
  app: string
  token: string
  id: string
  ip: string
  /** Seconds. Default 7200; at least 10. */
  ttl?: number
  d?: { [K in keyof D]?: D[K] | null }
}

export interface TouchOptions {
  app: string
  token: string
  /** A new idle timeout in seconds from now (at least 10, read as `parseInt`); left out, the session keeps its own. */
  ttl?: number
}

export interface SetOptions<D extends SessionData> {
  app: string
  token: string
  /** Keys to set; `null` removes a key; keys left out are kept. */
  d: { [K in keyof D]?: D[K] | null }
}

/**
 * Sessions in Redis: several per user id, per app, with read/write counters,
 * idle time and expiry. Every method takes a v3 callback as its last
 * argument (and then returns undefined), or returns a v4 Promise.
 */
/** A session event (option `events`): never a token, the session's device handle. */
export interface SessionEvent {
  type: 'created' | 'killed' | 'expired' | 'evicted' | 'rotated'
  app: string
  id: string
  handle: string
  /** For `rotated`: the handle before the rotation. */
  previous?: string
}

// The events of the class below (EventEmitter's `on`, typed), merged into it.
declare interface RedisSessions<D extends SessionData = SessionData> {
  /** With `events: true`: a session created, killed, expired, evicted or rotated by any instance. */
  on(event: 'session', listener: (event: SessionEvent) => void): this
  on(event: 'connect' | 'disconnect', listener: () => void): this
  on(event: 'error', listener: (err: Error) => void): this
  on(event: string | symbol, listener: (...args: any[]) => void): this
}

declare class RedisSessions<D extends SessionData = SessionData> extends EventEmitter {
  constructor(options?: RedisSessionsOptions)
  /** Whether the connection to Redis is up. */
  readonly connected: boolean
  /** For connect-redis-sessions: `connected`, and `connect`/`disconnect` events. */
  readonly redis: EventEmitter & { readonly connected: boolean }

  /**
   * Not in the reference: the app's live sessions, counted in Redis without reading them (`soapp` reads every
   * one); an ended session that lingers until the wipe is not counted.
   */
  count(options: AppOptions, callback: Callback<{ count: number }>): void
  count(options: AppOptions): Promise<{ count: number }>

  /** Unique ids active within the window. */
  activity(options: WindowOptions, callback: Callback<{ activity: number }>): void
  activity(options: WindowOptions): Promise<{ activity: number }>

  create(options: CreateOptions<D>, callback: Callback<{ token: string }>): void
  create(options: CreateOptions<D>): Promise<{ token: string }>

  /** The session, counting this read; `{}` (callback) or `null` (Promise) when there is none. */
  get(options: TokenOptions, callback: Callback<Session<D> | Record<string, never>>): void
  get(options: TokenOptions): Promise<Session<D> | null>

  /** Merges `d` into the session; `{}` (callback) or `null` (Promise) when there is none. */
  set(options: SetOptions<D>, callback: Callback<Session<D> | Record<string, never>>): void
  set(options: SetOptions<D>): Promise<Session<D> | null>

  /** Kills one session, named by its token or by its id and device handle. */
  kill(options: TokenOptions | HandleOptions, callback: Callback<{ kill: number }>): void
  kill(options: TokenOptions | HandleOptions): Promise<{ kill: number }>

  /** Kills every session of the app. */
  killall(options: AppOptions, callback: Callback<{ kill: number }>): void
  killall(options: AppOptions): Promise<{ kill: number }>

  /**
   * Kills every session of one id: log a user out on every device. With `except` (not in the reference), every
   * session but the one of that token, in the same atomic step: log out every other device.
   */
  killsoid(options: KillsoidOptions, callback: Callback<{ kill: number }>): void
  killsoid(options: KillsoidOptions): Promise<{ kill: number }>

  /** Sessions of one id. */
  soid(options: IdOptions & HandlesOption, callback: Callback<{ sessions: HandledSession<D>[] }>): void
  soid(options: IdOptions & HandlesOption): Promise<{ sessions: HandledSession<D>[] }>
  soid(options: IdOptions & { handles?: boolean }, callback: Callback<{ sessions: Session<D>[] }>): void
  soid(options: IdOptions & { handles?: boolean }): Promise<{ sessions: Session<D>[] }>

  /** Sessions of the app active within the window, most recent first. */
  soapp(options: WindowOptions & HandlesOption, callback: Callback<{ sessions: HandledSession<D>[] }>): void
  soapp(options: WindowOptions & HandlesOption): Promise<{ sessions: HandledSession<D>[] }>
  soapp(options: WindowOptions & { handles?: boolean }, callback: Callback<{ sessions: Session<D>[] }>): void
  soapp(options: WindowOptions & { handles?: boolean }): Promise<{ sessions: Session<D>[] }>

  /**
   * Moves the session to a new token in one atomic step, keeping all of it (data, counters, ttl,
   * last activity); the old token reads as no session at once. `{}` (callback) or `null` (Promise)
   * when there is none.
   */
  rotate(options: TokenOptions, callback: Callback<{ token: string } | Record<string, never>>): void
  rotate(options: TokenOptions): Promise<{ token: string } | null>

  /**
   * Refreshes the session as a `get` does and, with `ttl`, gives it a new idle timeout; answers as
   * `get` does, with the new ttl.
   */
  touch(options: TouchOptions, callback: Callback<Session<D> | Record<string, never>>): void
  touch(options: TouchOptions): Promise<Session<D> | null>

  /**
   * Not in the reference, for stores that name sessions themselves (`redis-sessions-rs/express`): creates a
   * session as `create` does under the token given, only when no session has it; `{}` (callback) or `null`
   * (Promise) when one does, which is left as it is. A token is 64 of `[A-Za-z0-9]`; in cluster mode its first
   * two characters name its bucket.
   */
  createWithToken(options: CreateWithTokenOptions<D>, callback: Callback<{ token: string } | Record<string, never>>): void
  createWithToken(options: CreateWithTokenOptions<D>): Promise<{ token: string } | null>

  /**
   * Not in the reference: makes a live session the id's (sign-in without a new token), keeping its token,
   * data, counters, activity and expiry, in one atomic step. `{moved: 0}` when there is no live session.
   */
  moveToId(options: TokenOptions & { id: string }, callback: Callback<{ moved: number }>): void
  moveToId(options: TokenOptions & { id: string }): Promise<{ moved: number }>

  ping(callback: Callback<string>): void
  ping(): Promise<string>

  /** Stops the wipe and closes every connection; later calls fail. */
  quit(callback: Callback<void>): void
  quit(): Promise<void>

  /** Memory mode: empties the store of `namespace`, or of every namespace, and every instance's cache. */
  static resetMemory(namespace?: string): void
}

export default RedisSessions
export { RedisSessions }
