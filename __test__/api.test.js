'use strict'
// The class's surface, every validation message, a few edge cases and the
// options, against a Redis of its own. Every method's behaviour, in both styles
// and on every topology, is in scenario.test.js.
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

describe('surface', () => {
  it('is a class whose instances are EventEmitters with bound methods', async () => {
    assert.ok(rs instanceof RedisSessions)
    assert.equal(typeof rs.on, 'function')
    const { get } = rs
    assert.equal(await get({ app: APP, token: 'x'.repeat(64) }), null)
    assert.equal(RedisSessions.default, RedisSessions)
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
    [
      'create',
      { app: APP, id: 'u', ip: '1', d: { a: {} } },
      'invalidValue',
      'd.a has a forbidden type. Only strings, numbers, boolean and null are allowed.',
    ],
    ['set', { app: APP, token }, 'missingParameter', 'No d supplied'],
    [
      'set',
      { app: APP, token, d: { ok: 1, bad: [1] } },
      'invalidValue',
      'd.bad has a forbidden type. Only strings, numbers, boolean and null are allowed.',
    ],
    [
      'set',
      { app: APP, token, d: { f: () => 1 } },
      'invalidValue',
      'd.f has a forbidden type. Only strings, numbers, boolean and null are allowed.',
    ],
    [
      'set',
      { app: APP, token, d: { u: undefined } },
      'invalidValue',
      'd.u has a forbidden type. Only strings, numbers, boolean and null are allowed.',
    ],
    ['kill', { app: APP }, 'missingParameter', 'No token supplied'],
    ['killall', {}, 'missingParameter', 'No app supplied'],
    ['killsoid', { app: APP }, 'missingParameter', 'No id supplied'],
    ['killsoid', { app: APP, id: 'u', except: 'short' }, 'invalidFormat', 'Invalid except format'],
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
    await assert.rejects(rs.activity({ app: APP, deltaTime: 5 }), {
      name: 'invalidValue',
      message: 'deltaTime must be a positive integer >= 10',
    })
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
    Object.defineProperty(options, 'app', {
      get() {
        reads++
        return APP
      },
      enumerable: true,
    })
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

describe('killall', () => {
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

describe('count and killsoid with except (ours), in both styles', () => {
  const app = 'countapp'
  const create = (id) => rs.create({ app, id, ip: '127.0.0.1', ttl: 60 }).then(({ token }) => token)

  it('count answers the live sessions of the app', async () => {
    assert.deepEqual(await rs.count({ app }), { count: 0 })
    for (const id of ['ann', 'ann', 'bob']) await create(id)
    assert.deepEqual(await rs.count({ app }), { count: 3 })
    assert.deepEqual(await viaCallback(rs.count, { app }), [null, { count: 3 }])
    const [err] = await viaCallback(rs.count, {})
    assert.equal(err.name, 'missingParameter')
    await rs.killall({ app })
  })

  it('killsoid with except kills every other session of the id, and keeps that one', async () => {
    const keepA = await create('cat')
    const otherA = [await create('cat'), await create('cat')]
    assert.deepEqual(await rs.killsoid({ app, id: 'cat', except: keepA }), { kill: 2 })
    for (const token of otherA) assert.equal(await rs.get({ app, token }), null)
    assert.equal((await rs.get({ app, token: keepA })).id, 'cat')

    const keepB = await create('dan')
    const otherB = await create('dan')
    assert.deepEqual(await viaCallback(rs.killsoid, { app, id: 'dan', except: keepB }), [null, { kill: 1 }])
    const [, gone] = await viaCallback(rs.get, { app, token: otherB })
    assert.deepEqual(gone, {})
    assert.equal((await rs.get({ app, token: keepB })).id, 'dan')
    // Without except, every session of the id, as the reference.
    assert.deepEqual(await rs.killsoid({ app, id: 'dan' }), { kill: 1 })
    await rs.killall({ app })
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
    assert.deepEqual(warnings, [
      `redis-sessions-rs cannot share a node_redis client: it opened its own connection to 127.0.0.1:${server.port}`,
    ])
    await raw.select(4)
    assert.equal(await raw.exists(`rs:${APP}:${token}`), 1)
    await raw.select(0)
    await borrowed.killall({ app: APP })
    await borrowed.quit()
    client.quit()
  })

  it('bad options answer every call with an error, never a synchronous throw', async () => {
    const throwing = Object.defineProperty({}, 'port', {
      get() {
        throw new Error('getter exploded')
      },
      enumerable: true,
    })
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
})
