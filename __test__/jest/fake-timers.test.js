'use strict'
// Redis mode in jest's sandbox (a vm context with its own Promise) under its
// modern fake timers, which also fake process.nextTick: callbacks
// (connect-redis-sessions' style) get their answers, not a Promise, as the
// reference's do, without the test advancing the clock.
// Run by __test__/runtimes.test.js with --detectOpenHandles.
const RedisSessions = require('../..')

describe('Redis under modern fake timers', () => {
  let rs

  beforeAll(() => {
    rs = new RedisSessions({ port: Number(process.env.RS_TEST_PORT), cachetime: 30 })
  })
  afterAll(() => rs.quit())
  beforeEach(() => jest.useFakeTimers())
  afterEach(() => jest.useRealTimers())

  test('callbacks answer though process.nextTick is faked, errors too', (done) => {
    rs.create({ app: 'jestfake', id: 'user', ip: '1' }, (err, created) => {
      expect(err).toBeNull()
      rs.get({ app: 'jestfake', token: created.token }, (firstErr, first) => {
        expect(first.r).toBe(1)
        rs.get({ app: 'jestfake', token: created.token }, (againErr, again) => {
          expect(again.id).toBe('user')
          rs.get({ app: 'jestfake', token: 'short' }, (badErr) => {
            expect(badErr.message).toMatch(/token/)
            rs.kill({ app: 'jestfake', token: created.token }, (killErr, killed) => {
              expect(killed).toEqual({ kill: 1 })
              done(killErr)
            })
          })
        })
      })
    })
  })
})
