'use strict'
// A call that Redis fails part-way writes nothing: each script checks what
// could fail before its first write. The failures come from data another
// program wrote: a counter HINCRBY cannot increment, an index key of the
// wrong type. Each case reads every key of its namespace before and after.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const RedisSessions = require('..')
const { startRedis } = require('./helpers/redis-server')
const { connect, dump } = require('./helpers/raw')

const APP = 'atomic'
const ID = 'victim'
const MAX_INT64 = '9223372036854775807'
let server, raw
const instances = []
before(async () => {
  server = await startRedis()
  raw = connect(server.port)
})
after(async () => {
  for (const rs of instances) await rs.quit()
  raw.disconnect()
  await server.stop()
})

let namespaces = 0
/** An instance on a namespace of its own, holding two sessions of ID and one of another id (the last token). */
async function setUp() {
  const ns = `atomic${namespaces++}`
  const rs = new RedisSessions({ port: server.port, namespace: ns, wipe: 0 })
  instances.push(rs)
  const tokens = []
  for (const id of [ID, ID, 'bystander']) tokens.push((await rs.create({ app: APP, id, ip: '1', d: { a: 1 } })).token)
  return { ns, rs, token: tokens[0], lastOfItsId: tokens[2], key: (name) => `${ns}:${APP}:${name}` }
}

async function replaceWithString(key) {
  await raw.del(key)
  await raw.set(key, 'not a sorted set or a set')
}

async function assertWritesNothing(ns, call, message) {
  const before = await dump(raw, ns)
  await assert.rejects(call(), { name: 'redisError', message })
  assert.deepEqual(await dump(raw, ns), before)
}

describe('a call that fails in Redis writes nothing', () => {
  for (const [label, r] of [
    ['at the largest integer', MAX_INT64],
    ['with a leading zero', '01'],
    ['beyond 64 bits', '99999999999999999999'],
  ]) {
    it(`get: r ${label}`, async () => {
      const { ns, rs, token, key } = await setUp()
      await raw.hset(key(token), 'r', r)
      await assertWritesNothing(ns, () => rs.get({ app: APP, token }), /has a r that/)
    })
  }

  it('get: r just below the largest integer still counts', async () => {
    const { rs, token, key } = await setUp()
    await raw.hset(key(token), 'r', '9223372036854775806')
    assert.equal((await rs.get({ app: APP, token })).r, Number('9223372036854775806'))
    assert.equal(await raw.hget(key(token), 'r'), MAX_INT64)
  })

  it('set: w at the largest integer', async () => {
    const { ns, rs, token, key } = await setUp()
    await raw.hset(key(token), 'w', MAX_INT64)
    await assertWritesNothing(ns, () => rs.set({ app: APP, token, d: { b: 2 } }), /has a w that/)
  })

  it('kill: us:ID of the wrong type', async () => {
    const { ns, rs, token, key } = await setUp()
    await replaceWithString(key(`us:${ID}`))
    await assertWritesNothing(ns, () => rs.kill({ app: APP, token }), /WRONGTYPE/)
  })

  it('kill: _users of the wrong type, killing the last session of an id', async () => {
    const { ns, rs, lastOfItsId, key } = await setUp()
    await replaceWithString(key('_users'))
    await assertWritesNothing(ns, () => rs.kill({ app: APP, token: lastOfItsId }), /WRONGTYPE/)
  })

  it('kill: SESSIONS of the wrong type', async () => {
    const { ns, rs, token } = await setUp()
    await replaceWithString(`${ns}:SESSIONS`)
    await assertWritesNothing(ns, () => rs.kill({ app: APP, token }), /WRONGTYPE/)
  })

  for (const index of ['_users', 'SESSIONS']) {
    it(`killsoid: ${index} of the wrong type`, async () => {
      const { ns, rs, key } = await setUp()
      await replaceWithString(index === 'SESSIONS' ? `${ns}:SESSIONS` : key(index))
      await assertWritesNothing(ns, () => rs.killsoid({ app: APP, id: ID }), /WRONGTYPE/)
    })

    it(`killall: ${index} of the wrong type`, async () => {
      const { ns, rs, key } = await setUp()
      await replaceWithString(index === 'SESSIONS' ? `${ns}:SESSIONS` : key(index))
      await assertWritesNothing(ns, () => rs.killall({ app: APP }), /WRONGTYPE/)
    })
  }
})
