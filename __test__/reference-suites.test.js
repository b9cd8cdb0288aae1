'use strict'
// The reference packages' own mocha suites, unmodified, run against this
// package: each is copied next to an `index.js` that is this package with the
// test Redis's port as default, which is all `require('../index')` then finds.
// Each runs three times, unmodified: on Redis, on Redis through the engine's
// Node sockets (REDIS_SESSIONS_NODE_SOCKETS=1), and with REDIS_SESSIONS_MEMORY=1
// on the in-memory engine (the port then unused).
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { execFile } = require('node:child_process')
const { promisify } = require('node:util')
const { startRedis } = require('./helpers/redis-server')

const root = path.join(__dirname, '..')
const work = path.join(__dirname, '.reference-suites')
const mocha = path.join(root, 'node_modules', 'mocha', 'bin', 'mocha.js')

const SHIM = `'use strict'
const RedisSessions = require(${JSON.stringify(root)})
const port = Number(process.env.RS_TEST_PORT)
class RedisSessionsOnTestPort extends RedisSessions {
  constructor(options = {}) { super({ port, ...options }) }
}
module.exports = RedisSessionsOnTestPort
module.exports.default = RedisSessionsOnTestPort
`

const suites = {
  'redis-sessions@3.0.0': { from: 'redis-sessions-v3/test/test.js', to: 'v3/test/test.js', shim: 'v3/index.js' },
  'redis-sessions@4.0.0': {
    from: 'redis-sessions-v4/dist/test/test.js',
    to: 'v4/dist/test/test.js',
    shim: 'v4/dist/index.js',
  },
}

let server
before(async () => {
  server = await startRedis()
})
after(async () => {
  await server.stop()
})

/** How each run reaches its sessions: its environment variables and the test's name. */
const MODES = [
  { variables: {}, label: '' },
  { variables: { REDIS_SESSIONS_NODE_SOCKETS: '1' }, label: ' through Node sockets (REDIS_SESSIONS_NODE_SOCKETS=1)' },
  { variables: { REDIS_SESSIONS_MEMORY: '1' }, label: ' on the in-memory engine (REDIS_SESSIONS_MEMORY=1)' },
]

async function runMocha(file, extra, mode) {
  const env = {
    ...process.env,
    RS_TEST_PORT: String(server.port),
    REDIS_SESSIONS_MEMORY: '',
    REDIS_SESSIONS_NODE_SOCKETS: '',
    ...mode.variables,
  }
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [mocha, '--reporter', 'tap', '--timeout', '8000', ...extra, file],
      { env, cwd: root, maxBuffer: 1 << 24 },
    )
    return stdout
  } catch (err) {
    return `${err.stdout}\n${err.stderr}\nexit ${err.code}`
  }
}

describe('the reference suites pass against this package', () => {
  for (const [name, suite] of Object.entries(suites)) {
    for (const mode of MODES)
      it(`${name}${mode.label}`, { timeout: 90_000 }, async () => {
        const target = path.join(work, suite.to)
        fs.mkdirSync(path.dirname(target), { recursive: true })
        fs.copyFileSync(require.resolve(suite.from), target)
        fs.writeFileSync(path.join(work, suite.shim), SHIM)
        const listed = await runMocha(target, ['--dry-run'], mode)
        const expected = (listed.match(/^ok \d+/gm) || []).length
        assert.ok(expected > 50, `mocha listed ${expected} tests:\n${listed}`)
        const output = await runMocha(target, [], mode)
        const failures = output.split('\n').filter((line) => line.startsWith('not ok'))
        assert.deepEqual(failures, [], output)
        assert.equal((output.match(/^ok \d+/gm) || []).length, expected, output)
      })
  }
})
