'use strict'
// Cluster mode against a password-protected cluster (3 masters, no replicas):
// the credentials of `options` reach every node.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const RedisSessions = require('..')
const { startCluster } = require('./helpers/redis-cluster')

describe('Redis Cluster with a password', () => {
  let cluster
  before(async () => {
    cluster = await startCluster({ masters: 3, replicas: 0, password: 'cluster-secret' })
  })
  after(() => cluster.stop())

  it('options.password reaches every master; a wrong one fails every call saying so', async () => {
    const rs = new RedisSessions({ cluster: cluster.seeds, wipe: 0, options: { password: 'cluster-secret' } })
    try {
      const tokens = []
      for (let i = 0; i < 30; i++) tokens.push((await rs.create({ app: 'authapp', id: `user${i}`, ip: '1' })).token)
      for (const token of tokens) assert.notEqual(await rs.get({ app: 'authapp', token }), null)
      assert.deepEqual(await rs.activity({ app: 'authapp', dt: 60 }), { activity: 30 })
    } finally {
      await rs.quit()
    }
    const wrong = new RedisSessions({ cluster: cluster.seeds, wipe: 0, options: { password: 'wrong' } })
    try {
      const started = Date.now()
      const outcomes = await Promise.allSettled([wrong.ping(), wrong.get({ app: 'authapp', token: 'A'.repeat(64) })])
      for (const outcome of outcomes) {
        assert.equal(outcome.status, 'rejected')
        assert.match(outcome.reason.message, /authentication failed/i)
      }
      assert.ok(Date.now() - started < 6000, `took ${Date.now() - started} ms`)
    } finally {
      await wrong.quit()
    }
  })
})
