'use strict'
// The express-session store (issue 16) on a standalone redis-server: a real
// Express app over HTTP with cookies, one test (or more) per numbered point of
// the issue, each checking what Redis holds.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { setTimeout: sleep } = require('node:timers/promises')
const RedisSessions = require('..')
const V3 = require('redis-sessions-v3')
const { RedisSessionsStore } = require('../express')
const { tokenForSid, anonymousId } = require('../binding.js')
const { startRedis } = require('./helpers/redis-server')
const { connect } = require('./helpers/raw')
const { serve } = require('./helpers/express-app')

const NS = 'ex'
const APP = 'expapp'

describe('express-session store', () => {
  let server
  let raw
  let rs
  let store
  let web

  before(async () => {
    server = await startRedis()
    raw = connect(server.port)
    rs = new RedisSessions({ port: server.port, namespace: NS })
    store = new RedisSessionsStore({ client: rs, app: APP, ttl: 600 })
    web = await serve(store, { cookie: { maxAge: 60_000 } })
  })

  after(async () => {
    await web.close()
    await rs.quit()
    raw.disconnect()
    await server.stop()
  })

  const another = () => new RedisSessionsStore({ client: rs, app: APP, ttl: 600 })
  const hashOf = (sid) => raw.hgetall(`${NS}:${APP}:${tokenForSid(sid)}`)
  const dOf = async (sid) => JSON.parse((await hashOf(sid)).d)

  it('1. sessions persist; an untouched one leaves nothing; destroy and regenerate behave as documented', async () => {
    const before = await raw.dbsize()
    const idle = web.client()
    const first = await idle.get()
    assert.equal(first.setCookie, null)
    assert.equal(await raw.dbsize(), before, 'saveUninitialized: false writes nothing')

    const c = web.client()
    await c.post('/set?a=1&b=%7B%22deep%22%3A%5B1%2C2%5D%7D')
    const sid = c.sid
    assert.ok(sid)
    assert.deepEqual((await c.get()).body.session.b, { deep: [1, 2] })
    assert.equal((await c.get()).body.sid, sid)
    const d = await dOf(sid)
    assert.equal(d.a, '1')
    assert.equal(d.b, '{"deep":[1,2]}')
    // express-session's Cookie may read its maxAge back a millisecond later.
    assert.ok(Math.abs(JSON.parse(d.cookie).originalMaxAge - 60_000) <= 5)

    const regenerated = await c.post('/regenerate?x=2')
    assert.notEqual(regenerated.body.sid, sid)
    assert.equal(c.sid, regenerated.body.sid)
    assert.deepEqual(await hashOf(sid), {}, 'the old session is gone')
    const now = (await c.get()).body.session
    assert.equal(now.x, 2)
    assert.equal(now.a, undefined, 'no old data')

    const newSid = c.sid
    await c.post('/destroy')
    assert.deepEqual(await hashOf(newSid), {})
    const after = await c.get()
    assert.notEqual(after.body.sid, newSid)
    assert.equal(after.body.session.x, undefined)
  })

  it('2. the cookie maxAge sets the lifetime, also below 10 s; without one, ttl applies', async () => {
    // express-session sets the store's generate(): one store per middleware.
    const short = await serve(another(), { cookie: { maxAge: 1500 } })
    const noMaxAge = await serve(another())
    try {
      const c = short.client()
      await c.post('/set?a=1')
      const sid = c.sid
      assert.equal((await hashOf(sid)).ttl, '10', "the engine's least ttl")
      await sleep(900)
      // resave: false, unmodified: express-session calls touch, which moves the stored expiry.
      assert.equal((await c.get()).body.session.a, 1)
      await sleep(900)
      assert.equal((await c.get()).body.session.a, 1, 'touch extended it past its first expiry')
      await sleep(1700)
      const gone = await c.get()
      assert.equal(gone.body.session.a, undefined, 'never returned past its cookie')
      assert.notEqual(gone.body.sid, sid)
      assert.deepEqual(await hashOf(sid), {}, 'and killed')

      const n = noMaxAge.client()
      await n.post('/set?a=1')
      assert.equal((await hashOf(n.sid)).ttl, '600')
      const long = web.client()
      await long.post('/set?a=1')
      assert.equal((await hashOf(long.sid)).ttl, '60')
    } finally {
      await short.close()
      await noMaxAge.close()
    }
  })

  it('2. touch extends a live session and never recreates a destroyed one', async () => {
    const rolling = await serve(another(), { rolling: true, cookie: { maxAge: 30_000 } })
    try {
      const c = rolling.client()
      await c.post('/set?a=1')
      const sid = c.sid
      const token = tokenForSid(sid)
      await raw.hset(`${NS}:${APP}:${token}`, 'la', String(Math.floor(Date.now() / 1000) - 20))
      const reply = await c.get()
      assert.equal(reply.body.session.a, 1)
      assert.ok(reply.setCookie, 'rolling sends the cookie again')
      const la = Number((await hashOf(sid)).la)
      assert.ok(la >= Math.floor(Date.now() / 1000) - 1, 'the read moved the idle timeout')

      const arrived = rolling.arrived('t')
      const held = c.post('/hold?gate=t')
      await arrived
      await rs.kill({ app: APP, token })
      rolling.release('t')
      assert.equal((await held).status, 200)
      assert.deepEqual(await hashOf(sid), {}, 'touch did not bring it back')
      await store.touch(sid, { cookie: { originalMaxAge: 30_000, maxAge: 30_000 } })
      assert.deepEqual(await hashOf(sid), {}, 'nor a touch of a request that did not load it')
    } finally {
      await rolling.close()
    }
  })

  it('3. 20 concurrent requests each set their own key: all 20 stay; a deleted key is deleted', async () => {
    const c = web.client()
    await c.post('/set?keep=0&gone=1')
    const requests = []
    for (let i = 0; i < 20; i++) requests.push(c.post(`/set?k${i}=${i}`))
    requests.push(c.post('/del?gone'))
    for (const r of await Promise.all(requests)) assert.equal(r.status, 200)
    const session = (await c.get()).body.session
    for (let i = 0; i < 20; i++) assert.equal(session[`k${i}`], i, `k${i}`)
    assert.equal(session.keep, 0)
    assert.equal('gone' in session, false)
    assert.equal('gone' in (await dOf(c.sid)), false)
  })

  it('3. a request writes back only the keys it changed', async () => {
    const c = web.client()
    await c.post('/set?a=1&b=1')
    const arrived = web.arrived('lost')
    const slow = c.post('/hold?gate=lost&c=3')
    await arrived
    await c.post('/set?b=2')
    web.release('lost')
    assert.equal((await slow).status, 200)
    const d = await dOf(c.sid)
    assert.deepEqual([d.a, d.b, d.c], ['1', '2', '3'], 'the slow request did not write its stale b')
  })

  it('3. with resave: true an unchanged session is not written: only its expires moved', async () => {
    const resaving = await serve(another(), { resave: true, cookie: { maxAge: 60_000 } })
    try {
      const c = resaving.client()
      await c.post('/set?a=1')
      const { w } = await hashOf(c.sid)
      for (let i = 0; i < 3; i++) assert.equal((await c.get()).body.session.a, 1)
      assert.equal((await hashOf(c.sid)).w, w, 'no write')
      await c.post('/set?a=2')
      assert.equal(Number((await hashOf(c.sid)).w), Number(w) + 1)
    } finally {
      await resaving.close()
    }
  })

  it('4. a request that loaded a session before it was destroyed never brings it back', async () => {
    const killers = {
      'logout on another request': (c) => c.post('/destroy'),
      destroyUser: () => store.destroyUser('res-user'),
      kill: (c) => rs.kill({ app: APP, token: tokenForSid(c.sid) }),
      killsoid: () => rs.killsoid({ app: APP, id: 'res-user' }),
    }
    for (const [name, killer] of Object.entries(killers)) {
      const c = web.client()
      await c.post('/user?id=res-user')
      const sid = c.sid
      const other = web.client()
      other.cookie = c.cookie
      const arrived = web.arrived(name)
      const slow = c.post(`/hold?gate=${encodeURIComponent(name)}&x=1`)
      await arrived
      await killer(other)
      web.release(name)
      const answer = await slow
      assert.equal(answer.status, 200, `${name}: the save answers without an error`)
      assert.deepEqual(await hashOf(sid), {}, `${name}: nothing written`)
      assert.equal(await raw.sismember(`${NS}:${APP}:us:res-user`, tokenForSid(sid)), 0, name)
    }
  })

  it('4. with the engine’s cache on, a session killed by another instance is not brought back either', async () => {
    const cached = new RedisSessions({ port: server.port, namespace: NS, cachetime: 30 })
    const site = await serve(new RedisSessionsStore({ client: cached, app: APP }), { cookie: { maxAge: 60_000 } })
    try {
      const c = site.client()
      await c.post('/user?id=cached-user')
      assert.equal((await c.get()).body.session.userId, 'cached-user')
      const arrived = site.arrived('cached')
      const slow = c.post('/hold?gate=cached&x=1')
      await arrived
      assert.equal((await rs.killsoid({ app: APP, id: 'cached-user' })).kill, 1, 'killed through another instance')
      site.release('cached')
      assert.equal((await slow).status, 200)
      assert.deepEqual(await hashOf(c.sid), {})
      // The cache's invalidation arrives over pub/sub: until then a read may be answered from the cache.
      const deadline = Date.now() + 2000
      while ((await c.get()).body.session.userId !== undefined) {
        assert.ok(Date.now() < deadline, 'the cache let go of the killed session')
        await sleep(10)
      }
      assert.deepEqual(await hashOf(c.sid), {}, 'and no read brought it back')
    } finally {
      await site.close()
      await cached.quit()
    }
  })

  it('5. no sid appears in Redis: keys, values, members, pub/sub messages; any genid works', async () => {
    const sids = []
    let n = 0
    const odd = await serve(another(), {
      genid: () => `sid:${n++}:üñî ${'x'.repeat(n)}`,
      cookie: { maxAge: 60_000 },
    })
    const listener = connect(server.port)
    const messages = []
    await listener.psubscribe('*')
    listener.on('pmessage', (_pattern, channel, message) => messages.push(channel, message))
    try {
      for (const target of [web, odd]) {
        const c = target.client()
        await c.post('/set?a=1')
        await c.post('/user?id=five')
        await c.post('/set?b=2')
        await c.get()
        sids.push(c.sid)
        assert.equal((await c.get()).body.session.b, 2)
      }
      assert.ok(sids[1].startsWith('sid:'))
      await c2kill(sids[0])
      const everything = [...messages]
      for (const key of await raw.keys('*')) {
        everything.push(key)
        const type = await raw.type(key)
        if (type === 'hash') everything.push(...Object.entries(await raw.hgetall(key)).flat())
        else if (type === 'zset') everything.push(...(await raw.zrange(key, 0, -1)))
        else if (type === 'set') everything.push(...(await raw.smembers(key)))
      }
      assert.ok(messages.length > 0)
      for (const sid of sids) {
        for (const text of everything) assert.ok(!text.includes(sid), `a sid in Redis: ${text}`)
      }
      assert.match(tokenForSid(sids[1]), /^[A-Za-z0-9]{64}$/)
    } finally {
      listener.disconnect()
      await odd.close()
    }
    async function c2kill(sid) {
      await store.destroy(sid)
    }
  })

  it('6. signing in moves the session to the user, keeping its data; the ip is the request’s', async () => {
    const c = web.client()
    await c.post('/set?cart=%5B1%2C2%5D')
    const token = tokenForSid(c.sid)
    const anonymous = anonymousId(token)
    assert.equal((await hashOf(c.sid)).id, anonymous)
    assert.equal((await hashOf(c.sid)).ip, '127.0.0.1')
    assert.deepEqual(await raw.smembers(`${NS}:${APP}:us:${anonymous}`), [token])

    await c.post('/user?id=alice')
    const hash = await hashOf(c.sid)
    assert.equal(hash.id, 'alice')
    assert.equal(JSON.parse(hash.d).cart, '[1,2]')
    assert.deepEqual(await raw.smembers(`${NS}:${APP}:us:alice`), [token])
    assert.equal(await raw.exists(`${NS}:${APP}:us:${anonymous}`), 0)
    assert.equal(await raw.zscore(`${NS}:${APP}:_users`, anonymous), null)
    assert.ok(await raw.zscore(`${NS}:${APP}:_sessions`, `${token}:alice`))
    assert.ok(await raw.zscore(`${NS}:SESSIONS`, `${APP}:${token}:alice`))
    assert.deepEqual((await c.get()).body.session.cart, [1, 2])

    // A user set before the first save: created as the user's.
    const d = web.client()
    await d.post('/user?id=alice')
    const listed = await store.sessionsOf('alice')
    assert.equal(listed.length, 2)
    for (const s of listed) assert.deepEqual(Object.keys(s).sort(), ['handle', 'idle', 'ip', 'r', 'ttl', 'w'])
    assert.ok(listed.some((s) => s.handle === store.handleOf(c.sid)))

    // The same sessions for RedisSessions and for redis-sessions 3.0.0.
    const { sessions } = await rs.soid({ app: APP, id: 'alice' })
    assert.equal(sessions.length, 2)
    const v3 = new V3({ port: server.port, namespace: NS, wipe: 0 })
    try {
      const old = await new Promise((resolve, reject) =>
        v3.soid({ app: APP, id: 'alice' }, (err, r) => (err ? reject(err) : resolve(r))),
      )
      assert.equal(old.sessions.length, 2)
    } finally {
      v3.quit()
    }

    assert.equal(await store.destroyHandle('alice', store.handleOf(d.sid)), 1)
    assert.equal(await store.destroyHandle('alice', store.handleOf(d.sid)), 0)
    assert.equal((await d.get()).body.session.userId, undefined, 'that device is logged out')
    assert.equal((await c.get()).body.session.userId, 'alice', 'this one is not')
  })

  it('6. destroyUser logs out every device, or all but one; killsoid through the engine too', async () => {
    const devices = [web.client(), web.client(), web.client()]
    for (const d of devices) await d.post('/user?id=bob')
    assert.equal(await store.destroyUser('bob', { except: devices[0].sid }), 2)
    assert.equal((await devices[0].get()).body.session.userId, 'bob')
    assert.equal((await devices[1].get()).body.session.userId, undefined)
    assert.equal((await store.sessionsOf('bob')).length, 1)
    assert.equal(await store.destroyUser('bob'), 1)
    assert.equal((await devices[0].get()).body.session.userId, undefined)

    const e = web.client()
    await e.post('/user?id=42')
    assert.equal((await rs.killsoid({ app: APP, id: '42' })).kill, 1)
    assert.equal((await e.get()).body.session.userId, undefined)
  })

  it('6. destroyUser with except is atomic: a device signing in meanwhile is killed and counted or left', async () => {
    const listening = new RedisSessions({ port: server.port, namespace: NS, events: true })
    const own = new RedisSessionsStore({ client: listening, app: APP })
    const site = await serve(own, { cookie: { maxAge: 60_000 } })
    const heard = []
    listening.on('session', (e) => e.type === 'killed' && e.id === 'racer' && heard.push(e.handle))
    try {
      await listening.ping()
      await sleep(300) // subscribed
      const keep = site.client()
      await keep.post('/user?id=racer')
      const earlier = [site.client(), site.client(), site.client()]
      for (const c of earlier) await c.post('/user?id=racer')
      const racing = Array.from({ length: 24 }, () => site.client())
      const signIns = racing.map((c) => c.post('/user?id=racer'))
      // Two calls at once, each while sign-ins are still under way.
      const answers = await Promise.all(
        [2, 11].map((i) => signIns[i].then(() => own.destroyUser('racer', { except: keep.sid }))),
      )
      await Promise.all(signIns)
      const killed = answers[0] + answers[1]
      const left = new Set((await own.sessionsOf('racer')).map((s) => s.handle))
      assert.ok(left.has(own.handleOf(keep.sid)), 'the kept session stays')
      for (const c of earlier) assert.equal(left.has(own.handleOf(c.sid)), false, 'signed in before: killed')
      const gone = []
      for (const c of [...earlier, ...racing]) {
        const alive = (await listening.get({ app: APP, token: tokenForSid(c.sid) })) !== null
        assert.equal(alive, left.has(own.handleOf(c.sid)), 'a session is listed exactly when it is alive')
        if (!alive) gone.push(own.handleOf(c.sid))
      }
      assert.equal(killed, gone.length, 'the answers count exactly the sessions gone')
      assert.ok(killed > earlier.length, 'some raced sign-ins were killed')
      for (let i = 0; heard.length < killed && i < 100; i++) await sleep(20)
      await sleep(50)
      assert.deepEqual(heard.sort(), gone.sort(), 'one killed event per session killed')
    } finally {
      await site.close()
      await listening.quit()
    }
  })

  it('6. anonymous sessions: one id each, counted by length', async () => {
    const app = 'anonapp'
    const own = new RedisSessionsStore({ client: rs, app })
    const site = await serve(own)
    try {
      const clients = [site.client(), site.client(), site.client()]
      for (const c of clients) await c.post('/set?visited=true')
      const ids = new Set()
      for (const c of clients) ids.add(await raw.hget(`${NS}:${app}:${tokenForSid(c.sid)}`, 'id'))
      assert.equal(ids.size, 3, 'no shared key')
      for (const id of ids) assert.match(id, /^anonymous:[0-9a-f]{16}:\d+$/)
      assert.equal(await own.length(), 3)
    } finally {
      await site.close()
    }
  })

  it('6. with hashTokens, handles and destroyUser’s except follow the stored names', async () => {
    const hashing = new RedisSessions({ port: server.port, namespace: NS, hashTokens: true })
    const own = new RedisSessionsStore({ client: hashing, app: APP })
    const site = await serve(own, { cookie: { maxAge: 60_000 } })
    try {
      const devices = [site.client(), site.client(), site.client()]
      for (const d of devices) await d.post('/user?id=hashed-user')
      const listed = (await own.sessionsOf('hashed-user')).map((s) => s.handle).sort()
      assert.deepEqual(listed, devices.map((d) => own.handleOf(d.sid)).sort())
      assert.notEqual(own.handleOf(devices[0].sid), store.handleOf(devices[0].sid), 'not the handle of the token')
      assert.equal(await own.destroyUser('hashed-user', { except: devices[0].sid }), 2)
      assert.equal((await devices[0].get()).body.session.userId, 'hashed-user')
      assert.equal((await devices[1].get()).body.session.userId, undefined)
      assert.equal(await raw.exists(`${NS}:${APP}:${tokenForSid(devices[0].sid)}`), 0, 'stored under its hash')
    } finally {
      await site.close()
      await hashing.quit()
    }
  })

  it('7. a request that changes cookie.maxAge changes the session’s lifetime', async () => {
    const c = web.client()
    await c.post('/set?a=1')
    assert.equal((await hashOf(c.sid)).ttl, '60')
    await c.post('/maxage?ms=2592000000')
    assert.equal((await hashOf(c.sid)).ttl, '2592000', '30 days')
    const expiry = Number(
      await raw.zscore(`${NS}:SESSIONS`, `${APP}:${tokenForSid(c.sid)}:${(await hashOf(c.sid)).id}`),
    )
    assert.ok(expiry > Date.now() / 1000 + 2592000 - 5)
    await c.post('/maxage?ms=20000')
    assert.equal((await hashOf(c.sid)).ttl, '20')
  })

  it('8. Redis down: the request fails (500) and no new session replaces the old one', async () => {
    const down = await startRedis()
    const client = new RedisSessions({ port: down.port, namespace: NS, connectTimeout: 500, commandTimeout: 500 })
    const site = await serve(new RedisSessionsStore({ client, app: APP }), { cookie: { maxAge: 60_000 } })
    try {
      const c = site.client()
      await c.post('/set?a=1')
      const cookie = c.cookie
      await down.stop()
      const started = Date.now()
      const failed = await c.get()
      assert.equal(failed.status, 500)
      assert.ok(failed.body.error)
      assert.equal(failed.setCookie, null, 'no new session cookie')
      assert.equal(c.cookie, cookie)
      assert.ok(Date.now() - started < 3000, `failed within the timeouts: ${Date.now() - started} ms`)
      assert.equal((await c.post('/set?b=1')).status, 500)
    } finally {
      await site.close()
      await client.quit()
    }
  })

  it('9. all, length and clear: the app’s live sessions only', async () => {
    const app = 'allapp'
    const own = new RedisSessionsStore({ client: rs, app })
    const site = await serve(own, { cookie: { maxAge: 60_000 } })
    try {
      await own.clear()
      const a = site.client()
      const b = site.client()
      await a.post('/set?n=1')
      await b.post('/user?id=carol')
      const all = await own.all()
      assert.ok(Array.isArray(all))
      assert.deepEqual(all.map((s) => s.n ?? s.userId).sort(), [1, 'carol'])
      assert.equal(await own.length(), 2)
      const viaCallback = await new Promise((resolve, reject) =>
        own.length((err, n) => (err ? reject(err) : resolve(n))),
      )
      assert.equal(viaCallback, 2)
      // An ended session lingers in the indexes until the wipe: neither all nor length counts it.
      const ended = site.client()
      await ended.post('/set?n=3')
      assert.equal(await own.length(), 3)
      const token = tokenForSid(ended.sid)
      const past = Math.floor(Date.now() / 1000) - 3600
      const id = await raw.hget(`${NS}:${app}:${token}`, 'id')
      await raw.hset(`${NS}:${app}:${token}`, 'la', past)
      await raw.zadd(`${NS}:SESSIONS`, past + 60, `${app}:${token}:${id}`)
      assert.equal(await own.length(), 2)
      assert.equal((await own.all()).length, 2)
      const other = web.client()
      await other.post('/set?stays=1')
      await new Promise((resolve, reject) => own.clear((err) => (err ? reject(err) : resolve())))
      assert.equal(await own.length(), 0)
      assert.equal((await a.get()).body.session.n, undefined)
      assert.equal((await other.get()).body.session.stays, 1, "another app's session stays")
    } finally {
      await site.close()
    }
  })

  it('options are checked; requiring the package alone does not load express-session', async () => {
    assert.throws(() => new RedisSessionsStore({ app: APP }), /client/)
    assert.throws(() => new RedisSessionsStore({ client: rs, app: 'a' }), /app/)
    assert.throws(() => new RedisSessionsStore({ client: rs, app: APP, ttl: 5 }), /ttl/)
    const { execFileSync } = require('node:child_process')
    const loaded = execFileSync(process.execPath, [
      '-e',
      "require('.'); console.log(Object.keys(require.cache).some((f) => f.includes('express-session')))",
    ])
    assert.equal(loaded.toString().trim(), 'false')
    const esm = execFileSync(process.execPath, [
      '--input-type=module',
      '-e',
      "import { RedisSessionsStore } from 'redis-sessions-rs/express'; console.log(typeof RedisSessionsStore)",
    ])
    assert.equal(esm.toString().trim(), 'function')

    // Without express-session installed: an error that says what to install.
    const fs = require('node:fs')
    const os = require('node:os')
    const path = require('node:path')
    const root = path.join(__dirname, '..')
    const bare = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-express-bare-'))
    try {
      // express-session is required first, so express.js alone shows it.
      fs.copyFileSync(path.join(root, 'express.js'), path.join(bare, 'express.js'))
      assert.throws(() => require(path.join(bare, 'express.js')), {
        message: 'redis-sessions-rs/express needs express-session: npm install express-session',
      })
    } finally {
      fs.rmSync(bare, { recursive: true, force: true })
    }
  })

  it(
    'callbacks answer while process.nextTick is faked, as jest and sinon fake timers do',
    { timeout: 5000 },
    async () => {
      const original = process.nextTick
      const held = []
      process.nextTick = (...args) => held.push(args)
      try {
        const [err, sess] = await new Promise((resolve) => store.get('never-issued', (...answer) => resolve(answer)))
        assert.equal(err, null)
        assert.equal(sess ?? null, null)
        const count = await new Promise((resolve) => store.length((lengthErr, n) => resolve(lengthErr ?? n)))
        assert.equal(typeof count, 'number')
      } finally {
        process.nextTick = original
      }
      for (const [fn, ...args] of held) process.nextTick(fn, ...args)
    },
  )
})
