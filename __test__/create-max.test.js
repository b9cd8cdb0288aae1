'use strict'
// create's options of our own: `max` (a cap on an id's live sessions that
// holds under racing creates) and `maxAge` (an absolute lifetime), in both
// styles, on a single Redis and on Redis Cluster, with what Redis holds
// checked after each step; then a mixed fleet with redis-sessions 3.0.0.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const RedisSessions = require('..')
const V3 = require('redis-sessions-v3')
const { startTopology } = require('./helpers/topologies')
const { reader } = require('./helpers/layout')

const APP = 'maxapp'
const STYLES = ['callback', 'promise']
const nowSeconds = () => Math.floor(Date.now() / 1000)
/** The creation time (ms) a token ends with: 55 random characters, 'Z', then base 36. */
const createdAt = (token) => parseInt(token.slice(56), 36)

const topologies = {}
let namespaces = 0

before(async () => {
  const [standalone, cluster] = await Promise.all([startTopology('standalone'), startTopology('cluster')])
  Object.assign(topologies, { standalone, cluster })
})
after(async () => {
  await Promise.all(Object.values(topologies).map((topology) => topology.stop()))
})

/** An instance in a namespace of its own, its caller in `style`, and a reader of that namespace. */
function setup(topologyName, style) {
  const topology = topologies[topologyName]
  const ns = `maxns${++namespaces}`
  const rs = new RedisSessions({ ...topology.options, namespace: ns, wipe: 0 })
  const call = (name, args) =>
    style === 'promise'
      ? rs[name](args)
      : new Promise((resolve, reject) => rs[name](args, (err, value) => (err ? reject(err) : resolve(value))))
  const store = reader(topology.raw, ns, { cluster: topology.cluster })
  return { rs, ns, call, store, raw: topology.raw, missing: style === 'promise' ? null : {} }
}

/**
 * Asserts that the indexes name exactly the session hashes stored: nothing
 * left behind, nothing missing. Answers {APP:TOKEN: hash}.
 */
function assertConsistent(stored, ns) {
  const hashes = {}
  const expected = { sessions: [], appSessions: {}, users: {}, userSets: {} }
  for (const [key, value] of Object.entries(stored)) {
    const rest = key.slice(ns.length + 1)
    if (rest === 'SESSIONS') continue
    const app = rest.slice(0, rest.indexOf(':'))
    const tail = rest.slice(app.length + 1)
    if (tail === '_sessions' || tail === '_users' || tail.startsWith('us:')) continue
    hashes[`${app}:${tail}`] = value
    expected.sessions.push(`${app}:${tail}:${value.id}`)
    ;(expected.appSessions[app] ??= []).push(`${tail}:${value.id}`)
    ;(expected.users[app] ??= new Set()).add(value.id)
    ;(expected.userSets[`${app}:us:${value.id}`] ??= []).push(tail)
  }
  const members = (key) => (stored[`${ns}:${key}`] ?? []).map((entry) => entry[0]).sort()
  assert.deepEqual(members('SESSIONS'), expected.sessions.sort(), 'SESSIONS names exactly the stored sessions')
  const apps = new Set(Object.keys(stored).flatMap((key) => (key.endsWith(':_sessions') ? [key] : [])))
  for (const key of apps) {
    const app = key.slice(ns.length + 1, -':_sessions'.length)
    assert.deepEqual(members(`${app}:_sessions`), (expected.appSessions[app] ?? []).sort(), `${app}:_sessions`)
    assert.deepEqual(members(`${app}:_users`), [...(expected.users[app] ?? [])].sort(), `${app}:_users`)
  }
  for (const [key, value] of Object.entries(stored)) {
    if (!key.includes(':us:')) continue
    assert.deepEqual(value, (expected.userSets[key.slice(ns.length + 1)] ?? []).sort(), key)
  }
  for (const key of Object.keys(expected.userSets)) assert.ok(`${ns}:${key}` in stored, `${key} exists`)
  return hashes
}

/** The tokens of `id`'s stored sessions in APP. */
const tokensOf = (hashes, id) =>
  Object.entries(hashes)
    .filter(([key, hash]) => key.startsWith(`${APP}:`) && hash.id === id)
    .map(([key]) => key.slice(APP.length + 1))
    .sort()

for (const topologyName of ['standalone', 'cluster']) {
  for (const style of STYLES) {
    describe(`create with max and maxAge: ${topologyName}, ${style}`, () => {
      it('max keeps the most recently active sessions and kills the others with their index entries', async () => {
        const { rs, ns, call, store, raw, missing } = setup(topologyName, style)
        try {
          const create = async (args) => (await call('create', { app: APP, ip: '10.0.0.1', ...args })).token
          const bystander = await create({ id: 'other' })
          const [a, b, c] = [await create({ id: 'u' }), await create({ id: 'u' }), await create({ id: 'u' })]
          // Activity: c most recent, then a, then b.
          const now = nowSeconds()
          for (const [token, la] of [
            [a, now - 20],
            [b, now - 30],
            [c, now - 10],
          ])
            await raw.hset(store.sessionKey(APP, token), 'la', la)

          const d = await create({ id: 'u', max: 2 })
          let hashes = assertConsistent(await store.dump(), ns)
          assert.deepEqual(tokensOf(hashes, 'u'), [c, d].sort(), 'the two least recently active are gone')
          assert.deepEqual(tokensOf(hashes, 'other'), [bystander])
          for (const gone of [a, b]) assert.deepEqual(await call('get', { app: APP, token: gone }), missing)
          assert.equal((await call('soid', { app: APP, id: 'u' })).sessions.length, 2)

          const e = await create({ id: 'u', max: 3 })
          hashes = assertConsistent(await store.dump(), ns)
          assert.deepEqual(tokensOf(hashes, 'u'), [c, d, e].sort(), 'under the cap nothing is killed')

          // Equal activity: the earliest created goes first (then the lowest token).
          for (const token of [c, d, e]) await raw.hset(store.sessionKey(APP, token), 'la', now - 5)
          const f = await create({ id: 'u', max: 2 })
          const byAge = [c, d, e].sort((x, y) => createdAt(x) - createdAt(y) || (x < y ? -1 : 1))
          hashes = assertConsistent(await store.dump(), ns)
          assert.deepEqual(tokensOf(hashes, 'u'), [byAge[2], f].sort())

          // An idled-out session is not counted (nor killed: it is the wipe's); the new one is always kept.
          await raw.hset(store.sessionKey(APP, byAge[2]), 'la', now - 8000)
          const g = await create({ id: 'u', max: 1 })
          hashes = assertConsistent(await store.dump(), ns)
          assert.deepEqual(tokensOf(hashes, 'u'), [byAge[2], g].sort())
          assert.deepEqual(
            (await call('soid', { app: APP, id: 'u' })).sessions.map((s) => s.ip),
            ['10.0.0.1'],
          )
          assert.equal((await call('get', { app: APP, token: g })).id, 'u')
          assert.equal((await call('get', { app: APP, token: bystander })).id, 'other')
        } finally {
          await rs.quit()
        }
      })

      it('50 concurrent creates with max 1 for one id leave exactly one session', async () => {
        const { rs, ns, call, store } = setup(topologyName, style)
        try {
          const answers = await Promise.all(
            Array.from({ length: 50 }, (_, i) => call('create', { app: APP, id: 'racer', ip: `10.0.1.${i}`, max: 1 })),
          )
          const hashes = assertConsistent(await store.dump(), ns)
          const left = tokensOf(hashes, 'racer')
          assert.equal(left.length, 1)
          assert.ok(answers.some((answer) => answer.token === left[0]))
          assert.deepEqual(Object.keys(answers[0]), ['token'])
          assert.equal((await call('soid', { app: APP, id: 'racer' })).sessions.length, 1)
        } finally {
          await rs.quit()
        }
      })

      it('maxAge ends a session whatever its activity, and our writes keep its expiry score at the end', async () => {
        const { rs, ns, call, store, raw, missing } = setup(topologyName, style)
        const window = style === 'promise' ? { deltaTime: 600 } : { dt: 600 }
        try {
          const before = nowSeconds()
          const { token } = await call('create', { app: APP, id: 'aged', ip: '1', ttl: 3600, maxAge: 60, d: { a: 1 } })
          const expiryOf = async () => {
            const stored = await store.dump()
            assertConsistent(stored, ns)
            return Number(stored[`${ns}:SESSIONS`].find(([m]) => m === `${APP}:${token}:aged`)[1])
          }
          let hash = await raw.hgetall(store.sessionKey(APP, token))
          assert.deepEqual(Object.keys(hash).sort(), ['d', 'ends', 'id', 'ip', 'la', 'r', 'ttl', 'w'])
          const ends = Number(hash.ends)
          assert.equal(ends, Number(hash.la) + 60)
          assert.ok(ends >= before + 60 && ends <= before + 61)
          assert.equal(await expiryOf(), ends, 'create scores the end, not la + ttl')

          const session = await call('get', { app: APP, token })
          assert.deepEqual(Object.keys(session), ['id', 'r', 'w', 'ttl', 'idle', 'ip', 'd'], 'ends is not shown')
          assert.equal(session.ttl, 3600)
          await raw.zadd(store.appSessionsKey(APP, 'aged'), 0, `${token}:aged`)
          assert.equal(await expiryOf(), ends, 'get keeps the score at the end')
          await call('set', { app: APP, token, d: { b: 2 } })
          assert.equal(await expiryOf(), ends, 'set keeps the score at the end')

          // An idle timeout shorter than what is left still rules.
          const short = (await call('create', { app: APP, id: 'short', ip: '1', ttl: 30, maxAge: 7200 })).token
          await call('get', { app: APP, token: short })
          const shortHash = await raw.hgetall(store.sessionKey(APP, short))
          const stored = await store.dump()
          const shortExpiry = stored[`${ns}:SESSIONS`].find(([m]) => m === `${APP}:${short}:short`)[1]
          assert.equal(Number(shortExpiry), Number(shortHash.la) + 30)

          // Past its end (the clock moved on: here its end is moved back) it is gone for every method.
          await raw.hset(store.sessionKey(APP, token), 'ends', nowSeconds())
          hash = await raw.hgetall(store.sessionKey(APP, token))
          assert.deepEqual(await call('get', { app: APP, token }), missing)
          assert.deepEqual(await call('set', { app: APP, token, d: { c: 3 } }), missing)
          assert.deepEqual(await call('soid', { app: APP, id: 'aged' }), { sessions: [] })
          const listed = (await call('soapp', { app: APP, ...window })).sessions
          assert.deepEqual(
            listed.map((s) => s.id),
            ['short'],
          )
          assert.deepEqual(await call('kill', { app: APP, token }), { kill: 0 })
          assert.deepEqual(await raw.hgetall(store.sessionKey(APP, token)), hash, 'not touched after its end')
          assert.deepEqual(await call('killsoid', { app: APP, id: 'aged' }), { kill: 1 })
          assertConsistent(await store.dump(), ns)
        } finally {
          await rs.quit()
        }
      })

      it('max and maxAge are checked after the reference checks of create', async () => {
        const { rs, call, store, raw } = setup(topologyName, style)
        const refused = async (args, name, message) => {
          await assert.rejects(call('create', { app: APP, id: 'v', ip: '1', ...args }), (err) => {
            assert.equal(err.name, name)
            assert.equal(err.message, message)
            return true
          })
        }
        try {
          const maxMessage = 'max must be a positive integer'
          for (const max of [0, -1, 1.5, NaN, Infinity, '2', null, true, 2n])
            await refused({ max }, 'invalidValue', maxMessage)
          const ageMessage = 'maxAge must be a positive integer >= 10'
          for (const maxAge of [9, 10.5, '60', null, -60]) await refused({ maxAge }, 'invalidValue', ageMessage)
          await refused({ max: 0, maxAge: 9 }, 'invalidValue', maxMessage)
          await refused({ app: undefined, max: 0 }, 'missingParameter', 'No app supplied')
          await refused({ ttl: 5, max: 0 }, 'invalidValue', 'ttl must be a positive integer >= 10')
          const forbidden = 'd.x has a forbidden type. Only strings, numbers, boolean and null are allowed.'
          await refused({ d: { x: {} }, maxAge: 1 }, 'invalidValue', forbidden)
          const { token } = await call('create', { app: APP, id: 'v', ip: '1', max: undefined, maxAge: undefined })
          assert.deepEqual(Object.keys(await raw.hgetall(store.sessionKey(APP, token))).sort(), [
            'id',
            'ip',
            'la',
            'r',
            'ttl',
            'w',
          ])
        } finally {
          await rs.quit()
        }
      })
    })
  }
}

describe('create with max and maxAge: a mixed fleet with redis-sessions 3.0.0', () => {
  it('the reference reads and kills these sessions, and ours count and kill the reference sessions', async () => {
    const { rs, ns, store, raw } = setup('standalone', 'promise')
    const v3 = new V3({ port: topologies.standalone.options.port, namespace: ns, wipe: 0 })
    const ref = (name, args) =>
      new Promise((resolve, reject) => v3[name](args, (err, value) => (err ? reject(err) : resolve(value))))
    try {
      const theirs = (await ref('create', { app: APP, id: 'mix', ip: '2.2.2.2' })).token
      await raw.hset(`${ns}:${APP}:${theirs}`, 'la', nowSeconds() - 5)
      const { token } = await rs.create({ app: APP, id: 'mix', ip: '1.1.1.1', ttl: 3600, max: 1, maxAge: 60 })
      assert.deepEqual(await ref('get', { app: APP, token: theirs }), {}, 'a reference session counts and is killed')
      let hashes = assertConsistent(await store.dump(), ns)
      assert.deepEqual(tokensOf(hashes, 'mix'), [token])

      const seen = await ref('get', { app: APP, token })
      assert.deepEqual(Object.keys(seen).sort(), ['id', 'idle', 'ip', 'r', 'ttl', 'w'], 'the reference ignores ends')
      assert.equal((await ref('soid', { app: APP, id: 'mix' })).sessions.length, 1)
      const ends = Number(await raw.hget(`${ns}:${APP}:${token}`, 'ends'))
      const score = async () => Number(await raw.zscore(`${ns}:SESSIONS`, `${APP}:${token}:mix`))
      assert.ok((await score()) > ends, 'a reference get moves the expiry score to la + ttl (README says so)')
      await rs.get({ app: APP, token })
      assert.equal(await score(), ends, 'our next get puts it back at the end')

      // Past its end: hidden from ours, still shown by the reference, killed by the reference.
      await raw.hset(`${ns}:${APP}:${token}`, 'ends', nowSeconds() - 1)
      assert.equal(await rs.get({ app: APP, token }), null)
      assert.equal((await ref('get', { app: APP, token })).id, 'mix')
      assert.deepEqual(await ref('kill', { app: APP, token }), { kill: 1 })
      hashes = assertConsistent(await store.dump(), ns)
      assert.deepEqual(hashes, {})
      assert.deepEqual(await store.dump(), {}, 'nothing left behind')
    } finally {
      v3.quit()
      await rs.quit()
    }
  })

  it('with neither option create writes what the reference writes, in one MULTI; with max one script', async () => {
    const { rs, store, raw } = setup('standalone', 'promise')
    const monitor = await raw.monitor()
    const seen = []
    monitor.on('monitor', (time, args, source) => {
      if (source !== 'lua') seen.push(args[0].toLowerCase())
    })
    // MONITOR's feed comes on its own connection, which may be read after our answer: wait for the PING's echo.
    const echoed = async () => {
      for (let i = 0; i < 200 && seen.at(-1) !== 'ping'; i++) await new Promise((resolve) => setTimeout(resolve, 10))
    }
    const commandsOf = async (call) => {
      await rs.ping()
      await echoed()
      seen.length = 0
      const value = await call()
      await rs.ping()
      await echoed()
      return { value, commands: seen.filter((c) => c !== 'ping') }
    }
    try {
      const plain = await commandsOf(() => rs.create({ app: APP, id: 'w', ip: '1' }))
      assert.deepEqual(plain.commands, ['multi', 'zadd', 'zadd', 'zadd', 'sadd', 'hmset', 'exec'])
      const aged = await commandsOf(() => rs.create({ app: APP, id: 'w', ip: '1', maxAge: 100 }))
      assert.deepEqual(aged.commands, ['multi', 'zadd', 'zadd', 'zadd', 'sadd', 'hmset', 'exec'])
      const capped = await commandsOf(() => rs.create({ app: APP, id: 'w', ip: '1', max: 5 }))
      assert.deepEqual(capped.commands, ['evalsha'])
      const hashOf = (answer) => raw.hgetall(store.sessionKey(APP, answer.value.token))
      assert.deepEqual(Object.keys(await hashOf(plain)).sort(), ['id', 'ip', 'la', 'r', 'ttl', 'w'])
      assert.deepEqual(Object.keys(await hashOf(capped)).sort(), ['id', 'ip', 'la', 'r', 'ttl', 'w'])
    } finally {
      monitor.disconnect()
      await rs.quit()
    }
  })
})
