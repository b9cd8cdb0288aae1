'use strict'
// What users get from npm: the files in the package, CommonJS and ESM entry
// points, the TypeScript types, and the demo.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { execFile } = require('node:child_process')
const { promisify } = require('node:util')

const root = path.join(__dirname, '..')
const run = (cmd, args, options = {}) => promisify(execFile)(cmd, args, { cwd: root, maxBuffer: 1 << 24, ...options })

const DT_FLAGS = 30n
const DF_STATIC_TLS = 0x10

/** The DT_FLAGS entry of a 64-bit little-endian ELF's dynamic segment (0 when it has none). */
function dynamicFlags(elf) {
  assert.equal(elf.toString('latin1', 0, 4), '\x7fELF')
  assert.equal(elf[4], 2, 'a 64-bit ELF')
  const phoff = Number(elf.readBigUInt64LE(0x20))
  const phentsize = elf.readUInt16LE(0x36)
  for (let i = 0; i < elf.readUInt16LE(0x38); i++) {
    const header = phoff + i * phentsize
    if (elf.readUInt32LE(header) !== 2) continue // PT_DYNAMIC
    const start = Number(elf.readBigUInt64LE(header + 8))
    const end = start + Number(elf.readBigUInt64LE(header + 32))
    for (let entry = start; entry + 16 <= end; entry += 16) {
      const tag = elf.readBigInt64LE(entry)
      if (tag === 0n) break
      if (tag === DT_FLAGS) return Number(elf.readBigUInt64LE(entry + 8))
    }
  }
  return 0
}

describe('packaging', () => {
  it('npm pack holds exactly the loader, facade, types and docs', async () => {
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'])
    const files = JSON.parse(stdout)[0]
      .files.map((f) => f.path)
      .sort()
    assert.deepEqual(files, [
      'CHANGELOG.md',
      'LICENSE',
      'README.md',
      'bin/migrate-to-cluster.js',
      'binding.js',
      'cache-hits.js',
      'diagnostics.js',
      'express.d.ts',
      'express.js',
      'express.mjs',
      'index.d.ts',
      'index.js',
      'package.json',
      'realm.js',
    ])
  })

  it('every platform package names its binary, os and cpu, at the root version', () => {
    const pkg = require('../package.json')
    for (const target of [
      'linux-x64-gnu',
      'linux-arm64-gnu',
      'linux-x64-musl',
      'linux-arm64-musl',
      'darwin-x64',
      'darwin-arm64',
      'win32-x64-msvc',
    ]) {
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

  // musl's loader refuses a library whose TLS model is initial-exec (the
  // DF_STATIC_TLS flag), and glibc fails to load one late beside other addons
  // with "cannot allocate memory in static TLS block".
  it(
    'the addon uses no static TLS, so it loads on musl and late in glibc',
    { skip: process.platform !== 'linux' && 'an ELF check' },
    () => {
      const addon = fs.readdirSync(root).find((f) => f.endsWith('.node'))
      assert.ok(addon, 'a built addon in the package root')
      const flags = dynamicFlags(fs.readFileSync(path.join(root, addon)))
      assert.equal(flags & DF_STATIC_TLS, 0, `DT_FLAGS is 0x${flags.toString(16)}: the addon has static TLS`)
    },
  )

  it('index.d.ts names exactly the errors the engine throws', () => {
    const engine = fs.readFileSync(path.join(root, 'src', 'error.rs'), 'utf8')
    const nameFn = /pub fn name\(&self\)[\s\S]*?\n {4}\}\n/.exec(engine)[0]
    const thrown = [...nameFn.matchAll(/=> "(\w+)"/g)].map((m) => m[1]).sort()
    assert.ok(thrown.length >= 9, `read ${thrown} from SessionError::name`)
    const types = fs.readFileSync(path.join(root, 'index.d.ts'), 'utf8')
    const union = /interface RedisSessionsError extends Error \{\s*name: ([^\n]+)/.exec(types)[1]
    assert.deepEqual([...union.matchAll(/'(\w+)'/g)].map((m) => m[1]).sort(), thrown)
  })

  it('the types compile under --strict, and misuse does not', { timeout: 60_000 }, async () => {
    await run(process.execPath, [
      path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      path.join(__dirname, 'types', 'tsconfig.json'),
    ])
    // redis-sessions-rs/express with @types/express-session, imported by the package's name as users do.
    await run(process.execPath, [
      path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      path.join(__dirname, 'types', 'tsconfig.express.json'),
    ])
  })

  it('the demo runs in a few seconds', { timeout: 20_000 }, async () => {
    const started = Date.now()
    const { stdout } = await run(process.execPath, [path.join(root, 'demo', 'index.js')], {
      env: { ...process.env, REDIS_URL: '' },
    })
    assert.match(stdout, /killsoid alice \(every device\)\s+\{"kill":2\}/)
    assert.ok(Date.now() - started < 10_000)
  })

  it('index.d.ts, the runtime methods and the table of operations agree', async () => {
    const { NativeSessions } = require('../binding.js')
    const RedisSessions = require('..')
    const table = NativeSessions.operations()
    assert.ok(table.length >= 10 && table.includes('get') && table.includes('activity'), `the table: ${table}`)
    const expected = [...table, 'quit'].sort()

    const onPrototype = Object.getOwnPropertyNames(RedisSessions.prototype).filter(
      (name) =>
        name !== 'constructor' &&
        typeof Object.getOwnPropertyDescriptor(RedisSessions.prototype, name).value === 'function',
    )
    assert.deepEqual(onPrototype.sort(), expected)
    for (const name of table) assert.equal(typeof NativeSessions.prototype[name], 'function', `NativeSessions#${name}`)
    const rs = new RedisSessions({ wipe: 0, port: 1 })
    try {
      for (const name of expected)
        assert.ok(
          Object.hasOwn(rs, name) && rs[name] !== RedisSessions.prototype[name],
          `${name} is bound to the instance`,
        )
    } finally {
      await rs.quit()
    }

    // The class's methods in index.d.ts: every name declared as `name(` in its body.
    const types = fs.readFileSync(path.join(root, 'index.d.ts'), 'utf8')
    const body = /\ndeclare class RedisSessions\b[^{]*\{\n([\s\S]*?)\n\}\n/.exec(types)[1]
    const declared = [...new Set([...body.matchAll(/^ {2}(\w+)\(/gm)].map((m) => m[1]))]
      .filter((name) => name !== 'constructor')
      .sort()
    assert.deepEqual(declared, expected, 'the methods index.d.ts declares')

    // binding.d.ts is what napi build wrote for this table.
    const binding = fs.readFileSync(path.join(root, 'binding.d.ts'), 'utf8')
    for (const name of table)
      assert.match(
        binding,
        new RegExp(`\\n  ${name}\\(options: unknown, legacy: boolean, now\\?: number \\| undefined \\| null\\)`),
        `binding.d.ts declares ${name}`,
      )
  })
})
