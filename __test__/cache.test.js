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
const { CacheHits } = require('../cache-hits.js')

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

  it('never keeps a session longer than its ttl has left', async () => {
    const rs = ours({ cachetime: 60 })
    const { token } = await rs.create({ app: APP, id: 'short', ip: '1' })
    await warm(rs, token)
    // An idle timeout of 1 s, written behind the cache's back: the next read caches it for 1 s at most.
    await raw.hset(`rs:${APP}:${token}`, 'ttl', '1')
    await raw.publish('rs:cache', `${APP}:${token}`)
    await until(async () => (await rs.get({ app: APP, token })).ttl === 1, 500)
    const cached = await rs.get({ app: APP, token })
    assert.equal(await rs.get({ app: APP, token }), cached, 'cached')
    await sleep(1050)
    // Read again: counted, or gone if it idled out meanwhile (la moves only when idle > 1).
    const after = await rs.get({ app: APP, token })
    assert.ok(after === null || after.r === cached.r + 1, 'not the cached answer')
  })

  it('killsoid, killall and rotate on this instance are seen at once', async () => {
    const rs = ours({ cachetime: 60 })
    const tokens = []
    for (const id of ['ka', 'ka', 'kb']) tokens.push((await rs.create({ app: APP, id, ip: '1' })).token)
    for (const token of tokens) await warm(rs, token)
    await rs.killsoid({ app: APP, id: 'ka' })
    assert.equal(await rs.get({ app: APP, token: tokens[0] }), null)
    assert.equal(await rs.get({ app: APP, token: tokens[1] }), null)
    assert.equal((await rs.get({ app: APP, token: tokens[2] })).id, 'kb')
    const { token: rotated } = await rs.rotate({ app: APP, token: tokens[2] })
    assert.equal(await rs.get({ app: APP, token: tokens[2] }), null)
    await warm(rs, rotated)
    await rs.killall({ app: APP })
    assert.equal(await rs.get({ app: APP, token: rotated }), null)
  })

  it('a batch of invalidations all land; after quit only what is cached answers', async () => {
    const rs = ours({ cachetime: 60 })
    const tokens = []
    for (let i = 0; i < 20; i++) tokens.push((await rs.create({ app: APP, id: `b${i}`, ip: '1' })).token)
    for (const token of tokens) await warm(rs, token)
    const multi = raw.multi()
    for (const token of tokens) {
      multi.hset(`rs:${APP}:${token}`, 'd', '{"batch":1}')
      multi.publish('rs:cache', `${APP}:${token}`)
    }
    await multi.exec()
    await until(async () => (await rs.get({ app: APP, token: tokens[19] })).d?.batch === 1, 100)
    for (const token of tokens) assert.deepEqual((await rs.get({ app: APP, token })).d, { batch: 1 })
    // As in both references, what is cached still answers after quit(); nothing else does.
    const other = (await rs.create({ app: APP, id: 'b-other', ip: '1' })).token
    await rs.quit()
    assert.deepEqual((await rs.get({ app: APP, token: tokens[0] })).d, { batch: 1 })
    await assert.rejects(rs.get({ app: APP, token: other }), { name: 'closed' })
  })
})

describe('collection', () => {
  // The cache's functions are held by the addon until quit; after it, nothing keeps an instance.
  it('a quit instance, with or without a cache, can be garbage collected', async () => {
    require('node:v8').setFlagsFromString('--expose-gc')
    const gc = require('node:vm').runInNewContext('gc')
    let collected = 0
    const registry = new FinalizationRegistry(() => collected++)
    const useAndQuit = async (cachetime) => {
      const rs = new RedisSessions({ port: server.port, wipe: 0, cachetime })
      registry.register(rs, cachetime)
      await rs.ping()
      await rs.quit()
    }
    for (const cachetime of [0, 0, 0, 60, 60, 60]) await useAndQuit(cachetime)
    for (let i = 0; i < 20 && collected < 6; i++) {
      gc()
      await sleep(20)
    }
    // The last one may still be held by a settled Promise's bookkeeping; a leak keeps them all.
    assert.ok(collected >= 5, `${collected} of 6 collected`)
  })
})

describe('cache-hits.js, the JavaScript side of the cache', () => {
  const session = (id) => ({ id })
  const T = (c) => c.repeat(64)

  function serving(seconds = 60, max = 10) {
    const hits = new CacheHits(seconds, max)
    hits.invalidate(true, [], [], [])
    return hits
  }
  function read(hits, app, token, s = session('u'), left = 100) {
    const stamp = hits.reserve(app, token)
    assert.ok(stamp > 0)
    hits.fill(token, stamp, s, left)
    return s
  }

  it('serves only while subscribed, and empties when the subscription changes', () => {
    const hits = new CacheHits(60, 10)
    assert.equal(hits.reserve('app', T('a')), 0)
    hits.invalidate(true, [], [], [])
    const s = read(hits, 'app', T('a'))
    assert.equal(hits.lookup('app', T('a')), s)
    hits.invalidate(false, [], [], [])
    assert.equal(hits.lookup('app', T('a')), undefined)
    assert.equal(hits.reserve('app', T('a')), 0)
    hits.invalidate(true, [`app:${T('b')}`], [], [])
    assert.equal(hits.size, 0)
  })

  it('least recently used leaves first; recency follows calls, not answers', () => {
    const hits = serving(60, 2)
    read(hits, 'app', T('1'))
    read(hits, 'app', T('2'))
    assert.ok(hits.lookup('app', T('1')))
    read(hits, 'app', T('3'))
    assert.ok(hits.lookup('app', T('1')))
    assert.equal(hits.lookup('app', T('2')), undefined, 'evicted')
    assert.equal(hits.size, 2)

    const later = serving(60, 2)
    const stamps = [T('1'), T('2'), T('3')].map((t) => later.reserve('app', t))
    ;[2, 1, 0].forEach((i) => later.fill(T(String(i + 1)), stamps[i], session('u'), 100))
    assert.equal(later.lookup('app', T('1')), undefined)
    assert.ok(later.lookup('app', T('3')))
  })

  it('a read that an invalidation overtook caches nothing; nor does a miss or a failure', () => {
    const hits = serving()
    const stamp = hits.reserve('app', T('1'))
    hits.invalidate(undefined, [`app:${T('1')}`], [], [])
    hits.fill(T('1'), stamp, session('u'), 100)
    assert.equal(hits.lookup('app', T('1')), undefined)
    hits.fill(T('2'), hits.reserve('app', T('2')), undefined, 0)
    assert.equal(hits.size, 0)
  })

  it('forgets by key, by app and by id, and tells apps apart', () => {
    const hits = serving()
    read(hits, 'app', T('1'), session('u1'))
    read(hits, 'app', T('2'), session('u2'))
    read(hits, 'other', T('3'), session('u1'))
    assert.equal(hits.lookup('other', T('1')), undefined, 'another app, the same token')
    hits.invalidate(undefined, [`other:${T('1')}`, 'garbage', ''], [], [])
    assert.ok(hits.lookup('app', T('1')), 'a key of another app leaves it')
    hits.invalidate(undefined, [], ['app'], ['u1'])
    assert.equal(hits.lookup('app', T('1')), undefined)
    assert.ok(hits.lookup('app', T('2')))
    hits.invalidate(undefined, [], ['app'], [null])
    assert.equal(hits.lookup('app', T('2')), undefined)
    assert.ok(hits.lookup('other', T('3')))
  })

  it('an entry lives cachetime seconds, never longer than its session has left', async () => {
    const hits = serving(0.03)
    read(hits, 'app', T('1'))
    read(hits, 'app', T('2'), session('u'), 0)
    read(hits, 'app', T('3'), session('u'), 0.01)
    assert.ok(hits.lookup('app', T('1')))
    assert.equal(hits.lookup('app', T('2')), undefined)
    await sleep(15)
    assert.equal(hits.lookup('app', T('3')), undefined)
    await sleep(20)
    assert.equal(hits.lookup('app', T('1')), undefined)
  })
})
