'use strict'
// Redis dies under load (kill -9) and comes back on the same port: nothing
// crashes, every call answers in bounded time, no existing session is ever
// reported missing, and service resumes by itself.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { once } = require('node:events')
const { setTimeout: sleep } = require('node:timers/promises')
const RedisSessions = require('..')
const { startRedis, freePort } = require('./helpers/redis-server')

const APP = 'outage'
const COMMAND_TIMEOUT = 1000
const BOUND = 4 * COMMAND_TIMEOUT

describe('Redis outages', () => {
  it('kill -9 with 1000 operations in flight, then a restart on the same port', { timeout: 30_000 }, async () => {
    const unhandled = []
    const onUnhandled = (err) => unhandled.push(err)
    process.on('unhandledRejection', onUnhandled)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-outage-'))
    let server = await startRedis({ dir })
    const rs = new RedisSessions({
      port: server.port,
      wipe: 0,
      commandTimeout: COMMAND_TIMEOUT,
      connectTimeout: COMMAND_TIMEOUT,
    })
    const events = []
    rs.on('connect', () => events.push('connect'))
    rs.on('disconnect', () => events.push('disconnect'))
    const tokens = []
    for (let i = 0; i < 200; i++) tokens.push((await rs.create({ app: APP, id: `u${i}`, ip: '1' })).token)

    const outcomes = { ok: 0, failed: 0, falseMissing: 0, slow: 0 }
    const messages = new Set()
    const one = async (i) => {
      const started = Date.now()
      const token = tokens[i % tokens.length]
      try {
        const result = i % 3 === 0 ? await rs.set({ app: APP, token, d: { i } }) : await rs.get({ app: APP, token })
        if (result === null) outcomes.falseMissing++
        else outcomes.ok++
      } catch (err) {
        outcomes.failed++
        messages.add(err.message.replace(/\d+/g, 'N'))
      }
      if (Date.now() - started > BOUND) outcomes.slow++
    }
    const inFlight = Array.from({ length: 1000 }, (_, i) => one(i))
    await sleep(5)
    await server.stop('SIGKILL')
    // More calls while Redis is down.
    const duringOutage = Array.from({ length: 100 }, (_, i) => one(i))
    await Promise.all([...inFlight, ...duringOutage])
    assert.equal(outcomes.ok + outcomes.failed + outcomes.falseMissing, 1100)
    assert.equal(outcomes.falseMissing, 0)
    assert.equal(outcomes.slow, 0)
    assert.ok(outcomes.failed > 0, 'the outage was seen')
    for (const message of messages) assert.match(message, /Redis (connection|command) failed/)

    server = await startRedis({ port: server.port, dir })
    const back = Date.now()
    for (;;) {
      try {
        await rs.ping()
        break
      } catch {
        await sleep(10)
      }
    }
    const recovery = Date.now() - back
    assert.ok(recovery < 1000, `service resumed ${recovery} ms after Redis returned`)
    for (const token of tokens) assert.notEqual(await rs.get({ app: APP, token }), null)
    assert.deepEqual(events.slice(0, 2), ['connect', 'disconnect'])
    if (events.at(-1) !== 'connect') await once(rs, 'connect')
    assert.deepEqual(unhandled, [])
    process.off('unhandledRejection', onUnhandled)
    console.log(`outage: ${JSON.stringify(outcomes)}, recovery ${recovery} ms`)
    await rs.quit()
    await server.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it(
    'Redis absent at start: calls fail in bounded time, then succeed within 2 s of it starting',
    { timeout: 20_000 },
    async () => {
      const port = await freePort()
      const rs = new RedisSessions({ port, wipe: 0, connectTimeout: 500, commandTimeout: 500 })
      const started = Date.now()
      const results = await Promise.allSettled(Array.from({ length: 50 }, () => rs.ping()))
      assert.ok(
        results.every((r) => r.status === 'rejected' && /Redis connection failed|no connection/.test(r.reason.message)),
      )
      assert.ok(Date.now() - started < 2000)
      const server = await startRedis({ port })
      const up = Date.now()
      for (;;) {
        try {
          assert.equal(await rs.ping(), 'PONG')
          break
        } catch {
          await sleep(20)
        }
      }
      assert.ok(Date.now() - up < 2000)
      await rs.quit()
      await server.stop()
    },
  )
})
