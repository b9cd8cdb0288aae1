'use strict'
// hashTokens (issue 18): a session is stored under a one-way function of its
// token. On standalone and on a Redis Cluster (3 masters): a full scenario,
// then every key, value, member, MONITOR line and cache message is searched
// for the client tokens (none); the stored name is the one README describes,
// computed here independently; a stored name given as a token is no session,
// to a hashing instance, a 'migrate' one and one that does not hash; the
// cache across two hashing instances; 'migrate' moves a session made by
// redis-sessions 3.0.0 on its first use; mixed fleets with 3.0.0.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const { setTimeout: sleep } = require('node:timers/promises')
const Redis = require('ioredis')
const RedisSessions = require('..')
const RedisSessionsV3 = require('redis-sessions-v3')
const { startTopology } = require('./helpers/topologies')
const { reader } = require('./helpers/layout')

const APP = 'hashapp'
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYabcdefghijklmnopqrstuvwxyz0123456789'

/** README's stored name, computed independently of the engine. */
function storedName(token, cluster) {
  const digest = crypto.createHash('sha512').update(`redis-sessions-rs stored name\0${token}`).digest()
  const head = cluster ? 2 : 0
  let name = token.slice(0, head)
  for (let i = head; i < 55; i++) name += ALPHABET[digest[i] % 61]
  return name + token.slice(55)
}

/** Every command any master runs, as text, while `run` runs. */
async function monitored(masters, run) {
  const lines = []
  const clients = masters.map((node) => new Redis({ port: node.options.port, host: '127.0.0.1' }))
  // One at a time, each once connected. Callers start it when no other client is
  // connecting: ioredis loses track of a MONITOR feed whose first lines come with its OK.
  const monitors = []
  for (const client of clients) {
    await client.ping()
    monitors.push(await client.monitor())
  }
  await sleep(50)
  for (const monitor of monitors) monitor.on('monitor', (time, args) => lines.push(args.join(' ')))
  try {
    await run()
    await sleep(50)
  } finally {
    for (const monitor of monitors) monitor.disconnect()
    for (const client of clients) client.disconnect()
  }
  return lines
}

/** Every message published on `channel` while `run` runs. */
async function heard(port, channel, run) {
  const sub = new Redis({ port, host: '127.0.0.1' })
  const messages = []
  await sub.subscribe(channel)
  sub.on('message', (_, message) => messages.push(message))
  try {
    await run()
    await sleep(50)
  } finally {
    sub.disconnect()
  }
  return messages
}

for (const topology of ['standalone', 'cluster']) {
  describe(`hashTokens on ${topology}`, () => {
    let deployment
    let masters
    const cluster = topology === 'cluster'
    let n = 0
    const namespace = () => `ht${topology[0]}${n++}`

    before(async () => {
      deployment = await startTopology(topology)
      masters = cluster ? deployment.raw.nodes('master') : [deployment.raw]
    })
    after(() => deployment?.stop())

    const open = (ns, options = {}) => new RedisSessions({ ...deployment.options, namespace: ns, wipe: 0, ...options })
    const port = () => (cluster ? masters[0].options.port : deployment.options.port)

    it('a full scenario leaves no client token in keys, values, members, MONITOR or cache messages', async () => {
      const ns = namespace()
      const rs = open(ns, { hashTokens: true, cachetime: 30 })
      // Connected and its scripts loaded before MONITOR starts (see monitored).
      await rs.ping()
      await sleep(300)
      const tokens = []
      const created = async (args) => {
        const { token } = await rs.create({ app: APP, ip: '10.0.0.1', ...args })
        assert.match(token, /^[A-Za-z0-9]{64}$/)
        tokens.push(token)
        return token
      }
      let messages = []
      const lines = await monitored(masters, async () => {
        messages = await heard(port(), `${ns}:cache`, async () => {
          const a = await created({ id: 'alice', d: { role: 'admin' } })
          const b = await created({ id: 'alice', no_resave: true })
          const c = await created({ id: 'bob:1', max: 2, maxAge: 3600 })
          await created({ id: 'bob:1', max: 1 })
          assert.equal((await rs.get({ app: APP, token: a })).d.role, 'admin')
          assert.equal((await rs.get({ app: APP, token: a })).d.role, 'admin', 'from the cache')
          assert.equal((await rs.set({ app: APP, token: a, d: { role: null, n: 2 } })).d.n, 2)
          assert.equal((await rs.get({ app: APP, token: a })).d.n, 2, 'the set invalidated the cache')
          assert.equal((await rs.touch({ app: APP, token: b, ttl: 600 })).ttl, 600)
          assert.equal(await rs.get({ app: APP, token: c }), null, 'evicted by max 1')
          const { token: rotated } = await rs.rotate({ app: APP, token: a })
          tokens.push(rotated)
          assert.equal(await rs.get({ app: APP, token: a }), null)
          assert.equal((await rs.get({ app: APP, token: rotated })).d.n, 2)
          const listed = await rs.soid({ app: APP, id: 'alice', handles: true })
          assert.equal(listed.sessions.length, 2)
          assert.equal((await rs.soapp({ app: APP, deltaTime: 60 })).sessions.length, 3)
          assert.deepEqual(await rs.activity({ app: APP, deltaTime: 60 }), { activity: 2 })
          const handle = listed.sessions.find((s) => s.no_resave).handle
          assert.deepEqual(await rs.kill({ app: APP, id: 'alice', handle }), { kill: 1 })
          assert.deepEqual(await rs.kill({ app: APP, token: rotated }), { kill: 1 })
          await created({ id: 'carol' })
          await created({ id: 'carol' })
          assert.deepEqual(await rs.killsoid({ app: APP, id: 'carol' }), { kill: 2 })
          const kept = await created({ id: 'dave', d: { k: 'v' } })
          await created({ id: 'erin' })
          assert.deepEqual(await rs.killall({ app: APP }), { kill: 3 })
          const last = await created({ id: 'dave' })
          assert.equal((await rs.get({ app: APP, token: last })).id, 'dave')
          assert.equal(await rs.get({ app: APP, token: kept }), null)
        })
      })
      const store = reader(deployment.raw, ns, { cluster })
      const dump = JSON.stringify(await store.dump())
      assert.ok(lines.length > 20, 'MONITOR saw the scenario')
      assert.ok(messages.length > 5, 'the cache channel carried messages')
      assert.ok(dump.includes('dave'), 'the dump holds the last session')
      for (const token of tokens) {
        assert.ok(!dump.includes(token), 'a token at rest')
        assert.ok(!lines.some((line) => line.includes(token)), 'a token in MONITOR')
        assert.ok(!messages.some((message) => message.includes(token)), 'a token in a cache message')
      }
      const hash = await deployment.raw.hgetall(store.sessionKey(APP, storedName(tokens.at(-1), cluster)))
      assert.deepEqual({ id: hash.id, hashed: hash.hashed }, { id: 'dave', hashed: '1' })
      await rs.quit()
    })

    it('a stored name given as a token is no session, to every kind of instance', async () => {
      const ns = namespace()
      const hashing = open(ns, { hashTokens: true })
      const migrating = open(ns, { hashTokens: 'migrate' })
      const plain = open(ns)
      const { token } = await hashing.create({ app: APP, id: 'u', ip: '1', d: { a: 1 } })
      const stored = storedName(token, cluster)
      const store = reader(deployment.raw, ns, { cluster })
      const before = await store.dump()
      assert.ok(`${ns}:${APP}:${stored}` in before)
      for (const rs of [hashing, migrating, plain]) {
        assert.equal(await rs.get({ app: APP, token: stored }), null)
        assert.equal(await rs.set({ app: APP, token: stored, d: { a: 2 } }), null)
        assert.equal(await rs.touch({ app: APP, token: stored, ttl: 60 }), null)
        assert.equal(await rs.rotate({ app: APP, token: stored }), null)
        assert.deepEqual(await rs.kill({ app: APP, token: stored }), { kill: 0 })
      }
      const after = await store.dump()
      assert.deepEqual(Object.keys(after), Object.keys(before), 'nothing moved')
      assert.equal(after[`${ns}:${APP}:${stored}`].d, '{"a":1}')
      assert.equal(after[`${ns}:${APP}:${stored}`].r, '1')
      // Its own token works on both hashing instances; the plain one cannot find it.
      assert.equal((await migrating.get({ app: APP, token })).d.a, 1)
      assert.equal((await hashing.get({ app: APP, token })).r, 2)
      assert.equal(await plain.get({ app: APP, token }), null)
      // Listings work on stored names for every instance, and show no token.
      assert.equal((await plain.soid({ app: APP, id: 'u' })).sessions.length, 1)
      await Promise.all([hashing.quit(), migrating.quit(), plain.quit()])
    })

    it('the cache keeps working across two hashing instances', async () => {
      const ns = namespace()
      const a = open(ns, { hashTokens: true, cachetime: 60 })
      const b = open(ns, { hashTokens: true, cachetime: 60 })
      await sleep(200)
      const { token } = await a.create({ app: APP, id: 'u', ip: '1', d: { v: 1 } })
      assert.equal((await a.get({ app: APP, token })).d.v, 1)
      assert.equal((await a.get({ app: APP, token })).r, 1, 'a cache hit does not count a read')
      await b.set({ app: APP, token, d: { v: 2 } })
      await sleep(100)
      assert.equal((await a.get({ app: APP, token })).d.v, 2, 'the message named the stored name')
      await b.kill({ app: APP, token })
      await sleep(100)
      assert.equal(await a.get({ app: APP, token }), null)
      await Promise.all([a.quit(), b.quit()])
    })

    it("'migrate' moves a session stored the old way on its first use, once, keeping its cookie", async () => {
      const ns = namespace()
      const store = reader(deployment.raw, ns, { cluster })
      // redis-sessions 3.0.0 writes the old way on standalone; on a cluster, an instance that does not hash.
      let v3
      let token
      if (cluster) {
        const old = open(ns)
        token = (await old.create({ app: APP, id: 'old:1', ip: '1', d: { x: 'y' } })).token
        await old.quit()
      } else {
        v3 = new RedisSessionsV3({ port: deployment.options.port, namespace: ns, wipe: 0 })
        token = await new Promise((resolve, reject) =>
          v3.create({ app: APP, id: 'old:1', ip: '1', d: { x: 'y' } }, (err, answer) =>
            err ? reject(err) : resolve(answer.token),
          ),
        )
      }
      const stored = storedName(token, cluster)
      const oldDump = await store.dump()
      assert.ok(`${ns}:${APP}:${token}` in oldDump)
      const rs = open(ns, { hashTokens: 'migrate' })
      const session = await rs.get({ app: APP, token })
      assert.deepEqual({ id: session.id, d: session.d, r: session.r }, { id: 'old:1', d: { x: 'y' }, r: 1 })
      const moved = await store.dump()
      const score = (dump, key, member) => dump[key].find(([m]) => m === member)?.[1]
      assert.ok(!(`${ns}:${APP}:${token}` in moved), 'the old key is gone')
      assert.equal(moved[`${ns}:${APP}:${stored}`].hashed, '1')
      assert.equal(moved[`${ns}:${APP}:${stored}`].r, '2')
      assert.deepEqual(moved[`${ns}:${APP}:us:old:1`], [stored])
      assert.ok(score(moved, `${ns}:${APP}:_sessions`, `${stored}:old:1`))
      assert.ok(score(moved, `${ns}:SESSIONS`, `${APP}:${stored}:old:1`))
      assert.ok(!JSON.stringify(moved).includes(token), 'no trace of the token')
      // From now on the token is never sent again.
      const lines = await monitored(masters, async () => {
        assert.equal((await rs.set({ app: APP, token, d: { x: 'z' } })).d.x, 'z')
        assert.equal((await rs.get({ app: APP, token })).d.x, 'z')
      })
      assert.ok(!lines.some((line) => line.includes(token)))
      if (v3) {
        // A reference instance that still serves get cannot reach it any more (README says so)...
        const got = await new Promise((resolve) => v3.get({ app: APP, token }, (err, answer) => resolve(answer)))
        assert.deepEqual(got, {})
        // ...but its soid still lists it, by its stored name.
        const listed = await new Promise((resolve) =>
          v3.soid({ app: APP, id: 'old:1' }, (err, answer) => resolve(answer)),
        )
        assert.equal(listed.sessions.length, 1)
        v3.quit()
      }
      assert.deepEqual(await rs.kill({ app: APP, token }), { kill: 1 })
      assert.deepEqual(await store.dump(), {}, 'nothing left behind')
      await rs.quit()
    })

    it("'migrate' moves a session once when many calls race its first use", async () => {
      const ns = namespace()
      const old = open(ns)
      const { token } = await old.create({ app: APP, id: 'racer', ip: '1' })
      await old.quit()
      const rs = open(ns, { hashTokens: 'migrate' })
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          i % 2 ? rs.get({ app: APP, token }) : rs.set({ app: APP, token, d: { i } }),
        ),
      )
      assert.ok(answers.every((answer) => answer?.id === 'racer'))
      const dump = await reader(deployment.raw, ns, { cluster }).dump()
      assert.deepEqual(
        Object.keys(dump).filter((key) => !/_sessions|_users|SESSIONS|:us:/.test(key)),
        [`${ns}:${APP}:${storedName(token, cluster)}`],
      )
      assert.equal(dump[`${ns}:${APP}:${storedName(token, cluster)}`].w, '11')
      await rs.quit()
    })
  })
}

describe('hashTokens beside redis-sessions 3.0.0 (standalone)', () => {
  let deployment
  before(async () => {
    deployment = await startTopology('standalone')
  })
  after(() => deployment?.stop())

  it('the reference still lists, counts, kills by id and wipes hashed sessions', async () => {
    const ns = 'htmix'
    const rs = new RedisSessions({ port: deployment.options.port, namespace: ns, wipe: 0, hashTokens: true })
    const v3 = new RedisSessionsV3({ port: deployment.options.port, namespace: ns, wipe: 0 })
    const ref = (name, args) =>
      new Promise((resolve, reject) => v3[name](args, (err, answer) => (err ? reject(err) : resolve(answer))))
    try {
      const { token } = await rs.create({ app: APP, id: 'mixed', ip: '1', d: { a: 1 } })
      await rs.create({ app: APP, id: 'mixed', ip: '2' })
      assert.equal((await ref('soid', { app: APP, id: 'mixed' })).sessions.length, 2)
      assert.equal((await ref('soapp', { app: APP, dt: 60 })).sessions.length, 2)
      assert.deepEqual(await ref('activity', { app: APP, dt: 60 }), { activity: 1 })
      assert.deepEqual(await ref('get', { app: APP, token }), {}, 'the reference cannot get by token')
      assert.deepEqual(await ref('killsoid', { app: APP, id: 'mixed' }), { kill: 2 })
      assert.equal(await rs.get({ app: APP, token }), null)
      assert.deepEqual(await reader(deployment.raw, ns).dump(), {})
    } finally {
      v3.quit()
      await rs.quit()
    }
  })

  it('memory mode takes hashTokens (memory-differential.test.js compares it with Redis)', async () => {
    for (const options of [{ hashTokens: true }, { hashTokens: 'migrate' }]) {
      const rs = new RedisSessions({ memory: true, ...options })
      const { token } = await rs.create({ app: APP, id: 'm', ip: '1' })
      assert.equal((await rs.get({ app: APP, token })).id, 'm')
      await rs.quit()
    }
  })

  it('bad hashTokens values are an invalidOptions error', async () => {
    for (const hashTokens of ['yes', 1, {}, 'true']) {
      const rs = new RedisSessions({ port: deployment.options.port, hashTokens })
      await assert.rejects(rs.ping(), (err) => err.name === 'invalidOptions' && /hashTokens/.test(err.message))
      await rs.quit()
    }
  })
})
