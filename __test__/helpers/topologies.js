'use strict'
// The deployments the behaviour scenario runs on, each started on free
// loopback ports: how to reach it (constructor options), how to read it raw
// (a client and its key layout), and how to stop it. `memory` is the
// in-memory engine, read and edited through the binding's test hooks.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const Redis = require('ioredis')
const { startRedis, freePort } = require('./redis-server')
const { startCluster } = require('./redis-cluster')
const { startSentinels } = require('./redis-sentinel')
const { makeCertificates, tlsServerArgs } = require('./tls')
const { connect } = require('./raw')
const { NativeSessions } = require('../../binding.js')

/** A namespace every topology's scenario uses, so that the ACL user can be held to it. */
const NAMESPACE_PREFIX = 'scen'

const TOPOLOGIES = {
  async standalone() {
    const server = await startRedis()
    const raw = connect(server.port)
    return {
      options: { port: server.port },
      raw,
      cluster: false,
      stop: async () => {
        raw.disconnect()
        await server.stop()
      },
    }
  },

  async cluster() {
    const cluster = await startCluster({ masters: 3, replicas: 0 })
    const raw = cluster.client()
    return {
      options: { cluster: cluster.seeds },
      raw,
      cluster: true,
      stop: async () => {
        raw.disconnect()
        await cluster.stop()
      },
    }
  },

  async sentinel() {
    const group = await startSentinels({ replicas: 0, sentinels: 1 })
    const raw = connect(group.master.port)
    return {
      options: {
        sentinel: { name: group.name, sentinels: group.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })) },
      },
      raw,
      cluster: false,
      stop: async () => {
        raw.disconnect()
        await group.stop()
      },
    }
  },

  /** TLS with client certificates, as an ACL user who may touch only the scenario's keys and channels. */
  async 'tls-acl'() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-scenario-tls-'))
    const certs = makeCertificates(dir)
    const tlsPort = await freePort()
    const server = await startRedis({ args: [...tlsServerArgs(dir, tlsPort), '--requirepass', 'default-secret'] })
    execFileSync('redis-cli', [
      '-p',
      String(server.port),
      '-a',
      'default-secret',
      '--no-auth-warning',
      'ACL',
      'SETUSER',
      'scenario',
      'on',
      '>scenario-secret',
      `~${NAMESPACE_PREFIX}*`,
      `&${NAMESPACE_PREFIX}*`,
      '+@all',
      '-@dangerous',
    ])
    const raw = new Redis({ port: server.port, host: '127.0.0.1', password: 'default-secret', maxRetriesPerRequest: 1 })
    return {
      options: {
        port: tlsPort,
        options: {
          username: 'scenario',
          password: 'scenario-secret',
          tls: { ca: certs.ca, cert: certs.cert, key: certs.key },
        },
      },
      raw,
      cluster: false,
      stop: async () => {
        raw.disconnect()
        await server.stop()
        fs.rmSync(dir, { recursive: true, force: true })
      },
    }
  },
}

/**
 * The in-memory engine's store, through the binding's test hooks: read as the
 * Redis keys it stands for (layout.js), and the two writes the scenario makes
 * behind the engine's back (a session's `la`, an `_sessions` score).
 */
function memoryClient() {
  const edit = (key, field, value) => {
    if (!NativeSessions.memoryEdit(key.slice(0, key.indexOf(':')), key, field, Number(value)))
      throw new Error(`memory: no session at ${key} ${field}`)
    return 1
  }
  return {
    inMemory: true,
    keys: (ns) => JSON.parse(NativeSessions.memoryKeys(ns)),
    hset: async (key, field, value) => edit(key, field, value),
    zadd: async (key, flag, score, member) => edit(key, member, score),
    disconnect() {},
  }
}

TOPOLOGIES.memory = async () => ({
  options: { memory: true },
  raw: memoryClient(),
  cluster: false,
  stop: async () => {},
})

/** Resolves to {name, options, raw, cluster, stop()} for one of TOPOLOGIES. */
async function startTopology(name) {
  return { name, ...(await TOPOLOGIES[name]()) }
}

module.exports = { startTopology, TOPOLOGY_NAMES: Object.keys(TOPOLOGIES), NAMESPACE_PREFIX }
