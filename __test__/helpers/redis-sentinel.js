'use strict'
// Starts a throwaway Sentinel group: a master, `replicas` replicas and
// `sentinels` Sentinels (quorum: a majority of them), on free loopback ports.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { setTimeout: sleep } = require('node:timers/promises')
const { startRedis, freePort } = require('./redis-server')
const { connect } = require('./raw')

const NAME = 'sessions-master'

/** Resolves once every replica is in sync and every Sentinel knows them and the other Sentinels. */
async function waitReady(sentinels, replicas) {
  const probes = sentinels.map((s) => connect(s.port))
  const replicaProbes = replicas.map((r) => connect(r.port))
  try {
    for (const deadline = Date.now() + 30_000; ; await sleep(100)) {
      if (Date.now() > deadline) throw new Error('the Sentinels and the replicas did not get ready')
      const links = await Promise.all(replicaProbes.map((p) => p.info('replication')))
      if (!links.every((info) => /master_link_status:up/.test(info))) continue
      const views = await Promise.all(probes.map((p) => p.call('SENTINEL', 'master', NAME)))
      const ready = views.every((flat) => {
        const view = Object.fromEntries(flat.flatMap((v, i) => (i % 2 ? [] : [[v, flat[i + 1]]])))
        return (
          view['num-slaves'] === String(replicas.length) && view['num-other-sentinels'] === String(sentinels.length - 1)
        )
      })
      if (ready) return
    }
  } finally {
    for (const p of [...probes, ...replicaProbes]) p.disconnect()
  }
}

/** Resolves to {name, master, replicas, sentinels, stop()}; `master` and the others are startRedis's servers. */
async function startSentinels({ replicas = 1, sentinels = 3 } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-sentinel-'))
  const master = await startRedis()
  const replicaServers = []
  for (let i = 0; i < replicas; i++)
    replicaServers.push(await startRedis({ args: ['--replicaof', '127.0.0.1', String(master.port)] }))
  const sentinelServers = []
  for (let i = 0; i < sentinels; i++) {
    const port = await freePort()
    const config = path.join(dir, `sentinel-${i}.conf`)
    fs.writeFileSync(
      config,
      [
        `sentinel monitor ${NAME} 127.0.0.1 ${master.port} ${Math.floor(sentinels / 2) + 1}`,
        `sentinel down-after-milliseconds ${NAME} 1000`,
        `sentinel failover-timeout ${NAME} 10000`,
        '',
      ].join('\n'),
    )
    sentinelServers.push(await startRedis({ port, args: [config, '--sentinel'] }))
  }
  // A failover needs the replicas in sync and every Sentinel aware of them and of the others.
  await waitReady(sentinelServers, replicaServers)
  return {
    name: NAME,
    master,
    replicas: replicaServers,
    sentinels: sentinelServers,
    async stop() {
      for (const server of [...sentinelServers, ...replicaServers, master]) await server.stop()
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}

module.exports = { startSentinels, NAME }
