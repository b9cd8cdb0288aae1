'use strict'
// One measured run: one implementation, one workload, in a process of its
// own. argv[2] is a JSON job from run.js; the numbers go back over IPC.
const fs = require('node:fs')
const { performance } = require('node:perf_hooks')
const { IMPLS, ops, warmupOf } = require('./workloads')

const job = JSON.parse(process.argv[2])
const impl = IMPLS[job.impl]

/** utime + stime of a process in clock ticks (fields 14 and 15 of /proc/PID/stat). */
function cpuTicks(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ') // fields[0] is field 3
  return Number(fields[11]) + Number(fields[12])
}

/** Busy ticks of the whole machine (user + nice + system + steal, from /proc/stat). */
function machineTicks() {
  const [user, nice, system, , , , , steal] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  return user + nice + system + steal
}

/** Calls method(args) in the implementation's style; done(err, result) either way. */
function invoker(instance) {
  if (impl.style === 'callback') return (method, args, done) => instance[method](args, done)
  return (method, args, done) => instance[method](args).then((r) => done(null, r), done)
}

/**
 * Runs operations from..from+n-1 keeping c in flight. A callback may come
 * synchronously (v3's cache hits), so launching loops instead of recursing.
 */
function drive(call, ctx, op, from, n, c) {
  return new Promise((resolve, reject) => {
    const latency = new Float64Array(n)
    let next = 0
    let finished = 0
    let inFlight = 0
    let bad = 0
    let launching = false
    const launch = () => {
      if (launching) return
      launching = true
      while (next < n && inFlight < c) {
        const i = next++
        const [method, args, check] = op(ctx, from + i)
        inFlight++
        const t0 = performance.now()
        call(method, args, (err, result) => {
          latency[i] = performance.now() - t0
          inFlight--
          finished++
          if (err) return reject(err)
          if (!check(result)) bad++
          if (finished === n) resolve({ latency, bad })
          else launch()
        })
      }
      launching = false
    }
    launch()
  })
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]

async function main() {
  const ctx = { windowKey: impl.windowKey, pool: [], kill: [] }
  if (job.poolFile) ctx.pool = JSON.parse(fs.readFileSync(job.poolFile, 'utf8'))
  if (job.killFile) ctx.kill = JSON.parse(fs.readFileSync(job.killFile, 'utf8'))

  const Impl = impl.load()
  const instance = new Impl({
    port: job.port, host: '127.0.0.1', namespace: job.namespace, wipe: 0,
    ...(job.cache ? { cachetime: 60, cachemax: 1000 } : {}),
  })
  const call = invoker(instance)
  if (impl.style === 'promise') await instance.ping()
  else await new Promise((resolve, reject) => instance.ping((err) => (err ? reject(err) : resolve())))

  const op = ops[job.op]
  const warmup = warmupOf(job.n)
  await drive(call, ctx, op, 0, warmup, job.c)

  const cpu0 = process.cpuUsage()
  const redis0 = cpuTicks(job.redisPid)
  const self0 = cpuTicks(process.pid)
  const machine0 = machineTicks()
  const t0 = performance.now()
  const { latency, bad } = await drive(call, ctx, op, warmup, job.n, job.c)
  const seconds = (performance.now() - t0) / 1000
  const machine = machineTicks() - machine0
  const self = cpuTicks(process.pid) - self0
  const redisTicks = cpuTicks(job.redisPid) - redis0
  const cpu = process.cpuUsage(cpu0)

  latency.sort()
  const result = {
    ops: job.n,
    bad,
    opsPerSec: job.n / seconds,
    p50: percentile(latency, 0.5) * 1000, // µs
    p99: percentile(latency, 0.99) * 1000,
    nodeCpuPerOp: (cpu.user + cpu.system) / job.n, // µs
    redisCpuPerOp: (redisTicks * 1e6) / job.clkTck / job.n, // µs
    maxRssMB: process.resourceUsage().maxRSS / 1024,
    // CPU that neither this process nor redis-server used meanwhile, in cores.
    noise: Math.max(0, machine - self - redisTicks) / job.clkTck / seconds,
  }
  process.send(result, () => process.exit(0))
}

main().catch((err) => {
  process.send({ error: String(err?.stack ?? err) }, () => process.exit(1))
})
