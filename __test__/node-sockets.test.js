'use strict'
// With REDIS_SESSIONS_NODE_SOCKETS=1 a standalone Redis without TLS is reached through a Node socket
// that the engine drives (src/hosted.rs, src/node/wire.rs), else through redis-rs's: the same answers
// either way, a connection the server dropped while idle is reopened, and a
// reply spread over many reads is answered whole.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { execFile } = require('node:child_process')
const { promisify } = require('node:util')
const RedisSessions = require('..')
const { startWithRaw } = require('./helpers/raw')

let server, raw, stop
before(async () => ({ server, raw, stop } = await startWithRaw()))
after(() => stop())

/** How many clients redis-server has. */
const clients = async () => (await raw.client('LIST')).trim().split('\n').length

/** Runs `body` (with RedisSessions and the port in scope) in a child with `env`: what it prints. */
async function inChild(body, env) {
  const script = `const RedisSessions = require(${JSON.stringify(require.resolve('..'))});
    const port = ${server.port};
    (async () => { ${body} })().catch((err) => { console.error(err); process.exit(1) })`
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], {
    env: { ...process.env, ...env },
    timeout: 20_000,
  })
  return stdout.trim()
}

describe('Node sockets', () => {
  it('with REDIS_SESSIONS_NODE_SOCKETS=1 the connection is a Node socket of this thread, else not', async () => {
    const before = await clients()
    process.env.REDIS_SESSIONS_NODE_SOCKETS = '1'
    const rs = new RedisSessions({ port: server.port, namespace: 'ns1', wipe: 0 })
    delete process.env.REDIS_SESSIONS_NODE_SOCKETS
    const { token } = await rs.create({ app: 'sockapp', id: 'user1', ip: '127.0.0.1', ttl: 60 })
    assert.equal((await rs.get({ app: 'sockapp', token })).id, 'user1')
    assert.equal(await clients(), before + 1)
    await rs.quit()
    for (let i = 0; i < 50 && (await clients()) > before; i++) await new Promise((resolve) => setTimeout(resolve, 10))
    assert.equal(await clients(), before, 'quit closes it')

    // Node sockets are async resources of their thread: a TCPCONNECTWRAP each.
    const body = `let connects = 0
      require('node:async_hooks').createHook({ init: (id, type) => type === 'TCPCONNECTWRAP' && connects++ }).enable()
      const rs = new RedisSessions({ port, namespace: 'ns2', wipe: 0 })
      const { token } = await rs.create({ app: 'sockapp', id: 'user2', ip: '127.0.0.1', ttl: 60 })
      const { id } = await rs.get({ app: 'sockapp', token })
      console.log(JSON.stringify({ id, connects }))
      await rs.quit()`
    const threaded = JSON.parse(await inChild(body, { REDIS_SESSIONS_NODE_SOCKETS: '' }))
    assert.deepEqual(threaded, { id: 'user2', connects: 0 })
    const hosted = JSON.parse(await inChild(body, { REDIS_SESSIONS_NODE_SOCKETS: '1' }))
    assert.deepEqual(hosted, { id: 'user2', connects: 1 })
  })

  for (const [mode, env] of [
    ['Node sockets', '1'],
    ['redis-rs', '0'],
  ]) {
    // A load balancer or Redis's own `timeout` closing idle connections. redis-rs fails the first call after
    // (broken pipe) and reopens for the next; the Node socket's close is heard, so the first call reopens it.
    it(`a connection the server closed while idle is reopened (${mode})`, async () => {
      const body = `const rs = new RedisSessions({ port, namespace: 'ns3', wipe: 0 })
        const events = []
        rs.on('disconnect', () => events.push('disconnect'))
        rs.on('connect', () => events.push('connect'))
        const { token } = await rs.create({ app: 'sockapp', id: 'user3', ip: '127.0.0.1', ttl: 60 })
        const Redis = require(${JSON.stringify(require.resolve('ioredis'))})
        const admin = new Redis({ port })
        const killed = await admin.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes')
        // The watcher looks every 500 ms.
        await new Promise((resolve) => setTimeout(resolve, 1200))
        const heard = events.slice()
        const first = await rs.get({ app: 'sockapp', token }).then((s) => s.id, (err) => err.name)
        const next = await rs.get({ app: 'sockapp', token }).then((s) => s.id, (err) => err.name)
        console.log(JSON.stringify({ killed: killed >= 1, heard, first, next }))
        admin.disconnect()
        await rs.quit()`
      const seen = JSON.parse(await inChild(body, { REDIS_SESSIONS_NODE_SOCKETS: env }))
      // Node sockets hear the close while idle: 'disconnect', and 'connect' once the watcher reopened it.
      const heard = env === '1' ? ['connect', 'disconnect', 'connect'] : ['connect']
      const first = env === '1' ? 'user3' : 'redisConnectionError'
      assert.deepEqual(seen, { killed: true, heard, first, next: 'user3' })
    })
  }

  it('Node sockets: a thread busy past commandTimeout fails nothing answered; a silent Redis times out', async () => {
    process.env.REDIS_SESSIONS_NODE_SOCKETS = '1'
    const rs = new RedisSessions({ port: server.port, namespace: 'ns5', wipe: 0, commandTimeout: 300 })
    delete process.env.REDIS_SESSIONS_NODE_SOCKETS
    const { token } = await rs.create({ app: 'sockapp', id: 'user5', ip: '127.0.0.1', ttl: 60 })
    const answer = rs.get({ app: 'sockapp', token })
    const until = Date.now() + 800
    while (Date.now() < until);
    assert.equal((await answer).id, 'user5')

    await raw.client('PAUSE', '1500', 'ALL')
    const started = Date.now()
    await assert.rejects(rs.get({ app: 'sockapp', token }), { name: 'redisConnectionError', message: /300 ms/ })
    const took = Date.now() - started
    assert.ok(took >= 300 && took < 1000, `failed after ${took} ms`)
    await raw.client('UNPAUSE')
    await rs.quit()
  })

  it('Node sockets in worker threads that end with calls in flight: no crash, and the process ends', async () => {
    const body = `const { Worker } = require('node:worker_threads')
      const script = \`
        const RedisSessions = require(\${JSON.stringify(${JSON.stringify(require.resolve('..'))})})
        const rs = new RedisSessions({ port: \${port}, namespace: 'ns6', wipe: 0 })
        rs.create({ app: 'sockapp', id: 'user6', ip: '127.0.0.1', ttl: 60 }).then(({ token }) => {
          for (let i = 0; i < 200; i++) rs.get({ app: 'sockapp', token })
          require('node:worker_threads').parentPort.postMessage('busy')
        })\`
      for (let round = 0; round < 6; round++) {
        const worker = new Worker(script, { eval: true, env: { ...process.env, REDIS_SESSIONS_NODE_SOCKETS: '1' } })
        await new Promise((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject) })
        await worker.terminate()
      }
      console.log('done')`
    assert.equal(await inChild(body, {}), 'done')
  })

  it('a reply spread over many reads (soapp of 3,000 sessions) is answered whole, as on redis-rs', async () => {
    process.env.REDIS_SESSIONS_NODE_SOCKETS = '1'
    const rs = new RedisSessions({ port: server.port, namespace: 'ns4', wipe: 0 })
    delete process.env.REDIS_SESSIONS_NODE_SOCKETS
    const d = { note: 'x'.repeat(200) }
    const created = []
    for (let i = 0; i < 3000; i += 100) {
      const batch = Array.from({ length: 100 }, (_, j) =>
        rs.create({ app: 'bigapp', id: `user${i + j}`, ip: '127.0.0.1', ttl: 600, d }),
      )
      created.push(...(await Promise.all(batch)))
    }
    const { sessions } = await rs.soapp({ app: 'bigapp', dt: 600 })
    assert.equal(sessions.length, 3000)
    assert.ok(sessions.every((s) => s.d.note === d.note))
    const body = `const rs = new RedisSessions({ port, namespace: 'ns4', wipe: 0 })
      const { sessions } = await rs.soapp({ app: 'bigapp', dt: 600 })
      console.log(JSON.stringify(sessions.map((s) => s.id).sort()))
      await rs.quit()`
    const threaded = JSON.parse(await inChild(body, { REDIS_SESSIONS_NODE_SOCKETS: '0' }))
    assert.deepEqual(threaded, sessions.map((s) => s.id).sort())
    await rs.quit()
  })
})
