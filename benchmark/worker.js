'use strict'
// One measured run: one implementation, one workload, in a process of its
// own. argv[2] is a JSON job from run.js or ab.js; the numbers go back over IPC.
const fs = require('node:fs')
const path = require('node:path')
const { IMPLS, ops, warmupOf } = require('./workloads')
const { performance } = require('node:perf_hooks')
const { cpuTicks, machineTicks, invoker, drive, percentile } = require('./measure')

const job = JSON.parse(process.argv[2])
const impl = IMPLS[job.impl]

async function main() {
  const ctx = { windowKey: impl.windowKey, pool: [], kill: [] }
  if (job.poolFile) ctx.pool = JSON.parse(fs.readFileSync(job.poolFile, 'utf8'))
  if (job.killFile) ctx.kill = JSON.parse(fs.readFileSync(job.killFile, 'utf8'))

  // A build kept aside (ab.js) or the implementation itself.
  const Impl = job.dir ? require(path.resolve(job.dir)) : impl.load()
  const instance = new Impl({
    port: job.port,
    host: '127.0.0.1',
    namespace: job.namespace,
    wipe: 0,
    ...(job.cache ? { cachetime: 60, cachemax: 1000 } : {}),
    ...job.options,
  })
  const call = invoker(instance, impl.style)
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
