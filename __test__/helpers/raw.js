'use strict'
// Reads what a namespace holds in Redis, with tokens and times replaced by
// stable names so two implementations' data can be compared.
const Redis = require('ioredis')
const { startRedis } = require('./redis-server')

function connect(port) {
  return new Redis({ port, host: '127.0.0.1', lazyConnect: false, maxRetriesPerRequest: 1 })
}

/** A throwaway redis-server (`startRedis`) with a raw client of it; `stop()` ends both. */
async function startWithRaw(options) {
  const server = await startRedis(options)
  const raw = connect(server.port)
  const stop = async () => {
    raw.disconnect()
    await server.stop()
  }
  return { server, raw, stop }
}

async function dump(redis, ns) {
  const keys = (await redis.keys(`${ns}:*`)).sort()
  const out = {}
  for (const key of keys) {
    const type = await redis.type(key)
    if (type === 'hash') out[key] = await redis.hgetall(key)
    else if (type === 'zset') {
      const flat = await redis.zrange(key, 0, -1, 'WITHSCORES')
      const entries = []
      for (let i = 0; i < flat.length; i += 2) entries.push([flat[i], flat[i + 1]])
      out[key] = entries
    } else if (type === 'set') out[key] = (await redis.smembers(key)).sort()
    else out[key] = await redis.get(key)
  }
  return out
}

/** Replaces each token by T0, T1... in order of first appearance, and times by offsets from `now`. */
function normalize(snapshot, tokens, now) {
  let text = JSON.stringify(snapshot)
  tokens.forEach((token, i) => {
    text = text.split(token).join(`T${i}`)
  })
  const data = JSON.parse(text)
  const relTime = (v) => {
    const n = Number(v)
    return Number.isFinite(n) && Math.abs(n - now) < 100000 ? `now${n - now >= 0 ? '+' : ''}${n - now}` : v
  }
  const result = {}
  for (const [key, value] of Object.entries(data)) {
    if (Array.isArray(value)) {
      result[key] = value
        .map((e) => (Array.isArray(e) ? [e[0], relTime(e[1])] : e))
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))
    } else if (value && typeof value === 'object') {
      result[key] = { ...value, ...(value.la ? { la: relTime(value.la) } : {}) }
    } else result[key] = value
  }
  return result
}

module.exports = { connect, startWithRaw, dump, normalize }
