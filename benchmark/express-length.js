'use strict'
// The express store's `length` on an app of N sessions (10,000 by default), some of them ended and lingering in
// the indexes as they do between two wipes: `length` (the engine's `count`: ZCARD of the app's index, reading only
// the sessions SESSIONS says may have ended) against `all().length` (every session read, as `length` was before),
// interleaved rounds on one redis-server; wall time, Node CPU and Redis CPU per call, medians.
// `node benchmark/express-length.js` (N=, ENDED=, ROUNDS= in the environment).
const Redis = require('ioredis')
const RedisSessions = require('..')
const { RedisSessionsStore } = require('../express')
const { tokenForSid } = require('../binding.js')
const { startRedis } = require('../__test__/helpers/redis-server')

const N = Number(process.env.N ?? 10_000)
const ENDED = Number(process.env.ENDED ?? 200)
const ROUNDS = Number(process.env.ROUNDS ?? 15)
const NS = 'blen'
const APP = 'lenapp'

const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]

async function redisCpu(raw) {
  const info = await raw.info('cpu')
  const field = (name) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0)
  return field('used_cpu_sys') + field('used_cpu_user')
}

async function measure(raw, call) {
  const cpu0 = process.cpuUsage()
  const redis0 = await redisCpu(raw)
  const t0 = process.hrtime.bigint()
  const answer = await call()
  const wall = Number(process.hrtime.bigint() - t0) / 1e6
  const redis = ((await redisCpu(raw)) - redis0) * 1000
  const node = (process.cpuUsage(cpu0).user + process.cpuUsage(cpu0).system) / 1000
  return { answer, wall, node, redis }
}

async function main() {
  const server = await startRedis()
  const raw = new Redis({ port: server.port })
  const rs = new RedisSessions({ port: server.port, namespace: NS, wipe: 0 })
  const store = new RedisSessionsStore({ client: rs, app: APP })
  try {
    const cookie = JSON.stringify({ originalMaxAge: 86_400_000, httpOnly: true, path: '/' })
    for (let i = 0; i < N; i += 500) {
      const batch = []
      for (let j = i; j < Math.min(N, i + 500); j++) {
        const token = tokenForSid(`sid-${j}`)
        const id = j % 3 === 0 ? `user${j % 1000}` : `anonymous:${j}`
        batch.push(rs.createWithToken({ app: APP, token, id, ip: '127.0.0.1', ttl: 86_400, d: { cookie, n: `${j}` } }))
      }
      await Promise.all(batch)
    }
    // Ended sessions that linger until the wipe: their last use and SESSIONS score moved into the past.
    const past = Math.floor(Date.now() / 1000) - 2 * 86_400
    for (let j = 0; j < ENDED; j++) {
      const token = tokenForSid(`sid-${j}`)
      const id = await raw.hget(`${NS}:${APP}:${token}`, 'id')
      await raw.hset(`${NS}:${APP}:${token}`, 'la', past)
      await raw.zadd(`${NS}:SESSIONS`, past + 86_400, `${APP}:${token}:${id}`)
      await raw.zadd(`${NS}:${APP}:_sessions`, past, `${token}:${id}`)
    }
    const kinds = {
      'all().length (before)': () => store.all().then((sessions) => sessions.length),
      'length() (after)': () => store.length(),
    }
    const results = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]))
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 ? Object.keys(kinds).reverse() : Object.keys(kinds)
      for (const kind of order) results[kind].push(await measure(raw, kinds[kind]))
    }
    console.log(`${N} sessions, ${ENDED} of them ended and lingering, ${ROUNDS} rounds, medians`)
    console.log('| call | answer | wall ms | Node CPU ms | Redis CPU ms |')
    console.log('|---|--:|--:|--:|--:|')
    for (const [kind, list] of Object.entries(results)) {
      const answers = [...new Set(list.map((r) => r.answer))].join(', ')
      const cell = (key) => median(list.map((r) => r[key])).toFixed(2)
      console.log(`| ${kind} | ${answers} | ${cell('wall')} | ${cell('node')} | ${cell('redis')} |`)
    }
  } finally {
    await rs.quit()
    raw.disconnect()
    await server.stop()
  }
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
