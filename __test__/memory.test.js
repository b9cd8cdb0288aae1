'use strict'
// The in-memory engine (memory: true, REDIS_SESSIONS_MEMORY): the API in both
// styles, time from Date.now() (expiry, idle, the wipe, the cache), one store
// per namespace shared by instances and worker threads, resetMemory, quit, bad
// input, nothing left to keep the process alive; and the operations of the
// other issues (rotate, touch, max, maxAge, handles, touchAfter, the express
// store's createWithToken and moveToId) answering and
// storing what they do on Redis. scenario.test.js runs the base methods on it.
const { describe, it, before, after, afterEach } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const crypto = require('node:crypto')
const { execFile } = require('node:child_process')
const { promisify } = require('node:util')
const { Worker } = require('node:worker_threads')
const RedisSessions = require('..')
const { startRedis } = require('./helpers/redis-server')
const { startWithRaw } = require('./helpers/raw')
const { reader } = require('./helpers/layout')
const { startTopology } = require('./helpers/topologies')
const { handleOfToken } = require('../binding.js')

const root = path.join(__dirname, '..')
const APP = 'memapp'
const realNow = Date.now

/** Date.now() moved by `offset` ms, as fake timers move it. */
let offset = 0
function fakeClock() {
  offset = 0
  Date.now = () => realNow() + offset
}
const advance = (seconds) => {
  offset += seconds * 1000
}

afterEach(() => {
  Date.now = realNow
  RedisSessions.resetMemory()
})

async function node(code, env = {}) {
  const started = Date.now()
  const { stdout, stderr } = await promisify(execFile)(process.execPath, ['-e', code], {
    cwd: root,
    env: { ...process.env, ...env },
    timeout: 10_000,
  })
  return { stdout, stderr, ms: Date.now() - started }
}

describe('memory: true', () => {
  it('answers both styles without Redis, with the same errors', async () => {
    const rs = new RedisSessions({ memory: true, port: 1, host: 'nowhere.invalid' })
    assert.equal(rs.connected, true)
    await new Promise((resolve) => rs.once('connect', resolve))
    const { token } = await rs.create({ app: APP, id: 'u1', ip: '1', d: { a: 1, b: null } })
    const got = await new Promise((resolve, reject) =>
      rs.get({ app: APP, token }, (err, value) => (err ? reject(err) : resolve(value))),
    )
    assert.deepEqual({ ...got, idle: 0 }, { id: 'u1', r: 1, w: 1, ttl: 7200, idle: 0, ip: '1', d: { a: 1 } })
    assert.equal(await rs.get({ app: APP, token: 'a'.repeat(64) }), null)
    const missing = await new Promise((resolve) => rs.get({ app: APP, token: 'a'.repeat(64) }, (e, v) => resolve(v)))
    assert.deepEqual(missing, {})
    await assert.rejects(rs.create({ app: APP, id: 'u', ip: '1', ttl: 5 }), {
      name: 'invalidValue',
      message: 'ttl must be a positive integer >= 10',
    })
    await assert.rejects(rs.soapp({ app: APP, dt: 5 }), { message: 'deltaTime must be a positive integer >= 10' })
    const [err, value] = await new Promise((resolve) => rs.soapp({ app: APP, dt: 5 }, (...args) => resolve(args)))
    assert.equal(err.message, 'ttl must be a positive integer >= 10')
    assert.equal(value, undefined)
    await assert.rejects(rs.set({ app: APP, token, d: {} }), { message: 'd must containt at least one key.' })
    await assert.rejects(rs.get({ app: 'a', token }), { name: 'invalidFormat', message: 'Invalid app format' })
    await assert.rejects(new RedisSessions(null).ping(), { name: 'invalidOptions' })
    const bound = rs.kill
    assert.deepEqual(await bound({ app: APP, token }), { kill: 1 })
    assert.equal(await rs.ping(), 'PONG')
    const events = []
    for (const name of ['connect', 'disconnect']) rs.on(name, () => events.push(name))
    await rs.quit()
    await rs.quit()
    await assert.rejects(rs.ping(), { name: 'closed', message: 'This RedisSessions instance has been quit' })
    assert.deepEqual(events, ['disconnect'], "'disconnect' once after quit, as the connection's close in Redis mode")
    assert.equal(rs.connected, false)
    assert.equal(rs.redis.connected, false)
  })

  it("connection options are checked as in Redis mode, then unused; a client's warning is not given", async () => {
    const warned = []
    const emitWarning = process.emitWarning
    process.emitWarning = (warning) => warned.push(warning)
    try {
      const client = { connection_options: { host: 'redis.example', port: 6380 }, selected_db: 2 }
      const withClient = new RedisSessions({ memory: true, client, options: { password: 'unused' } })
      assert.equal(await withClient.ping(), 'PONG')
      await withClient.quit()
      assert.deepEqual(warned, [])
    } finally {
      process.emitWarning = emitWarning
    }
    const bad = new RedisSessions({ memory: true, touchAfter: -1 })
    await assert.rejects(bad.ping(), { name: 'invalidOptions' })
    await assert.rejects(bad.ping(), (err) => {
      assert.match(err.message, /touchAfter/)
      return true
    })
  })

  it('sessions expire, idle and are wiped on the clock of Date.now()', async () => {
    fakeClock()
    const rs = new RedisSessions({ memory: true, wipe: 60 })
    const { token } = await rs.create({ app: APP, id: 'short', ip: '1', ttl: 10 })
    const fixed = (await rs.create({ app: APP, id: 'fixed', ip: '1', ttl: 100, no_resave: true })).token
    advance(4)
    assert.equal((await rs.get({ app: APP, token })).idle, 4)
    advance(10)
    assert.equal((await rs.get({ app: APP, token })).idle, 10, 'idle 10 of a ttl of 10 is alive')
    advance(11)
    assert.equal(await rs.get({ app: APP, token }), null)
    assert.deepEqual(await rs.soid({ app: APP, id: 'short' }), { sessions: [] })
    assert.deepEqual(await rs.kill({ app: APP, token }), { kill: 0 })
    // As in Redis: the expired id stays in _users, so activity counts it, until the wipe.
    assert.deepEqual(await rs.activity({ app: APP, dt: 600 }), { activity: 2 })
    const nr = await rs.get({ app: APP, token: fixed })
    assert.equal(nr.ttl, 75)
    advance(40)
    assert.deepEqual(await rs.activity({ app: APP, dt: 600 }), { activity: 1 }, 'wiped after 60 s')
    advance(80)
    assert.equal(await rs.get({ app: APP, token: fixed }), null, 'no_resave: gone 100 s after create')
    await rs.quit()
  })

  it('instances with one namespace share a store; resetMemory empties it', async () => {
    const a = new RedisSessions({ memory: true, namespace: 'shared' })
    const b = new RedisSessions({ memory: true, namespace: 'shared' })
    const other = new RedisSessions({ memory: true, namespace: 'other' })
    const { token } = await a.create({ app: APP, id: 'u', ip: '1' })
    assert.equal((await b.get({ app: APP, token })).id, 'u')
    assert.equal(await other.get({ app: APP, token }), null)
    await other.create({ app: APP, id: 'o', ip: '1' })
    RedisSessions.resetMemory('shared')
    assert.equal(await b.get({ app: APP, token }), null)
    assert.deepEqual(await other.activity({ app: APP, dt: 60 }), { activity: 1 })
    RedisSessions.resetMemory()
    assert.deepEqual(await other.activity({ app: APP, dt: 60 }), { activity: 0 })
    await Promise.all([a.quit(), b.quit(), other.quit()])
  })

  it('the cache: a hit counts no read, a set anywhere in the namespace drops it, it ages on Date.now()', async () => {
    fakeClock()
    const cached = new RedisSessions({ memory: true, cachetime: 30 })
    const plain = new RedisSessions({ memory: true })
    const { token } = await plain.create({ app: APP, id: 'u', ip: '1', ttl: 3600 })
    assert.equal((await cached.get({ app: APP, token })).r, 1)
    assert.equal((await cached.get({ app: APP, token })).r, 1, 'from the cache')
    assert.equal((await plain.get({ app: APP, token })).r, 2, 'the hit counted no read')
    await plain.set({ app: APP, token, d: { a: 1 } })
    const afterSet = await cached.get({ app: APP, token })
    assert.deepEqual([afterSet.r, afterSet.w, afterSet.d], [3, 2, { a: 1 }])
    advance(31)
    assert.equal((await cached.get({ app: APP, token })).r, 4, 'expired from the cache')
    await plain.kill({ app: APP, token })
    assert.equal(await cached.get({ app: APP, token }), null)
    await Promise.all([cached.quit(), plain.quit()])
  })

  it('worker threads share the store of their namespace', async () => {
    const rs = new RedisSessions({ memory: true, namespace: 'threads' })
    const { token } = await rs.create({ app: APP, id: 'main', ip: '1' })
    const code = `
      const { parentPort, workerData } = require('node:worker_threads')
      const RedisSessions = require(workerData.root)
      const rs = new RedisSessions({ memory: true, namespace: 'threads' })
      ;(async () => {
        const seen = await rs.get({ app: workerData.app, token: workerData.token })
        const { token } = await rs.create({ app: workerData.app, id: 'worker', ip: '2' })
        await rs.quit()
        parentPort.postMessage({ seen: seen.id, token })
      })()`
    const workers = Array.from({ length: 3 }, () => {
      const worker = new Worker(code, { eval: true, workerData: { root, app: APP, token } })
      return new Promise((resolve, reject) => {
        worker.once('message', resolve)
        worker.once('error', reject)
      })
    })
    const answers = await Promise.all(workers)
    for (const answer of answers) {
      assert.equal(answer.seen, 'main')
      assert.equal((await rs.get({ app: APP, token: answer.token })).id, 'worker')
    }
    assert.deepEqual(await rs.activity({ app: APP, dt: 60 }), { activity: 2 })
    await rs.quit()
  })

  it('REDIS_SESSIONS_MEMORY turns every instance to memory; nothing keeps the process alive', async () => {
    const code = `
      const RedisSessions = require('.')
      const rs = new RedisSessions({ port: 1, wipe: 10, cachetime: 30 })
      rs.create({ app: 'envapp', id: 'u', ip: '1' }).then(({ token }) =>
        rs.get({ app: 'envapp', token }, (err, s) => console.log(JSON.stringify([err, s.id]))))`
    const { stdout, ms } = await node(code, { REDIS_SESSIONS_MEMORY: '1' })
    assert.deepEqual(JSON.parse(stdout), [null, 'u'])
    assert.ok(ms < 5000, `exited after ${ms} ms without quit()`)
    const off = await node(`console.log(new (require('.'))({ port: 1, wipe: 0 }).connected); process.exit(0)`, {
      REDIS_SESSIONS_MEMORY: '0',
    })
    assert.equal(off.stdout.trim(), 'false', "'0' leaves Redis mode on")
  })

  it("a callback's exception is an uncaught exception, not an unhandled rejection", async () => {
    const code = `
      const rs = new (require('.'))({ memory: true })
      process.on('uncaughtException', (err) => console.log('uncaught ' + err.message))
      process.on('unhandledRejection', () => console.log('unhandled rejection'))
      rs.ping((err, pong) => { throw new Error('thrown by ' + pong) })`
    const { stdout } = await node(code)
    assert.equal(stdout.trim(), 'uncaught thrown by PONG')
  })
})

describe('memory: session events (events: true) within the process, as on Redis', () => {
  let server
  before(async () => {
    server = await startRedis()
  })
  after(() => server.stop())

  /** Every event two listeners hear (one with, one without events) while another instance works; names for tokens. */
  async function heard(options, ns) {
    const open = (extra) => new RedisSessions({ ...options, namespace: ns, wipe: 0, ...extra })
    const [worker, listener, deaf] = [open({ events: true }), open({ events: true }), open({})]
    const events = []
    const deafHeard = []
    listener.on('session', (event) => events.push(event))
    deaf.on('session', (event) => deafHeard.push(event))
    await Promise.all([worker.ping(), listener.ping(), deaf.ping()])
    await new Promise((resolve) => setTimeout(resolve, 200))
    const tokens = []
    const made = async (promise) => {
      const { token } = await promise
      tokens.push(token)
      return token
    }
    const a = await made(worker.create({ app: APP, id: 'u', ip: '1' }))
    await new Promise((resolve) => setTimeout(resolve, 5))
    await made(worker.create({ app: APP, id: 'u', ip: '2' }))
    await made(worker.create({ app: APP, id: 'u', ip: '3', max: 2 }))
    const b = await made(worker.create({ app: 'memother', id: 'v:1', ip: '4' }))
    await made(worker.rotate({ app: 'memother', token: b }))
    await deaf.create({ app: APP, id: 'silent', ip: '5' })
    await made(worker.createWithToken({ app: APP, token: 'Gx'.repeat(32), id: 'w', ip: '6' }))
    await worker.kill({ app: APP, token: a })
    await worker.killsoid({ app: APP, id: 'u' })
    await worker.killall({ app: 'memother' })
    await worker.killall({ app: APP })
    const deadline = Date.now() + 3000
    while (events.length < 12 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    await new Promise((resolve) => setTimeout(resolve, 100))
    await Promise.all([worker.quit(), listener.quit(), deaf.quit()])
    assert.deepEqual(deafHeard, [])
    const name = (handle) => {
      const i = tokens.findIndex((token) => handleOfToken(token) === handle)
      return i < 0 ? 'other' : `T${i}`
    }
    return events
      .map((e) => [e.type, e.app, e.id, name(e.handle), e.previous === undefined ? '-' : name(e.previous)].join(' '))
      .sort()
  }

  it('the events Redis publishes, heard by every listening instance, none by the others', async () => {
    const onRedis = await heard({ port: server.port }, 'evmem')
    const inMemory = await heard({ memory: true }, 'evmem')
    assert.equal(onRedis.length, 12, onRedis.join('\n'))
    assert.deepEqual(inMemory, onRedis)
  })

  it('the wipe makes expired events, on the clock of Date.now()', async () => {
    fakeClock()
    const rs = new RedisSessions({ memory: true, events: true, wipe: 10, namespace: 'evwipe' })
    const events = []
    rs.on('session', (event) => events.push(event.type))
    await rs.create({ app: APP, id: 'u', ip: '1', ttl: 10 })
    advance(11)
    await rs.ping()
    const deadline = realNow() + 2000
    while (events.length < 2 && realNow() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
    assert.deepEqual(events, ['created', 'expired'])
    await rs.quit()
  })
})

describe('memory: the operations of the other issues store and answer as on Redis', () => {
  let server, raw, stop
  before(async () => ({ server, raw, stop } = await startWithRaw()))
  after(() => stop())

  /**
   * rotate, touch, max, maxAge, handles, touchAfter, createWithToken and moveToId:
   * every answer and the stored keys, tokens named in order.
   */
  async function run(options, client, ns) {
    const rs = new RedisSessions({ ...options, namespace: ns, wipe: 0, touchAfter: 30 })
    const store = reader(client, ns)
    const tokens = []
    const log = []
    const name = (value) => {
      let text = JSON.stringify(value) ?? 'null'
      tokens.forEach((token, i) => (text = text.split(token).join(`T${i}`)))
      return JSON.parse(text)
    }
    const now = Math.floor(Date.now() / 1000)
    const times = (dump) =>
      JSON.parse(JSON.stringify(dump), (key, value) =>
        typeof value === 'string' && /^\d{10}$/.test(value)
          ? `now+${Math.round((Number(value) - now) / 5) * 5}`
          : value,
      )
    const step = async (label, promise) => {
      const value = await promise.catch((err) => ({ error: `${err.name}: ${err.message}` }))
      if (value?.token) tokens.push(value.token)
      const stored = times(name(await store.dump()))
      // Sorted after naming: the dump's order is the random tokens'.
      for (const entries of Object.values(stored))
        if (Array.isArray(entries)) entries.sort((x, y) => (`${x}` < `${y}` ? -1 : 1))
      // A handle is a hash of a random token: shown as present; listings ordered.
      // idle and ttl to 5 s: a second may turn during one run and not the other.
      const answer = JSON.parse(JSON.stringify(name(value)), (key, v) => {
        if (key === 'handle') return typeof v
        return (key === 'idle' || key === 'ttl') && typeof v === 'number' ? Math.round(v / 5) * 5 : v
      })
      answer?.sessions?.sort((x, y) => (JSON.stringify(x) < JSON.stringify(y) ? -1 : 1))
      log.push([label, answer, stored])
      return value
    }
    const a = (await step('create a', rs.create({ app: APP, id: 'u', ip: '1', ttl: 600, d: { x: 1 } }))).token
    // create's max kills the earliest created among equally active sessions: a, not b.
    await new Promise((resolve) => setTimeout(resolve, 5))
    const b = (await step('create b, maxAge', rs.create({ app: APP, id: 'u', ip: '2', maxAge: 3600 }))).token
    await step('create c, max 2', rs.create({ app: APP, id: 'u', ip: '3', max: 2 }))
    await step('get a (killed by max)', rs.get({ app: APP, token: a }))
    await step('get b within touchAfter', rs.get({ app: APP, token: b }))
    await step('touch b with a ttl', rs.touch({ app: APP, token: b, ttl: 120 }))
    await step('touch b', rs.touch({ app: APP, token: b }))
    const rotated = await step('rotate b', rs.rotate({ app: APP, token: b }))
    await step('rotate b again', rs.rotate({ app: APP, token: b }))
    const listed = await step('soid with handles', rs.soid({ app: APP, id: 'u', handles: true }))
    await step('soapp with handles', rs.soapp({ app: APP, dt: 60, handles: true }))
    const handle = listed.sessions.find((s) => s.ip === '2').handle
    await step('kill by handle', rs.kill({ app: APP, id: 'u', handle }))
    await step('kill by handle again', rs.kill({ app: APP, id: 'u', handle }))
    await step('get the rotated', rs.get({ app: APP, token: rotated.token }))
    await step('bad handle', rs.kill({ app: APP, id: 'u', handle: 'XYZ' }))
    await step('bad max', rs.create({ app: APP, id: 'u', ip: '3', max: 0 }))
    const given = 'Gx'.repeat(32)
    await step('createWithToken', rs.createWithToken({ app: APP, token: given, id: 'anon', ip: '4', d: { cart: 1 } }))
    await step('createWithToken taken', rs.createWithToken({ app: APP, token: given, id: 'other', ip: '5' }))
    await step('moveToId', rs.moveToId({ app: APP, token: given, id: 'u' }))
    await step('moveToId to the same id', rs.moveToId({ app: APP, token: given, id: 'u' }))
    await step('moveToId of nothing', rs.moveToId({ app: APP, token: 'H'.repeat(64), id: 'u' }))
    await step('soid after moveToId', rs.soid({ app: APP, id: 'u' }))
    await step('killall', rs.killall({ app: APP }))
    await rs.quit()
    return log
  }

  /** Instances with and without hashTokens, and one with 'migrate', on one namespace: answers and keys. */
  async function mixed(options, client, ns) {
    const open = (hashTokens) => new RedisSessions({ ...options, namespace: ns, wipe: 0, hashTokens })
    const [plain, hashed, migrating] = [open(false), open(true), open('migrate')]
    const store = reader(client, ns)
    const log = []
    const tokens = []
    const stored = (token) => {
      const digest = crypto.createHash('sha512').update(`redis-sessions-rs stored name\0${token}`).digest()
      const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYabcdefghijklmnopqrstuvwxyz0123456789'
      return Array.from({ length: 55 }, (_, i) => ALPHABET[digest[i] % 61]).join('') + token.slice(55)
    }
    const step = async (label, promise) => {
      const value = await promise
      if (value?.token) tokens.push(value.token)
      let text = JSON.stringify([value ?? null, await store.dump()])
      tokens.forEach((token, i) => {
        text = text.split(token).join(`T${i}`).split(stored(token)).join(`S${i}`)
        text = text.split(handleOfToken(stored(token))).join(`handle of S${i}`)
        text = text.split(handleOfToken(token)).join(`handle of T${i}`)
      })
      // Times as 'time'; collections in the order of their names (the dump's is the random tokens').
      const sorted = (v) => [...v].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1))
      const revive = (key, v) => (key === 'la' || /^\d{10}$/.test(v) ? 'time' : Array.isArray(v) ? sorted(v) : v)
      log.push([label, JSON.parse(text, revive)])
      return value
    }
    const old = (await step('plain create', plain.create({ app: APP, id: 'u', ip: '1' }))).token
    await step('hashed get of a plain session', hashed.get({ app: APP, token: old }))
    await step('migrating get moves it', migrating.get({ app: APP, token: old }))
    await step('plain get of the moved session', plain.get({ app: APP, token: old }))
    await step('hashed get of the moved session', hashed.get({ app: APP, token: old }))
    const made = (await step('hashed create', hashed.create({ app: APP, id: 'u', ip: '2' }))).token
    await step('plain kill of a hashed session', plain.kill({ app: APP, token: made }))
    await step('soid', plain.soid({ app: APP, id: 'u', handles: true }))
    await step('hashed rotate', hashed.rotate({ app: APP, token: made }))
    await step('hashed kill', hashed.kill({ app: APP, token: tokens[tokens.length - 1] }))
    await step('killall', plain.killall({ app: APP }))
    await Promise.all([plain.quit(), hashed.quit(), migrating.quit()])
    return log
  }

  it('hashTokens and migrate, mixed with plain instances: as on Redis', async () => {
    const memory = await startTopology('memory')
    assert.deepEqual(
      await mixed({ memory: true }, memory.raw, 'memhash'),
      await mixed({ port: server.port }, raw, 'memhash'),
    )
  })

  it('the same answers and keys as a standalone Redis', async () => {
    const onRedis = await run({ port: server.port }, raw, 'memcmp')
    const memory = await startTopology('memory')
    const inMemory = await run({ memory: true }, memory.raw, 'memcmp')
    assert.deepEqual(inMemory, onRedis)
  })
})
