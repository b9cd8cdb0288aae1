'use strict'
// The express-session store (issue 16, point 10) on Sentinel, on a 3-master
// Redis Cluster and on the in-memory engine: an Express app over HTTP with cookies, sessions
// persisting and merging, signing in, listing and logging out devices, and no
// resurrection. On the cluster a session lives in the bucket its sid's token
// names and its user's bucket lists it too (a second step): the listing
// filters an entry whose session is gone or is another user's.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const RedisSessions = require('..')
const { RedisSessionsStore } = require('../express')
const { tokenForSid, handleOfToken } = require('../binding.js')
const { startTopology } = require('./helpers/topologies')
const { bucketOfId, bucketOfToken, bucketPrefix } = require('./helpers/layout')
const { serve } = require('./helpers/express-app')

const APP = 'topoapp'

// memory: the in-memory engine (`memory: true`), which has the store's two operations too.
for (const name of ['sentinel', 'cluster', 'memory']) {
  describe(`express-session store on ${name}`, () => {
    let topology
    let rs
    let store
    let web
    const ns = `ext${name.slice(0, 2)}`

    before(async () => {
      topology = await startTopology(name)
      rs = new RedisSessions({ ...topology.options, namespace: ns })
      store = new RedisSessionsStore({ client: rs, app: APP })
      web = await serve(store, { cookie: { maxAge: 60_000 } })
    })

    after(async () => {
      await web.close()
      await rs.quit()
      await topology.stop()
    })

    /** A user id whose bucket is not the bucket of the client's session, so the cluster's second step is needed. */
    const userAwayFrom = (sid, base) => {
      for (let n = 0; ; n++) {
        const id = `${base}${n}`
        if (!topology.cluster || bucketOfId(id) !== bucketOfToken(tokenForSid(sid))) return id
      }
    }

    it('sessions persist and 20 concurrent requests merge', async () => {
      const c = web.client()
      await c.post('/set?a=0')
      await Promise.all(Array.from({ length: 20 }, (_, i) => c.post(`/set?k${i}=${i}`)))
      const session = (await c.get()).body.session
      for (let i = 0; i < 20; i++) assert.equal(session[`k${i}`], i)
      assert.equal(session.a, 0)
    })

    it('signing in moves the session to its user; devices are listed and logged out', async () => {
      const phone = web.client()
      await phone.post('/set?cart=1')
      const user = userAwayFrom(phone.sid, 'dana')
      await phone.post(`/user?id=${user}`)
      assert.equal((await phone.get()).body.session.cart, 1, 'kept its data')
      const laptop = web.client()
      await laptop.post(`/user?id=${user}`)
      const tablet = web.client()
      await tablet.post(`/user?id=${user}`)

      const listed = await store.sessionsOf(user)
      assert.deepEqual(
        listed.map((s) => s.handle).sort(),
        [phone, laptop, tablet].map((c) => store.handleOf(c.sid)).sort(),
      )
      assert.equal((await rs.soid({ app: APP, id: user })).sessions.length, 3, 'RedisSessions sees them')
      assert.equal(await store.destroyHandle(user, store.handleOf(tablet.sid)), 1)
      assert.equal((await tablet.get()).body.session.userId, undefined)
      assert.equal(await store.destroyUser(user, { except: phone.sid }), 1)
      assert.equal((await laptop.get()).body.session.userId, undefined)
      assert.equal((await phone.get()).body.session.userId, user)
      assert.equal((await rs.killsoid({ app: APP, id: user })).kill, 1)
      assert.equal((await phone.get()).body.session.userId, undefined)
      assert.deepEqual(await store.sessionsOf(user), [])
    })

    it('a save after destroyUser writes nothing', async () => {
      const c = web.client()
      const user = userAwayFrom(c.sid ?? 'x', 'erin')
      await c.post(`/user?id=${user}`)
      const arrived = web.arrived(`res-${name}`)
      const slow = c.post(`/hold?gate=res-${name}&x=1`)
      await arrived
      assert.equal(await store.destroyUser(user), 1)
      web.release(`res-${name}`)
      assert.equal((await slow).status, 200)
      assert.deepEqual(await store.sessionsOf(user), [])
      assert.equal(await rs.get({ app: APP, token: tokenForSid(c.sid) }), null)
    })

    for (const hashTokens of [false, true]) {
      const named = hashTokens ? ', tokens hashed' : ''
      it(`rotate keeps the user’s listing: the new token is listed and killsoid kills it${named}`, async () => {
        const client = hashTokens ? new RedisSessions({ ...topology.options, namespace: ns, hashTokens }) : rs
        const own = hashTokens ? new RedisSessionsStore({ client, app: APP }) : store
        const site = hashTokens ? await serve(own, { cookie: { maxAge: 60_000 } }) : web
        const handleOf = (token) =>
          hashTokens ? client[Symbol.for('redis-sessions-rs.handleOfToken')](token) : handleOfToken(token)
        try {
          const c = site.client()
          await c.post('/set?n=1')
          const user = userAwayFrom(c.sid, hashTokens ? 'hana' : 'ida')
          await c.post(`/user?id=${user}`)
          const old = tokenForSid(c.sid)
          const { token: fresh } = await client.rotate({ app: APP, token: old })
          const listed = (await client.soid({ app: APP, id: user, handles: true })).sessions
          assert.deepEqual(
            listed.map((s) => s.handle),
            [handleOf(fresh)],
          )
          assert.deepEqual(listed[0].d, { n: '1', userId: JSON.stringify(user), cookie: listed[0].d.cookie })
          if (topology.cluster && !hashTokens) {
            const key = `${bucketPrefix(ns, bucketOfId(user))}${APP}:us:${user}`
            assert.deepEqual(await topology.raw.smembers(key), [fresh], 'the old token left the listing')
          }
          assert.equal((await client.killsoid({ app: APP, id: user })).kill, 1)
          assert.equal(await client.get({ app: APP, token: fresh }), null)
          assert.deepEqual(await own.sessionsOf(user), [])
        } finally {
          if (hashTokens) {
            await site.close()
            await client.quit()
          }
        }
      })
    }

    it('length counts the live sessions of every bucket without reading them, as all lists them', async () => {
      const clients = Array.from({ length: 6 }, () => web.client())
      for (const [i, c] of clients.entries()) await c.post(`/set?len=${i}`)
      const before = await store.length()
      assert.equal(before, (await store.all()).length)
      assert.ok(before >= clients.length)
      if (name !== 'memory') {
        // One session ended, lingering in its bucket's indexes until the wipe.
        const token = tokenForSid(clients[0].sid)
        const prefix = topology.cluster ? bucketPrefix(ns, bucketOfToken(token)) : `${ns}:`
        const id = await topology.raw.hget(`${prefix}${APP}:${token}`, 'id')
        const past = Math.floor(Date.now() / 1000) - 3600
        await topology.raw.hset(`${prefix}${APP}:${token}`, 'la', past)
        await topology.raw.zadd(`${prefix}SESSIONS`, past + 60, `${APP}:${token}:${id}`)
        assert.equal(await store.length(), before - 1)
        assert.equal((await store.all()).length, before - 1)
      }
    })

    it('a listing leaves out an entry whose session was killed, or moved to another user', async () => {
      const a = web.client()
      const b = web.client()
      await a.post('/set?n=1')
      await b.post('/set?n=2')
      const user = userAwayFrom(a.sid, 'fred')
      await a.post(`/user?id=${user}`)
      await b.post(`/user?id=${user}`)
      await rs.kill({ app: APP, token: tokenForSid(a.sid) })
      await b.post('/user?id=george')
      assert.deepEqual(await store.sessionsOf(user), [])
      assert.equal((await rs.soid({ app: APP, id: user })).sessions.length, 0)
      assert.equal((await store.sessionsOf('george')).length, 1)
      if (topology.cluster) {
        // The listings above removed the killed session from the user's bucket; the one moved to george
        // stays there (filtered) when it lives elsewhere, until killsoid clears the list.
        const key = `${bucketPrefix(ns, bucketOfId(user))}${APP}:us:${user}`
        const listed = await topology.raw.smembers(key)
        assert.equal(listed.includes(tokenForSid(a.sid)), false)
        const moved = tokenForSid(b.sid)
        assert.equal(listed.includes(moved), bucketOfToken(moved) !== bucketOfId(user))
        assert.equal((await rs.killsoid({ app: APP, id: user })).kill, 0, 'not george’s session')
        assert.deepEqual(await topology.raw.smembers(key), [])
        assert.equal((await store.sessionsOf('george')).length, 1)
      }
    })
  })
}
