'use strict'
// Starts a throwaway redis-server on a free loopback port for a test file.
const { spawn, spawnSync } = require('node:child_process')
const net = require('node:net')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

function assertInstalled() {
  const probe = spawnSync('redis-server', ['--version'])
  if (probe.error) {
    throw new Error(
      'redis-server is not installed: the tests start their own. ' +
        'On Debian/Ubuntu: apt-get install redis-server; on macOS: brew install redis',
    )
  }
}

async function waitForPing(port, deadline) {
  for (;;) {
    const ok = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1')
      socket.setTimeout(200)
      socket.on('connect', () => socket.write('PING\r\n'))
      // A server with a password answers -NOAUTH: up all the same.
      socket.on('data', (data) => {
        socket.destroy()
        resolve(/^(\+PONG|-NOAUTH)/.test(data.toString()))
      })
      socket.on('error', () => resolve(false))
      socket.on('timeout', () => {
        socket.destroy()
        resolve(false)
      })
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/**
 * Starts redis-server; resolves to {port, url, child, stop()}. `port` reuses a
 * port (for restarts); `dir` keeps an fsync-always append-only file there, so
 * data survives a kill -9. `args` are more redis-server options (the
 * first may be a config file).
 */
async function startRedis({ port, dir, args = [] } = {}) {
  assertInstalled()
  port = port ?? (await freePort())
  // Without a dir of the caller's, a throwaway one: a replica still writes the RDB it syncs from.
  const scratch = dir ? undefined : fs.mkdtempSync(path.join(os.tmpdir(), 'rs-redis-'))
  const persistence = dir
    ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir]
    : ['--appendonly', 'no', '--dir', scratch]
  const config = args[0] && !args[0].startsWith('--') ? [args.shift()] : []
  const child = spawn(
    'redis-server',
    [
      ...config,
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      ...persistence,
      '--daemonize',
      'no',
      '--loglevel',
      'warning',
      ...args,
    ],
    { stdio: 'ignore' },
  )
  const exited = new Promise((resolve) => child.once('exit', resolve))
  await waitForPing(port, Date.now() + 5000)
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    child,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      await exited
      if (scratch) fs.rmSync(scratch, { recursive: true, force: true })
    },
  }
}

module.exports = { startRedis, freePort }
