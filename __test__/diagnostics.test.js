'use strict'
// node:diagnostics_channel: the tracing channel redis-sessions:operation and
// the channel redis-sessions:connection, as dashboards and OpenTelemetry use them.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const diagnostics = require('node:diagnostics_channel')
const { AsyncLocalStorage } = require('node:async_hooks')
const { setTimeout: sleep } = require('node:timers/promises')
const RedisSessions = require('..')
const { startRedis } = require('./helpers/redis-server')
const { connect } = require('./helpers/raw')

const APP = 'diagapp'
const EVENTS = ['start', 'end', 'asyncStart', 'asyncEnd', 'error']
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

/** Records every event of the operation channel while `body` runs: [event, copy of the context]. */
async function recording(body) {
  const seen = []
  const channel = diagnostics.tracingChannel('redis-sessions:operation')
  const handlers = Object.fromEntries(EVENTS.map((e) => [e, (context) => seen.push([e, { ...context }])]))
  channel.subscribe(handlers)
  try {
    await body()
  } finally {
    channel.unsubscribe(handlers)
  }
  return seen
}

const callback = (rs, method, options) =>
  new Promise((resolve, reject) => rs[method](options, (err, value) => (err ? reject(err) : resolve(value))))

describe('diagnostics', () => {
  it('each operation is traced start, end, asyncStart, asyncEnd with {method, app, cached}, both styles', async () => {
    const rs = ours()
    let token
    const seen = await recording(async () => {
      ;({ token } = await rs.create({ app: APP, id: 'user-secret-id', ip: '1', d: { secret: 'data-value' } }))
      await callback(rs, 'get', { app: APP, token })
      await rs.set({ app: APP, token, d: { more: 'other-data' } })
    })
    const names = seen.map(([event, context]) => `${context.method}:${event}`)
    const phases = ['start', 'end', 'asyncStart', 'asyncEnd']
    assert.deepEqual(
      names,
      ['create', 'get', 'set'].flatMap((m) => phases.map((e) => `${m}:${e}`)),
    )
    for (const [, context] of seen) {
      assert.deepEqual(Object.keys(context).sort(), ['app', 'cached', 'method'])
      assert.equal(context.app, APP)
      assert.equal(context.cached, false)
    }
    const text = JSON.stringify(seen)
    for (const secret of [token, 'user-secret-id', 'data-value', 'other-data'])
      assert.ok(!text.includes(secret), secret)
  })

  it('a failure is published on error with the error, and a cache hit as cached: true', async () => {
    const rs = ours({ cachetime: 60 })
    const { token } = await rs.create({ app: APP, id: 'c', ip: '1' })
    const seen = await recording(async () => {
      await assert.rejects(rs.get({ app: APP, token: 'short' }), { name: 'invalidFormat' })
      await assert.rejects(callback(rs, 'kill', { app: APP }), { name: 'missingParameter' })
      // Until the subscriber is in, gets go to Redis; then the second of two is a hit.
      for (let i = 0; i < 200; i++) {
        await rs.get({ app: APP, token })
        const again = await rs.get({ app: APP, token })
        if (again && (await rs.get({ app: APP, token })) === again) break
        await sleep(5)
      }
    })
    const errors = seen.filter(([event]) => event === 'error')
    assert.deepEqual(
      errors.map(([, c]) => [c.method, c.error.name]),
      [
        ['get', 'invalidFormat'],
        ['kill', 'missingParameter'],
      ],
    )
    const gets = seen.filter(([event, c]) => event === 'start' && c.method === 'get' && !c.error)
    assert.ok(gets.some(([, c]) => c.cached === false))
    assert.equal(gets.at(-1)[1].cached, true)
    assert.ok(!JSON.stringify(seen.map(([, c]) => ({ ...c, error: undefined }))).includes(token))

    // Options whose app and token are inherited are a hit too, and traced as one (the context's app is read
    // from an own data property only, as for every call).
    const inherited = Object.create({ app: APP, token })
    const hit = await rs.get({ app: APP, token })
    const traced = await recording(async () => assert.equal(await rs.get(inherited), hit))
    const start = traced.find(([event, c]) => event === 'start' && c.method === 'get')
    assert.deepEqual(start[1], { method: 'get', app: undefined, cached: true })
  })

  it("a callback runs inside the stores bound to start, as OpenTelemetry's context propagation needs", async () => {
    const rs = ours()
    const store = new AsyncLocalStorage()
    const channel = diagnostics.tracingChannel('redis-sessions:operation')
    channel.start.bindStore(store, (context) => ({ traced: context.method }))
    try {
      const inside = await new Promise((resolve, reject) =>
        rs.ping((err) => (err ? reject(err) : resolve(store.getStore()))),
      )
      assert.deepEqual(inside, { traced: 'ping' })
    } finally {
      channel.start.unbindStore(store)
    }
  })

  it('memory mode is traced too, callbacks answered as memory mode answers them', async () => {
    const rs = new RedisSessions({ memory: true, namespace: 'diagmem', cachetime: 60 })
    closers.push(() => rs.quit())
    const seen = await recording(async () => {
      const { token } = await rs.create({ app: APP, id: 'm', ip: '1' })
      assert.equal((await callback(rs, 'get', { app: APP, token })).id, 'm')
      await assert.rejects(callback(rs, 'set', { app: APP, token }), { name: 'missingParameter' })
    })
    assert.deepEqual(
      seen.map(([event, c]) => `${c.method}:${event}`),
      [
        ...['create', 'get'].flatMap((m) => ['start', 'end', 'asyncStart', 'asyncEnd'].map((e) => `${m}:${e}`)),
        'set:start',
        'set:end',
        'set:error',
        'set:asyncStart',
        'set:asyncEnd',
      ],
    )
  })

  it('an app given by a getter is read once, by the engine only', async () => {
    const rs = ours({ cachetime: 60 })
    let reads = 0
    const options = {
      get app() {
        reads++
        return APP
      },
      token: 'a'.repeat(64),
    }
    const seen = await recording(() => rs.get(options))
    assert.equal(reads, 1)
    assert.equal(seen[0][1].app, undefined)
  })

  it('connection changes are published: connect, disconnect with its cause, reconnect', async () => {
    const events = []
    const listen = (message) => events.push(message)
    diagnostics.subscribe('redis-sessions:connection', listen)
    try {
      const rs = ours()
      await rs.ping()
      for (let i = 0; i < 400 && events.length === 0; i++) await sleep(5)
      assert.deepEqual(events, [{ event: 'connect' }])
      await raw.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes')
      // The engine sees the loss when a command fails, then reconnects.
      for (let i = 0; i < 400 && !events.some((e) => e.event === 'reconnect'); i++) {
        await rs.ping().catch(() => {})
        await sleep(5)
      }
      const kinds = events.map((e) => e.event)
      assert.deepEqual(kinds.slice(0, 3), ['connect', 'disconnect', 'reconnect'])
      const lost = events[1]
      assert.deepEqual(Object.keys(lost).sort(), ['cause', 'event'])
      assert.equal(typeof lost.cause, 'string')
      assert.equal(await rs.ping(), 'PONG')
    } finally {
      diagnostics.unsubscribe('redis-sessions:connection', listen)
    }
  })
})
