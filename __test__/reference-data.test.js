'use strict'
// Data the reference writes reads as the reference reads it, and data this
// package writes is the reference's, byte for byte: lone surrogates (a string
// cut through an emoji), NUL in keys, a `__proto__` key, inherited keys. The
// same stored bytes must give the same get, soid and soapp answers as
// redis-sessions 3.0.0 and 4.0.0 on the same Redis. A session whose d cannot
// be read is listed by soid/soapp without d (the references crash on it).
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { promisify } = require('node:util')
const RedisSessions = require('..')
const V3 = require('redis-sessions-v3')
const V4 = require('redis-sessions-v4').default
const { startRedis } = require('./helpers/redis-server')
const { connect } = require('./helpers/raw')

const APP = 'refdata'
let server, raw, rs, v3, v4
before(async () => {
  server = await startRedis()
  raw = connect(server.port)
  const options = { port: server.port, wipe: 0 }
  rs = new RedisSessions(options)
  v3 = new V3(options)
  v4 = new V4(options)
})
after(async () => {
  await rs.quit()
  v3.quit()
  await v4.quit()
  raw.disconnect()
  await server.stop()
})

/** Every way to call a method: the references, and this package in both styles. */
function callers(method) {
  return {
    v3: promisify(v3[method].bind(v3)),
    v4: v4[method].bind(v4),
    rsCallback: promisify(rs[method]),
    rsPromise: rs[method],
  }
}

/** idle depends on when the second turns; every other field must match exactly. */
function comparable(session) {
  assert.ok(session.idle >= 0 && session.idle <= 2, `idle ${session.idle}`)
  return { ...session, idle: 'idle' }
}

function assertOwnData(d, label) {
  assert.equal(Object.getPrototypeOf(d), Object.prototype, `${label}: d is a plain object`)
  if (Object.keys(d).includes('__proto__')) {
    assert.ok(Object.hasOwn(d, '__proto__'), `${label}: __proto__ is an own property`)
    assert.equal(d.admin, undefined, `${label}: nothing inherited through __proto__`)
  }
}

/** A session of `id` whose d field holds exactly `text`, as another program wrote it. */
async function planted(text, id = 'planted') {
  const { token } = await rs.create({ app: APP, id, ip: 'planted' })
  await raw.hset(`rs:${APP}:${token}`, 'd', text)
  return token
}

/** What JSON.stringify writes (or another program wrote) for d. */
const STORED = {
  'a lone high surrogate (a string cut through an emoji)': JSON.stringify({ s: 'x\ud83d' }),
  'lone surrogates in keys and values': JSON.stringify({ ['k\udc00']: '\udc00\ud83d', ok: '😀' }),
  'NUL in a key and a value': JSON.stringify({ 'a\u0000b': 'v\u0000' }),
  'a __proto__ key': '{"__proto__":{"admin":true},"x":1}',
  'a nested __proto__ key': '{"x":{"__proto__":{"admin":true}}}',
  'escapes, spacing and numbers JSON.parse accepts':
    ' { "\\u00e9" : "\\ud83d\\ude00" , "n" : 1e400, "m": -0, "0": [1, {"b": null}] } ',
  'duplicate keys (the last wins)': '{"a":1,"b":2,"a":3}',
}

describe('stored bytes read as the reference reads them', () => {
  for (const [label, text] of Object.entries(STORED)) {
    it(`get: ${label}`, async () => {
      const answers = {}
      for (const [name, get] of Object.entries(callers('get'))) {
        const s = await get({ app: APP, token: await planted(text) })
        assertOwnData(s.d, name)
        answers[name] = comparable(s)
      }
      assert.deepStrictEqual(answers.rsCallback, answers.v3)
      assert.deepStrictEqual(answers.rsPromise, answers.v4)
      assert.deepStrictEqual(answers.v4, answers.v3)
    })
  }

  it('soid and soapp: every stored text above, in one list', async () => {
    for (const text of Object.values(STORED)) await planted(text, 'lister')
    for (const [name, soid] of Object.entries(callers('soid'))) {
      const { sessions } = await soid({ app: APP, id: 'lister' })
      assert.equal(sessions.length, Object.keys(STORED).length, name)
      sessions.forEach((s) => assertOwnData(s.d, name))
    }
    const lists = async (method, options) => {
      const out = {}
      for (const [name, call] of Object.entries(callers(method))) {
        out[name] = (await call(options)).sessions.map(comparable)
      }
      assert.deepStrictEqual(out.rsCallback, out.v3, method)
      assert.deepStrictEqual(out.rsPromise, out.v4, method)
      assert.deepStrictEqual(out.v4, out.v3, method)
    }
    await lists('soid', { app: APP, id: 'lister' })
    await lists('soapp', { app: APP, dt: 600, deltaTime: 600 })
  })
})

describe('bytes written as the reference writes them', () => {
  const INPUTS = {
    'lone surrogates in keys and values': { s: 'x\ud83d', ['k\udc00']: 1, fffd: '\ufffd', pair: '😀' },
    'NUL in keys and values': { 'a\u0000b': 'v\u0000', '\u0000': 1 },
    'an own __proto__ key': { ['__proto__']: 'p', x: 2 },
    'inherited enumerable keys after an own one': Object.assign(Object.create({ a: 1 }), { b: 2 }),
    'an own key shadowing an inherited one': Object.assign(Object.create({ a: 1 }), { a: 2 }),
  }

  for (const [label, d] of Object.entries(INPUTS)) {
    it(`create and set: ${label}`, async () => {
      const created = {}
      for (const [name, create] of Object.entries(callers('create'))) {
        const { token } = await create({ app: APP, id: 'writer', ip: '1', d })
        created[name] = await raw.hget(`rs:${APP}:${token}`, 'd')
      }
      assert.equal(created.rsCallback, created.v3)
      assert.equal(created.rsPromise, created.v4)
      assert.equal(created.v4, created.v3)

      const written = {}
      const answers = {}
      for (const [name, set] of Object.entries(callers('set'))) {
        const token = await planted('{"old":1}')
        answers[name] = comparable(await set({ app: APP, token, d }))
        written[name] = await raw.hget(`rs:${APP}:${token}`, 'd')
      }
      assert.equal(written.rsCallback, written.v3)
      assert.equal(written.rsPromise, written.v4)
      assert.deepStrictEqual(answers.rsCallback, answers.v3)
      assert.deepStrictEqual(answers.rsPromise, answers.v4)
    })
  }

  it('a reference session with those strings reads back the same through this package', async () => {
    const d = INPUTS['lone surrogates in keys and values']
    const { token } = await promisify(v3.create.bind(v3))({ app: APP, id: 'ref', ip: '1', d })
    const s = await rs.get({ app: APP, token })
    assert.deepStrictEqual(s.d, d)
    assert.equal(s.d.s, 'x\ud83d')
  })

  it('d with only inherited keys has no key, as for the reference', async () => {
    const message = 'd must containt at least one key.'
    const d = Object.create({ a: 1 })
    for (const [name, create] of Object.entries(callers('create'))) {
      await assert.rejects(create({ app: APP, id: 'u', ip: '1', d }), { name: 'invalidValue', message }, name)
    }
    const token = await planted('{"old":1}')
    await assert.rejects(rs.set({ app: APP, token, d }), { name: 'invalidValue', message })
  })
})

describe('a session whose d cannot be read', () => {
  it('get says so; soid and soapp list it without d, and list every other session', async () => {
    const id = 'has-a-bad-one'
    const good = await rs.create({ app: APP, id, ip: 'good', d: { ok: 'yes' } })
    const bad = await planted('{oops', id)
    await raw.hset(`rs:${APP}:${bad}`, 'ip', 'bad')
    await assert.rejects(rs.get({ app: APP, token: bad }), { name: 'corruptSession' })
    assert.deepEqual((await rs.get({ app: APP, token: good.token })).d, { ok: 'yes' })

    const { sessions } = await rs.soid({ app: APP, id })
    const byIp = Object.fromEntries(sessions.map((s) => [s.ip, s]))
    assert.deepEqual(Object.keys(byIp).sort(), ['bad', 'good'])
    assert.deepEqual(Object.keys(byIp.bad), ['id', 'r', 'w', 'ttl', 'idle', 'ip'])
    assert.deepEqual(byIp.good.d, { ok: 'yes' })

    const soapp = await promisify(rs.soapp)({ app: APP, dt: 600 })
    const listed = soapp.sessions.filter((s) => s.id === id)
    assert.deepEqual(listed.map((s) => s.ip).sort(), ['bad', 'good'])
    assert.equal(listed.find((s) => s.ip === 'bad').d, undefined)
  })

  // A listing is built from one JSON text when it can be; NaN and -0 cannot be written in JSON.
  it('soid lists a garbled w, -0, no_resave, quotes and handles as get reads them', async () => {
    const id = 'numbers-"quoted"\\-😀'
    for (const value of ['garbled', '-0', '12.5']) {
      const { token } = await rs.create({ app: APP, id, ip: value, no_resave: true, d: { __proto__x: 1 } })
      await raw.hset(`rs:${APP}:${token}`, 'w', value)
    }
    const { sessions } = await rs.soid({ app: APP, id })
    assert.deepEqual(sessions.map((s) => s.ip).sort(), ['-0', '12.5', 'garbled'])
    assert.ok(Number.isNaN(sessions.find((s) => s.ip === 'garbled').w))
    assert.ok(Object.is(sessions.find((s) => s.ip === '-0').w, -0))
    assert.equal(sessions.find((s) => s.ip === '12.5').w, 12.5)
    for (const listed of sessions) {
      assert.equal(listed.id, id)
      assert.equal(listed.no_resave, true)
      assert.deepEqual(Object.keys(listed), ['id', 'r', 'w', 'ttl', 'idle', 'ip', 'no_resave', 'd'])
    }
    const withHandles = await rs.soid({ app: APP, id, handles: true })
    assert.ok(withHandles.sessions.every((s) => /^[0-9a-f]{16}$/.test(s.handle)))
  })
})
