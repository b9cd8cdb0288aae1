'use strict'
// 10,000 seeded calls with whatever a caller could pass: every call settles
// exactly once, in time, as a value or an Error; nothing throws synchronously;
// calls that fail validation write nothing.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const RedisSessions = require('..')
const { startWithRaw, dump } = require('./helpers/raw')
const { mulberry32 } = require('./helpers/random')

const SEED = Number(process.env.FUZZ_SEED || 20261128)
const CALLS = 10_000
const METHODS = ['create', 'get', 'set', 'kill', 'killall', 'killsoid', 'soid', 'soapp', 'activity', 'ping']

const megabyte = 'x'.repeat(1 << 20)
const thrower = Object.defineProperty({}, 'app', {
  get() {
    throw new Error('getter exploded')
  },
  enumerable: true,
})
const hostile = new Proxy(
  {},
  {
    get() {
      throw new TypeError('proxy says no')
    },
    ownKeys() {
      throw new TypeError('no keys')
    },
  },
)
const manyKeys = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, i]))

function values(random) {
  const pick = (list) => list[Math.floor(random() * list.length)]
  const scalars = [
    undefined,
    null,
    0,
    -0,
    NaN,
    Infinity,
    1,
    42,
    15.9,
    -5,
    1e21,
    2 ** 53 + 1,
    '',
    ' ',
    'a',
    'abc',
    'fuzzapp',
    'a'.repeat(64),
    'b'.repeat(63),
    '\n',
    'x\u2028',
    '\ud800',
    'x\udfffy',
    '😀'.repeat(20),
    megabyte,
    true,
    false,
    10n,
    0n,
    Symbol('s'),
    () => 1,
    [],
    [1, 2],
    {},
    {
      toString() {
        return 'fuzzapp'
      },
    },
    {
      toString() {
        throw new Error('toString exploded')
      },
    },
    new Date(0),
    /re/,
  ]
  const data = [
    undefined,
    null,
    'text',
    5,
    [],
    {},
    { a: 1 },
    { a: null },
    { a: { nested: 1 } },
    { a: [1] },
    { s: Symbol('x') },
    { b: 1n },
    manyKeys,
    { 1: 'one', z: 'zed', 0: 'zero' },
    { u: undefined },
    { f: () => 1 },
    { big: megabyte },
    thrower,
  ]
  return () => {
    const roll = random()
    if (roll < 0.03) return pick([null, undefined, 'string', 42, [], thrower, hostile])
    const options = {}
    for (const key of ['app', 'id', 'ip', 'token', 'ttl', 'dt', 'deltaTime']) {
      if (random() < 0.7)
        options[key] = random() < 0.5 ? pick(['fuzzapp', 'a'.repeat(64), 'user:1', '10', '600']) : pick(scalars)
    }
    if (random() < 0.6) options.d = pick(data)
    if (random() < 0.2) options.no_resave = pick([true, false, 1, 'yes'])
    return options
  }
}

let server, raw, stop
before(async () => ({ server, raw, stop } = await startWithRaw()))
after(() => stop())

function settle(rs, method, options, callbackStyle) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ hung: true }), 5000)
    let settled = 0
    const done = (outcome) => {
      settled++
      if (settled > 1) outcome.twice = true
      clearTimeout(timer)
      setImmediate(() => resolve({ ...outcome, settled }))
    }
    let returned
    try {
      if (callbackStyle) {
        returned = rs[method](options, (err, result) => done(err ? { err } : { result }))
        if (returned !== undefined) done({ returnedSomething: true })
      } else {
        returned = rs[method](options)
        returned.then(
          (result) => done({ result }),
          (err) => done({ err }),
        )
      }
    } catch (err) {
      done({ threw: err })
    }
  })
}

describe('fuzz', () => {
  it(`${CALLS} seeded calls (seed ${SEED})`, { timeout: 120_000 }, async () => {
    const rs = new RedisSessions({ port: server.port, wipe: 0, namespace: 'fuzz' })
    const random = mulberry32(SEED)
    const nextOptions = values(random)
    const tally = { ok: 0, errors: 0, hung: 0, twice: 0, threw: 0, notErrors: 0 }
    const batch = []
    for (let i = 0; i < CALLS; i++) {
      const method = METHODS[Math.floor(random() * METHODS.length)]
      batch.push(
        settle(rs, method, nextOptions(), random() < 0.5).then((outcome) => {
          if (outcome.hung) tally.hung++
          else if (outcome.threw) tally.threw++
          else if (outcome.settled !== 1 || outcome.twice) tally.twice++
          else if (outcome.err) {
            tally.errors++
            if (!(outcome.err instanceof Error) || typeof outcome.err.message !== 'string') tally.notErrors++
          } else tally.ok++
        }),
      )
      if (batch.length === 200) await Promise.all(batch.splice(0))
    }
    await Promise.all(batch)
    console.log(`fuzz: ${JSON.stringify(tally)}`)
    assert.deepEqual(
      { hung: tally.hung, twice: tally.twice, threw: tally.threw, notErrors: tally.notErrors },
      { hung: 0, twice: 0, threw: 0, notErrors: 0 },
    )
    assert.ok(tally.ok > 100 && tally.errors > 1000)
    assert.equal(await rs.ping(), 'PONG')
    await rs.quit()
  })

  it('calls that fail validation write nothing', { timeout: 60_000 }, async () => {
    const rs = new RedisSessions({ port: server.port, wipe: 0, namespace: 'pure' })
    // Tells validation failures apart without Redis: anything else fails to connect.
    const probe = new RedisSessions({ port: 1, wipe: 0, connectTimeout: 50 })
    const { token } = await rs.create({ app: 'pureapp', id: 'u', ip: '1', d: { keep: 1 } })
    const before = await dump(raw, 'pure')
    const random = mulberry32(SEED + 1)
    const nextOptions = values(random)
    const validation = ['missingParameter', 'invalidFormat', 'invalidValue']
    let refused = 0
    const calls = []
    for (let i = 0; i < 2000; i++) {
      const method = ['create', 'set', 'kill', 'killall', 'killsoid'][i % 5]
      const options = nextOptions()
      // Aim the writes at the existing session.
      if (
        options &&
        typeof options === 'object' &&
        !Array.isArray(options) &&
        options !== thrower &&
        options !== hostile
      ) {
        if (random() < 0.5) options.app = 'pureapp'
        if (random() < 0.5) options.token = token
      }
      calls.push([method, options])
    }
    // Concurrently, so the probe's connection failures are shared.
    const expectations = await Promise.all(
      calls.map(([method, options]) =>
        probe[method](options).then(
          () => null,
          (err) => err,
        ),
      ),
    )
    for (const [i, [method, options]] of calls.entries()) {
      const expected = expectations[i]
      if (!expected || !validation.includes(expected.name)) continue
      refused++
      await assert.rejects(rs[method](options), { name: expected.name, message: expected.message })
    }
    assert.ok(refused > 500, `${refused} refused`)
    assert.deepEqual(await dump(raw, 'pure'), before)
    await rs.quit()
    await probe.quit()
  })

  // Loopback and unroutable values only: a fuzzed instance may start to connect before it quits.
  function constructorOptions(random) {
    const pick = (list) => list[Math.floor(random() * list.length)]
    const numbers = [
      undefined,
      null,
      0,
      -0,
      -1,
      1,
      1.5,
      10,
      6379,
      65536,
      NaN,
      Infinity,
      -Infinity,
      1e300,
      -1e300,
      Number.MAX_VALUE,
      Number.MIN_VALUE,
      2 ** 53 + 1,
      '10',
      'abc',
      '',
      true,
      false,
      10n,
      Symbol('n'),
      {},
      [],
      [1],
      () => 1,
      {
        valueOf() {
          throw new Error('valueOf exploded')
        },
      },
    ]
    const texts = [
      undefined,
      null,
      '',
      'rs',
      'a{b}',
      '\0',
      'x'.repeat(10_000),
      42,
      true,
      {},
      [],
      Symbol('t'),
      {
        toString() {
          throw new Error('toString exploded')
        },
      },
    ]
    const urls = [
      undefined,
      '',
      'redis://127.0.0.1:1',
      'rediss://127.0.0.1:1',
      'redis://u:p@127.0.0.1:1/3',
      'redis://[::1]:1',
      'redis://127.0.0.1:99999',
      'redis://',
      'unix:///nonexistent.sock',
      'http://127.0.0.1',
      'redis://127.0.0.1:1/abc',
      'not a url',
      42,
      {},
    ]
    const nodes = () =>
      pick([
        undefined,
        null,
        [],
        'x',
        [pick(urls)],
        [{ host: '127.0.0.1', port: pick(numbers) }],
        [{}],
        [null, 1, 'redis://127.0.0.1:1'],
        {},
      ])
    const tls = () =>
      pick([
        undefined,
        true,
        false,
        {},
        { rejectUnauthorized: false },
        { ca: 'not pem' },
        { cert: 'x' },
        { cert: 'x', key: 'y' },
        { ca: ['a', Buffer.from('b')] },
        'yes',
      ])
    const throwing = Object.defineProperty({}, 'port', {
      get() {
        throw new Error('getter exploded')
      },
      enumerable: true,
    })
    if (random() < 0.05) return pick([null, 'string', 42, [], throwing, () => 1, Symbol('o')])
    const options = {}
    for (const key of ['port', 'wipe', 'cachetime', 'cachemax', 'connectTimeout', 'commandTimeout', 'touchAfter'])
      if (random() < 0.5) options[key] = pick(numbers)
    for (const key of ['host', 'namespace'])
      if (random() < 0.3)
        options[key] = key === 'host' ? pick([undefined, '', '127.0.0.1', '::1', 42, {}]) : pick(texts)
    if (random() < 0.4) {
      const client = {}
      for (const key of ['url', 'username', 'password', 'auth_pass'])
        if (random() < 0.4) client[key] = key === 'url' ? pick(urls) : pick(texts)
      for (const key of ['db', 'database']) if (random() < 0.3) client[key] = pick(numbers)
      if (random() < 0.3) client.tls = tls()
      if (random() < 0.3)
        client.socket = {
          host: pick(['127.0.0.1', '::1', '', 42]),
          port: pick(numbers),
          tls: tls(),
          connectTimeout: pick(numbers),
        }
      options.options = client
    }
    if (random() < 0.1)
      options.client = {
        connection_options: { host: '127.0.0.1', port: pick(numbers) },
        options: { tls: tls(), auth_pass: pick(texts) },
        selected_db: pick(numbers),
      }
    if (random() < 0.1) options.sentinel = pick([{}, { name: pick(texts), sentinels: nodes() }, 'x'])
    if (random() < 0.1) options.cluster = nodes()
    return options
  }

  it(
    '2000 seeded constructor options: a working instance or an invalidOptions error, never a throw or a big allocation',
    { timeout: 60_000 },
    async () => {
      const random = mulberry32(SEED + 2)
      const rssBefore = process.memoryUsage().rss
      const tally = { working: 0, invalid: 0 }
      for (let i = 0; i < 2000; i++) {
        const options = constructorOptions(random)
        let rs
        try {
          rs = new RedisSessions(options)
        } catch (err) {
          assert.fail(`new RedisSessions(${String(Object.keys(Object(options)))}) threw: ${err && err.message}`)
        }
        assert.ok(Array.isArray(rs.warnings) || rs.warnings === undefined)
        // Answered without Redis: a validation error when the options were fine.
        const err = await rs.get({}).then(
          () => null,
          (e) => e,
        )
        assert.ok(err instanceof Error, 'get({}) fails')
        assert.ok(['missingParameter', 'invalidOptions'].includes(err.name), `${err.name}: ${err.message}`)
        tally[err.name === 'invalidOptions' ? 'invalid' : 'working']++
        await rs.quit()
      }
      console.log(`constructor fuzz: ${JSON.stringify(tally)}`)
      assert.ok(tally.working > 200 && tally.invalid > 200, JSON.stringify(tally))
      assert.ok(process.memoryUsage().rss - rssBefore < 200 * 2 ** 20, 'no allocation sized by an option')
    },
  )
})
