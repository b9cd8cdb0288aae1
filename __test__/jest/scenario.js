'use strict'
// What each of the three jest files does, with its own number.
const RedisSessions = require('../..')

module.exports = function scenario(n) {
  let rs

  beforeAll(() => {
    rs = new RedisSessions({ port: Number(process.env.RS_TEST_PORT), wipe: 600, cachetime: 30 })
  })
  afterAll(() => rs.quit())

  test(`file ${n}: create, get, set and kill`, async () => {
    const { token } = await rs.create({ app: 'jestapp', id: `user${n}`, ip: '1' })
    expect((await rs.get({ app: 'jestapp', token })).id).toBe(`user${n}`)
    expect((await rs.set({ app: 'jestapp', token, d: { n } })).d).toEqual({ n })
    expect(await rs.kill({ app: 'jestapp', token })).toEqual({ kill: 1 })
  })
}
