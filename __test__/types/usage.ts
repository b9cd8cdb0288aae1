// Compiled by __test__/packaging.test.js with `tsc --noEmit --strict`: both
// styles type-check, and each `@ts-expect-error` line must stay an error.
import RedisSessions, { Session } from '../..'

type Data = { foo: string; unread?: number }
const rs = new RedisSessions<Data>({
  port: 6379,
  namespace: 'rs',
  cachetime: 30,
  options: { url: 'redis://localhost' },
})
const secure = new RedisSessions({
  sentinel: { name: 'mymaster', sentinels: [{ host: '10.0.0.1', port: 26379 }, 'redis://10.0.0.2:26379'] },
  options: {
    username: 'app',
    password: 'pw',
    tls: { ca: [Buffer.from('pem')], cert: 'pem', key: 'pem', rejectUnauthorized: true },
  },
})
void secure
void new RedisSessions({
  cluster: [{ host: '10.0.0.1', port: 7000 }, 'redis://10.0.0.2:7000'],
  options: { password: 'pw' },
})
// @ts-expect-error a Sentinel setup needs the master's name
void new RedisSessions({ sentinel: { sentinels: ['redis://10.0.0.2:26379'] } })
void new RedisSessions({ memory: true, namespace: 'test' })
RedisSessions.resetMemory()
RedisSessions.resetMemory('test')
// @ts-expect-error resetMemory is the class's, not an instance's
rs.resetMemory()

async function promises(): Promise<void> {
  const { token }: { token: string } = await rs.create({
    app: 'app',
    id: 'u',
    ip: '1',
    d: { foo: 'bar' },
    no_resave: true,
  })
  const session: Session<Data> | null = await rs.get({ app: 'app', token })
  if (session !== null) {
    const foo: string | undefined = session.d?.foo
    const reads: number = session.r
    const ip: string | null = session.ip
    // @ts-expect-error ip is null for a session stored without one
    const ipText: string = session.ip
    void foo
    void reads
    void ip
    void ipText
  }
  await rs.set({ app: 'app', token, d: { unread: null } })
  const { activity }: { activity: number } = await rs.activity({ app: 'app', deltaTime: 60 })
  const { sessions } = await rs.soapp({ app: 'app', dt: 60 })
  const first: Session<Data> | undefined = sessions[0]
  const { kill }: { kill: number } = await rs.killsoid({ app: 'app', id: 'u' })
  const others: { kill: number } = await rs.killsoid({ app: 'app', id: 'u', except: token })
  void others
  const { count }: { count: number } = await rs.count({ app: 'app' })
  void count
  const devices = await rs.soid({ app: 'app', id: 'u', handles: true })
  const handle: string = devices.sessions[0].handle
  await rs.kill({ app: 'app', id: 'u', handle })
  // @ts-expect-error without handles: true a listed session has no handle
  void (await rs.soid({ app: 'app', id: 'u' })).sessions[0].handle.length
  // @ts-expect-error a kill by handle needs the id
  await rs.kill({ app: 'app', handle })
  const pong: string = await rs.ping()
  const rotated: { token: string } | null = await rs.rotate({ app: 'app', token })
  const touched: Session<Data> | null = await rs.touch({ app: 'app', token, ttl: 86400 })
  void rotated
  void touched
  void activity
  void first
  void kill
  void pong
  await rs.quit()

  // @ts-expect-error app is required
  await rs.get({ token })
  // @ts-expect-error d values are strings, numbers, booleans or null
  await rs.set({ app: 'app', token, d: { foo: { nested: true } } })
  // @ts-expect-error a window is required
  await rs.activity({ app: 'app' })
  // @ts-expect-error rotate answers null when there is no session
  const always: { token: string } = await rs.rotate({ app: 'app', token })
  void always
  // @ts-expect-error get answers Session | null, not a token
  const wrong: { token: string } = await rs.get({ app: 'app', token })
  void wrong
}

function callbacks(): void {
  const nothing: void = rs.get({ app: 'app', token: 't' }, (err, session) => {
    if (err) return
    void session
  })
  void nothing
  rs.activity({ app: 'app', dt: 60 }, (err: Error | null, resp: { activity: number }) => void [err, resp])
  rs.ping((err, pong) => void [err, pong.toUpperCase()])
  rs.on('disconnect', () => undefined)
  const hashed = new RedisSessions({ hashTokens: 'migrate', events: true })
  hashed.on('session', (event) => void [event.type === 'rotated' ? event.previous : event.handle, event.app, event.id])
  // @ts-expect-error hashTokens is true, false or 'migrate'
  void new RedisSessions({ hashTokens: 'yes' })
  const up: boolean = rs.redis.connected
  void up
  // @ts-expect-error the callback's result is an object, not a number
  rs.kill({ app: 'app', token: 't' }, (err: Error | null, killed: number) => void [err, killed])
}

void promises
void callbacks
