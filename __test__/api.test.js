'use strict'
// The behaviour of every method, in both styles, against a Redis of its own.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const RedisSessions = require('..')
const { startRedis } = require('./helpers/redis-server')
const { connect } = require('./helpers/raw')

const APP = 'apitest'
let server, rs, raw

before(async () => {
  server = await startRedis()
  rs = new RedisSessions({ port: server.port, wipe: 0 })
  raw = connect(server.port)
})
after(async () => {
  await rs.quit()
  raw.disconnect()
  await server.stop()
})

/** Calls a method in callback style; resolves to [err, result] and checks the call returned undefined. */
function viaCallback(method, ...args) {
  return new Promise((resolve) => {
    const returned = method(...args, (err, result) => resolve([err, result]))
    assert.equal(returned, undefined)
  })
}

const SESSION_KEYS = ['id', 'r', 'w', 'ttl', 'idle', 'ip']

describe('surface', () => {
  it('is a class whose instances are EventEmitters with bound methods', async () => {
    assert.ok(rs instanceof RedisSessions)
    assert.equal(typeof rs.on, 'function')
    const { get } = rs
    assert.equal(await get({ app: APP, token: 'x'.repeat(64) }), null)
    assert.equal(RedisSessions.default, RedisSessions)
  })

  it('ping answers PONG in both styles', async () => {
    assert.equal(await rs.ping(), 'PONG')
    assert.deepEqual(await viaCallback(rs.ping), [null, 'PONG'])
  })
})

describe('validation messages', () => {
  const token = 'a'.repeat(64)
  const cases = [
    ['get', {}, 'missingParameter', 'No app supplied'],
    ['get', { app: 'a' }, 'invalidFormat', 'Invalid app format'],
    ['get', { app: 'a'.repeat(21) }, 'invalidFormat', 'Invalid app format'],
    ['get', { app: APP }, 'missingParameter', 'No token supplied'],
    ['get', { app: APP, token: 'short' }, 'invalidFormat', 'Invalid token format'],
    ['get', { app: APP, token: 'a'.repeat(63) + '!' }, 'invalidFormat', 'Invalid token format'],
    ['create', { app: APP }, 'missingParameter', 'No id supplied'],
    ['create', { app: APP, id: 'a\nb' }, 'invalidFormat', 'Invalid id format'],
    ['create', { app: APP, id: 'x'.repeat(40) + '\n', ip: '1' }, 'invalidFormat', 'Invalid id format'],
    ['create', { app: APP, id: 'u' }, 'missingParameter', 'No ip supplied'],
    ['create', { app: APP, id: 'u', ip: 'x'.repeat(40) }, 'invalidFormat', 'Invalid ip format'],
    ['create', { app: APP, id: 'u', ip: '1.1.1.1\u2028' }, 'invalidFormat', 'Invalid ip format'],
    ['create', { app: APP, id: 'u', ip: '1', ttl: 9 }, 'invalidValue', 'ttl must be a positive integer >= 10'],
    ['create', { app: APP, id: 'u', ip: '1', ttl: 'abc' }, 'invalidValue', 'ttl must be a positive integer >= 10'],
    ['create', { app: APP, id: 'u', ip: '1', d: 'text' }, 'invalidValue', 'd must be an object'],
    ['create', { app: APP, id: 'u', ip: '1', d: [1] }, 'invalidValue', 'd must be an object'],
    ['create', { app: APP, id: 'u', ip: '1', d: {} }, 'invalidValue', 'd must containt at least one key.'],
    ['create', { app: APP, id: 'u', ip: '1', d: { a: {} } }, 'invalidValue', 'd.a has a forbidden type. Only strings, numbers, boolean and null are allowed.'],
    ['set', { app: APP, token }, 'missingParameter', 'No d supplied'],
    ['set', { app: APP, token, d: { ok: 1, bad: [1] } }, 'invalidValue', 'd.bad has a forbidden type. Only strings, numbers, boolean and null are allowed.'],
    ['set', { app: APP, token, d: { f: () => 1 } }, 'invalidValue', 'd.f has a forbidden type. Only strings, numbers, boolean and null are allowed.'],
    ['set', { app: APP, token, d: { u: undefined } }, 'invalidValue', 'd.u has a forbidden type. Only strings, numbers, boolean and null are allowed.'],
    ['kill', { app: APP }, 'missingParameter', 'No token supplied'],
    ['killall', {}, 'missingParameter', 'No app supplied'],
    ['killsoid', { app: APP }, 'missingParameter', 'No id supplied'],
    ['soid', { app: APP, id: 'a\rb' }, 'invalidFormat', 'Invalid id format'],
    ['get', { app: 0, token }, 'missingParameter', 'No app supplied'],
    ['get', { app: false, token }, 'missingParameter', 'No app supplied'],
    ['get', null, 'missingParameter', 'No app supplied'],
  ]
  for (const [method, options, name, message] of cases) {
    it(`${method}(${JSON.stringify(options)}) -> ${message}`, async () => {
      await assert.rejects(rs[method](options), (err) => {
        assert.ok(err instanceof Error)
        assert.equal(err.name, name)
        assert.equal(err.message, message)
        return true
      })
      const [err, result] = await viaCallback(rs[method], options)
      assert.equal(err.name, name)
      assert.equal(err.message, message)
      assert.equal(result, undefined)
    })
  }

  it('the activity window is dt in callbacks and deltaTime in promises', async () => {
    const [err] = await viaCallback(rs.activity, { app: APP, dt: 5 })
    assert.equal(err.message, 'ttl must be a positive integer >= 10')
    await assert.rejects(rs.activity({ app: APP, deltaTime: 5 }), { name: 'invalidValue', message: 'deltaTime must be a positive integer >= 10' })
    await assert.rejects(rs.soapp({ app: APP }), { message: 'deltaTime must be a positive integer >= 10' })
    const [err2] = await viaCallback(rs.soapp, { app: APP })
    assert.equal(err2.message, 'ttl must be a positive integer >= 10')
    assert.deepEqual(await rs.activity({ app: APP, dt: 60 }), { activity: 0 })
    assert.deepEqual(await viaCallback(rs.activity, { app: APP, deltaTime: 60 }), [null, { activity: 0 }])
  })

  it('an id with a newline after 40 characters is refused at once', async () => {
    const started = Date.now()
    await assert.rejects(rs.create({ app: APP, id: 'x'.repeat(40) + '\n', ip: '1' }), { message: 'Invalid id format' })
    assert.ok(Date.now() - started < 500)
  })

  it('non-string arguments are read as String(value)', async () => {
    const { token } = await rs.create({ app: APP, id: 42, ip: 127, ttl: '30abc' })
    const session = await rs.get({ app: APP, token })
    assert.equal(session.id, '42')
    assert.equal(session.ip, '127')
    assert.equal(session.ttl, 30)
    const t2 = (await rs.create({ app: APP, id: 'float', ip: '1', ttl: 15.9 })).token
    assert.equal((await rs.get({ app: APP, token: t2 })).ttl, 15)
    const t3 = (await rs.create({ app: APP, id: 'zero', ip: '1', ttl: 0 })).token
    assert.equal((await rs.get({ app: APP, token: t3 })).ttl, 7200)
    await rs.killall({ app: APP })
  })

  it('each option is read once per call', async () => {
    let reads = 0
    const options = { token: 'a'.repeat(64) }
    Object.defineProperty(options, 'app', { get() { reads++; return APP }, enumerable: true })
    assert.equal(await rs.get(options), null)
    assert.equal(reads, 1)
  })

  it('failed validation writes nothing', async () => {
    const before = await raw.keys('rs:*')
    await assert.rejects(rs.create({ app: APP, id: 'u', ip: '1', d: { ok: 1, bad: {} } }))
    await assert.rejects(rs.set({ app: APP, token: 'a'.repeat(64), d: {} }))
    assert.deepEqual(await raw.keys('rs:*'), before)
  })
})

describe('session lifecycle', () => {
  let token
  it('create returns a 64-character token of the reference shape and writes the reference keys', async () => {
    const before = Math.floor(Date.now() / 1000)
    const result = await rs.create({ app: APP, id: 'user1', ip: '10.0.0.1', ttl: 3600, d: { foo: 'bar', n: 34, gone: null } })
    assert.deepEqual(Object.keys(result), ['token'])
    token = result.token
    assert.match(token, /^[A-Ya-z0-9]{55}Z[0-9a-z]+$/)
    assert.equal(token.length, 64)
    const hash = await raw.hgetall(`rs:${APP}:${token}`)
    assert.deepEqual(Object.keys(hash).sort(), ['d', 'id', 'ip', 'la', 'r', 'ttl', 'w'])
    assert.equal(hash.id, 'user1')
    assert.equal(hash.r, '1')
    assert.equal(hash.w, '1')
    assert.equal(hash.ttl, '3600')
    assert.equal(hash.d, '{"foo":"bar","n":34}')
    const la = Number(hash.la)
    assert.ok(la >= before && la <= before + 1)
    assert.equal(await raw.zscore(`rs:${APP}:_sessions`, `${token}:user1`), String(la))
    assert.equal(await raw.zscore(`rs:${APP}:_users`, 'user1'), String(la))
    assert.equal(await raw.zscore('rs:SESSIONS', `${APP}:${token}:user1`), String(la + 3600))
    assert.deepEqual(await raw.smembers(`rs:${APP}:us:user1`), [token])
  })

  it('get returns exactly the session keys, r before this read', async () => {
    const s = await rs.get({ app: APP, token })
    assert.deepEqual(Object.keys(s), [...SESSION_KEYS, 'd'])
    // idle is whole seconds since create: 1 when a second boundary fell between the two.
    assert.ok(s.idle === 0 || s.idle === 1, `idle ${s.idle}`)
    assert.deepEqual({ ...s, idle: 0 }, { id: 'user1', r: 1, w: 1, ttl: 3600, idle: 0, ip: '10.0.0.1', d: { foo: 'bar', n: 34 } })
    const [err, s2] = await viaCallback(rs.get, { app: APP, token })
    assert.equal(err, null)
    assert.equal(s2.r, 2)
    assert.equal(await raw.hget(`rs:${APP}:${token}`, 'r'), '3')
  })

  it('set merges d, removes null keys, and returns w after the write', async () => {
    const s = await rs.set({ app: APP, token, d: { n: null, last: '/read', 7: true, 2: 1.5 } })
    assert.deepEqual(s.d, { 2: 1.5, 7: true, foo: 'bar', last: '/read' })
    assert.equal(s.w, 2)
    assert.equal(s.r, 3)
    assert.equal(await raw.hget(`rs:${APP}:${token}`, 'd'), '{"2":1.5,"7":true,"foo":"bar","last":"/read"}')
    const [, s2] = await viaCallback(rs.set, { app: APP, token, d: { foo: 'baz' } })
    assert.equal(s2.w, 3)
    assert.equal(await raw.hget(`rs:${APP}:${token}`, 'd'), '{"2":1.5,"7":true,"foo":"baz","last":"/read"}')
  })

  it('set removing every key removes d', async () => {
    const s = await rs.set({ app: APP, token, d: { 2: null, 7: null, foo: null, last: null } })
    assert.deepEqual(Object.keys(s), SESSION_KEYS)
    assert.equal(await raw.hexists(`rs:${APP}:${token}`, 'd'), 0)
  })

  it('d is stored exactly as JSON.stringify writes it', async () => {
    const d = { b: 20.212, a: 1e21, z: -0, nan: NaN, inf: -Infinity, s: 'quote" back\\ \n\t\u0001 \u2028 😀 é', t: true, f: false, 10: 'ten', 1: 'one' }
    const { token: t } = await rs.create({ app: APP, id: 'json', ip: '1', d })
    assert.equal(await raw.hget(`rs:${APP}:${t}`, 'd'), JSON.stringify(d))
    const s = await rs.get({ app: APP, token: t })
    assert.deepEqual(s.d, JSON.parse(JSON.stringify(d)))
    await rs.set({ app: APP, token: t, d: { b: 0.1, 3: 'three', new: 'x' } })
    const expected = { ...JSON.parse(JSON.stringify(d)), b: 0.1, 3: 'three', new: 'x' }
    assert.equal(await raw.hget(`rs:${APP}:${t}`, 'd'), JSON.stringify(expected))
  })

  it('get and set of a missing session: {} for callbacks, null for promises', async () => {
    const missing = { app: APP, token: 'b'.repeat(64) }
    assert.equal(await rs.get(missing), null)
    assert.equal(await rs.set({ ...missing, d: { a: 1 } }), null)
    assert.deepEqual(await viaCallback(rs.get, missing), [null, {}])
    assert.deepEqual(await viaCallback(rs.set, { ...missing, d: { a: 1 } }), [null, {}])
    assert.deepEqual(await raw.keys(`rs:${APP}:${'b'.repeat(64)}`), [])
  })

  it('soid, soapp and activity list the sessions', async () => {
    const { token: t2 } = await rs.create({ app: APP, id: 'user1', ip: '10.0.0.2' })
    const soid = await rs.soid({ app: APP, id: 'user1' })
    assert.equal(soid.sessions.length, 2)
    for (const s of soid.sessions) assert.equal(s.id, 'user1')
    const [, soid3] = await viaCallback(rs.soid, { app: APP, id: 'user1' })
    assert.equal(soid3.sessions.length, 2)
    assert.deepEqual(await rs.soid({ app: APP, id: 'nobody' }), { sessions: [] })
    await raw.zadd(`rs:${APP}:_sessions`, Math.floor(Date.now() / 1000) + 5, `${t2}:user1`)
    const soapp = await rs.soapp({ app: APP, deltaTime: 60 })
    assert.equal(soapp.sessions[0].ip, '10.0.0.2', 'most recently active first')
    assert.ok(soapp.sessions.length >= 2)
    const [, soapp3] = await viaCallback(rs.soapp, { app: APP, dt: 60 })
    assert.equal(soapp3.sessions.length, soapp.sessions.length)
    const { activity } = await rs.activity({ app: APP, deltaTime: 60 })
    assert.equal(activity, new Set(soapp.sessions.map((s) => s.id)).size)
  })

  it('kill removes the hash and every index entry; the id leaves _users with its last session', async () => {
    const { sessions } = await rs.soid({ app: APP, id: 'user1' })
    assert.equal(sessions.length, 2)
    const tokens = await raw.smembers(`rs:${APP}:us:user1`)
    assert.deepEqual(await rs.kill({ app: APP, token: tokens[0] }), { kill: 1 })
    assert.deepEqual(await rs.kill({ app: APP, token: tokens[0] }), { kill: 0 })
    assert.notEqual(await raw.zscore(`rs:${APP}:_users`, 'user1'), null)
    assert.deepEqual(await viaCallback(rs.kill, { app: APP, token: tokens[1] }), [null, { kill: 1 }])
    assert.equal(await raw.zscore(`rs:${APP}:_users`, 'user1'), null)
    assert.equal(await raw.exists(`rs:${APP}:us:user1`), 0)
    for (const t of tokens) {
      assert.equal(await raw.exists(`rs:${APP}:${t}`), 0)
      assert.equal(await raw.zscore(`rs:${APP}:_sessions`, `${t}:user1`), null)
      assert.equal(await raw.zscore('rs:SESSIONS', `${APP}:${t}:user1`), null)
    }
  })

  it('killsoid kills every session of an id', async () => {
    for (let i = 0; i < 3; i++) await rs.create({ app: APP, id: 'multi', ip: `1.1.1.${i}` })
    const other = (await rs.create({ app: APP, id: 'other', ip: '2' })).token
    assert.deepEqual(await rs.killsoid({ app: APP, id: 'multi' }), { kill: 3 })
    assert.deepEqual(await viaCallback(rs.killsoid, { app: APP, id: 'multi' }), [null, { kill: 0 }])
    assert.equal(await raw.zscore(`rs:${APP}:_users`, 'multi'), null)
    assert.equal(await raw.exists(`rs:${APP}:us:multi`), 0)
    assert.notEqual(await rs.get({ app: APP, token: other }), null)
  })

  it('killall kills every session of the app and nothing of other apps', async () => {
    const keep = (await rs.create({ app: 'otherapp', id: 'x', ip: '1' })).token
    for (let i = 0; i < 5; i++) await rs.create({ app: APP, id: `k${i % 2}`, ip: '1' })
    const count = await raw.zcard(`rs:${APP}:_sessions`)
    assert.deepEqual(await rs.killall({ app: APP }), { kill: count })
    assert.deepEqual(await raw.keys(`rs:${APP}:*`), [])
    assert.deepEqual((await raw.zrange('rs:SESSIONS', 0, -1)).filter((m) => m.startsWith(`${APP}:`)), [])
    assert.deepEqual(await viaCallback(rs.killall, { app: APP }), [null, { kill: 0 }])
    assert.notEqual(await rs.get({ app: 'otherapp', token: keep }), null)
    await rs.killall({ app: 'otherapp' })
  })
})

describe('expiry', () => {
  it('a session idle past its ttl is gone for every method before the wipe', async () => {
    const { token } = await rs.create({ app: APP, id: 'old', ip: '1', ttl: 10 })
    await raw.hset(`rs:${APP}:${token}`, 'la', Math.floor(Date.now() / 1000) - 11)
    assert.equal(await rs.get({ app: APP, token }), null)
    assert.equal(await rs.set({ app: APP, token, d: { a: 1 } }), null)
    assert.deepEqual(await rs.soid({ app: APP, id: 'old' }), { sessions: [] })
    assert.deepEqual(await rs.kill({ app: APP, token }), { kill: 0 })
    assert.equal(await raw.hget(`rs:${APP}:${token}`, 'r'), '1', 'an expired session is not touched')
    await rs.killall({ app: APP })
  })

  it('no_resave keeps the expiry fixed and reports the remaining ttl', async () => {
    const { token } = await rs.create({ app: APP, id: 'fixed', ip: '1', ttl: 100, no_resave: true })
    const key = `rs:${APP}:${token}`
    assert.equal(await raw.hget(key, 'no_resave'), '1')
    const now = Math.floor(Date.now() / 1000)
    await raw.hset(key, 'la', now - 30)
    const s = await rs.get({ app: APP, token })
    assert.deepEqual(Object.keys(s), [...SESSION_KEYS, 'no_resave'])
    assert.equal(s.no_resave, true)
    assert.equal(s.ttl, 70)
    assert.equal(s.idle, 30)
    assert.equal(await raw.hget(key, 'ttl'), '70')
    const expiry = Number(await raw.zscore('rs:SESSIONS', `${APP}:${token}:fixed`))
    assert.ok(Math.abs(expiry - (now + 70)) <= 1)
    const after = await rs.set({ app: APP, token, d: { a: 1 } })
    assert.equal(after.w, 2, 'set on a no_resave session reports the real w')
    assert.equal(after.no_resave, true)
    await rs.killall({ app: APP })
  })
})

describe('ids containing ":"', () => {
  it('work in every method, killall included', async () => {
    const id = 'org:42:user:7'
    const { token } = await rs.create({ app: APP, id, ip: '1' })
    await rs.create({ app: APP, id, ip: '2' })
    assert.equal((await rs.get({ app: APP, token })).id, id)
    assert.equal((await rs.set({ app: APP, token, d: { a: 1 } })).id, id)
    assert.equal((await rs.soid({ app: APP, id })).sessions.length, 2)
    assert.equal((await rs.soapp({ app: APP, deltaTime: 60 })).sessions.length, 2)
    assert.deepEqual(await rs.activity({ app: APP, deltaTime: 60 }), { activity: 1 })
    assert.deepEqual(await rs.kill({ app: APP, token }), { kill: 1 })
    assert.deepEqual(await rs.killall({ app: APP }), { kill: 1 })
    assert.deepEqual(await raw.keys(`rs:${APP}:*`), [])
    assert.deepEqual(await raw.zrange('rs:SESSIONS', 0, -1), [])
  })

  it('unicode ids and data round-trip', async () => {
    const id = 'ü😀\u0000x'
    const { token } = await rs.create({ app: APP, id, ip: '😀', d: { 'ké y': 'välue 😀' } })
    const s = await rs.get({ app: APP, token })
    assert.equal(s.id, id)
    assert.equal(s.ip, '😀')
    assert.deepEqual(s.d, { 'ké y': 'välue 😀' })
    assert.deepEqual(await rs.killsoid({ app: APP, id }), { kill: 1 })
  })
})

describe('concurrency', () => {
  it('50 concurrent sets of distinct keys all land', async () => {
    const { token } = await rs.create({ app: APP, id: 'busy', ip: '1' })
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => rs.set({ app: APP, token, d: { [`k${i}`]: i } })))
    assert.deepEqual(results.map((s) => s.w).sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 2))
    const s = await rs.get({ app: APP, token })
    assert.equal(s.w, 51)
    assert.equal(Object.keys(s.d).length, 50)
    await rs.killall({ app: APP })
  })

  it('a killall larger than one batch removes everything', async () => {
    const pipeline = raw.pipeline()
    const now = Math.floor(Date.now() / 1000)
    for (let i = 0; i < 2500; i++) {
      const token = String(i).padStart(64, 'A')
      pipeline.hset(`rs:${APP}:${token}`, 'id', `u${i % 700}`, 'r', 1, 'w', 1, 'ip', '1', 'la', now, 'ttl', 7200)
      pipeline.zadd(`rs:${APP}:_sessions`, now, `${token}:u${i % 700}`)
      pipeline.zadd(`rs:${APP}:_users`, now, `u${i % 700}`)
      pipeline.zadd('rs:SESSIONS', now + 7200, `${APP}:${token}:u${i % 700}`)
      pipeline.sadd(`rs:${APP}:us:u${i % 700}`, token)
    }
    await pipeline.exec()
    assert.deepEqual(await rs.killall({ app: APP }), { kill: 2500 })
    assert.deepEqual(await raw.keys(`rs:${APP}:*`), [])
  })
})

describe('options', () => {
  it('namespace changes every key', async () => {
    const other = new RedisSessions({ port: server.port, namespace: 'myns', wipe: 0 })
    const { token } = await other.create({ app: APP, id: 'n', ip: '1' })
    assert.equal(await raw.exists(`myns:${APP}:${token}`), 1)
    assert.equal(await raw.zcard('myns:SESSIONS'), 1)
    await other.killall({ app: APP })
    await other.quit()
  })

  it('accepts node_redis v3 and node-redis v4 connection shapes', async () => {
    const shapes = [
      { options: { url: `redis://127.0.0.1:${server.port}/3` } },
      { port: server.port, options: { db: 3 } },
      { options: { socket: { host: '127.0.0.1', port: server.port }, database: 3 } },
    ]
    for (const shape of shapes) {
      const client = new RedisSessions({ ...shape, wipe: 0 })
      const { token } = await client.create({ app: APP, id: 'db3', ip: '1' })
      await raw.select(3)
      assert.equal(await raw.exists(`rs:${APP}:${token}`), 1, JSON.stringify(shape))
      await raw.select(0)
      await client.killall({ app: APP })
      await client.quit()
    }
  })

  it('a node_redis v3 client lends its host, port and db, with one warning', async () => {
    const client = require('redis').createClient({ port: server.port, host: '127.0.0.1', db: 4 })
    const warnings = []
    const onWarning = (w) => warnings.push(w.message)
    process.on('warning', onWarning)
    const borrowed = new RedisSessions({ client, wipe: 0 })
    const { token } = await borrowed.create({ app: APP, id: 'lent', ip: '1' })
    await new Promise((resolve) => setImmediate(resolve))
    process.off('warning', onWarning)
    assert.deepEqual(warnings, [`redis-sessions-rs cannot share a node_redis client: it opened its own connection to 127.0.0.1:${server.port}`])
    await raw.select(4)
    assert.equal(await raw.exists(`rs:${APP}:${token}`), 1)
    await raw.select(0)
    await borrowed.killall({ app: APP })
    await borrowed.quit()
    client.quit()
  })

  it('bad options answer every call with an error, never a synchronous throw', async () => {
    const throwing = Object.defineProperty({}, 'port', { get() { throw new Error('getter exploded') }, enumerable: true })
    for (const bad of [null, 'text', 42, { port: 'nope' }, { options: { url: 'http://x' } }, throwing]) {
      const broken = new RedisSessions(bad)
      await assert.rejects(broken.ping(), { name: 'invalidOptions' })
      const [err] = await viaCallback(broken.get, { app: APP, token: 'a'.repeat(64) })
      assert.equal(err.name, 'invalidOptions')
      await broken.quit()
    }
  })

  it('an unreachable Redis is an error within the connect timeout, never "no session"', async () => {
    const { freePort } = require('./helpers/redis-server')
    const down = new RedisSessions({ port: await freePort(), connectTimeout: 300, wipe: 0 })
    const started = Date.now()
    await assert.rejects(down.get({ app: APP, token: 'a'.repeat(64) }), (err) => {
      assert.match(err.message, /Redis connection failed|no connection/)
      return true
    })
    const [err, result] = await viaCallback(down.get, { app: APP, token: 'a'.repeat(64) })
    assert.ok(err instanceof Error)
    assert.equal(result, undefined)
    assert.ok(Date.now() - started < 3000)
    await down.quit()
  })

  it('calls after quit fail clearly', async () => {
    const q = new RedisSessions({ port: server.port, wipe: 0 })
    assert.equal(await q.ping(), 'PONG')
    await q.quit()
    await assert.rejects(q.ping(), { message: 'This RedisSessions instance has been quit' })
  })
})
