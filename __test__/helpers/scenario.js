'use strict'
// The behaviour scenario: every method in one style, with the answers and
// what Redis holds after each call checked, and recorded with tokens and times
// normalised so that runs on different topologies can be compared.
// `scenario.test.js` runs it on every topology.
const assert = require('node:assert/strict')
const RedisSessions = require('../..')
const { reader } = require('./layout')

const APP = 'scenapp'
const OTHER_APP = 'scenother'
const SESSION_KEYS = ['id', 'r', 'w', 'ttl', 'idle', 'ip']
const STYLES = ['callback', 'promise']
const nowSeconds = () => Math.floor(Date.now() / 1000)

/**
 * Calls detached methods (every method is bound to its instance) in `style`;
 * resolves to {value} or {error}, having checked the style's contract: a
 * Promise, or a callback call that returns undefined and gets either an error
 * alone or (null, value).
 */
function caller(rs, style) {
  const methods = Object.fromEntries(
    ['activity', 'create', 'get', 'kill', 'killall', 'killsoid', 'ping', 'quit', 'set', 'soapp', 'soid'].map((name) => [
      name,
      rs[name],
    ]),
  )
  return async (name, ...args) => {
    const method = methods[name]
    if (style === 'promise') {
      const promise = method(...args)
      assert.ok(promise instanceof Promise, `${name} returns a Promise`)
      return promise.then(
        (value) => ({ value }),
        (error) => ({ error }),
      )
    }
    let answer
    const answered = new Promise((resolve) => {
      answer = resolve
    })
    const returned = method(...args, (e, v) => answer([e, v]))
    const [err, value] = await answered
    assert.equal(returned, undefined, `${name} with a callback returns undefined`)
    if (err) {
      assert.equal(value, undefined, `${name}: no result beside an error`)
      return { error: err }
    }
    assert.equal(err, null, `${name}: the error argument is null`)
    return { value }
  }
}

/** Time `value` (unix seconds) as an offset from now, to 5 s, so a second boundary falling mid-run changes nothing. */
const sinceNow = (value) => {
  const offset = Math.round((Number(value) - nowSeconds()) / 5) * 5
  return `now${offset < 0 ? '' : '+'}${offset}`
}
const toFive = (value) => Math.round(Number(value) / 5) * 5

/** Tokens as T0, T1... in order of creation; times and durations rounded; errors as name and message. */
function normalizer(tokens) {
  const answer = (outcome) => {
    if (outcome.error) {
      assert.ok(outcome.error instanceof Error)
      return { error: `${outcome.error.name}: ${outcome.error.message}` }
    }
    const value = renamed({ value: outcome.value }, (key, v) =>
      (key === 'idle' || key === 'ttl') && typeof v === 'number' ? toFive(v) : v,
    )
    // Sessions that tie on activity come in any order.
    if (Array.isArray(value.value?.sessions))
      value.value.sessions.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1))
    return value
  }
  const stored = (snapshot) => {
    const data = renamed(snapshot)
    for (const [key, value] of Object.entries(data)) {
      if (Array.isArray(value) && Array.isArray(value[0])) {
        data[key] = value
          .map(([member, score]) => [member, sinceNow(score)])
          .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      } else if (Array.isArray(value)) data[key] = [...value].sort()
      else if (value && typeof value === 'object') {
        data[key] = {
          ...value,
          ...(value.la ? { la: sinceNow(value.la) } : {}),
          ...(value.ttl ? { ttl: String(toFive(value.ttl)) } : {}),
        }
      }
    }
    return data
  }
  function renamed(value, reviver) {
    let text = JSON.stringify(value) ?? 'null'
    tokens.forEach((token, i) => {
      text = text.split(token).join(`T${i}`)
    })
    return JSON.parse(text, reviver)
  }
  return { answer, stored }
}

/**
 * Runs every method in `style` against a new instance made with `options`
 * (the topology's connection options) in namespace `namespace`, reading Redis
 * through `raw` (ioredis, or ioredis.Cluster when `cluster`). Checks what is
 * true on every topology; resolves to the normalised log of [label, answer,
 * what the namespace holds after it], for comparison with other topologies.
 */
async function runScenario({ options, raw, cluster, namespace, style }) {
  const rs = new RedisSessions({ ...options, namespace, wipe: 0 })
  const call = caller(rs, style)
  const store = reader(raw, namespace, { cluster })
  const tokens = []
  const normalize = normalizer(tokens)
  const log = []
  const missing = style === 'promise' ? null : {}
  const key = (...parts) => [namespace, ...parts].join(':')

  /**
   * Calls `name`; `check(value, stored)` asserts what is true everywhere;
   * logs the normalised answer and stored state.
   */
  async function step(label, name, args, check) {
    const outcome = await call(name, ...(args === undefined ? [] : [args]))
    const stored = await store.dump()
    if (check) {
      assert.equal(outcome.error, undefined, `${label}: ${outcome.error?.name}: ${outcome.error?.message}`)
      await check(outcome.value, stored)
    }
    log.push([label, normalize.answer(outcome), normalize.stored(stored)])
    return outcome
  }
  const expect = async (label, name, args, check = () => {}) => (await step(label, name, args, check)).value
  async function expectError(label, name, args, errorName, message) {
    const { error } = await step(label, name, args)
    assert.ok(error instanceof Error, `${label}: an Error`)
    assert.equal(error.name, errorName, label)
    assert.equal(error.message, message, label)
  }
  async function create(label, args, check) {
    const before = nowSeconds()
    const value = await expect(label, 'create', args, (v, stored) => {
      tokens.push(v.token)
      assert.deepEqual(Object.keys(v), ['token'])
      assert.match(v.token, /^[A-Ya-z0-9]{55}Z[0-9a-z]+$/)
      assert.equal(v.token.length, 64)
      const hash = stored[key(args.app, v.token)]
      const la = Number(hash.la)
      assert.ok(la >= before && la <= before + 1, `la ${la}`)
      const id = String(args.id)
      assert.equal(hash.id, id)
      assert.ok(stored[key(args.app, 'us', id)].includes(v.token))
      assert.deepEqual(
        stored[key(args.app, '_sessions')].find(([m]) => m === `${v.token}:${id}`),
        [`${v.token}:${id}`, hash.la],
      )
      assert.deepEqual(
        stored[key(args.app, '_users')].find(([m]) => m === id),
        [id, hash.la],
      )
      const expiry = stored[key('SESSIONS')].find(([m]) => m === `${args.app}:${v.token}:${id}`)
      assert.equal(Number(expiry[1]), la + Number(hash.ttl))
      return check?.(v, stored, hash)
    })
    return value.token
  }

  try {
    await expect('ping', 'ping', undefined, (v) => assert.equal(v, 'PONG'))

    // create, then get and set: the reference's keys and fields, exactly.
    const alice1 = await create(
      'create with d',
      { app: APP, id: 'alice', ip: '10.0.0.1', ttl: 3600, d: { foo: 'bar', n: 34, gone: null } },
      (v, stored, hash) => {
        assert.deepEqual(Object.keys(hash).sort(), ['d', 'id', 'ip', 'la', 'r', 'ttl', 'w'])
        assert.deepEqual(
          { ...hash, la: 0 },
          { id: 'alice', r: '1', w: '1', ip: '10.0.0.1', la: 0, ttl: '3600', d: '{"foo":"bar","n":34}' },
        )
        assert.deepEqual(stored[key(APP, 'us', 'alice')], [v.token])
      },
    )
    const alice2 = await create('create without d', { app: APP, id: 'alice', ip: '10.0.0.2' }, (v, stored, hash) => {
      assert.deepEqual(Object.keys(hash).sort(), ['id', 'ip', 'la', 'r', 'ttl', 'w'])
      assert.equal(hash.ttl, '7200')
      assert.equal(stored[key(APP, 'us', 'alice')].length, 2)
    })
    const bob = await create('create bob', { app: APP, id: 'bob', ip: '10.0.0.3', ttl: 3600, d: { n: 2 } })
    const colonId = 'org:42:user:7'
    const colon = await create('create an id with ":"', { app: APP, id: colonId, ip: '4' })
    const unicodeId = 'ü😀\u0000x'
    const unicode = await create('create a unicode id', {
      app: APP,
      id: unicodeId,
      ip: '😀',
      d: { 'ké y': 'välue 😀' },
    })

    await expect('get', 'get', { app: APP, token: alice1 }, (s, stored) => {
      assert.deepEqual(Object.keys(s), [...SESSION_KEYS, 'd'])
      // idle is whole seconds since create: 1 when a second boundary fell between the two.
      assert.ok(s.idle === 0 || s.idle === 1, `idle ${s.idle}`)
      assert.deepEqual(
        { ...s, idle: 0 },
        { id: 'alice', r: 1, w: 1, ttl: 3600, idle: 0, ip: '10.0.0.1', d: { foo: 'bar', n: 34 } },
      )
      assert.equal(stored[key(APP, alice1)].r, '2')
    })
    await expect('get counts the read before it', 'get', { app: APP, token: alice1 }, (s, stored) => {
      assert.equal(s.r, 2)
      assert.equal(stored[key(APP, alice1)].r, '3')
    })
    await expect(
      'set merges d, null removes',
      'set',
      { app: APP, token: alice1, d: { n: null, last: '/read', 7: true, 2: 1.5 } },
      (s, stored) => {
        assert.deepEqual(s.d, { 2: 1.5, 7: true, foo: 'bar', last: '/read' })
        assert.equal(s.w, 2)
        assert.equal(s.r, 3)
        assert.equal(stored[key(APP, alice1)].d, '{"2":1.5,"7":true,"foo":"bar","last":"/read"}')
      },
    )
    await expect('set again', 'set', { app: APP, token: alice1, d: { foo: 'baz' } }, (s, stored) => {
      assert.equal(s.w, 3)
      assert.equal(stored[key(APP, alice1)].d, '{"2":1.5,"7":true,"foo":"baz","last":"/read"}')
    })
    await expect(
      'set removing every key removes d',
      'set',
      { app: APP, token: alice1, d: { 2: null, 7: null, foo: null, last: null } },
      (s, stored) => {
        assert.deepEqual(Object.keys(s), SESSION_KEYS)
        assert.equal('d' in stored[key(APP, alice1)], false)
      },
    )

    // d is stored exactly as JSON.stringify writes it.
    const d = {
      b: 20.212,
      a: 1e21,
      z: -0,
      nan: NaN,
      inf: -Infinity,
      s: 'quote" back\\ \n\t\u0001 \u2028 😀 é',
      t: true,
      f: false,
      10: 'ten',
      1: 'one',
    }
    const json = await create(
      'create with every kind of value',
      { app: APP, id: 'json', ip: '1', d },
      (v, stored, hash) => {
        assert.equal(hash.d, JSON.stringify(d))
      },
    )
    await expect('get every kind of value', 'get', { app: APP, token: json }, (s) =>
      assert.deepEqual(s.d, JSON.parse(JSON.stringify(d))),
    )
    await expect(
      'set every kind of value',
      'set',
      { app: APP, token: json, d: { b: 0.1, 3: 'three', new: 'x' } },
      (s, stored) => {
        const expected = { ...JSON.parse(JSON.stringify(d)), b: 0.1, 3: 'three', new: 'x' }
        assert.equal(stored[key(APP, json)].d, JSON.stringify(expected))
      },
    )

    // A missing session: {} for callbacks, null for promises; nothing written. In cluster
    // mode 'b…' and 'z…' name no bucket and 'A…' names bucket 0.
    for (const letter of ['b', 'z', 'A']) {
      const token = letter.repeat(64)
      const untouched = (value, stored) => {
        assert.deepEqual(value, missing)
        assert.equal(key(APP, token) in stored, false)
      }
      await expect(`get unknown ${letter}`, 'get', { app: APP, token }, untouched)
      await expect(`set unknown ${letter}`, 'set', { app: APP, token, d: { a: 1 } }, untouched)
      await expect(`kill unknown ${letter}`, 'kill', { app: APP, token }, (v) => assert.deepEqual(v, { kill: 0 }))
    }
    await expectError('bad token', 'get', { app: APP, token: 'short' }, 'invalidFormat', 'Invalid token format')
    await expectError('no id', 'soid', { app: APP }, 'missingParameter', 'No id supplied')

    // Ids with ":" and unicode work in every method.
    await expect('get an id with ":"', 'get', { app: APP, token: colon }, (s) => assert.equal(s.id, colonId))
    await expect('set an id with ":"', 'set', { app: APP, token: colon, d: { a: 1 } }, (s) =>
      assert.equal(s.id, colonId),
    )
    await expect('soid an id with ":"', 'soid', { app: APP, id: colonId }, (v) => assert.equal(v.sessions.length, 1))
    await expect('get a unicode id', 'get', { app: APP, token: unicode }, (s) => {
      assert.equal(s.id, unicodeId)
      assert.equal(s.ip, '😀')
      assert.deepEqual(s.d, { 'ké y': 'välue 😀' })
    })

    // Listings (logged in a sorted order: sessions created within a second tie on activity).
    await expect('soid', 'soid', { app: APP, id: 'alice' }, (v) => {
      assert.deepEqual(Object.keys(v), ['sessions'])
      assert.equal(v.sessions.length, 2)
      for (const s of v.sessions) assert.equal(s.id, 'alice')
    })
    await expect('soid of nobody', 'soid', { app: APP, id: 'nobody' }, (v) => assert.deepEqual(v, { sessions: [] }))
    await raw.zadd(store.appSessionsKey(APP, 'alice'), 'XX', nowSeconds() + 5, `${alice2}:alice`)
    const soapp = await expect('soapp', 'soapp', { app: APP, [style === 'promise' ? 'deltaTime' : 'dt']: 60 }, (v) => {
      assert.equal(v.sessions.length, 6)
      assert.equal(v.sessions[0].ip, '10.0.0.2', 'most recently active first')
    })
    log.push(['soapp: most recently active first', soapp.sessions[0].ip])
    await expect('activity', 'activity', { app: APP, [style === 'promise' ? 'deltaTime' : 'dt']: 60 }, (v) =>
      assert.deepEqual(v, { activity: 5 }),
    )
    await expect('activity in another app', 'activity', { app: OTHER_APP, dt: 60, deltaTime: 60 }, (v) =>
      assert.deepEqual(v, { activity: 0 }),
    )

    // kill removes the hash and every index entry; the id leaves _users with its last session.
    await expect('kill', 'kill', { app: APP, token: alice1 }, (v, stored) => {
      assert.deepEqual(v, { kill: 1 })
      assert.ok(stored[key(APP, '_users')].some(([id]) => id === 'alice'))
    })
    await expect('kill twice', 'kill', { app: APP, token: alice1 }, (v) => assert.deepEqual(v, { kill: 0 }))
    await expect('kill the last session of an id', 'kill', { app: APP, token: alice2 }, (v, stored) => {
      assert.deepEqual(v, { kill: 1 })
      assert.ok(!stored[key(APP, '_users')].some(([id]) => id === 'alice'))
      assert.equal(key(APP, 'us', 'alice') in stored, false)
      for (const token of [alice1, alice2]) {
        assert.equal(key(APP, token) in stored, false)
        assert.ok(!stored[key(APP, '_sessions')].some(([member]) => member.startsWith(token)))
        assert.ok(!stored[key('SESSIONS')].some(([member]) => member.includes(token)))
      }
    })
    await expect('get killed', 'get', { app: APP, token: alice1 }, (v) => assert.deepEqual(v, missing))
    await expect('set killed', 'set', { app: APP, token: alice2, d: { a: 1 } }, (v) => assert.deepEqual(v, missing))

    // killsoid kills every session of an id and nothing else.
    for (let i = 0; i < 3; i++) await create(`create multi ${i}`, { app: APP, id: 'multi', ip: `1.1.1.${i}` })
    await expect('killsoid', 'killsoid', { app: APP, id: 'multi' }, (v, stored) => {
      assert.deepEqual(v, { kill: 3 })
      assert.ok(!stored[key(APP, '_users')].some(([id]) => id === 'multi'))
      assert.equal(key(APP, 'us', 'multi') in stored, false)
    })
    await expect('killsoid twice', 'killsoid', { app: APP, id: 'multi' }, (v) => assert.deepEqual(v, { kill: 0 }))
    await expect('killsoid a unicode id', 'killsoid', { app: APP, id: unicodeId }, (v) =>
      assert.deepEqual(v, { kill: 1 }),
    )
    await expect('get after killsoid of another id', 'get', { app: APP, token: bob }, (s) => assert.equal(s.id, 'bob'))

    // killall kills every session of the app and nothing of other apps.
    const keep = await create('create in another app', { app: OTHER_APP, id: 'x', ip: '1' })
    await expect('killall', 'killall', { app: APP }, (v, stored) => {
      assert.deepEqual(v, { kill: 3 })
      assert.deepEqual(
        Object.keys(stored).filter((k) => k.startsWith(key(APP, ''))),
        [],
      )
      assert.deepEqual(
        stored[key('SESSIONS')].filter(([m]) => m.startsWith(`${APP}:`)),
        [],
      )
    })
    await expect('killall twice', 'killall', { app: APP }, (v) => assert.deepEqual(v, { kill: 0 }))
    await expect('soapp after killall', 'soapp', { app: APP, dt: 60, deltaTime: 60 }, (v) =>
      assert.deepEqual(v, { sessions: [] }),
    )
    await expect('get in the other app', 'get', { app: OTHER_APP, token: keep }, (s) => assert.equal(s.id, 'x'))
    await expect('killall the other app', 'killall', { app: OTHER_APP }, (v, stored) => {
      assert.deepEqual(v, { kill: 1 })
      assert.deepEqual(stored, {})
    })

    // A session idle past its ttl is gone for every method before the wipe, and not touched.
    const old = await create('create a short session', { app: APP, id: 'old', ip: '1', ttl: 10 })
    await raw.hset(store.sessionKey(APP, old), 'la', nowSeconds() - 11)
    await expect('get expired', 'get', { app: APP, token: old }, (v) => assert.deepEqual(v, missing))
    await expect('set expired', 'set', { app: APP, token: old, d: { a: 1 } }, (v) => assert.deepEqual(v, missing))
    await expect('soid expired', 'soid', { app: APP, id: 'old' }, (v) => assert.deepEqual(v, { sessions: [] }))
    await expect('kill expired', 'kill', { app: APP, token: old }, (v, stored) => {
      assert.deepEqual(v, { kill: 0 })
      assert.equal(stored[key(APP, old)].r, '1', 'an expired session is not touched')
    })
    await expect('killall with an expired session', 'killall', { app: APP })

    // no_resave keeps the expiry fixed and reports the remaining ttl.
    const fixed = await create(
      'create no_resave',
      { app: APP, id: 'fixed', ip: '1', ttl: 100, no_resave: true },
      (v, stored, hash) => {
        assert.equal(hash.no_resave, '1')
      },
    )
    const rewoundTo = nowSeconds() - 30
    await raw.hset(store.sessionKey(APP, fixed), 'la', rewoundTo)
    await expect('get no_resave', 'get', { app: APP, token: fixed }, (s, stored) => {
      assert.deepEqual(Object.keys(s), [...SESSION_KEYS, 'no_resave'])
      assert.equal(s.no_resave, true)
      // A second boundary may fall between the rewind and the read.
      assert.ok(s.idle === 30 || s.idle === 31, `idle ${s.idle}`)
      assert.equal(s.ttl, 100 - s.idle)
      assert.equal(stored[key(APP, fixed)].ttl, String(s.ttl))
      const expiry = stored[key('SESSIONS')].find(([m]) => m === `${APP}:${fixed}:fixed`)
      assert.equal(Number(expiry[1]), rewoundTo + 100)
    })
    await expect('set no_resave', 'set', { app: APP, token: fixed, d: { a: 1 } }, (s) => {
      assert.equal(s.w, 2, 'set on a no_resave session reports the real w')
      assert.equal(s.no_resave, true)
    })
    await expect('killall no_resave', 'killall', { app: APP }, (v) => assert.deepEqual(v, { kill: 1 }))

    // 50 concurrent sets of distinct keys all land.
    const busy = await create('create busy', { app: APP, id: 'busy', ip: '1' })
    const sets = await Promise.all(
      Array.from({ length: 50 }, (_, i) => call('set', { app: APP, token: busy, d: { [`k${i}`]: i } })),
    )
    const writes = sets.map((outcome) => outcome.value?.w ?? outcome.error?.message).sort((a, b) => a - b)
    assert.deepEqual(
      writes,
      Array.from({ length: 50 }, (_, i) => i + 2),
    )
    log.push(['50 concurrent sets', writes])
    // Not through step(): the order of d's keys in Redis is the order in which the sets landed.
    const afterSets = await call('get', { app: APP, token: busy })
    assert.equal(afterSets.value.w, 51)
    assert.deepEqual(afterSets.value.d, Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, i])))
    log.push(['get after concurrent sets', normalize.answer(afterSets)])
    await expect('killall busy', 'killall', { app: APP }, (v) => assert.deepEqual(v, { kill: 1 }))

    await expect('quit', 'quit', undefined, (v) => assert.equal(v, undefined))
    await expectError('ping after quit', 'ping', undefined, 'closed', 'This RedisSessions instance has been quit')
  } finally {
    await rs.quit()
  }
  return log
}

module.exports = { runScenario, STYLES }
