'use strict'
// What run.js, worker.js and cluster.js share: driving operations, reading CPU
// time from /proc, statistics and markdown formatting.
const fs = require('node:fs')
const { performance } = require('node:perf_hooks')
const { execFileSync } = require('node:child_process')

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
  const [user, nice, system, , , , , steal] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
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
  const out = new Array(n)
  let next = 0
  const lane = async () => { while (next < n) { const i = next++; out[i] = await fn(i) } }
  await Promise.all(Array.from({ length: Math.min(c, n) }, lane))
  return out
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

const int = (x) => Math.round(x).toLocaleString('en-US')
const time = (us) => (us < 1000 ? `${us.toFixed(us < 100 ? 1 : 0)} µs` : `${(us / 1000).toFixed(us < 10000 ? 2 : 1)} ms`)

/** A markdown table: the first `leftColumns` columns left-aligned, the rest right-aligned. */
const table = (head, rows, leftColumns = 1) => [
  `| ${head.join(' | ')} |`,
  `|${head.map((_, i) => (i < leftColumns ? ' --- ' : ' ---: ')).join('|')}|`,
  ...rows.map((r) => `| ${r.join(' | ')} |`),
].join('\n')

module.exports = { clkTck, cpuTicks, machineTicks, invoker, drive, pool, percentile, median, int, time, table }
