'use strict'
// Each of create, get, set, kill and killsoid is one command from the client
// (a script or one MULTI…EXEC sent together); the reference sends two or three
// exchanges. soid reads the index, then the sessions in one pipeline, as the
// reference does. Seen with MONITOR: commands a script runs are tagged "lua".
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { setTimeout: sleep } = require('node:timers/promises')
const RedisSessions = require('..')
const { startRedis } = require('./helpers/redis-server')
const { connect } = require('./helpers/raw')

let server, rs, raw, monitor
const seen = []

before(async () => {
  server = await startRedis()
  rs = new RedisSessions({ port: server.port, wipe: 0 })
  await rs.ping()
  raw = connect(server.port)
  monitor = await raw.monitor()
  monitor.on('monitor', (time, args, source) => {
    if (source !== 'lua') seen.push(args[0].toLowerCase())
  })
})
after(async () => {
  monitor.disconnect()
  raw.disconnect()
  await rs.quit()
  await server.stop()
})

async function commandsOf(call) {
  await sleep(30)
  seen.length = 0
  await call()
  await sleep(30)
  return [...seen]
}

describe('round trips', () => {
  it('one command (or one MULTI block) per operation', async () => {
    const app = 'trips'
    let token
    assert.deepEqual(
      await commandsOf(async () => {
        token = (await rs.create({ app, id: 'u', ip: '1', d: { a: 1 } })).token
      }),
      ['multi', 'zadd', 'zadd', 'zadd', 'sadd', 'hmset', 'exec'],
    )
    assert.deepEqual(await commandsOf(() => rs.get({ app, token })), ['evalsha'])
    assert.deepEqual(await commandsOf(() => rs.set({ app, token, d: { b: 2 } })), ['evalsha'])
    assert.deepEqual(await commandsOf(() => rs.soid({ app, id: 'u' })), ['smembers', 'hmget'])
    assert.deepEqual(await commandsOf(() => rs.kill({ app, token })), ['evalsha'])
    await rs.create({ app, id: 'u', ip: '1' })
    assert.deepEqual(await commandsOf(() => rs.killsoid({ app, id: 'u' })), ['evalsha'])
  })
})
