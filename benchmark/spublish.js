'use strict'
// PUBLISH broadcast vs SPUBLISH per bucket, Redis CPU and traffic per node, on a 3-master cluster.
// Same create-like script in every mode; only the publish differs (none | publish | spublish).
const fs = require('node:fs')
const calc = require('cluster-key-slot')
const Redis = require('ioredis')
const { startCluster } = require('../__test__/helpers/redis-cluster')
const REPLICAS = Number(process.env.REPLICAS ?? 1)
const N = Number(process.env.N ?? 20000)
const ROUNDS = Number(process.env.ROUNDS ?? 3)
const LISTENERS = Number(process.env.LISTENERS ?? 2)
const tags = []
for (let b = 0; b < 64; b++)
  for (let k = 0; ; k++) {
    const tag = `{ns:${b}:${k}}`
    if (Math.floor((calc(tag) * 64) / 16384) === b) {
      tags.push(tag)
      break
    }
  }
const SCRIPT = `
local now = tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 'id', ARGV[2], 'r', 1, 'w', 1, 'ip', '127.0.0.1', 'la', now, 'ttl', 7200, 'ct', now)
redis.call('ZADD', KEYS[2], now + 7200, ARGV[1] .. ':' .. ARGV[2])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[4], now + 7200, ARGV[1] .. ':' .. ARGV[2])
if ARGV[3] ~= 'none' then
  local cmd = ARGV[3] == 'spublish' and 'SPUBLISH' or 'PUBLISH'
  redis.call(cmd, ARGV[5], 'created:app:5ed525047bd65865:' .. ARGV[2])
end
return 1`
const num = (text, field) => Number(new RegExp(`${field}: ?([\\d.]+)`).exec(text)?.[1] ?? 0)
async function main() {
  const cluster = await startCluster({ masters: 3, replicas: REPLICAS })
  const nodes = cluster.nodes.map((n) => new Redis({ port: n.port, lazyConnect: false }))
  const client = cluster.client()
  const sha = await client.script('LOAD', SCRIPT) // loads on one node; load everywhere:
  for (const n of nodes) await n.script('LOAD', SCRIPT)
  const heard = { publish: 0, spublish: 0 }
  // Listeners: PUBLISH mode: one SUBSCRIBE each on some node; SPUBLISH: per master, SSUBSCRIBE its buckets.
  const subs = []
  const masters = await cluster.masterPorts()
  for (let l = 0; l < LISTENERS; l++) {
    const s = new Redis({ port: cluster.nodes[l % cluster.nodes.length].port })
    await s.subscribe('ns:events')
    s.on('message', () => heard.publish++)
    subs.push(s)
    for (const port of masters) {
      const m = new Redis({ port })
      const owned = []
      const view = await m.cluster('SLOTS')
      for (const tag of tags) {
        const slot = calc(tag)
        const range = view.find(([lo, hi]) => slot >= lo && slot <= hi)
        if (range && range[2][1] === port) owned.push(`${tag}:events`)
      }
      for (const channel of owned) await m.ssubscribe(channel)
      m.on('smessage', () => heard.spublish++)
      subs.push(m)
    }
  }
  const snap = async () =>
    Promise.all(
      nodes.map(async (n, k) => {
        const info = await n.info()
        const io = fs.readFileSync(`/proc/${cluster.nodes[k].child.pid}/io`, 'utf8')
        const ci = await n.cluster('INFO')
        return {
          cpu: num(info, 'used_cpu_sys') + num(info, 'used_cpu_user'),
          netIn: num(info, 'total_net_input_bytes'),
          netOut: num(info, 'total_net_output_bytes'),
          busSent: num(ci, 'cluster_stats_messages_sent'),
          busRecv: num(ci, 'cluster_stats_messages_received'),
          written: num(io, 'wchar'),
          role: /role:master/.test(info) ? 'm' : 'r',
        }
      }),
    )
  const totals = {}
  let seq = 0
  async function run(mode) {
    const before = await snap()
    const h0 = { ...heard }
    const inflight = 64
    let next = 0
    await Promise.all(
      Array.from({ length: inflight }, async () => {
        while (next < N) {
          const i = next++
          const id = `user${seq++}`
          const tag = tags[i % 64]
          await client.evalsha(
            sha,
            4,
            `${tag}:app:tok${i}`,
            `${tag}:app:_sessions`,
            `${tag}:app:us:${id}`,
            `${tag}:SESSIONS`,
            `tok${i}`,
            id,
            mode,
            Date.now(),
            mode === 'spublish' ? `${tag}:events` : 'ns:events',
          )
        }
      }),
    )
    await new Promise((r) => setTimeout(r, 300))
    const after = await snap()
    const d = after.map((a, k) => ({
      role: a.role,
      cpu: a.cpu - before[k].cpu,
      net: a.netIn - before[k].netIn + a.netOut - before[k].netOut,
      written: a.written - before[k].written,
      bus: a.busSent - before[k].busSent + a.busRecv - before[k].busRecv,
    }))
    const sum = (f) => d.reduce((s, x) => s + x[f], 0)
    const row = {
      mode,
      cpuUsPerCreate: (sum('cpu') * 1e6) / N,
      masterCpuUs: (d.filter((x) => x.role === 'm').reduce((s, x) => s + x.cpu, 0) * 1e6) / N,
      replicaCpuUs: (d.filter((x) => x.role === 'r').reduce((s, x) => s + x.cpu, 0) * 1e6) / N,
      netBytesPerCreate: sum('net') / N,
      writtenBytesPerCreate: sum('written') / N,
      busMsgsPerCreate: sum('bus') / N,
      heardPerCreate: mode === 'none' ? 0 : (heard[mode] - h0[mode]) / N,
    }
    ;(totals[mode] ??= []).push(row)
    console.log(
      JSON.stringify(
        Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'number' ? +v.toFixed(2) : v])),
      ),
    )
  }
  for (let r = 0; r < ROUNDS; r++) for (const mode of ['none', 'publish', 'spublish']) await run(mode)
  for (const s of subs) s.disconnect()
  for (const n of nodes) n.disconnect()
  client.disconnect()
  await cluster.stop()
}
main().catch((e) => {
  console.error(e)
  process.exit(1)
})
