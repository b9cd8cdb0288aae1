'use strict'
// Which keys hold a session, as src/layout.rs and README's cluster section
// say, written again here so that the tests check the engine against an
// independent copy: standalone uses the reference's keys; cluster mode puts
// each of 64 buckets under its own hash tag `{NS:B:K}:`, an id's bucket is
// crc16(id) % 64 and a token names its bucket in its first two characters.
// `reader` reads a namespace back in the reference's key names, whatever the
// layout, so that what two topologies stored can be compared.

const BUCKETS = 64
const SLOTS = 16384
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYabcdefghijklmnopqrstuvwxyz0123456789'

/** Redis Cluster's key hash: CRC16/XMODEM. */
function crc16(text) {
  let crc = 0
  for (const byte of Buffer.from(text, 'utf8')) {
    crc ^= byte << 8
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  }
  return crc
}

const bucketOfId = (id) => crc16(id) % BUCKETS

/** The bucket a token names, or undefined when it names none. */
function bucketOfToken(token) {
  const [high, low] = [ALPHABET.indexOf(token[0]), ALPHABET.indexOf(token[1])]
  const bucket = high * ALPHABET.length + low
  return high >= 0 && low >= 0 && bucket < BUCKETS ? bucket : undefined
}

/** `{NS:B:K}:` with the smallest K whose slot lies in the B-th of 64 equal slot ranges. */
function bucketPrefix(ns, bucket) {
  for (let k = 0; ; k++) {
    const tag = `${ns}:${bucket}:${k}`
    if (Math.floor(((crc16(tag) % SLOTS) * BUCKETS) / SLOTS) === bucket) return `{${tag}}:`
  }
}

/** What a key (in the reference's names, without `NS:`) says about the session it belongs to. */
function describeKey(rest) {
  if (rest === 'SESSIONS') return { kind: 'SESSIONS' }
  const colon = rest.indexOf(':')
  const app = rest.slice(0, colon)
  const tail = rest.slice(colon + 1)
  if (tail === '_sessions' || tail === '_users') return { kind: tail, app }
  if (tail.startsWith('us:')) return { kind: 'us', app, id: tail.slice(3) }
  return { kind: 'session', app, token: tail }
}

/**
 * Reads and names the keys of namespace `ns` through `client` (ioredis, or
 * ioredis.Cluster when `cluster`). Every layout answers in the reference's key
 * names; in cluster mode the bucket keys are merged and every key, member and
 * session is checked to sit in the bucket its token and id name.
 */
function reader(client, ns, { cluster = false } = {}) {
  if (client.inMemory === true) return memoryReader(client, ns)
  const prefixOf = (bucket) => (cluster ? bucketPrefix(ns, bucket) : `${ns}:`)
  const tagged = new RegExp(`^\\{${ns.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+):\\d+\\}:(.*)$`, 's')

  async function physicalKeys() {
    const nodes = cluster ? client.nodes('master') : [client]
    const lists = await Promise.all(nodes.flatMap((node) => [node.keys(`${ns}:*`), node.keys(`{${ns}:*`)]))
    return lists.flat()
  }

  async function read(key) {
    const type = await client.type(key)
    if (type === 'hash') return client.hgetall(key)
    if (type === 'zset') {
      const flat = await client.zrange(key, 0, -1, 'WITHSCORES')
      const entries = []
      for (let i = 0; i < flat.length; i += 2) entries.push([flat[i], flat[i + 1]])
      return entries
    }
    if (type === 'set') return (await client.smembers(key)).sort()
    return client.get(key)
  }

  /** Throws unless every part of a bucket's key sits where the layout puts it. */
  function checkBucket(key, bucket, rest, value) {
    const fail = (what) => {
      throw new Error(`cluster layout: ${what} in ${key}`)
    }
    if (!key.startsWith(bucketPrefix(ns, bucket))) fail('not the prefix of its bucket')
    const described = describeKey(rest)
    const members = Array.isArray(value) ? value.map((entry) => entry[0]) : []
    if (described.kind === 'session') {
      if (bucketOfToken(described.token) !== bucket) fail('a token of another bucket')
      if (bucketOfId(value.id) !== bucket) fail('an id of another bucket')
    }
    if (described.kind === 'us' && bucketOfId(described.id) !== bucket) fail('an id of another bucket')
    if (described.kind === 'us' && value.some((token) => bucketOfToken(token) !== bucket))
      fail('a token of another bucket')
    if (described.kind === '_users' && members.some((id) => bucketOfId(id) !== bucket)) fail('an id of another bucket')
    if (
      described.kind === '_sessions' &&
      members.some((m) => bucketOfToken(m) !== bucket || bucketOfId(m.slice(65)) !== bucket)
    ) {
      fail('a member of another bucket')
    }
    if (described.kind === 'SESSIONS') {
      for (const member of members) {
        const tokenAt = member.indexOf(':') + 1
        if (bucketOfToken(member.slice(tokenAt)) !== bucket || bucketOfId(member.slice(tokenAt + 65)) !== bucket) {
          fail('a member of another bucket')
        }
      }
    }
  }

  return {
    /** Where the hash of a session lives. */
    sessionKey: (app, token) => `${prefixOf(cluster ? bucketOfToken(token) : 0)}${app}:${token}`,
    /** Where the index of an app's sessions lives for sessions of `id`. */
    appSessionsKey: (app, id) => `${prefixOf(cluster ? bucketOfId(id) : 0)}${app}:_sessions`,
    /** Every key of the namespace under the reference's name; the buckets' indexes merged. */
    async dump() {
      const out = {}
      for (const key of (await physicalKeys()).sort()) {
        const value = await read(key)
        const match = tagged.exec(key)
        if (cluster && !match && !key.startsWith(`${ns}:`)) throw new Error(`cluster layout: ${key} is not in a bucket`)
        if (cluster && match) checkBucket(key, Number(match[1]), match[2], value)
        const name = match ? `${ns}:${match[2]}` : key
        if (!(name in out)) out[name] = value
        else if (Array.isArray(value) && Array.isArray(out[name])) {
          out[name] = [...out[name], ...value]
          if (typeof value[0] === 'string') out[name].sort()
        } else throw new Error(`${name} is stored twice (${key})`)
      }
      for (const value of Object.values(out)) {
        if (Array.isArray(value) && Array.isArray(value[0]))
          value.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      }
      return out
    },
  }
}

/** Zset entries in member order, as `dump` gives them. */
const byMember = (entries) => entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))

/**
 * The in-memory engine's store (topologies.js's memory client), read in the
 * reference's key names: the engine renders it as the Redis keys it stands for.
 */
function memoryReader(client, ns) {
  return {
    sessionKey: (app, token) => `${ns}:${app}:${token}`,
    appSessionsKey: (app) => `${ns}:${app}:_sessions`,
    async dump() {
      const keys = client.keys(ns)
      const out = {}
      for (const key of Object.keys(keys).sort()) {
        const value = keys[key]
        out[key] = Array.isArray(value) && Array.isArray(value[0]) ? byMember(value) : value
      }
      return out
    },
  }
}

module.exports = { reader, crc16, bucketOfId, bucketOfToken, bucketPrefix }
