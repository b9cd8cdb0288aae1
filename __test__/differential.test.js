'use strict'
// The same operations through redis-sessions@3.0.0 (callbacks), @4.0.0
// (promises) and this package in both styles, on one Redis: the same answers
// and the same bytes in Redis, modulo tokens and times. Then a mixed fleet:
// each side reads, updates and kills the other's sessions.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { promisify } = require('node:util')
const RedisSessions = require('..')
const V3 = require('redis-sessions-v3')
const V4 = require('redis-sessions-v4').default
const { startRedis } = require('./helpers/redis-server')
const { connect, dump, normalize } = require('./helpers/raw')

let server, raw
const instances = []

before(async () => {
  server = await startRedis()
  raw = connect(server.port)
})
after(async () => {
  for (const instance of instances) await instance.quit()
  raw.disconnect()
  await server.stop()
})

function make(kind, namespace) {
  const options = { port: server.port, namespace, wipe: 0 }
  const instance = kind === 'v3' ? new V3(options) : kind === 'v4' ? new V4(options) : new RedisSessions(options)
  instances.push(kind === 'v3' ? { quit: async () => instance.quit() } : instance)
  return instance
}

/** The calls of one style: callbacks promisified, or promises as they are. */
function api(instance, callbackStyle) {
  const call = (name) => (callbackStyle ? promisify(instance[name].bind(instance)) : instance[name].bind(instance))
  return Object.fromEntries(
    ['create', 'get', 'set', 'kill', 'killall', 'killsoid', 'soid', 'soapp', 'activity', 'ping'].map((n) => [
      n,
      call(n),
    ]),
  )
}

async function startOfSecond() {
  const ms = Date.now() % 1000
  if (ms > 50) await new Promise((resolve) => setTimeout(resolve, 1005 - ms))
  return Math.floor(Date.now() / 1000)
}

const byIp = (list) => [...list].sort((a, b) => String(a.ip).localeCompare(String(b.ip)))

/** The scenario; returns every answer and snapshots, tokens and times normalized. */
async function scenario(instance, ns, callbackStyle, { stringTtl = true } = {}) {
  const rs = api(instance, callbackStyle)
  const window = callbackStyle ? { dt: 60 } : { deltaTime: 60 }
  const app = 'diffapp'
  const now = await startOfSecond()
  const out = {}
  const tokens = []
  const snapshot = async () => normalize(await dump(raw, ns), tokens, now)
  const create = async (o) => {
    const r = await rs.create({ app, ...o })
    tokens.push(r.token)
    return r.token
  }
  const a = await create({
    id: 'alice',
    ip: '1.1.1.1',
    ttl: 3600,
    d: { foo: 'bar', n: 1.5, z: null, 3: true, s: 'é😀"\n' },
  })
  const b = await create({ id: 'alice', ip: '2.2.2.2' })
  const c = await create({ id: 'bob', ip: '3.3.3.3', ttl: 100, no_resave: true })
  const e = await create({
    id: 'carol',
    ip: '4.4.4.4',
    ttl: stringTtl ? '20' : 20,
    d: { big: 1e21, small: 1e-7, neg: -0 },
  })
  out.created = await snapshot()
  out.getA = await rs.get({ app, token: a })
  out.getA2 = await rs.get({ app, token: a })
  out.setA = await rs.set({ app, token: a, d: { foo: null, x: 'y', 1: 2, n: 2.25 } })
  out.getB = await rs.get({ app, token: b })
  out.setB = await rs.set({ app, token: b, d: { only: null } })
  out.setC = await rs.set({ app, token: c, d: { a: 1 } })
  out.getE = await rs.get({ app, token: e })
  out.afterUpdates = await snapshot()
  out.soid = byIp((await rs.soid({ app, id: 'alice' })).sessions)
  out.soidNobody = await rs.soid({ app, id: 'nobody' })
  out.activity = await rs.activity({ app, ...window })
  out.soapp = byIp((await rs.soapp({ app, ...window })).sessions)
  out.killB = await rs.kill({ app, token: b })
  out.killBAgain = await rs.kill({ app, token: b })
  out.getMissing = await rs.get({ app, token: 'Q'.repeat(64) })
  out.setMissing = await rs.set({ app, token: 'Q'.repeat(64), d: { a: 1 } })
  out.afterKill = await snapshot()
  out.killsoid = await rs.killsoid({ app, id: 'bob' })
  out.killsoidNobody = await rs.killsoid({ app, id: 'bob' })
  out.afterKillsoid = await snapshot()
  out.killall = await rs.killall({ app })
  out.afterKillall = await snapshot()
  out.ping = await rs.ping()
  let text = JSON.stringify(out).split(`${ns}:`).join('NS:')
  tokens.forEach((token, i) => {
    text = text.split(token).join(`T${i}`)
  })
  return JSON.parse(text)
}

describe('differential against the reference packages', () => {
  it('callback style matches redis-sessions@3.0.0', async () => {
    const reference = await scenario(make('v3', 'ref3'), 'ref3', true)
    const ours = await scenario(make('ours', 'our3'), 'our3', true)
    // The one difference we keep: v3 answers w = 0 to a set on a no_resave session.
    assert.equal(reference.setC.w, 0)
    assert.equal(ours.setC.w, 2)
    reference.setC.w = 2
    assert.deepEqual(ours, reference)
  })

  it('promise style matches redis-sessions@4.0.0', async () => {
    // v4 adds a string ttl to the time as text ("1795828075" + "20"); v3 and we parse it.
    const reference = await scenario(make('v4', 'ref4'), 'ref4', false, { stringTtl: false })
    const ours = await scenario(make('ours', 'our4'), 'our4', false, { stringTtl: false })
    assert.equal(reference.setC.w, 0)
    reference.setC.w = 2
    assert.deepEqual(ours, reference)
  })
})

describe('a mixed fleet on one Redis', () => {
  for (const kind of ['v3', 'v4']) {
    it(`${kind} and this package read, update and kill each other's sessions`, async () => {
      const ns = `mixed${kind}`
      const theirs = api(make(kind, ns), kind === 'v3')
      const ours = make('ours', ns)
      const app = 'fleet'
      const missing = kind === 'v3' ? {} : null

      const { token: t1 } = await theirs.create({ app, id: 'u:1', ip: '1', d: { a: 1 } })
      assert.equal((await ours.get({ app, token: t1 })).r, 1)
      assert.deepEqual((await ours.set({ app, token: t1, d: { b: 'two' } })).d, { a: 1, b: 'two' })
      const seen = await theirs.get({ app, token: t1 })
      assert.deepEqual(seen.d, { a: 1, b: 'two' })
      assert.equal(seen.r, 2)
      assert.equal(seen.w, 2)
      assert.deepEqual(await ours.kill({ app, token: t1 }), { kill: 1 })
      assert.deepEqual(await theirs.get({ app, token: t1 }), missing)

      const { token: t2 } = await ours.create({ app, id: 'u:2', ip: '2', d: { x: true } })
      assert.deepEqual((await theirs.set({ app, token: t2, d: { y: 3 } })).d, { x: true, y: 3 })
      assert.deepEqual((await ours.get({ app, token: t2 })).d, { x: true, y: 3 })
      assert.equal((await theirs.soid({ app, id: 'u:2' })).sessions.length, 1)
      assert.deepEqual(await theirs.kill({ app, token: t2 }), { kill: 1 })
      assert.equal(await ours.get({ app, token: t2 }), null)

      await ours.create({ app, id: 'u3', ip: '3' })
      await theirs.create({ app, id: 'u3', ip: '4' })
      assert.deepEqual(await ours.killsoid({ app, id: 'u3' }), { kill: 2 })
      assert.deepEqual(await dump(raw, ns), {})
    })
  }
})
