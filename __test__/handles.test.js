'use strict'
// Device handles (issue 17): soid and soapp with `handles: true` show each
// session's handle, and kill({app, id, handle}) kills that user's session with
// it. Both styles, on standalone and on a Redis Cluster (3 masters), with what
// Redis holds checked after every step; kill by handle racing kill by token;
// the cache invalidation; and a mixed fleet with redis-sessions 3.0.0.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const { setTimeout: sleep } = require('node:timers/promises')
const RedisSessions = require('..')
const RedisSessionsV3 = require('redis-sessions-v3')
const { startTopology } = require('./helpers/topologies')
const { reader } = require('./helpers/layout')

const APP = 'handapp'
const OTHER_APP = 'handother'
const SESSION_KEYS = ['id', 'r', 'w', 'ttl', 'idle', 'ip']

/** As README states it, computed independently of the engine: 16 hex digits of SHA-1 over 'handle:' and the token. */
const handleOf = (token) => crypto.createHash('sha1').update(`handle:${token}`).digest('hex').slice(0, 16)

/** Calls `rs[name]` detached in `style`; resolves to the answer or rejects with the error. */
function call(rs, style, name, args) {
  const method = rs[name]
  if (style === 'promise') return method(args)
  return new Promise((resolve, reject) => {
    const returned = method(args, (err, value) => (err ? reject(err) : resolve(value)))
    assert.equal(returned, undefined)
  })
}

/** Every session hash has its four index entries, and every index entry its session: nothing left behind. */
function assertConsistent(stored, ns) {
  const prefix = `${ns}:`
  const expected = { SESSIONS: [], apps: {} }
  const app = (name) => (expected.apps[name] ??= { _sessions: new Set(), _users: new Set(), us: {}, hashes: new Set() })
  for (const [key, value] of Object.entries(stored)) {
    const rest = key.slice(prefix.length)
    const colon = rest.indexOf(':')
    const tail = rest.slice(colon + 1)
    if (rest === 'SESSIONS' || tail === '_sessions' || tail === '_users' || tail.startsWith('us:')) continue
    const name = rest.slice(0, colon)
    const entry = app(name)
    entry.hashes.add(tail)
    entry._sessions.add(`${tail}:${value.id}`)
    entry._users.add(value.id)
    ;(entry.us[value.id] ??= []).push(tail)
    expected.SESSIONS.push(`${name}:${tail}:${value.id}`)
  }
  const members = (key) => (stored[key] ?? []).map((entry) => (Array.isArray(entry) ? entry[0] : entry)).sort()
  assert.deepEqual(members(`${prefix}SESSIONS`), expected.SESSIONS.sort(), 'SESSIONS')
  const apps = new Set(
    Object.keys(stored)
      .map((key) => key.slice(prefix.length).split(':')[0])
      .filter((name) => name !== 'SESSIONS'),
  )
  for (const name of apps) {
    const entry = app(name)
    assert.deepEqual(members(`${prefix}${name}:_sessions`), [...entry._sessions].sort(), `${name}:_sessions`)
    assert.deepEqual(members(`${prefix}${name}:_users`), [...entry._users].sort(), `${name}:_users`)
    const userKeys = Object.keys(stored).filter((key) => key.startsWith(`${prefix}${name}:us:`))
    assert.deepEqual(
      userKeys.sort(),
      Object.keys(entry.us)
        .map((id) => `${prefix}${name}:us:${id}`)
        .sort(),
      'us:',
    )
    for (const [id, tokens] of Object.entries(entry.us))
      assert.deepEqual(members(`${prefix}${name}:us:${id}`), tokens.sort(), `${name}:us:${id}`)
  }
}

/** What `stored` holds once kill has removed `app`'s session `token` of `id`: its hash and index entries, no more. */
function withoutSession(stored, ns, app, token, id) {
  const out = structuredClone(stored)
  delete out[`${ns}:${app}:${token}`]
  const drop = (key, member) => {
    if (!(key in out)) return
    out[key] = out[key].filter((entry) => (Array.isArray(entry) ? entry[0] : entry) !== member)
    if (out[key].length === 0) delete out[key]
  }
  drop(`${ns}:${app}:_sessions`, `${token}:${id}`)
  drop(`${ns}:${app}:us:${id}`, token)
  drop(`${ns}:SESSIONS`, `${app}:${token}:${id}`)
  if (!(`${ns}:${app}:us:${id}` in out)) drop(`${ns}:${app}:_users`, id)
  return out
}

for (const topologyName of ['standalone', 'cluster']) {
  describe(`device handles on ${topologyName}`, () => {
    let topology
    before(async () => {
      topology = await startTopology(topologyName)
    })
    after(async () => {
      await topology?.stop()
    })

    for (const style of ['callback', 'promise']) {
      it(`${style}: handles only when asked; kill by handle removes what kill removes`, async () => {
        const ns = `hd${style}`
        const rs = new RedisSessions({ ...topology.options, namespace: ns, wipe: 0 })
        const store = reader(topology.raw, ns, { cluster: topology.cluster })
        const run = (name, args) => call(rs, style, name, args)
        const missing = style === 'promise' ? null : {}
        const windowKey = style === 'promise' ? 'deltaTime' : 'dt'
        try {
          const create = async (app, id, extra = {}) =>
            (await run('create', { app, id, ip: '10.0.0.1', ...extra })).token
          const a1 = await create(APP, 'alice', { d: { device: 'phone' } })
          const a2 = await create(APP, 'alice')
          const a3 = await create(APP, 'alice')
          const bob = await create(APP, 'bob')
          const colonId = 'org:1:user:7'
          const colon = await create(APP, colonId)
          const aliceElsewhere = await create(OTHER_APP, 'alice')
          let stored = await store.dump()
          assertConsistent(stored, ns)

          // Without `handles: true` (or with anything but true): the reference's answers.
          for (const extra of [{}, { handles: false }, { handles: 1 }, { handles: 'true' }]) {
            const plain = await run('soid', { app: APP, id: 'alice', ...extra })
            assert.equal(plain.sessions.length, 3)
            for (const s of plain.sessions) {
              assert.deepEqual(Object.keys(s), s.d ? [...SESSION_KEYS, 'd'] : SESSION_KEYS, JSON.stringify(extra))
            }
            const app = await run('soapp', { app: APP, [windowKey]: 600, ...extra })
            assert.ok(app.sessions.every((s) => !('handle' in s)))
          }

          const listed = (await run('soid', { app: APP, id: 'alice', handles: true })).sessions
          assert.deepEqual(listed.map((s) => s.handle).sort(), [a1, a2, a3].map(handleOf).sort())
          for (const s of listed) {
            assert.deepEqual(Object.keys(s), s.d ? [...SESSION_KEYS, 'd', 'handle'] : [...SESSION_KEYS, 'handle'])
            assert.match(s.handle, /^[0-9a-f]{16}$/)
          }
          assert.deepEqual(listed.find((s) => s.d).handle, handleOf(a1), 'the handle is its own session’s')
          const appListed = (await run('soapp', { app: APP, [windowKey]: 600, handles: true })).sessions
          assert.deepEqual(appListed.map((s) => s.handle).sort(), [a1, a2, a3, bob, colon].map(handleOf).sort())
          assert.deepEqual(await store.dump(), stored, 'listing writes nothing')

          // Validation: the reference's order, the token checked first and winning.
          const rejects = async (args, name, message) => {
            await assert.rejects(run('kill', args), (err) => {
              assert.ok(err instanceof Error)
              assert.equal(err.name, name, JSON.stringify(args))
              assert.equal(err.message, message, JSON.stringify(args))
              return true
            })
          }
          await rejects({ id: 'alice', handle: handleOf(a2) }, 'missingParameter', 'No app supplied')
          await rejects({ app: APP, id: 'alice' }, 'missingParameter', 'No token supplied')
          await rejects({ app: APP, id: 'alice', handle: '' }, 'missingParameter', 'No token supplied')
          await rejects({ app: APP, handle: handleOf(a2) }, 'missingParameter', 'No id supplied')
          await rejects({ app: APP, id: 'a\nb', handle: handleOf(a2) }, 'invalidFormat', 'Invalid id format')
          for (const bad of ['xyz', handleOf(a2).toUpperCase(), `${handleOf(a2)}0`, handleOf(a2).slice(1), a2]) {
            await rejects({ app: APP, id: 'alice', handle: bad }, 'invalidFormat', 'Invalid handle format')
          }
          await rejects(
            { app: APP, token: 'short', id: 'alice', handle: handleOf(a2) },
            'invalidFormat',
            'Invalid token format',
          )
          assert.deepEqual(await store.dump(), stored, 'a refused call writes nothing')

          // One device of alice's, by its handle: exactly what kill removes.
          assert.deepEqual(await run('kill', { app: APP, id: 'alice', handle: handleOf(a2) }), { kill: 1 })
          let after = await store.dump()
          assert.deepEqual(after, withoutSession(stored, ns, APP, a2, 'alice'))
          assertConsistent(after, ns)
          stored = after
          assert.deepEqual(await run('get', { app: APP, token: a2 }), missing)
          assert.equal((await run('get', { app: APP, token: a1 })).id, 'alice')
          stored = await store.dump()

          // Gone already, another user's handle, another app's session: nothing.
          assert.deepEqual(await run('kill', { app: APP, id: 'alice', handle: handleOf(a2) }), { kill: 0 })
          assert.deepEqual(await run('kill', { app: APP, id: 'alice', handle: handleOf(bob) }), { kill: 0 })
          assert.deepEqual(await run('kill', { app: APP, id: 'alice', handle: handleOf(aliceElsewhere) }), { kill: 0 })
          assert.deepEqual(await run('kill', { app: APP, id: 'nobody', handle: handleOf(a1) }), { kill: 0 })
          assert.deepEqual(await store.dump(), stored)

          // Token and handle both given: the token wins.
          assert.deepEqual(await run('kill', { app: APP, token: a1, id: 'alice', handle: handleOf(a3) }), { kill: 1 })
          after = await store.dump()
          assert.deepEqual(after, withoutSession(stored, ns, APP, a1, 'alice'))
          stored = after

          // The last session of an id with ':': the id leaves _users too.
          assert.deepEqual(await run('kill', { app: APP, id: colonId, handle: handleOf(colon) }), { kill: 1 })
          after = await store.dump()
          assert.deepEqual(after, withoutSession(stored, ns, APP, colon, colonId))
          assert.ok(!after[`${ns}:${APP}:_users`].some(([id]) => id === colonId))
          assertConsistent(after, ns)

          assert.deepEqual(
            (await run('soid', { app: APP, id: 'alice', handles: true })).sessions.map((s) => s.handle),
            [handleOf(a3)],
          )
          await run('killall', { app: APP })
          await run('killall', { app: OTHER_APP })
          assert.deepEqual(await store.dump(), {}, 'nothing left behind')
        } finally {
          await rs.quit()
        }
      })
    }

    it('kill by handle racing kill by token and by handle: each session dies once, indexes whole', async () => {
      const ns = 'hdrace'
      const rs = new RedisSessions({ ...topology.options, namespace: ns, wipe: 0 })
      const store = reader(topology.raw, ns, { cluster: topology.cluster })
      try {
        const ids = ['u1', 'u2', 'u:3']
        const sessions = []
        for (let i = 0; i < 30; i++) {
          const id = ids[i % ids.length]
          sessions.push({ id, token: (await rs.create({ app: APP, id, ip: '1' })).token })
        }
        const answers = await Promise.all(
          sessions.flatMap(({ id, token }) => [
            rs.kill({ app: APP, id, handle: handleOf(token) }),
            rs.kill({ app: APP, token }),
            rs.kill({ app: APP, id, handle: handleOf(token) }),
          ]),
        )
        for (let i = 0; i < sessions.length; i++) {
          const kills = answers.slice(i * 3, i * 3 + 3).map((a) => a.kill)
          assert.equal(
            kills.reduce((a, b) => a + b),
            1,
            `session ${i} killed once: ${kills}`,
          )
        }
        assert.deepEqual(await store.dump(), {}, 'nothing left behind')
      } finally {
        await rs.quit()
      }
    })
  })
}

describe('device handles beside the cache and redis-sessions 3.0.0 (standalone)', () => {
  let topology
  before(async () => {
    topology = await startTopology('standalone')
  })
  after(async () => {
    await topology?.stop()
  })

  it('a kill by handle drops the session from this instance’s cache and, by pub/sub, from another’s', async () => {
    const ns = 'hdcache'
    const options = { ...topology.options, namespace: ns, wipe: 0, cachetime: 30 }
    const [a, b] = [new RedisSessions(options), new RedisSessions(options)]
    try {
      const t1 = (await a.create({ app: APP, id: 'carol', ip: '1' })).token
      const t2 = (await a.create({ app: APP, id: 'carol', ip: '2' })).token
      await sleep(300) // both subscriptions are up
      for (const token of [t1, t2]) {
        await a.get({ app: APP, token })
        assert.equal((await a.get({ app: APP, token })).r, 1, 'cached')
      }
      assert.deepEqual(await a.kill({ app: APP, id: 'carol', handle: handleOf(t1) }), { kill: 1 })
      assert.equal(await a.get({ app: APP, token: t1 }), null, 'its own cache at once')
      assert.deepEqual(await b.kill({ app: APP, id: 'carol', handle: handleOf(t2) }), { kill: 1 })
      await sleep(200)
      assert.equal(await a.get({ app: APP, token: t2 }), null, 'another instance’s kill, over pub/sub')
    } finally {
      await Promise.all([a.quit(), b.quit()])
    }
  })

  it('redis-sessions 3.0.0 reads and kills sessions listed with handles; rs kills its sessions by handle', async () => {
    const ns = 'hdfleet'
    const rs = new RedisSessions({ ...topology.options, namespace: ns, wipe: 0 })
    const v3 = new RedisSessionsV3({ ...topology.options, namespace: ns, wipe: 0 })
    const v3call = (name, args) =>
      new Promise((resolve, reject) => v3[name](args, (err, value) => (err ? reject(err) : resolve(value))))
    const store = reader(topology.raw, ns)
    try {
      const byV3 = (await v3call('create', { app: APP, id: 'dave', ip: '1', d: { by: 'v3' } })).token
      const byRs = (await rs.create({ app: APP, id: 'dave', ip: '2', d: { by: 'rs' } })).token
      const spare = (await v3call('create', { app: APP, id: 'dave', ip: '3' })).token
      const listed = (await rs.soid({ app: APP, id: 'dave', handles: true })).sessions
      assert.deepEqual(listed.map((s) => s.handle).sort(), [byV3, byRs, spare].map(handleOf).sort())
      // Listing with handles stores nothing the reference would not: v3 reads every session as before.
      assert.deepEqual((await v3call('get', { app: APP, token: byRs })).d, { by: 'rs' })
      assert.equal((await v3call('soid', { app: APP, id: 'dave' })).sessions.length, 3)

      let stored = await store.dump()
      assert.deepEqual(await rs.kill({ app: APP, id: 'dave', handle: handleOf(byV3) }), { kill: 1 })
      assert.deepEqual(await store.dump(), withoutSession(stored, ns, APP, byV3, 'dave'))
      assert.deepEqual(await v3call('get', { app: APP, token: byV3 }), {})
      assert.equal((await v3call('soid', { app: APP, id: 'dave' })).sessions.length, 2)

      // v3 kills a session rs listed: its handle then kills nothing.
      assert.deepEqual(await v3call('kill', { app: APP, token: byRs }), { kill: 1 })
      stored = await store.dump()
      assertConsistent(stored, ns)
      assert.deepEqual(await rs.kill({ app: APP, id: 'dave', handle: handleOf(byRs) }), { kill: 0 })
      assert.deepEqual(await store.dump(), stored)

      assert.deepEqual(await rs.kill({ app: APP, id: 'dave', handle: handleOf(spare) }), { kill: 1 })
      assert.deepEqual((await v3call('soid', { app: APP, id: 'dave' })).sessions, [])
      assert.deepEqual(await v3call('activity', { app: APP, dt: 600 }), { activity: 0 })
      assert.deepEqual(await store.dump(), {}, 'nothing left behind')
    } finally {
      await rs.quit()
      v3.quit()
    }
  })
})
