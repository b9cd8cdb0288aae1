'use strict'
// Memory mode under jest's modern fake timers, which fake Date and also
// process.nextTick: sessions expire without waiting, both styles answer.
// Run by __test__/runtimes.test.js with --detectOpenHandles.
const RedisSessions = require('../..')

describe('memory: true under modern fake timers', () => {
  let rs

  beforeEach(() => {
    jest.useFakeTimers({ now: new Date('2030-01-01T00:00:00Z') })
    rs = new RedisSessions({ memory: true, namespace: 'jestmemory', cachetime: 30 })
  })
  afterEach(async () => {
    await rs.quit()
    RedisSessions.resetMemory()
    jest.useRealTimers()
  })

  test('a session idles and expires as the fake clock moves', async () => {
    const { token } = await rs.create({ app: 'jestapp', id: 'user', ip: '1', ttl: 60 })
    jest.advanceTimersByTime(30_000)
    expect((await rs.get({ app: 'jestapp', token })).idle).toBe(30)
    jest.advanceTimersByTime(61_000)
    expect(await rs.get({ app: 'jestapp', token })).toBeNull()
    expect(await rs.soid({ app: 'jestapp', id: 'user' })).toEqual({ sessions: [] })
  })

  test('the cache answers until cachetime has passed on the fake clock', async () => {
    const { token } = await rs.create({ app: 'jestapp', id: 'user', ip: '1', ttl: 600 })
    expect((await rs.get({ app: 'jestapp', token })).r).toBe(1)
    jest.advanceTimersByTime(29_000)
    expect((await rs.get({ app: 'jestapp', token })).r).toBe(1)
    jest.advanceTimersByTime(2_000)
    expect((await rs.get({ app: 'jestapp', token })).r).toBe(2)
  })

  test('callbacks answer though process.nextTick is faked', (done) => {
    rs.create({ app: 'jestapp', id: 'user', ip: '1' }, (err, created) => {
      expect(err).toBeNull()
      rs.get({ app: 'jestapp', token: created.token }, (getErr, session) => {
        expect(session.id).toBe('user')
        done(getErr)
      })
    })
  })
})
