'use strict'
// Sessions another program wrote badly. Decisions: a garbled counter or `d`
// is an error that changes nothing (a set) or reports what is wrong (a get);
// a session without an id is absent; without `la` or `ttl` it has idled out,
// as in the reference.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const RedisSessions = require('..')
const { startRedis } = require('./helpers/redis-server')
const { connect, dump } = require('./helpers/raw')
const { mulberry32 } = require('./helpers/random')

const APP = 'corrupt'
let server, raw, rs
before(async () => {
  server = await startRedis()
  raw = connect(server.port)
  rs = new RedisSessions({ port: server.port, wipe: 0 })
})
after(async () => {
  await rs.quit()
  raw.disconnect()
  await server.stop()
})

async function session(fields) {
  const { token } = await rs.create({ app: APP, id: 'victim', ip: '1', d: { ok: 1 } })
  const key = `rs:${APP}:${token}`
  for (const [field, value] of Object.entries(fields)) {
    if (value === undefined) await raw.hdel(key, field)
    else await raw.hset(key, field, value)
  }
  return token
}

describe('badly written sessions', () => {
  it('a non-numeric r: get is an error naming it, and writes nothing', async () => {
    const token = await session({ r: 'abc' })
    const before = await dump(raw, 'rs')
    await assert.rejects(rs.get({ app: APP, token }), { name: 'redisError', message: /has a r that is not an integer/ })
    assert.deepEqual(await dump(raw, 'rs'), before)
  })

  it('a non-numeric w: set is an error, and writes nothing', async () => {
    const token = await session({ w: '1.5' })
    const before = await dump(raw, 'rs')
    await assert.rejects(rs.set({ app: APP, token, d: { a: 1 } }), {
      name: 'redisError',
      message: /has a w that is not an integer/,
    })
    assert.deepEqual(await dump(raw, 'rs'), before)
  })

  it('d that is not JSON: get says the session is corrupt, set refuses to merge into it', async () => {
    const token = await session({ d: '{oops' })
    await assert.rejects(rs.get({ app: APP, token }), { name: 'corruptSession' })
    const before = await dump(raw, 'rs')
    await assert.rejects(rs.set({ app: APP, token, d: { a: 1 } }), {
      name: 'redisError',
      message: /d that is not a JSON object/,
    })
    assert.deepEqual(await dump(raw, 'rs'), before)
    const [err] = await new Promise((resolve) => rs.get({ app: APP, token }, (...a) => resolve(a)))
    assert.equal(err.name, 'corruptSession', 'never {} for a session that exists')
  })

  it('d written with spaces by another program still merges', async () => {
    const token = await session({ d: '{ "a" : 1 , "s" : "x,}" }' })
    assert.deepEqual((await rs.set({ app: APP, token, d: { b: 2 } })).d, { a: 1, s: 'x,}', b: 2 })
    assert.equal(await raw.hget(`rs:${APP}:${token}`, 'd'), '{"a":1,"s":"x,}","b":2}')
  })

  it('set merges into any stored JSON object as JavaScript would, compact or indented', async () => {
    const random = mulberry32(11)
    const pick = (list) => list[Math.floor(random() * list.length)]
    const text = () => pick(['', 'a', 'x,}', 'q"uote', 'back\\slash', '{[', ']}', 'é😀', '\n\t'])
    const key = () => pick(['a', 'b', '1', '10', '0', '01', 'n', text()])
    const value = (depth) => {
      const k = random()
      if (depth > 2 || k < 0.5) return pick([1, 2.5, 1e21, true, false, text()])
      if (k < 0.75) return Array.from({ length: Math.floor(random() * 3) }, () => value(depth + 1))
      return object(depth + 1)
    }
    const object = (depth) =>
      Object.fromEntries(Array.from({ length: Math.floor(random() * 5) }, () => [key(), value(depth)]))
    for (let i = 0; i < 150; i++) {
      const stored = object(0)
      const indent = i % 3 === 0 ? 2 : undefined
      const token = await session({ d: JSON.stringify(stored, null, indent) })
      const patch = { [key()]: value(3), [key()]: null, [key()]: 'new' }
      const merged = Object.fromEntries(Object.entries({ ...stored, ...patch }).filter(([, v]) => v !== null))
      const s = await rs.set({ app: APP, token, d: patch })
      const written = await raw.hget(`rs:${APP}:${token}`, 'd')
      assert.deepEqual(s.d ?? {}, merged, `case ${i}`)
      if (Object.keys(merged).length === 0) assert.equal(written, null, `case ${i}`)
      else if (indent === undefined) assert.equal(written, JSON.stringify(merged), `case ${i}`)
      else assert.deepEqual(JSON.parse(written), merged, `case ${i}`)
    }
  })

  it('without an id the session is absent; without la or ttl it has idled out', async () => {
    const past = String(Math.floor(Date.now() / 1000) - 5)
    for (const fields of [{ id: undefined }, { la: undefined }, { ttl: undefined, la: past }]) {
      const token = await session(fields)
      assert.equal(await rs.get({ app: APP, token }), null, JSON.stringify(Object.keys(fields)))
    }
  })

  it('a garbled ttl is an error before anything is written', async () => {
    const token = await session({ ttl: 'forever' })
    const before = await dump(raw, 'rs')
    await assert.rejects(rs.get({ app: APP, token }), { name: 'redisError', message: /ttl that is not a number/ })
    assert.deepEqual(await dump(raw, 'rs'), before)
  })
})
