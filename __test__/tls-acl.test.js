'use strict'
// TLS (with certificates made here) and ACL users, against servers started here.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const RedisSessions = require('..')
const { startRedis, freePort } = require('./helpers/redis-server')
const { makeCertificates, tlsServerArgs } = require('./helpers/tls')

describe('TLS', () => {
  let server, tlsPort, certs, dir
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-tls-'))
    certs = makeCertificates(dir)
    tlsPort = await freePort()
    server = await startRedis({ args: tlsServerArgs(dir, tlsPort) })
  })
  after(async () => {
    await server.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  async function roundTrip(rs) {
    try {
      const { token } = await rs.create({ app: 'tlsapp', id: 'alice', ip: '1' })
      assert.equal((await rs.get({ app: 'tlsapp', token })).id, 'alice')
      assert.deepEqual(await rs.kill({ app: 'tlsapp', token }), { kill: 1 })
    } finally {
      await rs.quit()
    }
  }

  it('options.tls (node_redis v3 shape) with a CA and a client certificate, as Buffers', async () => {
    await roundTrip(
      new RedisSessions({
        port: tlsPort,
        wipe: 0,
        options: { tls: { ca: certs.ca, cert: certs.cert, key: certs.key } },
      }),
    )
  })

  it('options.socket (node-redis v4 shape) with PEM strings and a rediss:// URL', async () => {
    await roundTrip(
      new RedisSessions({
        wipe: 0,
        options: {
          url: `rediss://127.0.0.1:${tlsPort}`,
          socket: { tls: true, ca: [certs.ca.toString()], cert: certs.cert.toString(), key: certs.key.toString() },
        },
      }),
    )
  })

  it('a wrong CA fails every call with a clear error, quickly; rejectUnauthorized: false accepts it', async () => {
    const rs = new RedisSessions({
      port: tlsPort,
      wipe: 0,
      options: { tls: { ca: certs.otherCa, cert: certs.cert, key: certs.key } },
    })
    const started = Date.now()
    const outcomes = await Promise.allSettled([
      rs.ping(),
      rs.create({ app: 'tlsapp', id: 'a', ip: '1' }),
      rs.get({ app: 'tlsapp', token: 'a'.repeat(64) }),
    ])
    for (const outcome of outcomes) {
      assert.equal(outcome.status, 'rejected')
      assert.equal(outcome.reason.name, 'redisConnectionError')
      assert.match(outcome.reason.message, /certificate/i)
    }
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`)
    await rs.quit()
    await roundTrip(
      new RedisSessions({
        port: tlsPort,
        wipe: 0,
        options: { tls: { ca: certs.otherCa, cert: certs.cert, key: certs.key, rejectUnauthorized: false } },
      }),
    )
  })

  it('Sentinels and cluster nodes given as rediss:// URLs alone get TLS errors, not a crash', async () => {
    for (const options of [
      { sentinel: { name: 'mymaster', sentinels: [`rediss://127.0.0.1:${tlsPort}`] } },
      { cluster: [`rediss://127.0.0.1:${tlsPort}`] },
    ]) {
      const rs = new RedisSessions({ wipe: 0, connectTimeout: 2000, ...options })
      const err = await rs.ping().then(
        () => null,
        (e) => e,
      )
      assert.ok(err instanceof Error, JSON.stringify(options))
      assert.equal(err.name, 'redisConnectionError', err.message)
      assert.doesNotMatch(err.message, /panic/)
      await rs.quit()
    }
  })

  it('half a client certificate is an invalidOptions error', async () => {
    const rs = new RedisSessions({ port: tlsPort, wipe: 0, options: { tls: { cert: certs.cert } } })
    await assert.rejects(rs.ping(), { name: 'invalidOptions', message: /cert and key/ })
    await rs.quit()
  })
})

describe('ACL users and passwords', () => {
  let server
  before(async () => {
    server = await startRedis({ args: ['--requirepass', 'default-secret'] })
    execFileSync('redis-cli', [
      '-p',
      String(server.port),
      '-a',
      'default-secret',
      '--no-auth-warning',
      'ACL',
      'SETUSER',
      'alice',
      'on',
      '>wonderland',
      '~*',
      '&*',
      '+@all',
    ])
  })
  after(() => server.stop())

  async function works(options) {
    const rs = new RedisSessions({ wipe: 0, ...options })
    try {
      const { token } = await rs.create({ app: 'aclapp', id: 'bob', ip: '1' })
      assert.equal((await rs.get({ app: 'aclapp', token })).id, 'bob')
    } finally {
      await rs.quit()
    }
  }

  it('a username and password in options, in a URL, or a password alone (v3 auth_pass)', async () => {
    await works({ port: server.port, options: { username: 'alice', password: 'wonderland' } })
    await works({ options: { url: `redis://alice:wonderland@127.0.0.1:${server.port}` } })
    await works({ port: server.port, options: { auth_pass: 'default-secret' } })
  })

  it('a wrong password answers every call with an error that says authentication failed', async () => {
    for (const options of [{ username: 'alice', password: 'wrong' }, { password: 'wrong' }, {}]) {
      const rs = new RedisSessions({ port: server.port, wipe: 0, cachetime: 10, options })
      const started = Date.now()
      const outcomes = await Promise.allSettled([
        rs.ping(),
        rs.get({ app: 'aclapp', token: 'a'.repeat(64) }),
        rs.soapp({ app: 'aclapp', dt: 60 }),
      ])
      for (const outcome of outcomes) {
        assert.equal(outcome.status, 'rejected', JSON.stringify(options))
        assert.match(outcome.reason.message, /authentication (failed|required)/i)
      }
      assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`)
      await rs.quit()
    }
  })

  // Redis answers a command of more than 10 arguments from a client that has not
  // authenticated with "Protocol error: unauthenticated multibulk length", then closes.
  it('without a password, a long command says authentication is required, not a protocol error', async () => {
    const token = 'a'.repeat(64)
    for (const call of [
      (rs) => rs.set({ app: 'aclapp', token, d: { a: 1 } }),
      (rs) => rs.create({ app: 'aclapp', id: 'bob', ip: '1', max: 2 }),
    ]) {
      // Redis closes the connection after that error: one instance per call.
      const rs = new RedisSessions({ port: server.port, wipe: 0 })
      try {
        await assert.rejects(call(rs), { name: 'redisConnectionError', message: /NOAUTH: Authentication required/ })
      } finally {
        await rs.quit()
      }
    }
  })
})
