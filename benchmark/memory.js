'use strict'
// The in-memory engine's memory figure: RSS growth of a process that holds N
// sessions with a small d (default 100,000), measured after a full GC, with
// the baseline taken after an instance already exists (the addon loaded, its
// first call made). Then the same sessions killed by the wipe, and RSS again.
//
//   node --expose-gc benchmark/memory.js [N]
const RedisSessions = require('..')

const N = Number(process.argv[2]) || 100_000
const MB = 1024 * 1024
const gc = () => {
  if (typeof global.gc !== 'function') throw new Error('run with node --expose-gc')
  for (let i = 0; i < 3; i++) global.gc()
}
const rss = () => {
  gc()
  return process.memoryUsage().rss
}

async function main() {
  let now = Date.now()
  const realNow = Date.now
  Date.now = () => now
  const rs = new RedisSessions({ memory: true, namespace: 'membench', wipe: 600 })
  await rs.ping()
  const before = rss()
  for (let i = 0; i < N; i++) {
    await rs.create({ app: 'benchapp', id: `user${i}`, ip: '192.168.1.1', ttl: 3600, d: { cart: i, lang: 'en' } })
  }
  const held = rss() - before
  const { activity } = await rs.activity({ app: 'benchapp', dt: 600 })
  if (activity !== N) throw new Error(`activity ${activity}, not ${N}`)
  now += 3601 * 1000 // past every ttl and the wipe period: the next call wipes
  await rs.ping()
  const { activity: left } = await rs.activity({ app: 'benchapp', dt: 600000 })
  const afterWipe = rss() - before
  Date.now = realNow
  await rs.quit()
  const line = (label, bytes) => `${label.padEnd(34)} ${(bytes / MB).toFixed(1).padStart(6)} MB`
  console.log(`${N} sessions in memory, d = {cart: i, lang: 'en'}, ids user0..user${N - 1}`)
  console.log(line('RSS growth holding them', held), `(${Math.round(held / N)} bytes a session)`)
  console.log(line('RSS growth after the wipe', afterWipe), `(${left} sessions left)`)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
