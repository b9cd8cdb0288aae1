'use strict'
// SECURITY.md promises that no error message holds a password or session
// data, and that certificate checks are turned off only by
// `rejectUnauthorized: false`. Redis quotes the arguments of a command it
// refuses (servers here refuse one by renaming it), which hold keys, tokens
// and values.
const { describe, it, after } = require('node:test')
const assert = require('node:assert/strict')
const RedisSessions = require('..')
const { startRedis } = require('./helpers/redis-server')
const { connect } = require('./helpers/raw')

const servers = []
after(async () => {
  for (const server of servers) await server.stop()
})

async function server(args = []) {
  const started = await startRedis({ args })
  servers.push(started)
  return started
}

async function serverWithout(...commands) {
  const { port } = await server(commands.flatMap((command) => ['--rename-command', command, `${command}_renamed`]))
  return new RedisSessions({ port, wipe: 0 })
}

describe('secrets in errors', () => {
  it('a refused write does not quote the session it was writing', async () => {
    const rs = await serverWithout('HSET', 'HMSET')
    try {
      const err = await rs
        .create({ app: 'secrets', id: 'id-of-alice', ip: '10.9.8.7', d: { card: 'card-4111-1111' } })
        .then(
          () => assert.fail('create must fail without HSET and HMSET'),
          (e) => e,
        )
      assert.equal(err.name, 'redisError')
      assert.match(err.message, /unknown command/)
      for (const secret of ['id-of-alice', '10.9.8.7', 'card-4111', 'secrets:'])
        assert.ok(!err.message.includes(secret), err.message)
    } finally {
      await rs.quit()
    }
  })

  it('a refused read does not quote the token in the key it was reading', async () => {
    const rs = await serverWithout('HMGET')
    try {
      const { token } = await rs.create({ app: 'secrets', id: 'bob', ip: '1' })
      const err = await rs.soid({ app: 'secrets', id: 'bob' }).then(
        () => assert.fail('soid must fail without HMGET'),
        (e) => e,
      )
      assert.equal(err.name, 'redisError')
      assert.ok(!err.message.includes(token), err.message)
    } finally {
      await rs.quit()
    }
  })

  it('a counter at the limit fails its get without being quoted', async () => {
    const { port } = await server()
    const rs = new RedisSessions({ port, wipe: 0 })
    try {
      const { token } = await rs.create({ app: 'secrets', id: 'carol', ip: '1' })
      const raw = connect(port)
      await raw.hset(`rs:secrets:${token}`, 'r', '9223372036854775807')
      raw.disconnect()
      const err = await rs.get({ app: 'secrets', token }).then(
        () => assert.fail('the read counter overflows'),
        (e) => e,
      )
      assert.equal(err.name, 'redisError')
      assert.match(err.message, /largest integer and cannot count further/)
      assert.ok(!err.message.includes('9223372036854775807') && !err.message.includes(token), err.message)
    } finally {
      await rs.quit()
    }
  })

  it('a bad node URL is quoted without its password', async () => {
    for (const options of [
      { cluster: ['redis://alice:s3cret-pw@127.0.0.1:99999'] },
      { sentinel: { name: 'm', sentinels: ['redis://:s3cret-pw@[::1:26379'] } },
    ]) {
      const rs = new RedisSessions({ wipe: 0, ...options })
      const err = await rs.ping().then(
        () => assert.fail('bad options'),
        (e) => e,
      )
      assert.equal(err.name, 'invalidOptions')
      assert.match(err.message, /<redacted>@/)
      assert.ok(!err.message.includes('s3cret-pw'), err.message)
      await rs.quit()
    }
  })

  it('a rediss:// URL cannot turn certificate checks off: #insecure is refused, naming the option', async () => {
    for (const options of [
      { options: { url: 'rediss://127.0.0.1:6390/#insecure' } },
      { cluster: ['rediss://127.0.0.1:7000#insecure'] },
    ]) {
      const rs = new RedisSessions({ wipe: 0, ...options })
      await assert.rejects(rs.ping(), {
        name: 'invalidOptions',
        message: /#insecure fragment is not supported.*rejectUnauthorized: false/,
      })
      await rs.quit()
    }
  })
})
