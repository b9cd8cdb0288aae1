'use strict'
// The in-process cache: answers without Redis, expires, keeps at most
// cachemax sessions, and drops what any instance or program invalidates.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { setTimeout: sleep } = require('node:timers/promises')
const RedisSessions = require('..')
// The references never close their cache subscriber; the test closes every
// client v3 opens (node_redis v3) and v4's `redissub`, so the process can end.
const nodeRedisV3 = require('redis')
const v3Clients = []
const createClient = nodeRedisV3.createClient
nodeRedisV3.createClient = (...args) => {
  const client = createClient(...args)
  v3Clients.push(client)
  return client
}
const V3 = require('redis-sessions-v3')
const V4 = require('redis-sessions-v4').default
const { startRedis } = require('./helpers/redis-server')
const { connect } = require('./helpers/raw')

const APP = 'cacheapp'
let server, raw
const closers = []

before(async () => {
  server = await startRedis()
  raw = connect(server.port)
})
after(async () => {
  for (const close of closers) await close()
  raw.disconnect()
  await server.stop()
})

function ours(options = {}) {
  const rs = new RedisSessions({ port: server.port, wipe: 0, ...options })
  closers.push(() => rs.quit())
  return rs
}

async function until(check, ms = 2000) {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await sleep(5)
  }
}

/** A cache serves once its subscriber is in; a get after that proves it. */
async function warm(rs, token) {
  await until(async () => {
    const first = await rs.get({ app: APP, token })
    const second = await rs.get({ app: APP, token })
    return first.r === second.r
  })
}

describe('cache', () => {
  it('while the subscription is lost nothing stale is served', async () => {
    const rs = ours({ cachetime: 60 })
    const { token } = await rs.create({ app: APP, id: 'lost', ip: '1' })
    await warm(rs, token)
    // First in this file, so the only subscribers are this package's.
    assert.ok((await raw.client('KILL', 'TYPE', 'pubsub')) >= 1)
    await sleep(30)
    // Changed behind the cache's back, with no message to tell it.
    await raw.hset(`rs:${APP}:${token}`, 'd', '{"changed":1}')
    assert.deepEqual((await rs.get({ app: APP, token })).d, { changed: 1 })
    // And once resubscribed it caches again.
    await warm(rs, token)
  })

  it('a cached get answers without touching Redis, so r does not move', async () => {
    const rs = ours({ cachetime: 60 })
    const { token } = await rs.create({ app: APP, id: 'c1', ip: '1' })
    await warm(rs, token)
    const before = await raw.hget(`rs:${APP}:${token}`, 'r')
    for (let i = 0; i < 20; i++) await rs.get({ app: APP, token })
    assert.equal(await raw.hget(`rs:${APP}:${token}`, 'r'), before)
    const viaCallback = await new Promise((resolve, reject) =>
      rs.get({ app: APP, token }, (err, s) => (err ? reject(err) : resolve(s))),
    )
    assert.equal(String(viaCallback.r), String(Number(before) - 1))
  })

  it('entries live cachetime seconds', async () => {
    const rs = ours({ cachetime: 1 })
    const { token } = await rs.create({ app: APP, id: 'c2', ip: '1' })
    await warm(rs, token)
    const r = (await rs.get({ app: APP, token })).r
    await sleep(1100)
    assert.equal((await rs.get({ app: APP, token })).r, r + 1)
  })

  it('keeps at most cachemax sessions, least recently used leaving first', async () => {
    const rs = ours({ cachetime: 60, cachemax: 2 })
    const tokens = []
    for (let i = 0; i < 3; i++) tokens.push((await rs.create({ app: APP, id: `m${i}`, ip: '1' })).token)
    await warm(rs, tokens[0])
    const r = async (t) => (await rs.get({ app: APP, token: t })).r
    const first = [await r(tokens[0]), await r(tokens[1]), await r(tokens[2])]
    // tokens[0] was the least recently used of three in a cache of two.
    assert.equal(await r(tokens[0]), first[0] + 1)
    assert.equal(await r(tokens[2]), first[2])
  })

  it('set and kill on this instance are seen at once', async () => {
    const rs = ours({ cachetime: 60 })
    const { token } = await rs.create({ app: APP, id: 'c3', ip: '1' })
    await warm(rs, token)
    await rs.set({ app: APP, token, d: { v: 1 } })
    assert.deepEqual((await rs.get({ app: APP, token })).d, { v: 1 })
    await rs.kill({ app: APP, token })
    assert.equal(await rs.get({ app: APP, token }), null)
  })

  it('invalidations from another instance, v3, v4 and a plain PUBLISH land within 100 ms', async () => {
    const rs = ours({ cachetime: 60 })
    const other = ours()
    const v3 = new V3({ port: server.port, wipe: 0, cachetime: 60 })
    closers.push(async () => {
      v3.quit()
      for (const client of v3Clients) client.quit()
    })
    const v4 = new V4({ port: server.port, wipe: 0, cachetime: 60 })
    closers.push(async () => {
      await v4.quit()
      await v4.redissub.disconnect()
    })
    const writers = [
      ['ours', (token, v) => other.set({ app: APP, token, d: { v } })],
      [
        'v3',
        (token, v) =>
          new Promise((resolve, reject) => v3.set({ app: APP, token, d: { v } }, (e) => (e ? reject(e) : resolve()))),
      ],
      ['v4', (token, v) => v4.set({ app: APP, token, d: { v } })],
      [
        'publish',
        async (token, v) => {
          await raw.hset(`rs:${APP}:${token}`, 'd', JSON.stringify({ v }))
          await raw.publish('rs:cache', `${APP}:${token}`)
        },
      ],
    ]
    for (const [name, write] of writers) {
      const { token } = await rs.create({ app: APP, id: `inv-${name}`, ip: '1' })
      await warm(rs, token)
      await write(token, name)
      const started = Date.now()
      await until(async () => (await rs.get({ app: APP, token })).d?.v === name, 100)
      assert.ok(Date.now() - started <= 100, name)
    }
  })

  it('reference caches in the fleet hear our writes', async () => {
    const v4 = new V4({ port: server.port, wipe: 0, cachetime: 60 })
    closers.push(async () => {
      await v4.quit()
      await v4.redissub.disconnect()
    })
    const rs = ours()
    const { token } = await rs.create({ app: APP, id: 'fleet', ip: '1' })
    await v4.get({ app: APP, token })
    await sleep(50)
    assert.equal((await v4.get({ app: APP, token })).d, undefined)
    await rs.set({ app: APP, token, d: { mine: true } })
    await until(async () => (await v4.get({ app: APP, token })).d?.mine === true, 500)
    await rs.kill({ app: APP, token })
    await until(async () => (await v4.get({ app: APP, token })) === null, 500)
  })
})
