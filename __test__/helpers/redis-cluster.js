'use strict'
// Starts a throwaway Redis Cluster: `masters` masters with `replicas` replicas
// each, on free loopback ports, joined by `redis-cli --cluster create`.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFile } = require('node:child_process')
const { promisify } = require('node:util')
const { setTimeout: sleep } = require('node:timers/promises')
const Redis = require('ioredis')
const { startRedis, freePort } = require('./redis-server')

const cli = (port, ...args) =>
  promisify(execFile)('redis-cli', ['-p', String(port), ...args]).then(({ stdout }) => stdout)

/** Each node's view of the cluster: [{id, port, role, masterId, slots}]. */
async function clusterNodes(port) {
  return parseNodes(await cli(port, 'CLUSTER', 'NODES'))
}

function parseNodes(text) {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [id, address, flags, masterId, , , , link, ...slots] = line.split(' ')
      return {
        id,
        port: Number(address.split(':')[1].split('@')[0]),
        role: flags.includes('master') ? 'master' : 'replica',
        failed: flags.includes('fail'),
        connected: link === 'connected',
        masterId,
        slots,
      }
    })
}

async function waitFor(what, check, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check().catch(() => false)) return
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

/** `password`: every node requires it (and replicas use it with their masters). */
async function startCluster({ masters = 3, replicas = 1, nodeTimeoutMs = 1000, password } = {}) {
  const auth = password ? ['-a', password, '--no-auth-warning'] : []
  const ask = (port, ...args) => cli(port, ...auth, ...args)
  const clusterView = async (port) => parseNodes(await ask(port, 'CLUSTER', 'NODES'))
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-cluster-'))
  const nodes = []
  for (let i = 0; i < masters * (1 + replicas); i++) {
    const port = await freePort()
    const nodeDir = path.join(dir, String(port))
    fs.mkdirSync(nodeDir)
    nodes.push(
      await startRedis({
        port,
        args: [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          path.join(nodeDir, 'nodes.conf'),
          '--cluster-node-timeout',
          String(nodeTimeoutMs),
          '--dir',
          nodeDir,
          // A replica whose link to its master is young may fail over all the same.
          '--cluster-replica-validity-factor',
          '0',
          ...(password ? ['--requirepass', password, '--masterauth', password] : []),
        ],
      }),
    )
  }
  await promisify(execFile)('redis-cli', [
    ...auth,
    '--cluster',
    'create',
    ...nodes.map((n) => `127.0.0.1:${n.port}`),
    '--cluster-replicas',
    String(replicas),
    '--cluster-yes',
  ])
  const ready = async () => {
    for (const node of nodes) {
      if (node.child.exitCode !== null || node.child.signalCode !== null) continue
      if (!/cluster_state:ok/.test(await ask(node.port, 'CLUSTER', 'INFO'))) return false
      const view = await clusterView(node.port)
      if (view.filter((n) => n.role === 'master' && n.slots.length > 0).length !== masters) return false
      if (view.some((n) => !n.connected && !n.failed)) return false
      const replication = await ask(node.port, 'INFO', 'replication')
      if (/role:slave/.test(replication) && !/master_link_status:up/.test(replication)) return false
    }
    return true
  }
  await waitFor('the cluster to form', ready)
  return {
    nodes,
    ready,
    seeds: nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
    /** The ports of the nodes that serve slots now. */
    async masterPorts(viaPort = nodes.find((n) => n.child.exitCode === null && n.child.signalCode === null).port) {
      return (await clusterView(viaPort))
        .filter((n) => n.role === 'master' && !n.failed && n.slots.length > 0)
        .map((n) => n.port)
    },
    client() {
      return new Redis.Cluster(
        nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
        { redisOptions: { maxRetriesPerRequest: 1 } },
      )
    },
    async stop() {
      for (const node of nodes) await node.stop()
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}

module.exports = { startCluster, clusterNodes, waitFor, cli }
