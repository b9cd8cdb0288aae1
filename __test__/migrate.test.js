'use strict'
// migrate-to-cluster: copying a reference deployment (one redis-server) into a
// Redis Cluster (3 masters, no replicas) started here. The token map holds
// bearer tokens, so it goes where only its operator can read it; a re-run
// copies only what no earlier run copied.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFile } = require('node:child_process')
const { promisify } = require('node:util')
const RedisSessions = require('..')
const RedisSessionsV3 = require('redis-sessions-v3')
const { startRedis } = require('./helpers/redis-server')
const { startCluster, cli } = require('./helpers/redis-cluster')
const { connect } = require('./helpers/raw')

const BIN = path.join(__dirname, '..', 'bin', 'migrate-to-cluster.js')
const TOKEN_LIKE = /[A-Za-z0-9]{64}/
const now = () => Math.floor(Date.now() / 1000)

describe('migrate-to-cluster', () => {
  let cluster, single, dir
  before(async () => {
    ;[cluster, single] = await Promise.all([startCluster({ masters: 3, replicas: 0 }), startRedis()])
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-migrate-'))
  })
  after(async () => {
    await single.stop()
    await cluster.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  /** Runs the command in `dir`; resolves to {code, stdout, stderr}. */
  const migrate = (namespace, ...args) =>
    promisify(execFile)(
      process.execPath,
      [
        BIN,
        '--from',
        single.url,
        '--to',
        `redis://127.0.0.1:${cluster.nodes[0].port}`,
        '--namespace',
        namespace,
        ...args,
      ],
      { cwd: dir },
    ).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (err) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
    )
  const readMap = (file) =>
    fs
      .readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line))
  const modeOf = (file) => fs.statSync(file).mode & 0o777

  /** A reference (v3) instance on the source, with a promise-returning call. */
  function reference(namespace) {
    const rs = new RedisSessionsV3({ port: single.port, namespace, wipe: 0 })
    const call = (method, options) =>
      new Promise((resolve, reject) => rs[method](options, (err, r) => (err ? reject(err) : resolve(r))))
    return { call, quit: () => rs.redis.quit() }
  }

  it(
    'copies the live sessions of a reference deployment under new tokens; the map is a file only its owner can read',
    { timeout: 60_000 },
    async () => {
      const source = reference('mig')
      const originals = new Map()
      try {
        for (let i = 0; i < 40; i++) {
          for (const device of ['phone', 'laptop']) {
            const options = { app: i % 2 ? 'miga' : 'migb', id: `user:${i}`, ip: device, ttl: 3600, d: { device, i } }
            if (i % 5 === 0) options.no_resave = true
            originals.set((await source.call('create', options)).token, options)
          }
        }
        const { token: expired } = await source.call('create', { app: 'miga', id: 'gone', ip: '1', ttl: 10 })
        const redis = connect(single.port)
        await redis.hset(`mig:miga:${expired}`, 'la', String(now() - 100))
        redis.disconnect()
      } finally {
        source.quit()
      }
      const mapFile = path.join(dir, 'mig.jsonl')
      const { code, stdout, stderr } = await migrate('mig', '--map', mapFile)
      assert.equal(code, 0, stderr)
      assert.doesNotMatch(stdout + stderr, TOKEN_LIKE, 'no token on stdout or stderr')
      assert.match(stderr, /copied 80 sessions/)
      assert.ok(stderr.includes(mapFile), 'names the map')
      assert.equal(modeOf(mapFile), 0o600)
      const moved = readMap(mapFile)
      assert.equal(moved.length, 80, 'every live session, and not the expired one')
      for (const { old, new: token } of moved)
        assert.equal(token.slice(2), old.slice(2), 'the old token with its bucket in front')
      assert.ok(
        moved.filter(({ old, new: token }) => token !== old).length >= 75,
        'new tokens, but for the rare one that already named its bucket',
      )
      const rs = new RedisSessions({ cluster: cluster.seeds, namespace: 'mig', wipe: 0 })
      try {
        for (const { app, old, new: token } of moved) {
          const original = originals.get(old)
          assert.ok(original, 'an original token')
          assert.equal(app, original.app)
          const session = await rs.get({ app, token })
          assert.equal(session.id, original.id)
          assert.equal(session.ip, original.ip)
          assert.deepEqual(session.d, original.d)
          assert.equal(session.no_resave === true, original.no_resave === true)
          // The old token with its bucket in front is the old token itself when its
          // first two characters already named that bucket (in about 1 run in 50).
          if (token !== old) assert.equal(await rs.get({ app, token: old }), null)
        }
        assert.deepEqual(await rs.activity({ app: 'miga', dt: 600 }), { activity: 20 })
        assert.equal((await rs.soid({ app: 'miga', id: 'user:3' })).sessions.length, 2)
        assert.deepEqual(await rs.killsoid({ app: 'migb', id: 'user:4' }), { kill: 2 })
      } finally {
        await rs.quit()
      }

      fs.chmodSync(mapFile, 0o644)
      const refused = await migrate('mig', '--map', mapFile)
      assert.equal(refused.code, 1)
      assert.match(refused.stderr, /can be read by others/)
    },
  )

  it(
    'a re-run copies only new sessions: one killed or changed on the cluster stays so, and none is written over',
    { timeout: 60_000 },
    async () => {
      const source = reference('rerun')
      const rs = new RedisSessions({ cluster: cluster.seeds, namespace: 'rerun', wipe: 0 })
      try {
        const create = async (id) =>
          (await source.call('create', { app: 'rapp', id, ip: '1', ttl: 3600, d: { from: 'source', gone: 'soon' } }))
            .token
        const killedOld = await create('killed')
        const changedOld = await create('changed')
        const first = await migrate('rerun', '--map', path.join(dir, 'rerun.jsonl'))
        assert.equal(first.code, 0, first.stderr)
        const newToken = new Map(readMap(path.join(dir, 'rerun.jsonl')).map((m) => [m.old, m.new]))
        assert.equal(newToken.size, 2)

        assert.deepEqual(await rs.kill({ app: 'rapp', token: newToken.get(killedOld) }), { kill: 1 })
        await rs.set({ app: 'rapp', token: newToken.get(changedOld), d: { from: 'cluster', gone: null } })
        await source.call('set', { app: 'rapp', token: changedOld, d: { from: 'source again' } })
        const laterOld = await create('later')

        // No --map: a new file in the working directory, named on stderr.
        const second = await migrate('rerun')
        assert.equal(second.code, 0, second.stderr)
        assert.doesNotMatch(second.stdout, TOKEN_LIKE)
        assert.match(second.stderr, /copied 1 sessions; skipped 2 copied by an earlier run/)
        const defaultMap = /token map to (\S+)/.exec(second.stderr)[1]
        assert.equal(path.dirname(defaultMap), fs.realpathSync(dir))
        assert.equal(modeOf(defaultMap), 0o600)
        assert.deepEqual(
          readMap(defaultMap).map((m) => m.old),
          [laterOld],
        )

        assert.equal(
          await rs.get({ app: 'rapp', token: newToken.get(killedOld) }),
          null,
          'the killed session stays dead',
        )
        assert.deepEqual(
          (await rs.get({ app: 'rapp', token: newToken.get(changedOld) })).d,
          { from: 'cluster' },
          'the d changed on the cluster is kept, and the field removed there stays removed',
        )
        assert.equal((await rs.get({ app: 'rapp', token: readMap(defaultMap)[0].new })).id, 'later')

        // The record of each copy lives in the session's bucket, as long as the source session could.
        let records = []
        for (const port of await cluster.masterPorts()) {
          for (const key of (await cli(port, '--raw', 'KEYS', '{rerun:*:rapp:_migrated:*')).split('\n').filter(Boolean))
            records.push({ port, key })
        }
        assert.equal(records.length, 3)
        for (const { port, key } of records) {
          const ttl = Number(await cli(port, '--raw', 'TTL', key))
          assert.ok(ttl > 3500 && ttl <= 3601, `${key} expires with its session (${ttl} s)`)
        }

        // Without its record (as after a run of an older version), a session on the cluster is still not written over.
        const changedRecord = records.find(({ key }) => key.endsWith(changedOld))
        await cli(changedRecord.port, 'DEL', changedRecord.key)
        const extraOld = await create('extra')
        const third = await migrate('rerun', '--stdout')
        assert.equal(third.code, 0, third.stderr)
        assert.match(
          third.stderr,
          /copied 1 sessions; skipped 2 copied by an earlier run; left 1 alone that were on the cluster already/,
        )
        assert.deepEqual(
          third.stdout
            .trim()
            .split('\n')
            .map((line) => JSON.parse(line).old),
          [extraOld],
          '--stdout prints the map',
        )
        assert.deepEqual((await rs.get({ app: 'rapp', token: newToken.get(changedOld) })).d, { from: 'cluster' })
        assert.equal(await rs.get({ app: 'rapp', token: newToken.get(killedOld) }), null)
      } finally {
        source.quit()
        await rs.quit()
      }
    },
  )
})
