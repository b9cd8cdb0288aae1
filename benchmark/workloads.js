'use strict'
// What the benchmark runs: the implementations and the workloads. Shared by
// the orchestrator (run.js) and the child that measures one run (worker.js).
const crypto = require('node:crypto')

/** Each implementation: how to load it, how to call it, which window key it reads. */
const IMPLS = {
  v3: {
    load: () => require('redis-sessions-v3'),
    style: 'callback',
    windowKey: 'dt',
    label: 'redis-sessions@3.0.0 (callbacks)',
  },
  v4: {
    load: () => require('redis-sessions-v4').default,
    style: 'promise',
    windowKey: 'deltaTime',
    label: 'redis-sessions@4.0.0 (promises)',
  },
  rs: { load: () => require('..'), style: 'promise', windowKey: 'deltaTime', label: 'redis-sessions-rs (promises)' },
  'rs-cb': { load: () => require('..'), style: 'callback', windowKey: 'dt', label: 'redis-sessions-rs (callbacks)' },
}
const MAIN_IMPLS = ['v3', 'v4', 'rs']
const ALL_IMPLS = [...MAIN_IMPLS, 'rs-cb']

// Apps inside each implementation's namespace.
const APP = { pool: 'bpool', create: 'bcreate', kill: 'bkill', big: 'bbig' }
const POOL_SIZE = 10000 // sessions that get/set/mix read and write
const POOL_IDS = 2000
const BIG_SIZE = 10000 // sessions of the app soid/activity/soapp query
const BIG_IDS = 1000 // so each id holds 10 sessions
const CACHED = 100 // sessions the cached get cycles through
const WINDOW = 86400 // soapp/activity window: every seeded session is inside

const ok = {
  token: (r) => typeof r?.token === 'string' && r.token.length === 64,
  session: (r) => typeof r?.id === 'string',
  kill: (r) => r?.kill === 1,
  soid: (r) => r?.sessions?.length === BIG_SIZE / BIG_IDS,
  activity: (r) => r?.activity === BIG_IDS,
  soapp: (r) => r?.sessions?.length === BIG_SIZE,
}

// An op is (ctx, i) => [method, args, check]; ctx holds the tokens and the window key.
const ops = {
  create: (ctx, i) => ['create', { app: APP.create, id: `c${i % 5000}`, ip: '10.0.0.1', ttl: 7200 }, ok.token],
  get: (ctx, i) => ['get', { app: APP.pool, token: ctx.pool[i % ctx.pool.length] }, ok.session],
  set: (ctx, i) => [
    'set',
    { app: APP.pool, token: ctx.pool[i % ctx.pool.length], d: { n: i, s: 'hello' } },
    ok.session,
  ],
  kill: (ctx, i) => ['kill', { app: APP.kill, token: ctx.kill[i] }, ok.kill],
  // The seeded kill sessions by their id (as run.js seeds them) and device handle, computed once in the warm-up.
  killByHandle: (ctx, i) => {
    ctx.handles ??= ctx.kill.map((token) =>
      crypto.createHash('sha1').update(`handle:${token}`).digest('hex').slice(0, 16),
    )
    return ['kill', { app: APP.kill, id: `k${i % 5000}`, handle: ctx.handles[i] }, ok.kill]
  },
  cachedGet: (ctx, i) => ['get', { app: APP.pool, token: ctx.pool[i % CACHED] }, ok.session],
  soid: (ctx, i) => ['soid', { app: APP.big, id: `u${i % BIG_IDS}` }, ok.soid],
  activity: (ctx) => ['activity', { app: APP.big, [ctx.windowKey]: WINDOW }, ok.activity],
  soapp: (ctx) => ['soapp', { app: APP.big, [ctx.windowKey]: WINDOW }, ok.soapp],
  // Not in the references (issue 17): measured for rs only, beside create. Each rotates a fresh session once.
  rotate: (ctx, i) => ['rotate', { app: APP.kill, token: ctx.kill[i] }, ok.token],
  touch: (ctx, i) => ['touch', { app: APP.pool, token: ctx.pool[i % ctx.pool.length], ttl: 7200 }, ok.session],
  // 80% get, 15% set, 5% create, in a fixed pattern of 20.
  mix: (ctx, i) => {
    const k = i % 20
    if (k < 16) return ops.get(ctx, i)
    if (k < 19) return ops.set(ctx, i)
    return ops.create(ctx, i)
  },
  // create with a cap of 2 sessions per id: from the third create of an id on, each kills one (this package only).
  createMax: (ctx, i) => [
    'create',
    { app: APP.create, id: `c${i % 5000}`, ip: '10.0.0.1', ttl: 7200, max: 2 },
    ok.token,
  ],
}

/**
 * The workloads. n is the number of measured operations in a full run
 * (--quick divides it), c how many are kept in flight. `cleanup` names the
 * app the orchestrator empties after the run; `seedKill` asks for n + warmup
 * fresh sessions to kill.
 */
const WORKLOADS = [
  { name: 'create c=1', op: 'create', c: 1, n: 3000, cleanup: APP.create },
  { name: 'create c=100', op: 'create', c: 100, n: 30000, cleanup: APP.create },
  { name: 'create c=1000', op: 'create', c: 1000, n: 30000, cleanup: APP.create },
  { name: 'get c=1', op: 'get', c: 1, n: 3000 },
  { name: 'get c=100', op: 'get', c: 100, n: 30000, impls: ALL_IMPLS },
  { name: 'get c=1000', op: 'get', c: 1000, n: 30000, impls: ALL_IMPLS },
  { name: 'set c=1', op: 'set', c: 1, n: 3000 },
  { name: 'set c=100', op: 'set', c: 100, n: 30000 },
  { name: 'set c=1000', op: 'set', c: 1000, n: 30000 },
  { name: 'kill c=1', op: 'kill', c: 1, n: 3000, seedKill: true },
  { name: 'kill c=100', op: 'kill', c: 100, n: 20000, seedKill: true },
  { name: 'kill c=1000', op: 'kill', c: 1000, n: 30000, seedKill: true },
  { name: 'cached get c=100', op: 'cachedGet', c: 100, n: 200000, cache: true, impls: ALL_IMPLS },
  { name: 'soid c=100 (10 sessions)', op: 'soid', c: 100, n: 5000 },
  { name: 'activity c=100', op: 'activity', c: 100, n: 30000 },
  { name: 'soapp c=1 (10,000 sessions)', op: 'soapp', c: 1, n: 12 },
  { name: 'mix 80/15/5 c=100', op: 'mix', c: 100, n: 30000, cleanup: APP.create, impls: ALL_IMPLS },
  // Only rs has it; beside 'kill c=100' and 'create c=100'.
  { name: 'kill by handle c=100', op: 'killByHandle', c: 100, n: 20000, seedKill: true, impls: ['rs'] },
  { name: 'create max=2 c=100', op: 'createMax', c: 100, n: 30000, cleanup: APP.create, impls: ['rs'] },
  { name: 'rotate c=100', op: 'rotate', c: 100, n: 20000, seedKill: true, cleanup: APP.kill, impls: ['rs'] },
  { name: 'touch c=100', op: 'touch', c: 100, n: 30000, impls: ['rs'] },
].map((w) => ({ impls: MAIN_IMPLS, ...w }))

/** Warm-up operations before the measured ones: a tenth, at least one. */
const warmupOf = (n) => Math.max(1, Math.ceil(n / 10))

module.exports = {
  IMPLS,
  MAIN_IMPLS,
  ALL_IMPLS,
  APP,
  POOL_SIZE,
  POOL_IDS,
  BIG_SIZE,
  BIG_IDS,
  CACHED,
  WINDOW,
  WORKLOADS,
  ops,
  warmupOf,
}
