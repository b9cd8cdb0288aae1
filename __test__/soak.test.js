'use strict'
// 300,000 mixed operations at 100 in flight, in a child process: memory
// settles after the first 100,000 (at most 10% more by the end).
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { execFile } = require('node:child_process')
const { promisify } = require('node:util')
const { startRedis } = require('./helpers/redis-server')

const SOAK = `
  const RedisSessions = require(${JSON.stringify(path.join(__dirname, '..'))})
  const rs = new RedisSessions({ port: Number(process.env.PORT), wipe: 0, cachetime: 60, cachemax: 1000 })
  const TOTAL = 300_000
  ;(async () => {
    const tokens = []
    for (let i = 0; i < 500; i++) tokens.push((await rs.create({ app: 'soak', id: 'u' + (i % 50), ip: '1' })).token)
    const rss = []
    let next = 0
    let n = 0
    const worker = async () => {
      while (next < TOTAL) {
        const i = next++
        const roll = i % 20
        const slot = i % tokens.length
        if (roll === 0) tokens[slot] = (await rs.create({ app: 'soak', id: 'u' + (i % 50), ip: '1', d: { i } })).token
        else if (roll <= 3) await rs.set({ app: 'soak', token: tokens[slot], d: { i, s: 'x'.repeat(i % 100) } })
        else await rs.get({ app: 'soak', token: tokens[(i * 7) % tokens.length] })
        if (++n % 20_000 === 0) {
          // Collected first, so the curve shows what is kept, not when V8 last ran.
          global.gc()
          rss.push(process.memoryUsage().rss)
        }
      }
    }
    await Promise.all(Array.from({ length: 100 }, worker))
    await rs.killall({ app: 'soak' })
    await rs.quit()
    console.log(JSON.stringify(rss))
  })()
`

let server
before(async () => {
  server = await startRedis()
})
after(async () => {
  await server.stop()
})

describe('memory', () => {
  it(
    '300k mixed operations at 100 in flight: RSS after the first 100k grows at most 10%',
    { timeout: 120_000 },
    async () => {
      const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '-e', SOAK], {
        env: { ...process.env, PORT: String(server.port) },
        timeout: 110_000,
      })
      const rss = JSON.parse(stdout)
      assert.equal(rss.length, 15)
      const at100k = rss[4]
      const peakAfter = Math.max(...rss.slice(5))
      console.log(`soak RSS MB every 20k ops: ${rss.map((b) => (b / 2 ** 20).toFixed(1)).join(' ')}`)
      assert.ok(peakAfter <= at100k * 1.1, `RSS grew from ${at100k} to ${peakAfter}`)
    },
  )
})
