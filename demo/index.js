'use strict'
// A tour of redis-sessions-rs in a few seconds: `npm run demo`.
// Uses REDIS_URL when set, otherwise a throwaway redis-server on a free port.
const RedisSessions = require('..')
const { startRedis } = require('../__test__/helpers/redis-server')

const APP = 'demo'
const line = (text = '') => console.log(text)
const show = (label, value) => console.log(`  ${label.padEnd(34)} ${JSON.stringify(value)}`)

async function main() {
  let server
  let options
  if (process.env.REDIS_URL) {
    options = { options: { url: process.env.REDIS_URL }, namespace: 'rsdemo', wipe: 0 }
    line(`Using ${process.env.REDIS_URL} (namespace "rsdemo")`)
  } else {
    try {
      server = await startRedis()
    } catch (err) {
      console.error(`${err.message}\nOr point the demo at a Redis: REDIS_URL=redis://127.0.0.1:6379 npm run demo`)
      process.exitCode = 1
      return
    }
    options = { port: server.port, wipe: 0 }
    line(`Started a throwaway redis-server on port ${server.port}`)
  }
  const rs = new RedisSessions(options)
  try {
    line('\n1. Three users log in, alice on three devices')
    const tokens = {}
    for (const [user, device, ip] of [
      ['alice', 'laptop', '10.0.0.1'],
      ['alice', 'phone', '10.0.0.2'],
      ['alice', 'tablet', '10.0.0.3'],
      ['bob', 'laptop', '10.0.1.1'],
      ['carol', 'phone', '10.0.2.1'],
    ]) {
      const { token } = await rs.create({ app: APP, id: user, ip, ttl: 3600, d: { device } })
      tokens[`${user}/${device}`] = token
      show(`create ${user} on ${device}`, { token: `${token.slice(0, 12)}…` })
    }

    line('\n2. Read and update alice on her laptop')
    const laptop = { app: APP, token: tokens['alice/laptop'] }
    show('get', await rs.get(laptop))
    show('set { theme: "dark" }', (await rs.set({ ...laptop, d: { theme: 'dark' } })).d)
    show('get again (r counts reads)', await rs.get(laptop))

    line('\n3. Who is logged in?')
    const { sessions } = await rs.soid({ app: APP, id: 'alice' })
    show('soid alice: her devices', sessions.map((s) => s.d.device).sort())
    show('activity in the last 10 minutes', await rs.activity({ app: APP, deltaTime: 600 }))
    show('soapp: sessions active now', (await rs.soapp({ app: APP, deltaTime: 600 })).sessions.length)

    line('\n4. Log out')
    show('kill alice on her phone', await rs.kill({ app: APP, token: tokens['alice/phone'] }))
    show('get that session', await rs.get({ app: APP, token: tokens['alice/phone'] }))
    show('killsoid alice (every device)', await rs.killsoid({ app: APP, id: 'alice' }))
    show('soid alice', await rs.soid({ app: APP, id: 'alice' }))
    show('activity', await rs.activity({ app: APP, deltaTime: 600 }))

    line("\n5. Bad input is an error with the reference's words")
    await rs.get({ app: APP, token: 'nope' }).catch((err) => show(`${err.name}`, err.message))
    show('killall (clean up)', await rs.killall({ app: APP }))
  } finally {
    await rs.quit()
    if (server) await server.stop()
  }
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
