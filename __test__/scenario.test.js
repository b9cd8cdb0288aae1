'use strict'
// The behaviour scenario (helpers/scenario.js: every method, both styles,
// answers and what Redis holds) on every topology: standalone, Redis Cluster,
// Sentinel, TLS with an ACL user, and the in-memory engine (memory: true, its
// store rendered as the Redis keys it stands for). Each must answer and store
// exactly what standalone does, in the reference's key names.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { runScenario, STYLES } = require('./helpers/scenario')
const { startTopology, TOPOLOGY_NAMES, NAMESPACE_PREFIX } = require('./helpers/topologies')

describe('one behaviour scenario on every topology', () => {
  const topologies = {}
  const standaloneLogs = {}
  before(async () => {
    const started = await Promise.allSettled(TOPOLOGY_NAMES.map((name) => startTopology(name)))
    for (const outcome of started) if (outcome.status === 'fulfilled') topologies[outcome.value.name] = outcome.value
    const failed = started.find((outcome) => outcome.status === 'rejected')
    if (failed) throw failed.reason
  })
  after(async () => {
    for (const topology of Object.values(topologies)) await topology.stop()
  })

  for (const style of STYLES) {
    for (const name of TOPOLOGY_NAMES) {
      it(`${name}, ${style} style${name === 'standalone' ? '' : ': the answers and data of standalone'}`, async () => {
        const topology = topologies[name]
        const log = await runScenario({ ...topology, namespace: `${NAMESPACE_PREFIX}-${style}`, style })
        if (name === 'standalone') standaloneLogs[style] = log
        else {
          assert.ok(standaloneLogs[style], 'standalone ran first')
          assert.deepEqual(log, standaloneLogs[style])
        }
      })
    }
  }
})
