'use strict'
// rotate({app, token}) and touch({app, token, ttl?}) (issue 17), in both styles
// on standalone and on a Redis Cluster: the answers, what Redis holds after each
// step (read in the reference's key names, every index checked against the
// hashes), rotate racing get, set, kill and rotate, caches told, one round trip
// each, and a mixed fleet with redis-sessions 3.0.0 reading and killing the
// sessions.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { setTimeout: sleep } = require('node:timers/promises')
const RedisSessions = require('..')
const V3 = require('redis-sessions-v3')
const { startTopology } = require('./helpers/topologies')
const { reader, bucketOfToken } = require('./helpers/layout')

const APP = 'rotapp'
const TOKEN_SHAPE = /^[A-Ya-z0-9]{55}Z[0-9a-z]+$/
const SESSION_KEYS = ['id', 'r', 'w', 'ttl', 'idle', 'ip']
const STYLES = ['callback', 'promise']
const nowSeconds = () => Math.floor(Date.now() / 1000)

/** `rs`'s methods in `style`, each resolving to the answer or rejecting with the error. */
function api(rs, style) {
  const call =
    (name) =>
    (...args) => {
      if (style === 'promise') return rs[name](...args)
      return new Promise((resolve, reject) => {
        const returned = rs[name](...args, (err, value) => (err ? reject(err) : resolve(value)))
        assert.equal(returned, undefined)
      })
    }
  return Object.fromEntries(['create', 'get', 'set', 'kill', 'rotate', 'touch', 'soid'].map((n) => [n, call(n)]))
}

/**
 * Throws unless the namespace's indexes and hashes agree: every session hash
 * has its `_sessions`, `us:ID`, `_users` and `SESSIONS` entries, and every
 * index entry names a session that exists. Returns the sessions as
 * {app, token, hash, active, expires}.
 */
function assertConsistent(stored, ns) {
  const sessions = []
  const prefix = `${ns}:`
  for (const [key, value] of Object.entries(stored)) {
    const rest = key.slice(prefix.length)
    const [app, tail] = [rest.slice(0, rest.indexOf(':')), rest.slice(rest.indexOf(':') + 1)]
    if (rest === 'SESSIONS' || tail === '_sessions' || tail === '_users' || tail.startsWith('us:')) continue
    const id = value.id
    const score = (index, member) => stored[`${ns}:${index}`]?.find(([m]) => m === member)?.[1]
    const active = score(`${app}:_sessions`, `${tail}:${id}`)
    const expires = score('SESSIONS', `${app}:${tail}:${id}`)
    assert.ok(active !== undefined, `${key} is in _sessions`)
    assert.ok(expires !== undefined, `${key} is in SESSIONS`)
    assert.ok(stored[`${ns}:${app}:us:${id}`]?.includes(tail), `${key} is in us:${id}`)
    assert.ok(score(`${app}:_users`, id) !== undefined, `${id} is in _users`)
    sessions.push({ app, token: tail, hash: value, active: Number(active), expires: Number(expires) })
  }
  const live = new Set(sessions.map((s) => `${s.app}:${s.token}:${s.hash.id}`))
  for (const [key, value] of Object.entries(stored)) {
    const rest = key.slice(prefix.length)
    if (rest === 'SESSIONS') {
      for (const [member] of value) assert.ok(live.has(member), `SESSIONS names a live session: ${member}`)
      continue
    }
    const app = rest.slice(0, rest.indexOf(':'))
    const tail = rest.slice(app.length + 1)
    if (tail === '_sessions') {
      for (const [member] of value) assert.ok(live.has(`${app}:${member}`), `_sessions names a live session`)
    } else if (tail === '_users') {
      for (const [id] of value) assert.ok(stored[`${ns}:${app}:us:${id}`], `_users names an id with sessions: ${id}`)
    } else if (tail.startsWith('us:')) {
      const id = tail.slice(3)
      for (const token of value) assert.ok(live.has(`${app}:${token}:${id}`), `us:${id} names a live session`)
    }
  }
  return sessions
}

const TOPOLOGIES = ['standalone', 'cluster']

describe('rotate and touch', () => {
  const topologies = {}
  before(async () => {
    const started = await Promise.allSettled(TOPOLOGIES.map((name) => startTopology(name)))
    for (const outcome of started) if (outcome.status === 'fulfilled') topologies[outcome.value.name] = outcome.value
    const failed = started.find((outcome) => outcome.status === 'rejected')
    if (failed) throw failed.reason
  })
  after(async () => {
    for (const topology of Object.values(topologies)) await topology.stop()
  })

  /** An instance on `name` in namespace `ns`, its methods in `style` and a reader of what Redis holds. */
  function open(name, ns, style, extra = {}) {
    const topology = topologies[name]
    const rs = new RedisSessions({ ...topology.options, namespace: ns, wipe: 0, ...extra })
    const store = reader(topology.raw, ns, { cluster: topology.cluster })
    return { rs, call: api(rs, style), store, raw: topology.raw, cluster: topology.cluster }
  }

  for (const name of TOPOLOGIES) {
    for (const style of STYLES) {
      const missing = style === 'promise' ? null : {}

      it(`${name}, ${style}: rotate moves the whole session and every index entry, keeping every score`, async () => {
        const ns = `rot-${name}-${style}`
        const { rs, call, store, raw } = open(name, ns, style)
        try {
          const { token } = await call.create({ app: APP, id: 'u:1', ip: '10.0.0.1', ttl: 3600, d: { a: 'x', n: 2 } })
          const other = (await call.create({ app: APP, id: 'u:1', ip: '10.0.0.2' })).token
          await call.get({ app: APP, token })
          await call.set({ app: APP, token, d: { b: true } })
          // A field the reference does not know (another feature's, or another program's) stays too.
          await raw.hset(store.sessionKey(APP, token), 'x_extra', 'kept')
          const before = await store.dump()
          const [old] = assertConsistent(before, ns).filter((s) => s.token === token)

          const answer = await call.rotate({ app: APP, token })
          assert.deepEqual(Object.keys(answer), ['token'])
          const fresh = answer.token
          assert.match(fresh, TOKEN_SHAPE)
          assert.equal(fresh.length, 64)
          assert.notEqual(fresh, token)
          if (topologies[name].cluster) assert.equal(bucketOfToken(fresh), bucketOfToken(token), 'the same bucket')

          const after = await store.dump()
          const sessions = assertConsistent(after, ns)
          assert.deepEqual(sessions.map((s) => s.token).sort(), [fresh, other].sort())
          const moved = sessions.find((s) => s.token === fresh)
          assert.deepEqual(moved.hash, old.hash, 'every field, la, r, w and the unknown one included')
          assert.equal(moved.hash.x_extra, 'kept')
          assert.equal(moved.active, old.active, '_sessions score')
          assert.equal(moved.expires, old.expires, 'SESSIONS score')
          assert.equal(after[`${ns}:${APP}:${token}`], undefined, 'the old hash is gone')
          assert.deepEqual(after[`${ns}:${APP}:us:u:1`], [fresh, other].sort())
          assert.deepEqual(after[`${ns}:${APP}:_users`], before[`${ns}:${APP}:_users`])

          assert.deepEqual(await call.get({ app: APP, token }), missing, 'the old token reads as no session')
          assert.deepEqual(await call.set({ app: APP, token, d: { c: 1 } }), missing)
          assert.deepEqual(await call.rotate({ app: APP, token }), missing, 'nor can it be rotated again')
          assert.deepEqual(await call.kill({ app: APP, token }), { kill: 0 })
          const session = await call.get({ app: APP, token: fresh })
          assert.deepEqual(Object.keys(session), [...SESSION_KEYS, 'd'])
          assert.deepEqual(session.d, { a: 'x', n: 2, b: true })
          assert.equal(session.r, 2)
          assert.equal(session.w, 2)
          assert.deepEqual((await call.soid({ app: APP, id: 'u:1' })).sessions.map((s) => s.ip).sort(), [
            '10.0.0.1',
            '10.0.0.2',
          ])

          // A no_resave session keeps its fixed expiry.
          const fixed = (await call.create({ app: APP, id: 'v', ip: '1', ttl: 100, no_resave: true })).token
          const fixedBefore = assertConsistent(await store.dump(), ns).find((s) => s.token === fixed)
          const fixedNew = (await call.rotate({ app: APP, token: fixed })).token
          const fixedAfter = assertConsistent(await store.dump(), ns).find((s) => s.token === fixedNew)
          assert.deepEqual(fixedAfter.hash, fixedBefore.hash)
          assert.equal(fixedAfter.expires, fixedBefore.expires)
          assert.equal((await call.get({ app: APP, token: fixedNew })).no_resave, true)

          assert.deepEqual(await call.rotate({ app: APP, token: 'A'.repeat(64) }), missing, 'a missing session')
          await assert.rejects(call.rotate({ app: APP }), { name: 'missingParameter', message: 'No token supplied' })
          await assert.rejects(call.rotate({ token }), { name: 'missingParameter', message: 'No app supplied' })
          await assert.rejects(call.rotate({ app: APP, token: 'short' }), {
            name: 'invalidFormat',
            message: 'Invalid token format',
          })

          for (const t of [fresh, other, fixedNew])
            assert.deepEqual(await call.kill({ app: APP, token: t }), { kill: 1 })
          assert.deepEqual(await store.dump(), {}, 'nothing left behind')
        } finally {
          await rs.quit()
        }
      })

      it(`${name}, ${style}: touch refreshes like get and sets a new idle timeout`, async () => {
        const ns = `tch-${name}-${style}`
        const { rs, call, store, raw } = open(name, ns, style)
        try {
          const { token } = await call.create({ app: APP, id: 'u', ip: '10.0.0.1', ttl: 100, d: { a: 1 } })
          const hashKey = store.sessionKey(APP, token)
          // As if last used 50 s ago, so that the refresh shows.
          const past = nowSeconds() - 50
          await raw.hset(hashKey, 'la', past)

          const touched = await call.touch({ app: APP, token })
          assert.deepEqual(Object.keys(touched), [...SESSION_KEYS, 'd'])
          assert.equal(touched.r, 1, 'r before this read, as get answers it')
          assert.equal(touched.ttl, 100)
          assert.ok(touched.idle >= 50 && touched.idle <= 52, `idle ${touched.idle}`)
          assert.deepEqual(touched.d, { a: 1 })
          let [session] = assertConsistent(await store.dump(), ns)
          assert.equal(session.hash.r, '2')
          assert.equal(session.hash.ttl, '100')
          const la = Number(session.hash.la)
          assert.ok(la >= nowSeconds() - 1, 'la moved to now')
          assert.equal(session.active, la)
          assert.equal(session.expires, la + 100)

          const longer = await call.touch({ app: APP, token, ttl: '3600abc' })
          assert.equal(longer.ttl, 3600, "parseInt's rule")
          assert.equal(longer.r, 2)
          ;[session] = assertConsistent(await store.dump(), ns)
          assert.equal(session.hash.ttl, '3600')
          assert.equal(session.expires, Number(session.hash.la) + 3600)
          assert.equal((await call.get({ app: APP, token })).ttl, 3600, 'get sees the new ttl')

          const kept = await call.touch({ app: APP, token, ttl: 0 })
          assert.equal(kept.ttl, 3600, 'a falsy ttl keeps the session its ttl')
          await assert.rejects(call.touch({ app: APP, token, ttl: 9 }), {
            name: 'invalidValue',
            message: 'ttl must be a positive integer >= 10',
          })
          await assert.rejects(call.touch({ app: APP, token, ttl: 'soon' }), {
            name: 'invalidValue',
            message: 'ttl must be a positive integer >= 10',
          })
          await assert.rejects(call.touch({ app: APP, ttl: 9 }), {
            name: 'missingParameter',
            message: 'No token supplied',
          })
          ;[session] = assertConsistent(await store.dump(), ns)
          assert.equal(session.hash.r, '5', 'the refused touches wrote nothing')

          // Shorter than the idle time so far: the session is gone once la + ttl passes, for every method.
          await raw.hset(hashKey, 'la', nowSeconds() - 5)
          assert.equal((await call.touch({ app: APP, token, ttl: 10 })).ttl, 10)
          ;[session] = assertConsistent(await store.dump(), ns)
          assert.equal(session.expires, Number(session.hash.la) + 10)
          await raw.hset(hashKey, 'la', nowSeconds() - 11)
          assert.deepEqual(await call.touch({ app: APP, token }), missing)
          assert.deepEqual(await call.get({ app: APP, token }), missing)
          assert.deepEqual(await call.kill({ app: APP, token }), { kill: 0 })
          await raw.hset(hashKey, 'la', nowSeconds())
          assert.deepEqual(await call.kill({ app: APP, token }), { kill: 1 })

          // no_resave: the ttl shown is what is left; a new ttl is a new fixed expiry from now.
          const fixed = (await call.create({ app: APP, id: 'v', ip: '1', ttl: 100, no_resave: true })).token
          await raw.hset(store.sessionKey(APP, fixed), 'la', nowSeconds() - 30)
          const left = await call.touch({ app: APP, token: fixed })
          assert.equal(left.no_resave, true)
          assert.ok(left.ttl >= 68 && left.ttl <= 70, `ttl ${left.ttl}`)
          const renewed = await call.touch({ app: APP, token: fixed, ttl: 500 })
          assert.equal(renewed.ttl, 500)
          const fixedSession = assertConsistent(await store.dump(), ns).find((s) => s.token === fixed)
          assert.equal(fixedSession.hash.ttl, '500')
          assert.equal(fixedSession.hash.no_resave, '1')
          assert.equal(fixedSession.expires, Number(fixedSession.hash.la) + 500)
          const later = await call.get({ app: APP, token: fixed })
          assert.ok(later.ttl >= 499 && later.ttl <= 500, `ttl ${later.ttl}`)

          assert.deepEqual(await call.touch({ app: APP, token: 'A'.repeat(64) }), missing)
          assert.deepEqual(await call.touch({ app: APP, token: 'A'.repeat(64), ttl: 60 }), missing)
          assert.deepEqual(await call.kill({ app: APP, token: fixed }), { kill: 1 })
          assert.deepEqual(await store.dump(), {}, 'nothing left behind')
        } finally {
          await rs.quit()
        }
      })
    }

    it(`${name}: rotate racing get, set, kill and rotate: no write lost, nothing resurrected, one token`, async () => {
      const ns = `race-${name}`
      const { rs, store } = open(name, ns, 'promise')
      const other = new RedisSessions({ ...topologies[name].options, namespace: ns, wipe: 0 })
      try {
        const outcomes = new Set()
        for (let round = 0; round < 6; round++) {
          const { token } = await rs.create({ app: APP, id: 'racer', ip: '1', d: { start: round } })
          const sets = Array.from({ length: 40 }, (_, i) =>
            (i % 2 ? rs : other).set({ app: APP, token, d: { [`k${i}`]: i } }),
          )
          const gets = Array.from({ length: 10 }, () => other.get({ app: APP, token }))
          const rotations = [rs.rotate({ app: APP, token }), other.rotate({ app: APP, token })]
          const [setAnswers, getAnswers, rotated] = await Promise.all(
            [sets, gets, rotations].map((list) => Promise.all(list)),
          )
          const winners = rotated.filter((answer) => answer !== null)
          assert.equal(winners.length, 1, 'exactly one rotation moved the session')
          const fresh = winners[0].token
          const final = await rs.get({ app: APP, token: fresh })
          for (const [i, answer] of setAnswers.entries()) {
            if (answer) assert.equal(final.d[`k${i}`], i, `acknowledged set k${i} kept`)
            else assert.equal(final.d[`k${i}`], undefined, `refused set k${i} wrote nothing`)
          }
          for (const answer of getAnswers) if (answer) assert.equal(answer.d.start, round)
          assert.equal(await rs.get({ app: APP, token }), null)
          const sessions = assertConsistent(await store.dump(), ns)
          assert.deepEqual(
            sessions.map((s) => s.token),
            [fresh],
            'one live token',
          )

          // kill racing rotate, both in flight at once on one connection, so that the order they are sent in
          // (in turns) is the order Redis runs them: either the kill won (nothing remains) or the rotation did
          // (the kill found nothing); a get on the other connection races both.
          const rotation = round % 2 ? rs.rotate({ app: APP, token: fresh }) : undefined
          const killing = Promise.all([rs.kill({ app: APP, token: fresh }), other.get({ app: APP, token: fresh })])
          const [kills, turned] = await Promise.all([killing, rotation ?? rs.rotate({ app: APP, token: fresh })])
          outcomes.add(kills[0].kill)
          const left = assertConsistent(await store.dump(), ns)
          if (kills[0].kill === 1) {
            assert.equal(turned, null, 'a killed session is not rotated')
            assert.deepEqual(left, [], 'nor resurrected')
          } else {
            assert.equal(left.length, 1)
            assert.equal(left[0].token, turned.token)
            assert.deepEqual(await rs.kill({ app: APP, token: turned.token }), { kill: 1 })
          }
          assert.deepEqual(await store.dump(), {}, 'nothing left behind')
        }
        assert.deepEqual([...outcomes].sort(), [0, 1], 'the kill won some rounds and the rotation others')
      } finally {
        await Promise.all([rs.quit(), other.quit()])
      }
    })
  }

  it('standalone: rotate and touch are one EVALSHA each', async () => {
    const { rs, raw } = open('standalone', 'trips', 'promise')
    const monitor = await raw.monitor()
    const seen = []
    monitor.on('monitor', (time, args, source) => {
      if (source !== 'lua') seen.push(args[0].toLowerCase())
    })
    const commandsOf = async (call) => {
      await sleep(30)
      seen.length = 0
      await call()
      await sleep(30)
      return [...seen]
    }
    try {
      const { token } = await rs.create({ app: APP, id: 'u', ip: '1' })
      let fresh
      assert.deepEqual(
        await commandsOf(async () => {
          fresh = (await rs.rotate({ app: APP, token })).token
        }),
        ['evalsha'],
      )
      assert.deepEqual(await commandsOf(() => rs.touch({ app: APP, token: fresh })), ['evalsha'])
      assert.deepEqual(await commandsOf(() => rs.touch({ app: APP, token: fresh, ttl: 60 })), ['evalsha'])
      await rs.kill({ app: APP, token: fresh })
    } finally {
      monitor.disconnect()
      await rs.quit()
    }
  })

  for (const name of TOPOLOGIES) {
    it(`${name}: caches drop the old token on rotate, and a touched session on a new ttl`, async () => {
      const ns = `rcache-${name}`
      const a = new RedisSessions({ ...topologies[name].options, namespace: ns, wipe: 0, cachetime: 30 })
      const b = new RedisSessions({ ...topologies[name].options, namespace: ns, wipe: 0 })
      try {
        const { token } = await a.create({ app: APP, id: 'u', ip: '1', ttl: 100 })
        const second = (await a.create({ app: APP, id: 'u', ip: '2', ttl: 100 })).token
        await sleep(300) // the subscription is up
        assert.equal((await a.get({ app: APP, token })).r, 1)
        assert.equal((await a.get({ app: APP, token })).r, 1, 'the second read came from the cache')
        const fresh = (await b.rotate({ app: APP, token })).token
        await sleep(100)
        assert.equal(await a.get({ app: APP, token }), null, 'the cached old token is gone')
        assert.equal((await a.get({ app: APP, token: second })).ttl, 100)
        await b.touch({ app: APP, token: second, ttl: 600 })
        await sleep(100)
        assert.equal((await a.get({ app: APP, token: second })).ttl, 600)
        // The instance that rotates drops its own entry at once.
        await a.get({ app: APP, token: fresh })
        const newest = (await a.rotate({ app: APP, token: fresh })).token
        assert.equal(await a.get({ app: APP, token: fresh }), null)
        await Promise.all([newest, second].map((t) => b.kill({ app: APP, token: t })))
      } finally {
        await Promise.all([a.quit(), b.quit()])
      }
    })
  }

  it('a mixed fleet: redis-sessions 3.0.0 reads, writes and kills rotated and touched sessions', async () => {
    const ns = 'rfleet'
    const { rs, store } = open('standalone', ns, 'promise')
    const v3 = new V3({ port: topologies.standalone.options.port, namespace: ns, wipe: 0 })
    const ref = (name, args) =>
      new Promise((resolve, reject) => v3[name](args, (err, value) => (err ? reject(err) : resolve(value))))
    try {
      const { token } = await rs.create({ app: APP, id: 'mixed', ip: '10.1.1.1', ttl: 100, d: { a: 1 } })
      const fresh = (await rs.rotate({ app: APP, token })).token
      assert.deepEqual(await ref('get', { app: APP, token }), {}, 'v3 sees no session at the old token')
      const seen = await ref('get', { app: APP, token: fresh })
      assert.deepEqual(
        { ...seen, idle: 0 },
        { id: 'mixed', r: 1, w: 1, ttl: 100, idle: 0, ip: '10.1.1.1', d: { a: 1 } },
      )
      await ref('set', { app: APP, token: fresh, d: { b: 2 } })
      assert.equal((await ref('soid', { app: APP, id: 'mixed' })).sessions.length, 1)
      assert.equal((await rs.touch({ app: APP, token: fresh, ttl: 500 })).ttl, 500)
      const after = await ref('get', { app: APP, token: fresh })
      assert.equal(after.ttl, 500, 'v3 reads the new ttl')
      assert.deepEqual(after.d, { a: 1, b: 2 })
      assertConsistent(await store.dump(), ns)
      // A session v3 created, rotated by us, killed by v3.
      const theirs = (await ref('create', { app: APP, id: 'old-server', ip: '2', d: { z: 'z' } })).token
      const ours = (await rs.rotate({ app: APP, token: theirs })).token
      assert.deepEqual((await rs.get({ app: APP, token: ours })).d, { z: 'z' })
      assert.deepEqual(await ref('kill', { app: APP, token: ours }), { kill: 1 })
      assert.deepEqual(await ref('kill', { app: APP, token: fresh }), { kill: 1 })
      assert.deepEqual(await store.dump(), {}, 'v3 left nothing behind')
    } finally {
      v3.quit()
      await rs.quit()
    }
  })
})
