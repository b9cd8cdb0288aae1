'use strict'
// Session events (issue 18): with `events: true` every instance on the same
// Redis and namespace, in any process, hears each created, killed, expired,
// evicted and rotated session exactly once, with its handle and never a
// token; instances without the option and redis-sessions 3.0.0 publish
// nothing, and without it no command carries a byte more (MONITOR).
// Standalone and a Redis Cluster (3 masters), with and without hashTokens.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { fork } = require('node:child_process')
const { once } = require('node:events')
const { setTimeout: sleep } = require('node:timers/promises')
const Redis = require('ioredis')
const RedisSessions = require('..')
const RedisSessionsV3 = require('redis-sessions-v3')
const { startTopology } = require('./helpers/topologies')
const { reader, bucketOfId, bucketPrefix } = require('./helpers/layout')

const APP = 'evapp'
const OTHER = 'evother'

/** Waits until `check()` is true, for at most `ms`. */
async function until(check, ms) {
  const deadline = Date.now() + ms
  while (!check() && Date.now() < deadline) await sleep(20)
}

async function child(options) {
  const proc = fork(path.join(__dirname, 'helpers', 'events-child.js'), [JSON.stringify(options)])
  await once(proc, 'message')
  return {
    async heard() {
      proc.send('report')
      const [{ heard }] = await once(proc, 'message')
      return heard
    },
    async quit() {
      proc.send('quit')
      await once(proc, 'exit')
    },
  }
}

const key = (e) => [e.type, e.app, e.id, e.handle, e.previous ?? ''].join(' ')
const sorted = (events) => events.map(key).sort()

for (const topology of ['standalone', 'cluster']) {
  describe(`events on ${topology}`, () => {
    let deployment
    let masters
    const cluster = topology === 'cluster'
    before(async () => {
      deployment = await startTopology(topology)
      masters = cluster ? deployment.raw.nodes('master') : [deployment.raw]
    })
    after(() => deployment?.stop())

    for (const hashTokens of [false, true]) {
      it(`two processes hear every event type exactly once${hashTokens ? ', tokens hashed' : ''}`, async () => {
        const ns = `ev${topology[0]}${hashTokens ? 'h' : 'p'}`
        const options = { ...deployment.options, namespace: ns, wipe: 10, events: true, hashTokens }
        const rs = new RedisSessions(options)
        const heard = []
        rs.on('session', (event) => heard.push(event))
        const other = await child(options)
        const quiet = new RedisSessions({ ...deployment.options, namespace: ns, wipe: 0, hashTokens })
        const store = reader(deployment.raw, ns, { cluster })
        const handleOf = async (id, app = APP) =>
          (await rs.soid({ app, id, handles: true })).sessions.map((s) => s.handle)
        const expected = []
        const expect = (type, id, handle, previous, app = APP) =>
          expected.push(previous ? { type, app, id, handle, previous } : { type, app, id, handle })
        try {
          await rs.ping()
          await sleep(300)
          // Expired first, once per topology (the wipe runs every 10 s at the most often): its
          // SESSIONS score moved into the past, the wipe removes it while the rest runs.
          if (!hashTokens) {
            await rs.create({ app: APP, id: 'old', ip: '1' })
            const [oldHandle] = await handleOf('old')
            const dump = await store.dump()
            const member = dump[`${ns}:SESSIONS`].find(([m]) => m.endsWith(':old'))[0]
            for (const node of masters) {
              for (const k of await node.keys(`*SESSIONS`))
                if (await node.zscore(k, member)) await node.zadd(k, 1, member)
            }
            expect('created', 'old', oldHandle)
            expect('expired', 'old', oldHandle)
          }

          const { token: a } = await rs.create({ app: APP, id: 'alice:1', ip: '1' })
          const [aHandle] = await handleOf('alice:1')
          expect('created', 'alice:1', aHandle)
          await rs.get({ app: APP, token: a })
          await rs.set({ app: APP, token: a, d: { x: 1 } })
          await rs.touch({ app: APP, token: a, ttl: 100 })
          const { token: r } = await rs.rotate({ app: APP, token: a })
          const [rHandle] = await handleOf('alice:1')
          expect('rotated', 'alice:1', rHandle, aHandle)
          await rs.kill({ app: APP, token: r })
          expect('killed', 'alice:1', rHandle)
          await rs.kill({ app: APP, token: r })

          await rs.create({ app: APP, id: 'bob', ip: '1' })
          const [bHandle] = await handleOf('bob')
          await rs.create({ app: APP, id: 'bob', ip: '1', max: 1 })
          const [b2Handle] = await handleOf('bob')
          expect('created', 'bob', bHandle)
          expect('created', 'bob', b2Handle)
          expect('evicted', 'bob', bHandle)
          await rs.kill({ app: APP, id: 'bob', handle: b2Handle })
          expect('killed', 'bob', b2Handle)

          for (let i = 0; i < 3; i++) await rs.create({ app: APP, id: 'carol', ip: '1' })
          const carol = await handleOf('carol')
          for (const h of carol) expect('created', 'carol', h)
          assert.deepEqual(await rs.killsoid({ app: APP, id: 'carol' }), { kill: 3 })
          for (const h of carol) expect('killed', 'carol', h)

          await rs.create({ app: OTHER, id: 'dave', ip: '1' })
          await rs.create({ app: OTHER, id: 'erin', ip: '1' })
          const everyone = [...(await handleOf('dave', OTHER)), ...(await handleOf('erin', OTHER))]
          expect('created', 'dave', everyone[0], null, OTHER)
          expect('created', 'erin', everyone[1], null, OTHER)

          // An instance without events changes sessions unheard.
          const { token: q } = await quiet.create({ app: OTHER, id: 'quiet', ip: '1' })
          await quiet.kill({ app: OTHER, token: q })
          await quiet.create({ app: APP, id: 'quiet', ip: '1' })
          await quiet.killsoid({ app: APP, id: 'quiet' })
          assert.deepEqual(await rs.killall({ app: OTHER }), { kill: 2 })
          expect('killed', 'dave', everyone[0], null, OTHER)
          expect('killed', 'erin', everyone[1], null, OTHER)

          await until(() => heard.length >= expected.length, 12000)
          await sleep(200)
          for (const [who, events] of [
            ['this process', heard],
            ['the other process', await other.heard()],
          ]) {
            assert.deepEqual(sorted(events), sorted(expected), who)
            for (const event of events)
              assert.deepEqual(
                Object.keys(event).sort(),
                Object.keys(event.previous ? expected.find((e) => e.previous) : expected[0]).sort(),
              )
          }
        } finally {
          await other.quit()
          await Promise.all([rs.quit(), quiet.quit()])
        }
      })
    }

    if (cluster) {
      it("on Redis 7 an event goes on its bucket's shard channel, subscribed on that bucket's master", async () => {
        const ns = 'evshard'
        const rs = new RedisSessions({ ...deployment.options, namespace: ns, wipe: 0, events: true })
        const heard = []
        rs.on('session', (event) => heard.push(event))
        const channel = `${bucketPrefix(ns, bucketOfId('alice'))}events`
        const calls = async (command) => {
          let total = 0
          for (const node of masters) {
            const line = (await node.info('commandstats')).match(new RegExp(`cmdstat_${command}:calls=(\\d+)`))
            total += Number(line?.[1] ?? 0)
          }
          return total
        }
        // Summed over the masters (a master not owning the slot may answer MOVED).
        const subscribers = async () => {
          let total = 0
          for (const node of masters)
            total += await node.call('PUBSUB', 'SHARDNUMSUB', channel).then(
              ([, n]) => n,
              () => 0,
            )
          return total
        }
        try {
          await rs.ping()
          const deadline = Date.now() + 5000
          while ((await subscribers()) === 0 && Date.now() < deadline) await sleep(20)
          assert.equal(await subscribers(), 1)
          const before = { publish: await calls('publish'), spublish: await calls('spublish') }
          await rs.create({ app: APP, id: 'alice', ip: '1' })
          await until(() => heard.length > 0, 3000)
          assert.deepEqual(
            heard.map((e) => [e.type, e.id]),
            [['created', 'alice']],
          )
          assert.equal((await calls('spublish')) - before.spublish, 1)
          assert.equal((await calls('publish')) - before.publish, 0)
        } finally {
          await rs.quit()
        }
      })
    }

    if (cluster) {
      it("follows a bucket's slot to its new master (resharding): subscribed there, its events heard", async () => {
        const ns = 'evmove'
        const rs = new RedisSessions({ ...deployment.options, namespace: ns, wipe: 0, events: true })
        const heard = []
        rs.on('session', (event) => heard.push(event))
        const channel = `${bucketPrefix(ns, bucketOfId('bob'))}events`
        const shardSubscribers = (node) =>
          node.call('PUBSUB', 'SHARDNUMSUB', channel).then(
            ([, n]) => n,
            () => 0,
          )
        try {
          await rs.ping()
          const slot = await masters[0].cluster('KEYSLOT', channel)
          const [, , [, ownerPort]] = (await masters[0].cluster('SLOTS')).find(([lo, hi]) => slot >= lo && slot <= hi)
          const owner = masters.find((node) => node.options.port === ownerPort)
          const target = masters.find((node) => node !== owner)
          const deadline = Date.now() + 5000
          while ((await shardSubscribers(owner)) === 0 && Date.now() < deadline) await sleep(20)
          assert.equal(await shardSubscribers(owner), 1)
          // The slot holds no key of this namespace yet: it moves without MIGRATE.
          const [ownerId, targetId] = [await owner.cluster('MYID'), await target.cluster('MYID')]
          await target.cluster('SETSLOT', slot, 'IMPORTING', ownerId)
          await owner.cluster('SETSLOT', slot, 'MIGRATING', targetId)
          for (const node of [target, owner, ...masters.filter((n) => n !== owner && n !== target)])
            await node.cluster('SETSLOT', slot, 'NODE', targetId)
          const moved = Date.now() + 5000
          while ((await shardSubscribers(target)) === 0 && Date.now() < moved) await sleep(20)
          assert.equal(await shardSubscribers(target), 1, 'subscribed on the new owner')
          await rs.create({ app: APP, id: 'bob', ip: '1' })
          await until(() => heard.length > 0, 3000)
          assert.deepEqual(
            heard.map((e) => [e.type, e.id]),
            [['created', 'bob']],
          )
        } finally {
          await rs.quit()
        }
      })
    }

    it('without events no command carries a byte more, and the reference publishes nothing', async () => {
      const ns = `evq${topology[0]}`
      const rs = new RedisSessions({ ...deployment.options, namespace: ns, wipe: 0 })
      const listener = new RedisSessions({ ...deployment.options, namespace: ns, wipe: 0, events: true })
      const heard = []
      listener.on('session', (event) => heard.push(event))
      // Both connected and their scripts loaded before MONITOR starts: ioredis
      // loses track of a MONITOR feed whose first lines come with its OK.
      await Promise.all([rs.ping(), listener.ping()])
      await sleep(300)
      const clients = masters.map((node) => new Redis({ port: node.options.port, host: '127.0.0.1' }))
      // One at a time, each once connected.
      const monitors = []
      for (const client of clients) {
        await client.ping()
        monitors.push(await client.monitor())
      }
      await sleep(50)
      const lines = []
      for (const monitor of monitors) monitor.on('monitor', (time, args) => lines.push(args))
      let v3
      try {
        const { token } = await rs.create({ app: APP, id: 'u', ip: '1' })
        await rs.get({ app: APP, token })
        await rs.rotate({ app: APP, token })
        await rs.killall({ app: APP })
        if (!cluster) {
          v3 = new RedisSessionsV3({ port: deployment.options.port, namespace: ns, wipe: 0 })
          await new Promise((resolve) => v3.create({ app: APP, id: 'v', ip: '1' }, resolve))
        }
        await sleep(200)
        assert.deepEqual(heard, [])
        const ours = lines.filter((args) => args.some((arg) => String(arg).includes(APP)))
        assert.ok(ours.length > 3)
        assert.ok(
          !lines.some((args) => args.some((arg) => String(arg).includes(`${ns}:events`) && args[0] !== 'subscribe')),
        )
        const get = ours.find((args) => args[0].toLowerCase() === 'evalsha' && args.length === 10)
        assert.ok(get, 'get is still the 10-argument EVALSHA it was')
      } finally {
        for (const monitor of monitors) monitor.disconnect()
        for (const client of clients) client.disconnect()
        v3?.quit()
        await Promise.all([rs.quit(), listener.quit()])
      }
    })
  })
}
