'use strict'
// npm run bench:express (issue 16): one Express app on express-session with
// each store — connect-redis 7 with a node-redis 4 client, express-session's
// MemoryStore, redis-sessions-rs/express, and the same on an engine with
// `cachetime: 30` — each served by its own process, against one redis-server
// this script starts. 200 signed-in users; 90% of requests read the session,
// 10% change one key. Rounds interleave the stores (the order rotates); each
// measurement reports requests/s, the server process's CPU per request and
// redis-server's, at 1 and at 100 concurrent clients; every answer is checked.
//
//   node benchmark/express.js [--rounds 5] [--seconds 3]
//   BENCH_THREADS=1   also the server's CPU per request by thread name (node, the engine's)
//   BENCH_PROFILE=DIR each server writes a CPU profile there (node --cpu-prof)
//   BENCH_COMMANDS=1  also Redis's commands per request and their µs per call (INFO commandstats) per measured run
//   BENCH_CONCURRENCY=1,100  which concurrencies
//   BENCH_STORES=connect-redis,memory,rs,rs-lazy  which stores (connect-redis and memory are the baselines);
//                     rs-lazy is this store on an engine with `touchAfter: 60`; rs-node-sockets with
//                     REDIS_SESSIONS_NODE_SOCKETS=1 (Node's socket driven on the JavaScript thread);
//                     rs-lazy-node-sockets both
const http = require('node:http')
const fs = require('node:fs')
const { fork, spawnSync } = require('node:child_process')
const { startRedis } = require('../__test__/helpers/redis-server')
const { cpuTicks, machineTicks, clkTck, machineInfo, median, int, table } = require('./measure')

// rs-cache: the same store on an engine with `cachetime: 30` (reads answered in-process until a write or 30 s).
const STORES = (process.env.BENCH_STORES ?? 'connect-redis,memory,rs,rs-cache').split(',')
const NAMES = {
  'connect-redis': 'connect-redis 7',
  memory: 'MemoryStore',
  rs: 'redis-sessions-rs',
  'rs-cache': 'redis-sessions-rs, cachetime 30',
  'rs-lazy': 'redis-sessions-rs, touchAfter 60',
  'rs-node-sockets': 'redis-sessions-rs, REDIS_SESSIONS_NODE_SOCKETS=1',
  'rs-lazy-node-sockets': 'redis-sessions-rs, touchAfter 60, REDIS_SESSIONS_NODE_SOCKETS=1',
}
const USERS = 200
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,100').split(',').map(Number)
const WRITE_SHARE = 0.1

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`)
  return at > 0 ? Number(process.argv[at + 1]) : fallback
}

/** The server process: the app with one store, on a free port; answers 'ready' with the port. */
async function serve(kind, redisPort) {
  const express = require('express')
  const session = require('express-session')
  let store
  if (kind === 'connect-redis') {
    const RedisStore = require('connect-redis').default
    const client = require('redis-v4').createClient({ url: `redis://127.0.0.1:${redisPort}` })
    await client.connect()
    store = new RedisStore({ client, prefix: 'bench-cr:' })
  } else if (kind.startsWith('rs')) {
    const RedisSessions = require('..')
    const { RedisSessionsStore } = require('../express')
    const cachetime = kind === 'rs-cache' ? 30 : 0
    const touchAfter = kind.startsWith('rs-lazy') ? 60 : 0
    const client = new RedisSessions({ port: redisPort, namespace: kind, cachetime, touchAfter })
    store = new RedisSessionsStore({ client, app: 'bench' })
  } else {
    store = new session.MemoryStore()
  }
  const app = express()
  app.use(
    session({ store, secret: 'keyboard cat', resave: false, saveUninitialized: false, cookie: { maxAge: 86_400_000 } }),
  )
  app.post('/login', (req, res) => {
    req.session.userId = req.query.user
    req.session.profile = { name: req.query.user, roles: ['reader'], theme: 'dark' }
    res.json({ ok: true })
  })
  app.get('/read', (req, res) => res.json({ user: req.session.userId ?? null, theme: req.session.profile?.theme }))
  app.post('/write', (req, res) => {
    req.session.n = (req.session.n ?? 0) + 1
    res.json({ user: req.session.userId ?? null, n: req.session.n })
  })
  const server = app.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }))
  // Exits when told, so that a --cpu-prof profile (BENCH_PROFILE) is written.
  process.on('message', (m) => m === 'exit' && process.exit(0))
}

/** CPU ticks of a process's threads, summed by thread name. */
function threadTicks(pid) {
  const out = {}
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/[0-9]+$/, '')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    out[name] = (out[name] ?? 0) + Number(fields[11]) + Number(fields[12])
  }
  return out
}

function request(agent, port, method, pathname, cookie) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path: pathname, agent, headers: cookie ? { cookie } : {} },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk) => (body += chunk))
        res.on('end', () => resolve({ status: res.statusCode, body, setCookie: res.headers['set-cookie'] }))
      },
    )
    req.on('error', reject)
    req.end()
  })
}

/** Signs in the users on one server: their cookies. */
async function signIn(port) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 20 })
  const cookies = []
  for (let u = 0; u < USERS; u++) {
    const res = await request(agent, port, 'POST', `/login?user=user${u}`)
    if (res.status !== 200 || !res.setCookie) throw new Error(`sign-in answered ${res.status}`)
    cookies.push(res.setCookie[0].split(';')[0])
  }
  agent.destroy()
  return cookies
}

/** c clients for `seconds`, each request a random user's read (90%) or write (10%); every answer checked. */
async function load(server, cookies, c, seconds, redis) {
  const redisPid = redis.child.pid
  const agent = new http.Agent({ keepAlive: true, maxSockets: c })
  let done = 0
  let stop = false
  const client = async () => {
    while (!stop) {
      const user = Math.floor(Math.random() * USERS)
      const write = Math.random() < WRITE_SHARE
      const res = await request(agent, server.port, write ? 'POST' : 'GET', write ? '/write' : '/read', cookies[user])
      if (res.status !== 200 || JSON.parse(res.body).user !== `user${user}`) {
        throw new Error(`${server.kind}: a wrong answer (${res.status}) ${res.body}`)
      }
      done++
    }
  }
  // A short warm-up at this concurrency, then the measured run.
  const warm = setTimeout(() => (stop = true), 300)
  await Promise.all(Array.from({ length: c }, client))
  clearTimeout(warm)
  stop = false
  done = 0
  const start = { at: process.hrtime.bigint(), server: cpuTicks(server.child.pid), redis: cpuTicks(redisPid) }
  const threadsBefore = threadTicks(server.child.pid)
  if (process.env.BENCH_COMMANDS) spawnSync('redis-cli', ['-p', String(redis.port), 'CONFIG', 'RESETSTAT'])
  const machine = machineTicks()
  const self = process.cpuUsage()
  setTimeout(() => (stop = true), seconds * 1000)
  await Promise.all(Array.from({ length: c }, client))
  const wall = Number(process.hrtime.bigint() - start.at) / 1e9
  const us = (ticks) => (ticks * 1e6) / clkTck / done
  const serverTicks = cpuTicks(server.child.pid) - start.server
  const redisTicks = cpuTicks(redisPid) - start.redis
  const driver = process.cpuUsage(self)
  const driverTicks = ((driver.user + driver.system) / 1e6) * clkTck
  if (process.env.BENCH_THREADS) {
    const after = threadTicks(server.child.pid)
    const per = {}
    for (const [name, t] of Object.entries(after)) {
      per[name] = Math.round(((t - (threadsBefore[name] ?? 0)) * 1e6) / clkTck / done)
    }
    process.stderr.write(`${server.kind} c=${c} server CPU µs/req by thread name: ${JSON.stringify(per)}\n`)
  }
  if (process.env.BENCH_COMMANDS) {
    const stats = spawnSync('redis-cli', ['-p', String(redis.port), 'INFO', 'commandstats'], { encoding: 'utf8' })
    const per = []
    for (const m of stats.stdout.matchAll(/cmdstat_(\w+):calls=(\d+),usec=\d+,usec_per_call=([\d.]+)/g)) {
      if (m[1] !== 'config') per.push(`${m[1]} ${(Number(m[2]) / done).toFixed(2)}/req ${m[3]} µs`)
    }
    process.stderr.write(`${server.kind} c=${c} redis commands: ${per.join(', ')}\n`)
  }
  agent.destroy()
  return {
    rps: done / wall,
    serverUs: us(serverTicks),
    redisUs: us(redisTicks),
    // Busy share of a core that neither the server, redis-server nor this driver used.
    noise: Math.max(0, machineTicks() - machine - serverTicks - redisTicks - driverTicks) / clkTck / wall,
  }
}

async function main() {
  if (process.argv[2] === '--serve') return serve(process.argv[3], Number(process.argv[4]))
  const rounds = option('rounds', 5)
  const seconds = option('seconds', 3)
  const redis = await startRedis()
  const servers = []
  try {
    for (const kind of STORES) {
      // BENCH_PROFILE=DIR: each server writes a CPU profile there (node --cpu-prof).
      const execArgv = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : []
      const env = kind.endsWith('node-sockets') ? { ...process.env, REDIS_SESSIONS_NODE_SOCKETS: '1' } : process.env
      const child = fork(__filename, ['--serve', kind, String(redis.port)], {
        execArgv,
        env,
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      })
      const { port } = await new Promise((resolve, reject) => {
        child.once('message', resolve)
        child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)))
      })
      servers.push({ kind, child, port, cookies: null })
    }
    for (const server of servers) server.cookies = await signIn(server.port)
    const results = {}
    for (let round = 0; round < rounds; round++) {
      for (const c of CONCURRENCY) {
        // The order rotates each round, so the machine's noise falls on every store alike.
        const order = servers.map((_, i) => servers[(i + round) % servers.length])
        for (const server of order) {
          const r = await load(server, server.cookies, c, seconds, redis)
          ;(results[`${server.kind} c=${c}`] ??= []).push(r)
          process.stderr.write(
            `round ${round + 1} c=${c} ${server.kind}: ${int(r.rps)} req/s, ` +
              `server ${r.serverUs.toFixed(0)} µs/req, redis ${r.redisUs.toFixed(1)} µs/req, ` +
              `noise ${r.noise.toFixed(2)}\n`,
          )
        }
      }
    }
    report(results, rounds, seconds)
  } finally {
    await Promise.all(
      servers.map(
        ({ child }) =>
          new Promise((resolve) => {
            child.once('exit', resolve)
            child.send('exit')
          }),
      ),
    )
    await redis.stop()
  }
}

function report(results, rounds, seconds) {
  const info = machineInfo()
  const stat = (key, field) => median(results[key].map((r) => r[field]))
  const spread = (key) => {
    const xs = results[key].map((r) => r.rps)
    return (Math.max(...xs) - Math.min(...xs)) / median(xs)
  }
  // Each round's req/s over connect-redis's in the same round (they ran back to back, so the machine's slower
  // swings hit both): the median and the range, steadier than the ratio of the medians on a noisy machine.
  const byRound = (key, base) => {
    const each = results[key].map((r, i) => r.rps / results[base][i].rps)
    return `${median(each).toFixed(2)}× (${Math.min(...each).toFixed(2)}–${Math.max(...each).toFixed(2)})`
  }
  const rows = []
  for (const c of CONCURRENCY) {
    const base = `connect-redis c=${c}`
    const memory = `memory c=${c}`
    for (const kind of STORES) {
      const key = `${kind} c=${c}`
      rows.push([
        NAMES[kind],
        String(c),
        int(stat(key, 'rps')),
        `${(spread(key) * 100).toFixed(0)}%`,
        `${stat(key, 'serverUs').toFixed(0)} µs`,
        `${stat(key, 'redisUs').toFixed(1)} µs`,
        `${(stat(key, 'rps') / stat(base, 'rps')).toFixed(2)}×`,
        byRound(key, base),
        // Without MemoryStore among BENCH_STORES there is nothing to divide by.
        results[memory] ? `${(stat(key, 'rps') / stat(memory, 'rps')).toFixed(2)}×` : '–',
        `${(stat(key, 'serverUs') / stat(base, 'serverUs')).toFixed(2)}×`,
        stat(key, 'noise').toFixed(2),
      ])
    }
  }
  const head = [
    'store',
    'clients',
    'req/s',
    'spread',
    'server CPU/req',
    'redis CPU/req',
    'req/s ÷ connect-redis',
    'by round',
    'req/s ÷ MemoryStore',
    'server CPU ÷ connect-redis',
    'noise',
  ]
  console.log(
    `${info.date}, ${info.nproc} cores (${info.cpuModel}), node ${info.node}, redis ${info.redis}, ` +
      `load ${info.loadBefore} before; ${rounds} rounds of ${seconds} s per store and concurrency, medians\n`,
  )
  console.log(table(head, rows, 1))
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
