'use strict'
// One of three jest files sharing the package; run by __test__/runtimes.test.js.
const RedisSessions = require('../..')

const port = Number(process.env.RS_TEST_PORT)
let rs

beforeAll(() => {
  rs = new RedisSessions({ port, wipe: 600, cachetime: 30 })
})
afterAll(() => rs.quit())

test('file 2: create, get, set and kill', async () => {
  const { token } = await rs.create({ app: 'jestapp', id: 'user2', ip: '1' })
  expect((await rs.get({ app: 'jestapp', token })).id).toBe('user2')
  expect((await rs.set({ app: 'jestapp', token, d: { n: 2 } })).d).toEqual({ n: 2 })
  expect(await rs.kill({ app: 'jestapp', token })).toEqual({ kill: 1 })
})
