'use strict'
// A TCP proxy on a free loopback port whose existing connections can be frozen:
// they stay open (the kernel still acknowledges what is sent) but nothing is
// forwarded any more, either way, as behind a NAT or load balancer that
// forgot them. Connections made after the freeze forward normally.
const net = require('node:net')

/** Resolves to {port, freeze(), connections(), close()}; forwards to 127.0.0.1:`target`. */
function startFreezingProxy(target) {
  const pairs = new Set()
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1')
    const pair = { client, upstream, frozen: false }
    pairs.add(pair)
    const forward = (from, to) =>
      from.on('data', (chunk) => {
        if (!pair.frozen) to.write(chunk)
      })
    forward(client, upstream)
    forward(upstream, client)
    const end = () => {
      pairs.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    for (const socket of [client, upstream]) {
      socket.on('close', end)
      socket.on('error', end)
    }
  })
  return new Promise((resolve, reject) => {
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: server.address().port,
        /** Stops forwarding on every connection open now, without closing any. */
        freeze() {
          for (const pair of pairs) pair.frozen = true
        },
        /** How many connections are open, frozen or not. */
        connections() {
          return { open: pairs.size, frozen: [...pairs].filter((pair) => pair.frozen).length }
        },
        close() {
          for (const pair of pairs) {
            pair.client.destroy()
            pair.upstream.destroy()
          }
          return new Promise((done) => server.close(done))
        },
      }),
    )
  })
}

module.exports = { startFreezingProxy }
