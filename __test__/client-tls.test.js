'use strict'
// The `client` option of v3: a node_redis client that speaks TLS (Azure's
// documented setup) must give a TLS connection, never a plain one that sends
// AUTH and the password in clear.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const net = require('node:net')
const { once } = require('node:events')
const RedisSessions = require('..')

const PASSWORD = 'azure-access-key-7f3a9c'

/** A TCP server that answers nothing and keeps every byte it receives. */
async function recorder() {
  const received = []
  const sockets = new Set()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('data', (chunk) => received.push(chunk))
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    port: server.address().port,
    bytes: () => Buffer.concat(received),
    close: () => {
      for (const socket of sockets) socket.destroy()
      return new Promise((resolve) => server.close(resolve))
    },
  }
}

describe('client option', () => {
  let server
  let client
  before(async () => {
    server = await recorder()
    client = require('redis').createClient(server.port, '127.0.0.1', {
      auth_pass: PASSWORD,
      tls: { servername: 'localhost' },
      retry_strategy: () => undefined,
    })
    client.on('error', () => {})
  })
  after(async () => {
    client.end(false)
    await server.close()
  })

  it('keeps the TLS of a node_redis 3 client: the password never crosses in clear', async () => {
    const rs = new RedisSessions({ client, wipe: 0, connectTimeout: 400 })
    await assert.rejects(rs.ping(), { name: 'redisConnectionError' })
    await rs.quit()
    const bytes = server.bytes()
    assert.ok(bytes.length > 0, 'the package connected to the recorder')
    assert.equal(bytes[0], 0x16, 'the first byte opens a TLS handshake record')
    assert.ok(!bytes.includes(PASSWORD), 'the password went out in clear')
    assert.ok(!bytes.includes('AUTH'), 'AUTH went out in clear')
  })

  it('says that it opened its own connection, over TLS', async () => {
    const warnings = []
    const onWarning = (w) => warnings.push(w.message)
    process.on('warning', onWarning)
    const rs = new RedisSessions({ client, wipe: 0, connectTimeout: 200 })
    await new Promise((resolve) => setImmediate(resolve))
    process.off('warning', onWarning)
    await rs.quit()
    assert.deepEqual(warnings, [
      'redis-sessions-rs cannot share a node_redis client: ' +
        `it opened its own connection to 127.0.0.1:${server.port} over TLS`,
    ])
  })
})
