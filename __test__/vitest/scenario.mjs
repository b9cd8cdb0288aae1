// What each of the six vitest files does, with its own number; run by
// __test__/runtimes.test.js in vitest's `threads` pool.
import { createRequire } from 'node:module'
import { afterAll, beforeAll, expect, test } from 'vitest'

const RedisSessions = createRequire(import.meta.url)('../..')

export function scenario(n) {
  let rs
  beforeAll(() => {
    rs = new RedisSessions({ port: Number(process.env.RS_TEST_PORT), wipe: 600, cachetime: 30 })
  })
  afterAll(() => rs.quit())

  test(`file ${n}: create, get and kill`, async () => {
    const sessions = await Promise.all(
      Array.from({ length: 100 }, (_, i) => rs.create({ app: 'vitestapp', id: `user${n}.${i}`, ip: '1' })),
    )
    for (const [i, { token }] of sessions.entries())
      expect((await rs.get({ app: 'vitestapp', token })).id).toBe(`user${n}.${i}`)
    for (const { token } of sessions) expect(await rs.kill({ app: 'vitestapp', token })).toEqual({ kill: 1 })
  })
}
