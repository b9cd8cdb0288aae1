// Compiled by __test__/packaging.test.js with `tsc --strict` (tsconfig.express.json):
// the express-session store's types, with @types/express-session; each
// `@ts-expect-error` line must stay an error.
import session from 'express-session'
import RedisSessions from 'redis-sessions-rs'
import { RedisSessionsStore, DeviceSession, RedisSessionsStoreOptions } from 'redis-sessions-rs/express'
import DefaultStore from 'redis-sessions-rs/express'

declare module 'express-session' {
  interface SessionData {
    userId: string
  }
}

const options: RedisSessionsStoreOptions = {
  client: new RedisSessions({ cluster: [{ host: '127.0.0.1', port: 7000 }], cachetime: 10 }),
  app: 'myapp',
  userId: (sess) => sess.userId ?? sess.passport,
  ttl: 86400,
}
const store: session.Store = new RedisSessionsStore(options)
const typed = new DefaultStore({ client: new RedisSessions(), app: 'myapp', ttl: (sess) => (sess.userId ? 3600 : 600) })
session({ store: typed, secret: 'keyboard cat', resave: false, saveUninitialized: false })
void store

async function devices(sid: string): Promise<number> {
  const list: DeviceSession[] = await typed.sessionsOf('alice')
  const mine: string = typed.handleOf(sid)
  const one: number = await typed.destroyHandle('alice', list[0]?.handle ?? mine)
  const others: number = await typed.destroyUser(42, { except: sid })
  const all = await typed.all()
  const n: number = await typed.length()
  typed.get(sid, (err, sess) => void (err ?? sess?.cookie.maxAge))
  const loaded = await typed.get(sid)
  if (loaded) await typed.set(sid, loaded)
  await typed.clear()
  await typed.destroy(sid)
  const created = await typed.client.createWithToken({ app: 'myapp', token: 'x'.repeat(64), id: 'u', ip: '::1' })
  const moved: { moved: number } = await typed.client.moveToId({ app: 'myapp', token: 'x'.repeat(64), id: 'u' })
  return one + others + all.length + n + (created ? 1 : 0) + moved.moved
}
void devices

// @ts-expect-error `app` is required
new RedisSessionsStore({ client: new RedisSessions() })
// @ts-expect-error `client` must be a RedisSessions
new RedisSessionsStore({ client: {}, app: 'myapp' })
// @ts-expect-error `ttl` is seconds, not a string
new RedisSessionsStore({ client: new RedisSessions(), app: 'myapp', ttl: '1d' })
