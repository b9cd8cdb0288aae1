'use strict'
// touchAfter (issue 17): a get inside the window after a session's last touch
// writes nothing, counted from Redis's own INFO commandstats; past the window,
// or for a session whose ttl is not above it, get touches as the reference
// does. Standalone and Redis Cluster, both styles, with and without the cache,
// and beside redis-sessions 3.0.0 on the same Redis.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const RedisSessions = require('..')
const V3 = require('redis-sessions-v3')
const { startTopology } = require('./helpers/topologies')
const { reader } = require('./helpers/layout')

const APP = 'lazyapp'
const NS = 'rs'
const WINDOW = 60
const STYLES = ['callback', 'promise']
const nowSeconds = () => Math.floor(Date.now() / 1000)

/** Calls `rs[name](options)` in `style`; resolves to the answer, rejects with the error. */
function call(rs, style, name, options) {
  const method = rs[name]
  if (style === 'promise') return method(options)
  return new Promise((resolve, reject) => {
    const returned = method(options, (err, value) => (err ? reject(err) : resolve(value)))
    assert.equal(returned, undefined)
  })
}

/** A missing session as each style answers it. */
const MISSING = { callback: {}, promise: null }

const topologies = {}
const closers = []

before(async () => {
  const [standalone, cluster] = await Promise.all([startTopology('standalone'), startTopology('cluster')])
  Object.assign(topologies, { standalone, cluster })
})
after(async () => {
  for (const close of closers) await close()
  await Promise.all(Object.values(topologies).map((topology) => topology.stop()))
})

function ours(topology, options = {}) {
  const rs = new RedisSessions({ ...topology.options, wipe: 0, ...options })
  closers.push(() => rs.quit())
  return rs
}

const writeCommands = new Map()

/** Whether Redis flags the command `name` as one that writes (asked once per name). */
async function isWrite(node, name) {
  if (!writeCommands.has(name)) {
    const [info] = await node.command('INFO', name)
    writeCommands.set(name, Boolean(info && info[2].includes('write')))
  }
  return writeCommands.get(name)
}

/**
 * Calls per command over every master, from INFO commandstats (commands a
 * script runs are counted under their own names), and how many of them write.
 */
async function commandStats(topology) {
  const nodes = topology.cluster ? topology.raw.nodes('master') : [topology.raw]
  const calls = {}
  let writes = 0
  for (const node of nodes) {
    const text = await node.info('commandstats')
    for (const [, name, count] of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      calls[name] = (calls[name] ?? 0) + Number(count)
      if (await isWrite(node, name)) writes += Number(count)
    }
  }
  return { calls, writes }
}

/** What Redis executed while `work` ran: `writes`, and the number of EVALSHA and of HMGET calls. */
async function executedDuring(topology, work) {
  const before = await commandStats(topology)
  const result = await work()
  const after = await commandStats(topology)
  return {
    result,
    writes: after.writes - before.writes,
    evalsha: (after.calls.evalsha ?? 0) - (before.calls.evalsha ?? 0),
    hmget: (after.calls.hmget ?? 0) - (before.calls.hmget ?? 0),
  }
}

/** Moves a session's last touch `seconds` into the past, as time passing would (a write of the test's own). */
async function age(topology, token, seconds) {
  const key = reader(topology.raw, NS, { cluster: topology.cluster }).sessionKey(APP, token)
  await topology.raw.hset(key, 'la', nowSeconds() - seconds)
}

/** The namespace in the reference's key names, with every index checked against the session hashes. */
async function consistentDump(topology) {
  const dump = await reader(topology.raw, NS, { cluster: topology.cluster }).dump()
  const hashes = Object.entries(dump).filter(([, value]) => !Array.isArray(value) && typeof value === 'object')
  const members = (key) => (dump[key] ?? []).map((entry) => (Array.isArray(entry) ? entry[0] : entry)).sort()
  const expected = hashes.map(([key, hash]) => ({ token: key.slice(`${NS}:${APP}:`.length), hash }))
  assert.deepEqual(members(`${NS}:${APP}:_sessions`), expected.map(({ token, hash }) => `${token}:${hash.id}`).sort())
  assert.deepEqual(members(`${NS}:SESSIONS`), expected.map(({ token, hash }) => `${APP}:${token}:${hash.id}`).sort())
  assert.deepEqual(members(`${NS}:${APP}:_users`), [...new Set(expected.map(({ hash }) => hash.id))].sort())
  for (const { token, hash } of expected) assert.ok(members(`${NS}:${APP}:us:${hash.id}`).includes(token))
  return dump
}

/** `actual` is `expected`, or one more when a second ticked over between the test's clock and the call's. */
function near(actual, expected, what) {
  assert.ok(actual === expected || actual === expected + 1, `${what}: ${actual}, expected ${expected}`)
}

async function cleanUp(topology) {
  await ours(topology).killall({ app: APP })
  assert.deepEqual(await reader(topology.raw, NS, { cluster: topology.cluster }).dump(), {})
}

for (const name of ['standalone', 'cluster']) {
  describe(`touchAfter on ${name}`, () => {
    for (const style of STYLES) {
      it(`${style}: inside the window a get is one HMGET, no script, no write; past it, get touches`, async () => {
        const topology = topologies[name]
        const rs = ours(topology, { touchAfter: WINDOW })
        const { token } = await call(rs, style, 'create', { app: APP, id: `u-${style}`, ip: '1.2.3.4' })
        const created = await consistentDump(topology)
        for (let i = 0; i < 3; i++) {
          const read = await executedDuring(topology, () => call(rs, style, 'get', { app: APP, token }))
          assert.equal(read.writes, 0, 'no write inside the window')
          assert.equal(read.hmget, 1, 'one round trip, a plain read')
          assert.equal(read.evalsha, 0, 'no script')
          assert.equal(read.result.r, 1, 'r counts only the reads that touched')
          assert.equal(read.result.ttl, 7200)
          assert.deepEqual(await consistentDump(topology), created, 'nothing in Redis moved')
        }

        await age(topology, token, WINDOW + 1)
        const touching = await executedDuring(topology, () => call(rs, style, 'get', { app: APP, token }))
        assert.ok(touching.writes >= 4, `a touch writes (${touching.writes})`)
        assert.equal(touching.evalsha, 1, 'the plain read found a touch due: the script')
        assert.equal(touching.result.r, 1)
        near(touching.result.idle, WINDOW + 1, 'idle lags by up to the window')
        const touched = await consistentDump(topology)
        const hash = touched[`${NS}:${APP}:${token}`]
        assert.equal(hash.r, '2')
        assert.ok(Math.abs(Number(hash.la) - nowSeconds()) <= 1, 'la moved to now')
        const [[, score]] = touched[`${NS}:${APP}:_sessions`]
        assert.equal(score, hash.la, 'the index follows')
        const [[, expiry]] = touched[`${NS}:SESSIONS`]
        assert.equal(Number(expiry), Number(hash.la) + 7200)

        // The window starts again at that touch.
        const next = await executedDuring(topology, () => call(rs, style, 'get', { app: APP, token }))
        assert.equal(next.writes, 0)
        assert.equal(next.result.r, 2)
        await cleanUp(topology)
      })

      it(`${style}: a session whose ttl is not above the window is touched on every get`, async () => {
        const topology = topologies[name]
        const rs = ours(topology, { touchAfter: WINDOW })
        const short = await call(rs, style, 'create', { app: APP, id: 'short', ip: '1', ttl: WINDOW })
        const longer = await call(rs, style, 'create', { app: APP, id: 'longer', ip: '1', ttl: WINDOW + 1 })
        for (let i = 1; i <= 3; i++) {
          const read = await executedDuring(topology, () => call(rs, style, 'get', { app: APP, token: short.token }))
          assert.ok(read.writes >= 4, `touched (${read.writes} writes)`)
          assert.equal(read.result.r, i)
        }
        const read = await executedDuring(topology, () => call(rs, style, 'get', { app: APP, token: longer.token }))
        assert.equal(read.writes, 0, 'a ttl above the window is not')
        await consistentDump(topology)
        await cleanUp(topology)
      })

      it(`${style}: with the cache on, gets inside the window write nothing, before and after a set`, async () => {
        const topology = topologies[name]
        const rs = ours(topology, { touchAfter: WINDOW, cachetime: 60 })
        const { token } = await call(rs, style, 'create', { app: APP, id: 'cached', ip: '1', d: { a: 1 } })
        const reads = await executedDuring(topology, async () => {
          for (let i = 0; i < 5; i++) assert.equal((await call(rs, style, 'get', { app: APP, token })).r, 1)
        })
        assert.equal(reads.writes, 0)
        assert.ok(reads.hmget >= 1, 'the first get asked Redis')
        // A set is a write and a touch; the next get reads it back without writing.
        await call(rs, style, 'set', { app: APP, token, d: { a: 2 } })
        const after = await executedDuring(topology, () => call(rs, style, 'get', { app: APP, token }))
        assert.deepEqual(after.result.d, { a: 2 })
        assert.equal(after.writes, 0)
        await consistentDump(topology)
        await cleanUp(topology)
      })
    }

    it('without touchAfter (and with 0) every get touches, as the reference', async () => {
      const topology = topologies[name]
      for (const rs of [ours(topology), ours(topology, { touchAfter: 0 })]) {
        const { token } = await rs.create({ app: APP, id: 'eager', ip: '1' })
        for (let i = 1; i <= 2; i++) {
          const read = await executedDuring(topology, () => rs.get({ app: APP, token }))
          assert.ok(read.writes >= 4, `touched (${read.writes} writes)`)
          assert.equal(read.result.r, i)
        }
        const dump = await consistentDump(topology)
        assert.equal(dump[`${NS}:${APP}:${token}`].r, '3')
      }
      await cleanUp(topology)
    })

    it('a no_resave session keeps counting down inside the window and is touched past it', async () => {
      const topology = topologies[name]
      const rs = ours(topology, { touchAfter: WINDOW })
      const { token } = await rs.create({ app: APP, id: 'fixed', ip: '1', ttl: 7200, no_resave: true })
      await age(topology, token, 30)
      const inside = await executedDuring(topology, () => rs.get({ app: APP, token }))
      assert.equal(inside.writes, 0)
      near(7200 - inside.result.ttl, 30, 'the remaining time')
      await age(topology, token, WINDOW + 1)
      const past = await executedDuring(topology, () => rs.get({ app: APP, token }))
      assert.ok(past.writes >= 4)
      near(7200 - past.result.ttl, WINDOW + 1, 'the remaining time')
      const dump = await consistentDump(topology)
      near(7200 - Number(dump[`${NS}:${APP}:${token}`].ttl), WINDOW + 1, 'the remaining time stored')
      await cleanUp(topology)
    })

    it('50 concurrent gets past the window touch once; the rest write nothing', async () => {
      const topology = topologies[name]
      const rs = ours(topology, { touchAfter: WINDOW })
      const { token } = await rs.create({ app: APP, id: 'busy', ip: '1' })
      await age(topology, token, WINDOW + 5)
      const burst = await executedDuring(topology, () =>
        Promise.all(Array.from({ length: 50 }, () => rs.get({ app: APP, token }))),
      )
      // Each plain read that found the touch due ran the script; those read after the first touch did not.
      assert.equal(burst.hmget - burst.evalsha, 50, "one plain read each, besides the scripts' own")
      assert.ok(burst.evalsha >= 1 && burst.evalsha <= 50, `scripts run: ${burst.evalsha}`)
      // r as it was before each read: 1 for the one that touched, 2 for every read after it.
      const answers = burst.result.map((session) => session.r).sort()
      assert.deepEqual(answers, [1, ...Array(49).fill(2)])
      assert.ok(burst.writes >= 4 && burst.writes <= 6, `one touch's writes (${burst.writes})`)
      const dump = await consistentDump(topology)
      assert.equal(dump[`${NS}:${APP}:${token}`].r, '2', 'one read touched')
      const quiet = await executedDuring(topology, () =>
        Promise.all(Array.from({ length: 50 }, () => rs.get({ app: APP, token }))),
      )
      assert.equal(quiet.writes, 0)
      await cleanUp(topology)
    })
  })
}

describe('touchAfter beside redis-sessions 3.0.0 on one Redis', () => {
  for (const style of STYLES) {
    it(`${style}: the reference reads (and touches), lists and kills our lazily touched sessions`, async () => {
      const topology = topologies.standalone
      const rs = ours(topology, { touchAfter: WINDOW })
      const v3 = new V3({ ...topology.options, wipe: 0 })
      closers.push(async () => v3.quit())
      const v3call = (name, options) =>
        new Promise((resolve, reject) => v3[name](options, (err, value) => (err ? reject(err) : resolve(value))))

      const { token } = await call(rs, style, 'create', { app: APP, id: 'mixed', ip: '1', d: { k: 'v' } })
      const { token: other } = await call(rs, style, 'create', { app: APP, id: 'mixed', ip: '2' })
      assert.equal((await call(rs, style, 'get', { app: APP, token })).r, 1)
      // The reference touches on every read, and ours then reads its count.
      const theirs = await v3call('get', { app: APP, token })
      assert.deepEqual(theirs.d, { k: 'v' })
      assert.equal(theirs.r, 1)
      const read = await executedDuring(topology, () => call(rs, style, 'get', { app: APP, token }))
      assert.equal(read.writes, 0, 'still inside the window')
      assert.equal(read.result.r, 2)
      const listed = await v3call('soid', { app: APP, id: 'mixed' })
      assert.equal(listed.sessions.length, 2)
      await consistentDump(topology)

      assert.deepEqual(await v3call('kill', { app: APP, token }), { kill: 1 })
      assert.deepEqual(await call(rs, style, 'get', { app: APP, token }), MISSING[style])
      assert.deepEqual(await v3call('killsoid', { app: APP, id: 'mixed' }), { kill: 1 })
      assert.deepEqual(await call(rs, style, 'get', { app: APP, token: other }), MISSING[style])
      assert.deepEqual(await reader(topology.raw, NS).dump(), {}, 'nothing left behind')
    })
  }
})

describe('touchAfter values', () => {
  for (const style of STYLES) {
    it(`${style}: negative, NaN or not a number is an invalidOptions error; huge is clamped`, async () => {
      const topology = topologies.standalone
      for (const bad of [-1, -Infinity, NaN, '30', 'abc', true, {}, 10n]) {
        const rs = ours(topology, { touchAfter: bad })
        await assert.rejects(call(rs, style, 'get', { app: APP, token: 'x'.repeat(64) }), (err) => {
          assert.equal(err.name, 'invalidOptions')
          assert.match(err.message, /touchAfter must be a number of seconds >= 0/)
          return true
        })
      }
      for (const fine of [undefined, null, 0, 0.5, 30.9, 1e300, Infinity]) {
        const rs = ours(topology, { touchAfter: fine })
        assert.deepEqual(await call(rs, style, 'get', { app: APP, token: 'x'.repeat(64) }), MISSING[style])
      }
    })
  }
})
