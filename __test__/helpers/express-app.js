'use strict'
// An Express app on express-session with a given store, served on a free
// loopback port, and a browser-like client that keeps the session cookie: what
// the express store's tests drive over HTTP.
const express = require('express')
const session = require('express-session')

/**
 * Routes: GET /get (the session), POST /set?k=v&... (sets top-level keys, JSON values), POST /del?k (deletes),
 * POST /user?id (sets userId), POST /maxage?ms (the cookie's maxAge), POST /destroy, POST /regenerate, and
 * POST /hold?gate&k=v: loads the session, waits until `release(gate)`, then sets.
 */
async function serve(store, sessionOptions = {}) {
  const gates = new Map()
  const gate = (name) => {
    if (!gates.has(name)) {
      let open
      const opened = new Promise((resolve) => (open = resolve))
      gates.set(name, { opened, open, reached: null })
    }
    return gates.get(name)
  }
  const arrivals = new Map()
  const app = express()
  app.use(session({ store, secret: 'keyboard cat', resave: false, saveUninitialized: false, ...sessionOptions }))
  const view = (req) => ({ sid: req.sessionID, session: req.session ? { ...req.session } : null })
  const setAll = (req) => {
    for (const [key, value] of Object.entries(req.query)) req.session[key] = JSON.parse(value)
  }
  app.get('/get', (req, res) => res.json(view(req)))
  app.post('/set', (req, res) => {
    setAll(req)
    res.json(view(req))
  })
  app.post('/del', (req, res) => {
    for (const key of Object.keys(req.query)) delete req.session[key]
    res.json(view(req))
  })
  app.post('/user', (req, res) => {
    req.session.userId = req.query.id
    res.json(view(req))
  })
  app.post('/maxage', (req, res) => {
    req.session.cookie.maxAge = Number(req.query.ms)
    res.json(view(req))
  })
  app.post('/destroy', (req, res, next) => req.session.destroy((err) => (err ? next(err) : res.json({ ok: true }))))
  app.post('/regenerate', (req, res, next) =>
    req.session.regenerate((err) => {
      if (err) return next(err)
      setAll(req)
      res.json(view(req))
    }),
  )
  app.post('/hold', async (req, res) => {
    const { gate: name, ...rest } = req.query
    const g = gate(name)
    arrivals.get(name)?.()
    await g.opened
    req.query = rest
    setAll(req)
    res.json(view(req))
  })
  // express answers a store's error with 500; the body says which.
  app.use((err, req, res, _next) => res.status(500).json({ error: err.message }))
  const server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s))
  })
  const base = `http://127.0.0.1:${server.address().port}`
  return {
    base,
    /** Resolves when a /hold request with this gate has loaded its session. */
    arrived: (name) => new Promise((resolve) => arrivals.set(name, resolve)),
    release: (name) => gate(name).open(),
    client: () => new Client(base),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(resolve)
      }),
  }
}

/** Keeps the session cookie as a browser does. */
class Client {
  constructor(base) {
    this.base = base
    this.cookie = undefined
  }

  async request(method, path) {
    const res = await fetch(this.base + path, { method, headers: this.cookie ? { cookie: this.cookie } : {} })
    const setCookie = res.headers.get('set-cookie')
    if (setCookie) this.cookie = setCookie.split(';')[0]
    const body = await res.json()
    return { status: res.status, body, setCookie }
  }

  get(path = '/get') {
    return this.request('GET', path)
  }

  post(path) {
    return this.request('POST', path)
  }

  /** The sid the cookie holds (unsigned). */
  get sid() {
    if (!this.cookie) return undefined
    const value = decodeURIComponent(this.cookie.split('=')[1])
    return value.slice(2, value.lastIndexOf('.'))
  }
}

module.exports = { serve, Client }
