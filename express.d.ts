// Types of `redis-sessions-rs/express`: the express-session store (issue 16).
import { Store, SessionData } from 'express-session'
import { RedisSessions } from './index'

export interface RedisSessionsStoreOptions {
  /** The engine the sessions live in: any RedisSessions (standalone, Sentinel, Cluster, TLS, cache...). */
  client: RedisSessions<any>
  /** The engine's app name for these sessions: 3 to 20 of `a-z A-Z 0-9 _ -`. */
  app: string
  /**
   * The user a session belongs to: a string or a number; anything else is no user. Default: `sess.userId`, else
   * `sess.passport.user`.
   */
  userId?: (sess: SessionData & Record<string, unknown>) => unknown
  /** Seconds a session lives idle when its cookie has no maxAge (at least 10); default 86400. */
  ttl?: number | ((sess: SessionData & Record<string, unknown>) => number)
}

/** One of a user's live sessions, as `sessionsOf` lists it. */
export interface DeviceSession {
  /** The session's one-way short name (16 hex digits): give it to `destroyHandle`. */
  handle: string
  /** The address of the request that created the session. */
  ip: string
  /** Seconds since its last request. */
  idle: number
  /** Reads and writes so far. */
  r: number
  w: number
  /** Seconds it lives idle. */
  ttl: number
}

export interface DestroyUserOptions {
  /** A sid whose session is kept (this device). */
  except?: string
}

export declare class RedisSessionsStore extends Store {
  constructor(options: RedisSessionsStoreOptions)
  readonly client: RedisSessions<any>
  readonly app: string

  get(sid: string, callback: (err: any, session?: SessionData | null) => void): void
  get(sid: string): Promise<SessionData | null>
  set(sid: string, session: SessionData, callback?: (err?: any) => void): void
  set(sid: string, session: SessionData): Promise<void>
  touch(sid: string, session: SessionData, callback?: (err?: any) => void): void
  touch(sid: string, session: SessionData): Promise<void>
  destroy(sid: string, callback?: (err?: any) => void): void
  destroy(sid: string): Promise<void>
  all(callback: (err: any, sessions?: SessionData[] | { [sid: string]: SessionData } | null) => void): void
  all(): Promise<SessionData[]>
  length(callback: (err: any, length?: number) => void): void
  length(): Promise<number>
  clear(callback?: (err?: any) => void): void
  clear(): Promise<void>

  /** The user's live sessions, most recently active first. */
  sessionsOf(userId: string | number): Promise<DeviceSession[]>
  /** The handle of the session with this sid, as `sessionsOf` shows it. */
  handleOf(sid: string): string
  /** Logs out the user's session with this handle: 1, or 0 when there was none. */
  destroyHandle(userId: string | number, handle: string): Promise<number>
  /**
   * Logs out every session of the user, or all but `except`'s: the number logged out. One atomic step in
   * standalone and Sentinel mode (`killsoid` with `except`); in cluster mode one per bucket.
   */
  destroyUser(userId: string | number, options?: DestroyUserOptions): Promise<number>
}

export default RedisSessionsStore
