'use strict'
// jest runs each file in a vm context with its own Object, Array and Error:
// answers and errors must be of that realm, as the reference's are, in both
// styles, on Redis and in memory. Run by __test__/runtimes.test.js.
const RedisSessions = require('../..')

describe.each([
  ['Redis', () => new RedisSessions({ port: Number(process.env.RS_TEST_PORT), namespace: 'jestrealm' })],
  ['memory', () => new RedisSessions({ memory: true, namespace: 'jestrealm' })],
])('%s: answers and errors in the test file realm', (_, make) => {
  test('toStrictEqual and toBeInstanceOf(Error) hold', async () => {
    const rs = make()
    const created = await rs.create({ app: 'jestrealm', id: 'user', ip: '1', d: { a: 1 } })
    expect(created).toStrictEqual({ token: expect.any(String) })
    const session = await rs.get({ app: 'jestrealm', token: created.token })
    expect(session).toStrictEqual({ id: 'user', r: 1, w: 1, ttl: 7200, idle: 0, ip: '1', d: { a: 1 } })
    const listed = await rs.soid({ app: 'jestrealm', id: 'user' })
    expect(listed.sessions).toBeInstanceOf(Array)
    expect(listed.sessions[0].d).toStrictEqual({ a: 1 })
    await expect(rs.get({ app: 'jestrealm' })).rejects.toBeInstanceOf(Error)
    const fromCallback = await new Promise((resolve) => rs.get({ app: 'jestrealm' }, resolve))
    expect(fromCallback).toBeInstanceOf(Error)
    expect(fromCallback.name).toBe('missingParameter')
    const killed = await new Promise((resolve, reject) =>
      rs.killsoid({ app: 'jestrealm', id: 'user' }, (err, answer) => (err ? reject(err) : resolve(answer))),
    )
    expect(killed).toStrictEqual({ kill: 1 })
    await rs.quit()
  })
})
