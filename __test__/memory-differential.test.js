'use strict'
// The in-memory engine against a standalone Redis on random sequences of every
// operation (seeded, so a failure repeats): each step's answer and everything
// the namespace holds afterwards must be the same, field for field. The
// memory run replays the Redis run's clock (Date.now() of each step), and
// sessions are aged the same way on both (their `la` moved back), so expiry,
// idle, no_resave, max, maxAge, touchAfter and the listings' windows all meet
// the same times. The scenario (scenario.test.js) is the readable version.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const RedisSessions = require('..')
const { handleOfToken } = require('../binding.js')
const { startRedis } = require('./helpers/redis-server')
const { connect } = require('./helpers/raw')
const { reader } = require('./helpers/layout')
const { startTopology } = require('./helpers/topologies')
const { mulberry32 } = require('./helpers/random')

const APPS = ['diffapp', 'diffother']
const IDS = ['alice', 'bob', 'c:1', 'ü😀']
const GIVEN = ['Gx'.repeat(32), 'Hy'.repeat(32)]
const STEPS = 150
const realNow = Date.now
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYabcdefghijklmnopqrstuvwxyz0123456789'

/** hashTokens' stored name (README), as hash-tokens.test.js computes it: named like its token. */
function storedName(token) {
  const digest = crypto.createHash('sha512').update(`redis-sessions-rs stored name\0${token}`).digest()
  let name = ''
  for (let i = 0; i < 55; i++) name += ALPHABET[digest[i] % 61]
  return name + token.slice(55)
}

/** Waits for a fresh millisecond that is not near the end of a second, so that a step's second is certain. */
async function settledMillisecond(last) {
  for (;;) {
    const now = realNow()
    if (now > last && now % 1000 < 980) return now
    await new Promise((resolve) => setTimeout(resolve, now % 1000 >= 980 ? 1000 - (now % 1000) : 1))
  }
}

/** The steps of a seed: [label, (rs, tokens) => Promise] or an aging [label, {age}], drawn once for both engines. */
function plan(seed) {
  const random = mulberry32(seed)
  const pick = (list) => list[Math.floor(random() * list.length)]
  const int = (low, high) => low + Math.floor(random() * (high - low + 1))
  // Mostly one app, so that steps find the sessions made before them.
  const someApp = () => (random() < 0.85 ? APPS[0] : APPS[1])
  // Which of the tokens made so far a step names, drawn now: the runs must not draw.
  const tokenPick = () => {
    const [known, which] = [random() < 0.9, random()]
    return (tokens) => (known && tokens.length > 0 ? tokens[Math.floor(which * tokens.length)] : 'Zz'.repeat(32))
  }
  const d = () => {
    const out = {}
    for (let i = int(1, 3); i > 0; i--) out[pick(['a', 'b', '7', 'n', 'é'])] = pick([1, 'x', null, true, 2.5, null])
    return out
  }
  const ops = {
    create: () => {
      const args = { app: someApp(), id: pick(IDS), ip: `10.0.0.${int(1, 9)}`, ttl: int(10, 40) }
      if (random() < 0.5) args.d = d()
      if (random() < 0.2) args.no_resave = true
      if (random() < 0.2) args.max = int(1, 3)
      if (random() < 0.2) args.maxAge = int(10, 60)
      return [`create ${JSON.stringify(args)}`, (rs) => rs.create(args)]
    },
    get: () => {
      const [app, token] = [someApp(), tokenPick()]
      return [`get in ${app}`, (rs, tokens) => rs.get({ app, token: token(tokens) })]
    },
    set: () => {
      const [app, patch, token] = [someApp(), d(), tokenPick()]
      return [`set ${JSON.stringify(patch)}`, (rs, tokens) => rs.set({ app, token: token(tokens), d: patch })]
    },
    kill: () => {
      const [app, byHandle, id, token] = [someApp(), random() < 0.3, pick(IDS), tokenPick()]
      return [
        `kill${byHandle ? ' by handle' : ''}`,
        (rs, tokens) => {
          const chosen = token(tokens)
          return rs.kill(byHandle ? { app, id, handle: handleOfToken(chosen) } : { app, token: chosen })
        },
      ]
    },
    killsoid: () => {
      const [app, id, keeping, token] = [someApp(), pick(IDS), random() < 0.5, tokenPick()]
      return [
        `killsoid ${id}${keeping ? ' except one' : ''}`,
        (rs, tokens) => rs.killsoid(keeping ? { app, id, except: token(tokens) } : { app, id }),
      ]
    },
    killall: () => {
      const app = someApp()
      return [`killall ${app}`, (rs) => rs.killall({ app })]
    },
    soid: () => {
      const [app, id, handles] = [someApp(), pick(IDS), random() < 0.5]
      return [`soid ${id}`, (rs) => rs.soid({ app, id, handles })]
    },
    soapp: () => {
      const [app, dt, handles] = [someApp(), int(10, 40), random() < 0.5]
      return [`soapp ${dt}`, (rs) => rs.soapp({ app, dt, handles })]
    },
    count: () => {
      const app = someApp()
      return [`count ${app}`, (rs) => rs.count({ app })]
    },
    activity: () => {
      const [app, dt] = [someApp(), int(10, 40)]
      return [`activity ${dt}`, (rs) => rs.activity({ app, dt })]
    },
    rotate: () => {
      const [app, token] = [someApp(), tokenPick()]
      return ['rotate', (rs, tokens) => rs.rotate({ app, token: token(tokens) })]
    },
    touch: () => {
      const [app, ttl, token] = [someApp(), random() < 0.5 ? int(10, 40) : undefined, tokenPick()]
      return [`touch ${ttl}`, (rs, tokens) => rs.touch({ app, token: token(tokens), ttl })]
    },
    createWithToken: () => {
      const args = { app: someApp(), token: pick(GIVEN), id: pick(IDS), ip: '4', ttl: int(10, 40) }
      return [`createWithToken ${args.id}`, (rs) => rs.createWithToken(args)]
    },
    moveToId: () => {
      const [app, id, token] = [someApp(), pick(IDS), tokenPick()]
      return [`moveToId ${id}`, (rs, tokens) => rs.moveToId({ app, token: token(tokens), id })]
    },
    age: () => {
      const [which, seconds] = [random(), int(1, 25)]
      return [`age ${seconds}`, { which, seconds }]
    },
  }
  const weights = Object.entries({
    create: 6,
    get: 4,
    set: 3,
    age: 3,
    kill: 2,
    soid: 2,
    soapp: 2,
    activity: 1,
    count: 1,
  })
    .concat(Object.entries({ rotate: 1, touch: 2, createWithToken: 1, moveToId: 1, killsoid: 1.5, killall: 0.3 }))
    .flatMap(([name, weight]) => Array.from({ length: Math.ceil(weight * 3) }, () => name))
  return Array.from({ length: STEPS }, () => ops[pick(weights)]())
}

/** Runs the plan; `clock` gives each step's Date.now() (Redis: waits for one and records it). */
async function run(steps, options, client, ns, clock, aged) {
  const rs = new RedisSessions({ ...options, namespace: ns, wipe: 0, touchAfter: 5, events: true })
  const store = reader(client, ns)
  const tokens = []
  const log = []
  try {
    for (const [i, [label, action]] of steps.entries()) {
      const now = await clock(i)
      const second = Math.floor(now / 1000)
      let value
      if (typeof action === 'function') {
        value = await action(rs, tokens).catch((err) => ({ error: `${err.name}: ${err.message}` }))
        if (value?.token && !tokens.includes(value.token)) tokens.push(value.token)
      } else {
        const sessions = Object.entries(await store.dump()).filter(([, v]) => v && !Array.isArray(v) && v.la)
        if (sessions.length > 0) {
          // In the order of their names (T0, T1…): the same session on both engines.
          const byName = sessions.map(([key, hash]) => [named(key, tokens, 0), key, hash]).sort()
          const [, key, hash] = byName[Math.floor(action.which * byName.length)]
          await aged(key, Number(hash.la) - action.seconds)
        }
      }
      log.push([label, named(value, tokens, second), named(await store.dump(), tokens, second)])
    }
  } finally {
    await rs.quit()
  }
  return log
}

/** Tokens as T0, T1…; handles as 'handle'; unix times as offsets from the step's second; collections sorted. */
function named(value, tokens, second) {
  let text = JSON.stringify(value) ?? 'null'
  tokens.forEach((token, i) => {
    text = text.split(token).join(`T${i}`).split(storedName(token)).join(`S${i}`)
  })
  return JSON.parse(text, (key, v) => {
    if (key === 'handle') return 'handle'
    if (typeof v === 'string' && /^\d{10}$/.test(v)) return `now${Number(v) - second}`
    if (Array.isArray(v)) return [...v].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1))
    return v
  })
}

describe('memory: random sequences of every operation store and answer as on Redis', () => {
  let server
  let raw
  let memory
  before(async () => {
    server = await startRedis()
    raw = connect(server.port)
    memory = await startTopology('memory')
  })
  after(async () => {
    raw.disconnect()
    await server.stop()
    Date.now = realNow
  })

  for (const [seed, hashTokens] of [1, 2, 3, 4, 5, 6, 7, 8].map((seed) => [seed, seed > 5])) {
    it(`seed ${seed}: ${STEPS} steps${hashTokens ? ', hashTokens' : ''}`, async () => {
      const steps = plan(seed)
      const ns = `diff${seed}`
      const times = []
      const onRedis = await run(
        steps,
        { port: server.port, hashTokens },
        raw,
        ns,
        async (i) => (times[i] = await settledMillisecond(times[i - 1] ?? 0)),
        (key, la) => raw.hset(key, 'la', la),
      )
      let step = 0
      Date.now = () => times[step]
      try {
        const inMemory = await run(
          steps,
          { memory: true, hashTokens },
          memory.raw,
          ns,
          async (i) => times[(step = i)],
          (key, la) => memory.raw.hset(key, 'la', la),
        )
        for (const [i, entry] of inMemory.entries()) assert.deepEqual(entry, onRedis[i], `step ${i}: ${steps[i][0]}`)
      } finally {
        Date.now = realNow
      }
    })
  }
})
