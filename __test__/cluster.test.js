'use strict'
// What only cluster mode has, against a real Redis Cluster (3 masters, 3
// replicas) started here: scripts on every master, the cache across
// instances, the spread over masters, the wipe of every bucket, a failover.
// Every method's answers match standalone's in scenario.test.js.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { setTimeout: sleep } = require('node:timers/promises')
const RedisSessions = require('..')
const { startCluster, clusterNodes, cli } = require('./helpers/redis-cluster')
const { pool } = require('../benchmark/measure')

const now = () => Math.floor(Date.now() / 1000)
// How many scripts the engine has: the rows `NAME = [parts] "file.lua",` of src/scripts.rs's table.
const SCRIPT_COUNT = require('node:fs')
  .readFileSync(require('node:path').join(__dirname, '..', 'src', 'scripts.rs'), 'utf8')
  .match(/^ {4}[A-Z_]+ = \[.*\] "\w+\.lua",$/gm).length

describe('Redis Cluster', () => {
  let cluster, raw
  before(async () => {
    cluster = await startCluster({ masters: 3, replicas: 1 })
    raw = cluster.client()
  })
  after(async () => {
    raw.disconnect()
    await cluster.stop()
  })

  it('the scripts are loaded on every master when the connection opens', async () => {
    const masters = await cluster.masterPorts()
    for (const port of masters) await cli(port, 'SCRIPT', 'FLUSH')
    const rs = new RedisSessions({ cluster: cluster.seeds, wipe: 0 })
    try {
      assert.equal(await rs.ping(), 'PONG')
      for (const port of masters) {
        const scripts = Number(/number_of_cached_scripts:(\d+)/.exec(await cli(port, 'INFO', 'memory'))[1])
        assert.equal(scripts, SCRIPT_COUNT, `master ${port}`)
      }
    } finally {
      await rs.quit()
    }
  })

  it('caches are invalidated across instances through the cluster', async () => {
    const a = new RedisSessions({ cluster: cluster.seeds, wipe: 0, namespace: 'cc', cachetime: 30 })
    const b = new RedisSessions({ cluster: cluster.seeds, wipe: 0, namespace: 'cc', cachetime: 30 })
    try {
      const tokens = []
      for (let i = 0; i < 8; i++)
        tokens.push((await a.create({ app: 'cacheapp', id: `u${i}`, ip: '1', d: { v: 0 } })).token)
      await sleep(300) // both subscriptions are up
      for (const token of tokens) {
        assert.equal((await a.get({ app: 'cacheapp', token })).d.v, 0)
        assert.equal((await a.get({ app: 'cacheapp', token })).r, 1, 'the second read came from the cache')
        await b.set({ app: 'cacheapp', token, d: { v: 1 } })
      }
      await sleep(100)
      for (const token of tokens) assert.equal((await a.get({ app: 'cacheapp', token })).d.v, 1)
      await b.killall({ app: 'cacheapp' })
      await sleep(100)
      for (const token of tokens) assert.equal(await a.get({ app: 'cacheapp', token }), null)
    } finally {
      await a.quit()
      await b.quit()
    }
  })

  it(
    '3,000 sessions of 1,000 ids in one app: every master holds at least 20% of the keys',
    { timeout: 60_000 },
    async (t) => {
      const rs = new RedisSessions({ cluster: cluster.seeds, wipe: 0, namespace: 'spread' })
      try {
        const created = await pool(3000, 100, (i) => rs.create({ app: 'big', id: `user${i % 1000}`, ip: '1' }))
        assert.equal(new Set(created.map((c) => c.token)).size, 3000)
        const masters = await cluster.masterPorts()
        assert.equal(masters.length, 3)
        const counts = await Promise.all(masters.map(async (port) => Number(await cli(port, 'DBSIZE'))))
        const total = counts.reduce((a, b) => a + b, 0)
        t.diagnostic(`keys per master: ${counts.join(', ')} of ${total}`)
        for (const count of counts) assert.ok(count >= 0.2 * total, `${counts}`)
        assert.deepEqual(await rs.activity({ app: 'big', dt: 600 }), { activity: 1000 }, 'activity counts unique ids')
        assert.equal((await rs.soid({ app: 'big', id: 'user7' })).sessions.length, 3)
        const { sessions } = await rs.soapp({ app: 'big', dt: 600 })
        assert.equal(sessions.length, 3000)
        assert.deepEqual(await rs.killall({ app: 'big' }), { kill: 3000 })
        const left = await Promise.all(masters.map(async (port) => Number(await cli(port, 'DBSIZE'))))
        assert.deepEqual(left, [0, 0, 0])
      } finally {
        await rs.quit()
      }
    },
  )

  it('the wipe removes expired sessions on every master, once', { timeout: 30_000 }, async () => {
    const started = Date.now()
    const wipers = [
      new RedisSessions({ cluster: cluster.seeds, wipe: 1, namespace: 'wipe' }),
      new RedisSessions({ cluster: cluster.seeds, wipe: 1, namespace: 'wipe' }),
    ]
    const rs = new RedisSessions({ cluster: cluster.seeds, wipe: 0, namespace: 'wipe' })
    try {
      const doomed = []
      const kept = []
      for (let i = 0; i < 60; i++) {
        const id = `id:${i}`
        const doom = i % 3 !== 0
        const { token } = await rs.create({ app: 'wipeapp', id, ip: '1', ttl: doom ? 10 : 3600 })
        ;(doom ? doomed : kept).push({ id, token })
      }
      // Expire two of three in the buckets' SESSIONS indexes, wherever they live.
      const masterOf = new Map()
      for (const port of await cluster.masterPorts()) {
        for (const key of (await cli(port, '--raw', 'KEYS', '*wipeapp:*')).split('\n').filter(Boolean))
          masterOf.set(key, port)
      }
      const past = now() - 5
      for (const session of doomed) {
        const hash = [...masterOf.keys()].find((k) => k.endsWith(`:wipeapp:${session.token}`))
        assert.ok(hash, 'found the session hash')
        session.prefix = hash.slice(0, hash.indexOf('}:') + 2)
        session.port = masterOf.get(hash)
        assert.equal(
          await raw.zadd(`${session.prefix}SESSIONS`, 'XX', 'CH', past, `wipeapp:${session.token}:${session.id}`),
          1,
        )
      }
      assert.equal(new Set(doomed.map((s) => s.port)).size, 3, 'expired sessions on every master')
      await sleep(Math.max(0, 10_700 - (Date.now() - started)))
      for (const session of doomed) {
        assert.equal(await raw.exists(`${session.prefix}wipeapp:${session.token}`), 0)
        assert.equal(await raw.zscore(`${session.prefix}wipeapp:_sessions`, `${session.token}:${session.id}`), null)
        assert.equal(await raw.zscore(`${session.prefix}wipeapp:_users`, session.id), null)
        assert.equal(await rs.get({ app: 'wipeapp', token: session.token }), null)
      }
      for (const session of kept) assert.equal((await rs.get({ app: 'wipeapp', token: session.token })).id, session.id)
      assert.ok((await raw.pttl('wipe:_wipelock')) > 0, 'the period lock is held')
    } finally {
      for (const r of [...wipers, rs]) await r.quit()
    }
  })

  // Last: it leaves the cluster with a master fewer.
  it(
    'a master killed under load fails over; operations resume within 5 s of the promotion, events too',
    { timeout: 60_000 },
    async (t) => {
      const options = { cluster: cluster.seeds, wipe: 0, namespace: 'failover', commandTimeout: 1000, events: true }
      const rs = new RedisSessions(options)
      const killed = new Set()
      rs.on('session', (event) => event.type === 'killed' && killed.add(event.id))
      try {
        const tokens = await pool(
          300,
          50,
          async (i) => (await rs.create({ app: 'foapp', id: `user${i}`, ip: '1' })).token,
        )
        const [victimPort] = await cluster.masterPorts()
        const victim = cluster.nodes.find((n) => n.port === victimPort)
        const witness = cluster.nodes.find((n) => n.port !== victimPort)
        const victimId = (await clusterNodes(witness.port)).find((n) => n.port === victimPort).id
        const replicaPort = (await clusterNodes(witness.port)).find((n) => n.masterId === victimId).port
        await sleep(200) // replication of the last writes

        await victim.stop('SIGKILL')
        const killedAt = Date.now()
        let promotedAt, resumedAt
        const answers = { ok: 0, failed: 0, missing: 0 }
        while (Date.now() - killedAt < 40_000) {
          if (promotedAt === undefined) {
            const view = await clusterNodes(witness.port)
            if (view.find((n) => n.port === replicaPort)?.role === 'master') promotedAt = Date.now()
          }
          const outcomes = await Promise.allSettled(tokens.map((token) => rs.get({ app: 'foapp', token })))
          let allOk = true
          for (const o of outcomes) {
            if (o.status === 'rejected') {
              answers.failed++
              allOk = false
              assert.ok(o.reason instanceof Error)
            } else if (o.value === null) {
              answers.missing++
              allOk = false
            } else answers.ok++
          }
          if (allOk && promotedAt !== undefined) {
            resumedAt = Date.now()
            break
          }
          await sleep(100)
        }
        assert.ok(promotedAt, 'the replica was promoted')
        assert.ok(resumedAt, `operations resumed (${JSON.stringify(answers)})`)
        t.diagnostic(
          `promoted ${promotedAt - killedAt} ms after the kill, ` +
            `resumed ${resumedAt - promotedAt} ms after; ${JSON.stringify(answers)}`,
        )
        assert.ok(resumedAt - promotedAt < 5000, `resumed ${resumedAt - promotedAt} ms after the promotion`)
        assert.equal(answers.missing, 0, 'never a false "no session"')
        const { token } = await rs.create({ app: 'foapp', id: 'after', ip: '1' })
        assert.equal((await rs.set({ app: 'foapp', token, d: { ok: true } })).d.ok, true)
        // Every bucket's events again, the promoted replica's included (a
        // sharded subscription follows its slot to the new master).
        await pool(300, 50, (i) => rs.kill({ app: 'foapp', token: tokens[i] }))
        const deadline = Date.now() + 5000
        while (killed.size < 300 && Date.now() < deadline) await sleep(20)
        assert.equal(killed.size, 300, 'a killed event for every session')
      } finally {
        await rs.quit()
      }
    },
  )
})
