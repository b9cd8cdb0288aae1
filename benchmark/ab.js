'use strict'
// Two or more builds of this package, side by side on one workload: each round
// runs every build in a fresh child (the order alternating), against one
// redis-server of its own; prints the medians of ops/s and of Node and Redis
// CPU per operation. For telling whether a change helps when the machine's
// noise is larger than the change (run.js compares against the references).
//
//   node benchmark/ab.js OP C N ROUNDS DIR...
//   OP: get | set | cachedGet; DIR: a directory holding index.js, binding.js
//   and the .node binary (copy them aside to keep a build).
//   e.g. node benchmark/ab.js get 100 40000 10 /tmp/before .
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { fork } = require('node:child_process')
const { performance } = require('node:perf_hooks')
const { clkTck, cpuTicks, invoker, drive, median, pool } = require('./measure')

const APP = 'abpool'
const SESSIONS = 5000
const CACHED = 100
const OPS = {
  get: (pool, i) => ['get', { app: APP, token: pool[i % pool.length] }],
  set: (pool, i) => ['set', { app: APP, token: pool[i % pool.length], d: { n: i, s: 'hello' } }],
  cachedGet: (pool, i) => ['get', { app: APP, token: pool[i % CACHED] }],
}
const isSession = (r) => typeof r?.id === 'string'

async function child(job) {
  const RedisSessions = require(path.resolve(job.dir))
  const rs = new RedisSessions({
    port: job.port, host: '127.0.0.1', namespace: 'ab', wipe: 0,
    ...(job.op === 'cachedGet' ? { cachetime: 60, cachemax: 1000 } : {}),
  })
  await rs.ping()
  const tokens = JSON.parse(fs.readFileSync(job.poolFile, 'utf8'))
  const op = (ctx, i) => [...OPS[job.op](tokens, i), isSession]
  const call = invoker(rs, 'promise')
  await drive(call, {}, op, 0, Math.ceil(job.n / 5), job.c)
  const cpu0 = process.cpuUsage()
  const redis0 = cpuTicks(job.redisPid)
  const t0 = performance.now()
  const { bad } = await drive(call, {}, op, 0, job.n, job.c)
  const seconds = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  const redisTicks = cpuTicks(job.redisPid) - redis0
  if (bad > 0) throw new Error(`${bad} wrong answers`)
  return { ops: job.n / seconds, node: (cpu.user + cpu.system) / job.n, redis: (redisTicks * 1e6) / clkTck / job.n, rss: process.resourceUsage().maxRSS / 1024 }
}

function runChild(job) {
  return new Promise((resolve, reject) => {
    const worker = fork(__filename, ['--child', JSON.stringify(job)])
    worker.once('message', (m) => (m.error ? reject(new Error(m.error)) : resolve(m)))
    worker.once('exit', (code) => code !== 0 && reject(new Error(`${job.dir}: child exited with ${code}`)))
  })
}

async function main([op, c, n, rounds, ...dirs]) {
  if (!OPS[op] || dirs.length === 0) throw new Error('usage: node benchmark/ab.js get|set|cachedGet C N ROUNDS DIR...')
  const { startRedis } = require('../__test__/helpers/redis-server')
  const redis = await startRedis()
  const poolFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rs-ab-')), 'pool.json')
  try {
    const RedisSessions = require('..')
    const seeder = new RedisSessions({ port: redis.port, host: '127.0.0.1', namespace: 'ab', wipe: 0 })
    const tokens = await pool(SESSIONS, 100, async (i) => (await seeder.create({ app: APP, id: `u${i % 1000}`, ip: '10.0.0.1', ttl: 7200, d: { a: 1, b: 'x' } })).token)
    await seeder.quit()
    fs.writeFileSync(poolFile, JSON.stringify(tokens))
    const results = new Map(dirs.map((dir) => [dir, []]))
    for (let round = 0; round < Number(rounds); round++) {
      for (const dir of round % 2 ? [...dirs].reverse() : dirs) {
        results.get(dir).push(await runChild({ dir, op, c: Number(c), n: Number(n), port: redis.port, redisPid: redis.child.pid, poolFile }))
      }
    }
    console.log(`${op}, ${c} in flight, ${n} operations, ${rounds} rounds (medians; Node CPU of every round in brackets)`)
    for (const [dir, runs] of results) {
      const m = (key) => median(runs.map((r) => r[key]))
      console.log(`${dir}\t${Math.round(m('ops'))} ops/s\tnode ${m('node').toFixed(2)} µs\tredis ${m('redis').toFixed(2)} µs\tpeak RSS ${Math.round(m('rss'))} MB\t[${runs.map((r) => r.node.toFixed(1)).join(' ')}]`)
    }
  } finally {
    fs.rmSync(path.dirname(poolFile), { recursive: true, force: true })
    await redis.stop()
  }
}

if (process.argv[2] === '--child') {
  child(JSON.parse(process.argv[3])).then(
    (result) => process.send(result, () => process.exit(0)),
    (err) => process.send({ error: String(err?.stack ?? err) }, () => process.exit(1)),
  )
} else {
  main(process.argv.slice(2)).catch((err) => {
    console.error(err)
    process.exit(1)
  })
}
