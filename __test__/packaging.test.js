'use strict'
// What users get from npm: the files in the package, CommonJS and ESM entry
// points, the TypeScript types, and the demo.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { execFile } = require('node:child_process')
const { promisify } = require('node:util')

const root = path.join(__dirname, '..')
const run = (cmd, args, options = {}) => promisify(execFile)(cmd, args, { cwd: root, maxBuffer: 1 << 24, ...options })

describe('packaging', () => {
  it('npm pack holds exactly the loader, facade, types and docs', async () => {
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'])
    const files = JSON.parse(stdout)[0].files.map((f) => f.path).sort()
    assert.deepEqual(files, ['CHANGELOG.md', 'LICENSE', 'README.md', 'bin/migrate-to-cluster.js', 'binding.js', 'index.d.ts', 'index.js', 'package.json'])
  })

  it('every platform package names its binary, os and cpu, at the root version', () => {
    const pkg = require('../package.json')
    for (const target of ['linux-x64-gnu', 'linux-arm64-gnu', 'linux-x64-musl', 'linux-arm64-musl', 'darwin-x64', 'darwin-arm64', 'win32-x64-msvc']) {
      const platform = require(`../npm/${target}/package.json`)
      assert.equal(platform.name, `redis-sessions-rs-${target}`)
      assert.equal(platform.version, pkg.version)
      assert.deepEqual(platform.files, [`redis-sessions-rs.${target}.node`])
      assert.equal(platform.main, `redis-sessions-rs.${target}.node`)
      assert.ok(platform.os.length === 1 && platform.cpu.length === 1)
    }
  })

  it('require and import give the same class', async () => {
    const RedisSessions = require('redis-sessions-rs')
    assert.equal(RedisSessions, require('..'))
    const script = `
      import RedisSessions, { RedisSessions as Named } from 'redis-sessions-rs'
      const rs = new RedisSessions({ wipe: 0, port: 1 })
      console.log(typeof RedisSessions, Named === RedisSessions, rs instanceof RedisSessions)
      await rs.quit()
    `
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script])
    assert.equal(stdout.trim(), 'function true true')
  })

  it("the binding's allocator (mimalloc) commits memory lazily, for a lower peak RSS", async () => {
    const script = "const R = require('.'); new R({ port: 1, wipe: 0 }).quit().then(() => {})"
    const { stderr } = await run(process.execPath, ['-e', script], { env: { ...process.env, MIMALLOC_VERBOSE: '1' } })
    assert.match(stderr, /option 'arena_eager_commit': 0\b/)
  })

  it('the types compile under --strict, and misuse does not', { timeout: 60_000 }, async () => {
    await run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(__dirname, 'types', 'tsconfig.json')])
  })

  it('the demo runs in a few seconds', { timeout: 20_000 }, async () => {
    const started = Date.now()
    const { stdout } = await run(process.execPath, [path.join(root, 'demo', 'index.js')], { env: { ...process.env, REDIS_URL: '' } })
    assert.match(stdout, /killsoid alice \(every device\)\s+\{"kill":2\}/)
    assert.ok(Date.now() - started < 10_000)
  })
})
