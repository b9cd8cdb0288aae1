'use strict'
// connect-redis-sessions@2.1.1, unchanged, on this package: what a user gets
// after `npm install redis-sessions@npm:redis-sessions-rs`. Its own
// `require('redis-sessions')` is pointed here, as that install does.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const Module = require('node:module')
const path = require('node:path')
const { once } = require('node:events')
const { startRedis } = require('./helpers/redis-server')

const ours = path.join(__dirname, '..', 'index.js')
const resolve = Module._resolveFilename
Module._resolveFilename = function (request, ...rest) {
  return request === 'redis-sessions' ? ours : resolve.call(this, request, ...rest)
}
const express = require('express')
const cookieParser = require('cookie-parser')
const ConnectRedisSessions = require('connect-redis-sessions')
const RedisSessions = require('..')

let server, http, base, middleware

before(async () => {
  server = await startRedis()
  middleware = ConnectRedisSessions({ app: 'crsapp', port: server.port, host: '127.0.0.1', wipe: 0, ttl: 3600 })
  const app = express()
  app.use(cookieParser())
  app.use(middleware)
  app.get('/login', (req, res) => req.session.upgrade(req.query.user, () => res.end(`hello ${req.query.user}`)))
  app.get('/whoami', (req, res) => res.end(req.session.id ? `you are ${req.session._meta.id}` : 'nobody'))
  app.get('/put', (req, res) => {
    req.session.color = req.query.color
    res.end('stored')
  })
  app.get('/color', (req, res) => res.end(String(req.session.color)))
  app.get('/logout', (req, res) => req.session.destroy(() => res.end('bye')))
  http = app.listen(0, '127.0.0.1')
  await once(http, 'listening')
  base = `http://127.0.0.1:${http.address().port}`
})
after(async () => {
  http.close()
  await middleware.handler.rds.quit()
  await server.stop()
})

async function get(route, cookie) {
  const res = await fetch(base + route, { headers: cookie ? { cookie } : {} })
  const set = res.headers.get('set-cookie')
  return { text: await res.text(), cookie: set ? set.split(';')[0] : cookie }
}

describe('connect-redis-sessions 2.1.1 with express', () => {
  it('uses this package as its redis-sessions', () => {
    assert.ok(middleware.handler.rds instanceof RedisSessions)
  })

  it('login creates a session and a cookie, later requests read it, data persists, logout kills it', async () => {
    const rds = middleware.handler.rds
    if (!rds.redis.connected) await once(rds.redis, 'connect')
    assert.equal(middleware.handler.ready, true)

    assert.equal((await get('/whoami')).text, 'nobody')
    const login = await get('/login?user=alice')
    assert.equal(login.text, 'hello alice')
    assert.match(login.cookie, /^crsapp=[A-Za-z0-9]{64}$/)
    const token = login.cookie.split('=')[1]
    assert.equal((await rds.get({ app: 'crsapp', token })).id, 'alice')

    assert.equal((await get('/whoami', login.cookie)).text, 'you are alice')
    assert.equal((await get('/put?color=teal', login.cookie)).text, 'stored')
    assert.equal((await get('/color', login.cookie)).text, 'teal')
    assert.deepEqual((await rds.get({ app: 'crsapp', token })).d, { color: 'teal' })

    assert.equal((await get('/logout', login.cookie)).text, 'bye')
    assert.equal(await rds.get({ app: 'crsapp', token }), null)
    assert.equal((await get('/whoami', login.cookie)).text, 'nobody')
  })
})
