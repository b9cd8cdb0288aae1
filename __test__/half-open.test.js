'use strict'
// Half-open connections: a NAT or load balancer that forgets a connection
// leaves it open but silent. Every connection has TCP keepalive; a command
// that times out gets its connection checked and replaced; the cache's
// subscriber is health-checked, and the cache serves nothing it may have
// missed an invalidation for.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const { setTimeout: sleep } = require('node:timers/promises')
const RedisSessions = require('..')
const { startRedis } = require('./helpers/redis-server')
const { startFreezingProxy } = require('./helpers/freezing-proxy')

const APP = 'halfopen'
const COMMAND_TIMEOUT = 500
const BUDGET = 3000

let server
before(async () => {
  server = await startRedis()
})
after(async () => {
  await server.stop()
})

/** Retries `call` until `done(result)`, within BUDGET ms of `since`; errors are retried. */
async function until(since, what, call, done) {
  for (;;) {
    try {
      if (done(await call())) return
    } catch {}
    assert.ok(Date.now() - since < BUDGET, `${what} within ${BUDGET} ms`)
    await sleep(20)
  }
}

/** The cache serves once its subscriber is in: two gets with the same `r` prove it. */
async function warm(rs, token) {
  await until(
    Date.now(),
    'the cache serving',
    async () => {
      const first = await rs.get({ app: APP, token })
      const second = await rs.get({ app: APP, token })
      return first.r === second.r
    },
    Boolean,
  )
}

/**
 * The TCP sockets of this process connected to `port`, each with whether
 * its keepalive timer runs (timer_active 2 in /proc/net/tcp*).
 */
function socketsTo(port) {
  const inodes = new Set()
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/self/fd/${fd}`))
      if (match) inodes.add(match[1])
    } catch {}
  }
  const sockets = []
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of fs.readFileSync(table, 'utf8').trim().split('\n').slice(1)) {
      const [, , remote, state, , timer, , , , inode] = line.trim().split(/\s+/)
      const remotePort = parseInt(remote.split(':')[1], 16)
      if (remotePort === port && state === '01' && inodes.has(inode)) {
        sockets.push({ keepalive: timer.split(':')[0] === '02' })
      }
    }
  }
  return sockets
}

describe('half-open connections', () => {
  it(
    'keepalive is on for the shared connection and the cache subscriber',
    { skip: process.platform !== 'linux' },
    async () => {
      assert.deepEqual(socketsTo(server.port), [], 'no other client of this Redis in this process')
      const rs = new RedisSessions({ port: server.port, wipe: 0, cachetime: 60 })
      try {
        const { token } = await rs.create({ app: APP, id: 'keepalive', ip: '1' })
        await warm(rs, token)
        const sockets = socketsTo(server.port)
        assert.equal(sockets.length, 2, 'the shared connection and the subscriber')
        assert.deepEqual(sockets, [{ keepalive: true }, { keepalive: true }])
      } finally {
        await rs.quit()
      }
    },
  )

  it('a frozen connection is replaced after a command times out on it', async () => {
    const proxy = await startFreezingProxy(server.port)
    const rs = new RedisSessions({ port: proxy.port, wipe: 0, commandTimeout: COMMAND_TIMEOUT })
    const events = []
    rs.on('connect', () => events.push('connect'))
    rs.on('disconnect', () => events.push('disconnect'))
    try {
      assert.equal(await rs.ping(), 'PONG')
      proxy.freeze()
      const frozenAt = Date.now()
      await assert.rejects(rs.ping(), { name: 'redisConnectionError' })
      await until(
        frozenAt,
        'PONG on a new connection',
        () => rs.ping(),
        (pong) => pong === 'PONG',
      )
      assert.deepEqual(events, ['connect', 'disconnect', 'connect'])
      await until(
        Date.now(),
        'the frozen connection closed',
        () => proxy.connections(),
        ({ open, frozen }) => open === 1 && frozen === 0,
      )
    } finally {
      await rs.quit()
      await proxy.close()
    }
  })

  it('a frozen cache subscription stops the cache; a session killed meanwhile is gone within 3 s', async () => {
    const proxy = await startFreezingProxy(server.port)
    const a = new RedisSessions({ port: proxy.port, wipe: 0, cachetime: 60, commandTimeout: COMMAND_TIMEOUT })
    const b = new RedisSessions({ port: server.port, wipe: 0 })
    try {
      const { token } = await b.create({ app: APP, id: 'frozen', ip: '1' })
      await warm(a, token)
      proxy.freeze()
      assert.deepEqual(await b.kill({ app: APP, token }), { kill: 1 })
      const killedAt = Date.now()
      await until(
        killedAt,
        'no session on A',
        () => a.get({ app: APP, token }),
        (session) => session === null,
      )
      await until(
        killedAt,
        'PONG from A',
        () => a.ping(),
        (pong) => pong === 'PONG',
      )
      await until(
        Date.now(),
        'the frozen connections closed',
        () => proxy.connections(),
        ({ open, frozen }) => open === 2 && frozen === 0,
      )
      // The new subscription works: a session killed now leaves A's cache too.
      const again = (await b.create({ app: APP, id: 'frozen', ip: '1' })).token
      await warm(a, again)
      await b.kill({ app: APP, token: again })
      await until(
        Date.now(),
        'the next kill heard',
        () => a.get({ app: APP, token: again }),
        (session) => session === null,
      )
    } finally {
      await a.quit()
      await b.quit()
      await proxy.close()
    }
  })
})
