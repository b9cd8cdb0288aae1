'use strict'
// Events, the wipe, quit and the process lifecycle.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { once } = require('node:events')
const { execFile } = require('node:child_process')
const { promisify } = require('node:util')
const { setTimeout: sleep } = require('node:timers/promises')
const path = require('node:path')
const async_hooks = require('node:async_hooks')
const RedisSessions = require('..')
const { startRedis } = require('./helpers/redis-server')
const { startWithRaw } = require('./helpers/raw')

let server, raw, stop
before(async () => ({ server, raw, stop } = await startWithRaw()))
after(() => stop())

describe('events', () => {
  it('connect, disconnect and connect again across a Redis restart, on the instance and on rs.redis', async () => {
    const own = await startRedis()
    const rs = new RedisSessions({ port: own.port, wipe: 0, commandTimeout: 500 })
    const seen = []
    rs.on('connect', () => seen.push('connect'))
    rs.on('disconnect', () => seen.push('disconnect'))
    rs.redis.on('connect', () => seen.push('redis.connect'))
    assert.equal(rs.redis.connected, false)
    await once(rs, 'connect')
    assert.equal(rs.redis.connected, true)
    assert.equal(rs.connected, true)
    assert.deepEqual(seen, ['redis.connect', 'connect'])

    await own.stop('SIGKILL')
    // No error listener: a lost connection must not throw an unhandled 'error'.
    await assert.rejects(rs.ping(), (err) => err instanceof Error)
    if (rs.redis.connected) await once(rs, 'disconnect')
    assert.equal(rs.redis.connected, false)

    const back = await startRedis({ port: own.port })
    const started = Date.now()
    await once(rs, 'connect')
    assert.ok(Date.now() - started < 2000, 'reconnects within 2 s without traffic')
    assert.equal(await rs.ping(), 'PONG')
    assert.deepEqual(
      seen.filter((e) => !e.startsWith('redis.')),
      ['connect', 'disconnect', 'connect'],
    )
    await rs.quit()
    await back.stop()
  })

  it("emits 'error' with the cause when someone listens", async () => {
    const own = await startRedis()
    const rs = new RedisSessions({ port: own.port, wipe: 0, commandTimeout: 500 })
    await once(rs, 'connect')
    const errored = once(rs, 'error')
    await own.stop('SIGKILL')
    await rs.ping().catch(() => {})
    const [err] = await errored
    assert.ok(err instanceof Error)
    assert.ok(err.message.length > 0)
    await rs.quit()
  })
})

describe('wipe', () => {
  it(
    'removes expired sessions of every app with their index entries, ids with ":" included, once per fleet',
    { timeout: 20_000 },
    async () => {
      // Two instances with the shortest period; the lock lets one wipe.
      const wipers = [
        new RedisSessions({ port: server.port, wipe: 1 }),
        new RedisSessions({ port: server.port, wipe: 1 }),
      ]
      const started = Date.now()
      const rs = new RedisSessions({ port: server.port, wipe: 0 })
      const expire = async (app, token, id) => {
        const past = Math.floor(Date.now() / 1000) - 5
        await raw.zadd('rs:SESSIONS', past, `${app}:${token}:${id}`)
      }
      const doomed = []
      for (const [app, id] of [
        ['wipeapp', 'a:b:c'],
        ['wipeapp', 'plain'],
        ['otherapp', 'x'],
      ]) {
        const { token } = await rs.create({ app, id, ip: '1', ttl: 10 })
        await expire(app, token, id)
        doomed.push([app, token, id])
      }
      const kept = await rs.create({ app: 'wipeapp', id: 'plain', ip: '2' })
      const live = await rs.create({ app: 'wipeapp', id: 'alive', ip: '3' })

      // The period is at least 10 s, like the reference.
      await sleep(Math.max(0, 10_500 - (Date.now() - started)))
      for (const [app, token, id] of doomed) {
        assert.equal(await raw.exists(`rs:${app}:${token}`), 0)
        assert.equal(await raw.zscore(`rs:${app}:_sessions`, `${token}:${id}`), null)
        assert.equal(await raw.zscore('rs:SESSIONS', `${app}:${token}:${id}`), null)
        assert.equal(await raw.sismember(`rs:${app}:us:${id}`, token), 0)
      }
      assert.equal(await raw.zscore('rs:wipeapp:_users', 'a:b:c'), null, 'the id left _users with its last session')
      assert.equal(await raw.zscore('rs:otherapp:_users', 'x'), null)
      assert.notEqual(await raw.zscore('rs:wipeapp:_users', 'plain'), null, 'plain still has a session')
      assert.notEqual(await rs.get({ app: 'wipeapp', token: kept.token }), null)
      assert.notEqual(await rs.get({ app: 'wipeapp', token: live.token }), null)
      assert.ok((await raw.pttl('rs:_wipelock')) > 0, 'the period lock is held')
      for (const r of [...wipers, rs]) await r.quit()
    },
  )
})

describe('quit and the process', () => {
  const script = (body) => `
    const RedisSessions = require(${JSON.stringify(path.join(__dirname, '..'))})
    const rs = new RedisSessions({ port: ${'${PORT}'}, cachetime: 30, wipe: 10 })
    ;(async () => {
      const { token } = await rs.create({ app: 'exitapp', id: 'u', ip: '1' })
      await rs.get({ app: 'exitapp', token })
      await rs.set({ app: 'exitapp', token, d: { a: 1 } })
      await rs.kill({ app: 'exitapp', token })
      ${body}
      console.log('finished')
    })()
  `
  for (const [name, body] of [
    ['after quit()', 'await rs.quit()'],
    ['without quit()', ''],
  ]) {
    it(`a script with cache and wipe exits by itself ${name}`, async () => {
      const started = Date.now()
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['-e', script(body).replace('${PORT}', server.port)],
        { timeout: 8000 },
      )
      assert.equal(stdout.trim(), 'finished')
      assert.ok(Date.now() - started < 8000)
    })
  }

  // jest --detectOpenHandles lists every async resource created and not yet destroyed.
  it('quit settles the operations in flight, then destroys every threadsafe function it made', async () => {
    const alive = new Set()
    const hook = async_hooks
      .createHook({
        init(id, type) {
          if (type.includes('threadsafe')) alive.add(id)
        },
        destroy(id) {
          alive.delete(id)
        },
      })
      .enable()
    try {
      const rs = new RedisSessions({ port: server.port, wipe: 10, cachetime: 30 })
      rs.on('connect', () => {})
      const { token } = await rs.create({ app: 'quitapp', id: 'q', ip: '1' })
      const inFlight = Array.from({ length: 50 }, (_, i) =>
        i % 2 ? rs.get({ app: 'quitapp', token }) : rs.set({ app: 'quitapp', token, d: { i } }),
      )
      const settled = Promise.allSettled(inFlight)
      await rs.quit()
      const outcomes = await settled
      assert.equal(outcomes.length, 50)
      assert.deepEqual(
        outcomes.filter((o) => o.status === 'rejected'),
        [],
        'every call made before quit() succeeds',
      )
      assert.equal(JSON.parse(await raw.hget(`rs:quitapp:${token}`, 'd')).i % 2, 0, 'a set landed')
      await assert.rejects(rs.ping(), { name: 'closed' })
      assert.ok(alive.size > 0, 'threadsafe functions were seen')
      for (let i = 0; i < 20 && alive.size > 0; i++) await sleep(5)
      assert.equal(alive.size, 0)
    } finally {
      hook.disable()
    }
  })

  // Both references queue QUIT behind the commands sent before it.
  it('a call made just before quit() completes, in both styles', async () => {
    const rs = new RedisSessions({ port: server.port, wipe: 0 })
    const created = new Promise((resolve) =>
      rs.create({ app: 'quitapp', id: 'cb', ip: '1' }, (err, answer) => resolve({ err, answer })),
    )
    const quit = rs.quit()
    const { err, answer } = await created
    assert.equal(err, null)
    assert.match(answer.token, /^[A-Za-z0-9]{64}$/)
    await quit
    assert.equal(await raw.hget(`rs:quitapp:${answer.token}`, 'id'), 'cb')

    const other = new RedisSessions({ port: server.port, wipe: 0 })
    const { token } = await other.create({ app: 'quitapp', id: 'p', ip: '1' })
    assert.equal(await other.ping(), 'PONG')
    const written = other.set({ app: 'quitapp', token, d: { last: 'write' } })
    await other.quit()
    assert.deepEqual((await written).d, { last: 'write' })
    assert.equal(await raw.hget(`rs:quitapp:${token}`, 'd'), '{"last":"write"}')
    await assert.rejects(other.set({ app: 'quitapp', token, d: { late: 1 } }), { name: 'closed' })
  })

  it('quit accepts a callback, and calls after it fail clearly in both styles', async () => {
    const rs = new RedisSessions({ port: server.port, wipe: 0 })
    assert.equal(await rs.ping(), 'PONG')
    await new Promise((resolve) => rs.quit(resolve))
    await assert.rejects(rs.get({ app: 'app', token: 'a'.repeat(64) }), { name: 'closed' })
    const err = await new Promise((resolve) => rs.get({ app: 'app', token: 'a'.repeat(64) }, resolve))
    assert.equal(err.message, 'This RedisSessions instance has been quit')
  })
})
