'use strict'
// What run.js, worker.js, cluster.js and ab.js share: seeding sessions,
// running a measured child, describing the machine, driving operations,
// reading CPU time from /proc, statistics and markdown formatting.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { performance } = require('node:perf_hooks')
const { execFileSync, fork, spawnSync } = require('node:child_process')
const W = require('./workloads')

/** Clock ticks per second, the unit of /proc's CPU times. */
const clkTck = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100

/** utime + stime of a process in clock ticks (fields 14 and 15 of /proc/PID/stat). */
function cpuTicks(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ') // fields[0] is field 3
  return Number(fields[11]) + Number(fields[12])
}

/** Busy ticks of the whole machine (user + nice + system + steal, from /proc/stat). */
function machineTicks() {
  const [user, nice, system, , , , , steal] = fs
    .readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number)
  return user + nice + system + steal
}

/** Calls method(args) with a callback, or as a Promise; done(err, result) either way. */
function invoker(instance, style) {
  if (style === 'callback') return (method, args, done) => instance[method](args, done)
  return (method, args, done) => instance[method](args).then((r) => done(null, r), done)
}

/**
 * Runs operations from..from+n-1 keeping c in flight; counts answers that fail
 * their check. A callback may be called synchronously (v3's cache hits), so
 * launching loops instead of recursing.
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

/** Runs fn(i) for i in 0..n-1 with c in flight; resolves to the results in order. */
async function pool(n, c, fn) {
  const out = Array.from({ length: n })
  let next = 0
  const lane = async () => {
    while (next < n) {
      const i = next++
      out[i] = await fn(i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(c, n) }, lane))
  return out
}

/**
 * Creates n sessions of app (id idOf(i), plus `fields`) through the package
 * instance rs, checking every answer; resolves to their tokens.
 */
async function seed(rs, app, n, idOf, fields = {}) {
  return pool(n, 500, async (i) => {
    const r = await rs.create({ app, id: idOf(i), ip: '10.0.0.2', ttl: 7200, ...fields })
    if (!W.ops.create({}, 0)[2](r)) throw new Error(`seeding ${app}: unexpected answer ${JSON.stringify(r)}`)
    return r.token
  })
}

/**
 * Runs `script` with `args` in a fresh child that sends its result over IPC;
 * resolves to that result once the child exits. Rejects, naming `label`, when
 * the child sends `{ error }`, sends nothing, or outlives `timeoutMs` (then it
 * is killed). `onSpawn(child)` sees the child, e.g. to kill it on Ctrl-C.
 */
function runChild(script, args, label, { timeoutMs = 0, onSpawn } = {}) {
  return new Promise((resolve, reject) => {
    const child = fork(script, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    onSpawn?.(child)
    let result
    const timer = timeoutMs > 0 ? setTimeout(() => child.kill('SIGKILL'), timeoutMs) : undefined
    child.on('message', (m) => {
      result = m
    })
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      if (result && !result.error) resolve(result)
      else reject(new Error(`${label}: ${result?.error ?? `exited with ${code ?? signal}`}`))
    })
  })
}

/** The commit of this checkout, and whether `paths` have uncommitted changes. */
function gitState(paths = ['src', 'Cargo.toml', 'index.js', 'binding.js']) {
  const git = (...args) => {
    try {
      return execFileSync('git', args, { cwd: path.join(__dirname, '..') })
        .toString()
        .trim()
    } catch {
      return ''
    }
  }
  return {
    commit: git('rev-parse', '--short', 'HEAD') || 'unknown',
    dirty: git('status', '--porcelain', '--', ...paths) !== '',
  }
}

/** The machine a benchmark ran on, for the header of its results. */
function machineInfo() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8')
  const redisVersion = spawnSync('redis-server', ['--version'])
    .stdout.toString()
    .match(/v=(\S+)/)
  return {
    date: new Date().toISOString(),
    nproc: execFileSync('nproc').toString().trim(),
    cpuModel: cpuinfo.match(/^model name\s*:\s*(.*)$/m)?.[1] ?? 'unknown',
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    kernel: os.release(),
    node: process.version,
    redis: redisVersion?.[1] ?? 'unknown',
    loadBefore: os.loadavg()[0].toFixed(2),
  }
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

const int = (x) => Math.round(x).toLocaleString('en-US')
const time = (us) =>
  us < 1000 ? `${us.toFixed(us < 100 ? 1 : 0)} µs` : `${(us / 1000).toFixed(us < 10000 ? 2 : 1)} ms`

/** A markdown table: the first `leftColumns` columns left-aligned, the rest right-aligned. */
const table = (head, rows, leftColumns = 1) =>
  [
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (i < leftColumns ? ' --- ' : ' ---: ')).join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n')

module.exports = {
  clkTck,
  cpuTicks,
  machineTicks,
  invoker,
  drive,
  pool,
  seed,
  runChild,
  gitState,
  machineInfo,
  percentile,
  median,
  int,
  time,
  table,
}
