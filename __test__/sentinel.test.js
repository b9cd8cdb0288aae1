'use strict'
// Sentinel: a master, a replica and three Sentinels started here; the master
// is killed and the sessions follow the promoted replica. Every method's
// answers through a Sentinel match standalone's in scenario.test.js.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { setTimeout: sleep } = require('node:timers/promises')
const RedisSessions = require('..')
const { startSentinels, NAME } = require('./helpers/redis-sentinel')
const { connect } = require('./helpers/raw')

describe('Sentinel', () => {
  let group, master, replica, sentinels
  before(async () => {
    group = await startSentinels({ replicas: 1, sentinels: 3 })
    ;({
      master,
      sentinels,
      replicas: [replica],
    } = group)
  })
  after(() => group.stop())

  it('a write to a replica is a connection error that says so (the next call asks the Sentinels again)', async () => {
    const rs = new RedisSessions({ port: replica.port, wipe: 0 })
    try {
      await assert.rejects(rs.create({ app: 'sentapp', id: 'x', ip: '1' }), {
        name: 'redisConnectionError',
        message: /read-only replica/,
      })
      // A script that writes nothing (no such session) runs on a replica as well.
      assert.equal(await rs.set({ app: 'sentapp', token: 'a'.repeat(64), d: { a: 1 } }), null)
    } finally {
      await rs.quit()
    }
  })

  it('quit closes the connections to the Sentinels', async () => {
    const watcher = connect(sentinels[0].port)
    const clients = async () => (await watcher.call('CLIENT', 'LIST')).trim().split('\n').length
    try {
      const before = await clients()
      const sentinel = { name: NAME, sentinels: [{ host: '127.0.0.1', port: sentinels[0].port }] }
      const instances = Array.from({ length: 3 }, () => new RedisSessions({ wipe: 0, sentinel }))
      for (const rs of instances) await rs.create({ app: 'sentapp', id: 'quitter', ip: '1' })
      assert.ok((await clients()) > before, 'each instance asked the Sentinel')
      for (const rs of instances) await rs.quit()
      let after = await clients()
      for (let waited = 0; after > before && waited < 3000; waited += 50) {
        await sleep(50)
        after = await clients()
      }
      assert.equal(after, before, 'no connection left open after quit')
    } finally {
      watcher.disconnect()
    }
  })

  it(
    'follows a failover: sessions written before it are read after it, within 5 s of the promotion',
    { timeout: 60_000 },
    async (t) => {
      const rs = new RedisSessions({
        wipe: 0,
        cachetime: 30,
        sentinel: {
          name: NAME,
          sentinels: [
            { host: '127.0.0.1', port: sentinels[0].port },
            `redis://127.0.0.1:${sentinels[1].port}`,
            { host: '127.0.0.1', port: sentinels[2].port },
          ],
        },
      })
      const watcher = connect(sentinels[0].port)
      const onMaster = connect(master.port)
      try {
        const tokens = []
        for (let i = 0; i < 20; i++) tokens.push((await rs.create({ app: 'sentapp', id: `user${i}`, ip: '1' })).token)
        assert.equal(await onMaster.call('WAIT', '1', '2000'), 1, 'the replica has the sessions')
        onMaster.disconnect()

        await master.stop('SIGKILL')
        const killedAt = Date.now()
        let promotedAt, resumedAt
        const answers = { ok: 0, failed: 0, missing: 0 }
        while (Date.now() - killedAt < 40_000) {
          if (promotedAt === undefined) {
            const [, port] = await watcher.call('SENTINEL', 'get-master-addr-by-name', NAME)
            if (Number(port) === replica.port) promotedAt = Date.now()
          }
          const outcomes = await Promise.allSettled(tokens.map((token) => rs.get({ app: 'sentapp', token })))
          let allOk = true
          for (const outcome of outcomes) {
            if (outcome.status === 'rejected') {
              answers.failed++
              allOk = false
              assert.ok(outcome.reason instanceof Error)
            } else if (outcome.value === null) {
              answers.missing++
              allOk = false
            } else answers.ok++
          }
          if (allOk && promotedAt !== undefined && Date.now() > promotedAt) {
            resumedAt = Date.now()
            break
          }
          await sleep(100)
        }
        assert.ok(promotedAt, 'the Sentinels promoted the replica')
        assert.ok(resumedAt, `operations resumed (${JSON.stringify(answers)})`)
        assert.ok(resumedAt - promotedAt < 5000, `resumed ${resumedAt - promotedAt} ms after the promotion`)
        assert.equal(answers.missing, 0, 'never a false "no session"')
        t.diagnostic(
          `promoted ${promotedAt - killedAt} ms after the kill, ` +
            `resumed ${resumedAt - promotedAt} ms after the promotion; answers ${JSON.stringify(answers)}`,
        )
        const { token } = await rs.create({ app: 'sentapp', id: 'after', ip: '1' })
        assert.equal((await rs.set({ app: 'sentapp', token, d: { a: 1 } })).d.a, 1)
        assert.equal((await rs.soid({ app: 'sentapp', id: 'user3' })).sessions.length, 1)
      } finally {
        watcher.disconnect()
        await rs.quit()
      }
    },
  )

  it('a sentinel option without a name or Sentinels is an invalidOptions error', async () => {
    for (const sentinel of [{ sentinels: [`redis://127.0.0.1:${sentinels[0].port}`] }, { name: NAME, sentinels: [] }]) {
      const rs = new RedisSessions({ wipe: 0, sentinel })
      await assert.rejects(rs.ping(), { name: 'invalidOptions' })
      await rs.quit()
    }
  })
})
