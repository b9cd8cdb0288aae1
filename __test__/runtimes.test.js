'use strict'
// The package in the places users load it: worker threads, a cleared require
// cache (jest's resetModules), and a jest project with open-handle detection.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { Worker } = require('node:worker_threads')
const { execFile } = require('node:child_process')
const { promisify, stripVTControlCharacters } = require('node:util')
const { startRedis } = require('./helpers/redis-server')

const root = path.join(__dirname, '..')
let server
before(async () => {
  server = await startRedis()
})
after(async () => {
  await server.stop()
})

const WORKER = `
  const { parentPort, workerData } = require('node:worker_threads')
  const RedisSessions = require(workerData.root)
  const rs = new RedisSessions({ port: workerData.port, wipe: 10, cachetime: 5 })
  ;(async () => {
    const { token } = await rs.create({ app: 'workers', id: 'w' + workerData.n, ip: '1' })
    const session = await rs.get({ app: 'workers', token })
    parentPort.postMessage(session.id)
    if (workerData.quit) await rs.quit()
    // The rest keep working until terminated.
    for (;;) await rs.get({ app: 'workers', token })
  })()
`

describe('runtimes', () => {
  it('loads in several worker threads at once, which can be terminated mid-flight', { timeout: 20_000 }, async () => {
    const workers = Array.from(
      { length: 4 },
      (_, n) => new Worker(WORKER, { eval: true, workerData: { root, port: server.port, n, quit: n % 2 === 0 } }),
    )
    const ids = await Promise.all(
      workers.map(
        (w) =>
          new Promise((resolve, reject) => {
            w.once('message', resolve)
            w.once('error', reject)
          }),
      ),
    )
    assert.deepEqual(ids.sort(), ['w0', 'w1', 'w2', 'w3'])
    await new Promise((resolve) => setTimeout(resolve, 50))
    const codes = await Promise.all(workers.map((w) => w.terminate()))
    assert.equal(codes.length, 4)
    // And the main thread still works alongside.
    const RedisSessions = require('..')
    const rs = new RedisSessions({ port: server.port, wipe: 0 })
    assert.equal(await rs.ping(), 'PONG')
    await rs.quit()
  })

  // As vitest's `threads` pool and Piscina load an addon: only workers, which
  // come and go in rounds; some quit, some are terminated mid-flight; the main
  // thread loads the package only after every worker is gone. Crashed with
  // SIGSEGV in the second round while mimalloc was the addon's allocator.
  it('survives rounds of workers when the main thread never loaded it', { timeout: 60_000 }, async () => {
    const script = `
      const { Worker } = require('node:worker_threads')
      const worker = (n) => new Promise((resolve, reject) => {
        const workerData = { root: process.env.RS_ROOT, port: Number(process.env.RS_PORT), n, quit: n % 2 === 0 }
        const w = new Worker(process.env.RS_WORKER, { eval: true, workerData })
        w.once('message', () => (n % 4 === 3 ? setImmediate(() => w.terminate()) : w.terminate()))
        w.once('error', reject)
        w.once('exit', resolve)
      })
      ;(async () => {
        for (let round = 0; round < 3; round++) await Promise.all([0, 1, 2, 3].map((n) => worker(round * 4 + n)))
        const RedisSessions = require(process.env.RS_ROOT)
        const rs = new RedisSessions({ port: Number(process.env.RS_PORT), wipe: 0 })
        console.log(await rs.ping())
        await rs.quit()
      })().catch((err) => { console.error(err); process.exitCode = 1 })`
    const env = { ...process.env, RS_WORKER: WORKER, RS_ROOT: root, RS_PORT: String(server.port) }
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { env, timeout: 50_000 })
    assert.equal(stdout.trim(), 'PONG')
  })

  it("six files pass in vitest's threads pool", { timeout: 120_000 }, async () => {
    const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs')
    const env = { ...process.env, RS_TEST_PORT: String(server.port) }
    const dir = path.join(__dirname, 'vitest')
    const { stdout: colored } = await promisify(execFile)(
      process.execPath,
      [vitest, 'run', '--root', dir, '--config', path.join(dir, 'vitest.config.mjs')],
      { env, cwd: root, timeout: 110_000 },
    )
    // Colored when CI is set, whatever the terminal.
    const stdout = stripVTControlCharacters(colored)
    assert.match(stdout, /Test Files\s+6 passed \(6\)/)
    assert.match(stdout, /Tests\s+6 passed \(6\)/)
  })

  it('runs on one worker thread of its own', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
    const script = `
      const fs = require('node:fs')
      const RedisSessions = require(${JSON.stringify(root)})
      const rs = new RedisSessions({ port: ${server.port}, wipe: 0 })
      rs.ping().then(async () => {
        const comm = (t) => fs.readFileSync('/proc/self/task/' + t + '/comm', 'utf8').trim()
        const names = fs.readdirSync('/proc/self/task').map(comm)
        await rs.quit()
        console.log(JSON.stringify(names))
      })`
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script])
    const names = JSON.parse(stdout)
    assert.equal(names.filter((n) => n === 'redis-sessions').length, 1, names.join(', '))
    assert.ok(!names.some((n) => n.startsWith('tokio')), names.join(', '))
  })

  it('works again after the require cache is cleared', async () => {
    const first = require('..')
    for (const key of Object.keys(require.cache)) {
      if (key.startsWith(root) && !key.includes('node_modules') && !key.includes('__test__')) delete require.cache[key]
    }
    const second = require('..')
    assert.notEqual(first, second)
    for (const RedisSessions of [first, second]) {
      const rs = new RedisSessions({ port: server.port, wipe: 0 })
      const { token } = await rs.create({ app: 'reload', id: 'r', ip: '1' })
      assert.equal((await rs.get({ app: 'reload', token })).id, 'r')
      await rs.quit()
    }
  })

  // jest --detectOpenHandles also lists napi-rs's own per-environment "CustomGC"
  // threadsafe function: created when any napi-rs 3 addon loads, unref'd, never
  // keeping a process alive, released by Node at exit. Nothing of ours may be listed.
  it(
    'a jest project of six files passes (fake timers, answers in its realm), no open handles of ours after quit()',
    { timeout: 90_000 },
    async () => {
      const jest = path.join(root, 'node_modules', 'jest', 'bin', 'jest.js')
      const env = { ...process.env, RS_TEST_PORT: String(server.port) }
      const { stdout, stderr } = await promisify(execFile)(
        process.execPath,
        [jest, '--rootDir', path.join(__dirname, 'jest'), '--detectOpenHandles', '--ci'],
        { env, cwd: root, timeout: 80_000 },
      )
      const output = stdout + stderr
      assert.match(output, /Tests:\s+9 passed, 9 total/)
      assert.match(output, /Test Suites:\s+6 passed, 6 total/)
      assert.doesNotMatch(output, /did not exit/i)
      const handles = [...output.matchAll(/●\s+(\S+)/g)].map((m) => m[1])
      assert.deepEqual(
        handles.filter((h) => h !== 'CustomGC'),
        [],
        output,
      )
    },
  )
})
