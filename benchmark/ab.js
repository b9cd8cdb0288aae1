'use strict'
// Two or more builds of this package, side by side on one workload: each round
// runs every build in a fresh child (worker.js, as run.js does; the order
// alternating), against one redis-server of its own; prints the medians of
// ops/s, of Node and Redis CPU per operation and of peak RSS. For telling
// whether a change helps when the machine's noise is larger than the change
// (run.js compares against the references).
//
//   node benchmark/ab.js OP C N ROUNDS DIR...
//   OP: get | set | cachedGet | create | soapp (of 10,000 sessions)
//   DIR: a directory holding index.js, binding.js and the .node binary (copy
//   them aside to keep a build), called with Promises, or with callbacks as
//   DIR:cb; or v3 / v4, the references. Each build after the first also gets
//   its ops/s over the first's, round by round.
//   e.g. node benchmark/ab.js get 100 40000 10 /tmp/before .
//        node benchmark/ab.js cachedGet 1 200000 8 v3 .
//   A build's DIR may end with #OPTIONS, JSON constructor options for that
//   side, seeded in a namespace of its own by that build with them (one
//   build with an option off and on: . '.#{"hashTokens":true}').
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { clkTck, median, seed, runChild } = require('./measure')
const { APP, BIG_SIZE, BIG_IDS } = require('./workloads')

const OPS = ['get', 'set', 'cachedGet', 'create', 'soapp']
const SESSIONS = 5000

/** The range of the rounds' values: "min–max". */
const spread = (values) => `${Math.round(Math.min(...values))}–${Math.round(Math.max(...values))}`

/**
 * Each round's ops/s ÷ the first build's in the same round (they ran back to
 * back, so the machine's slower swings hit both): the median and the range.
 */
function ratios(runs, firsts) {
  const each = runs.map((r, i) => r.opsPerSec / firsts[i].opsPerSec)
  return `${median(each).toFixed(2)}× (${Math.min(...each).toFixed(2)}–${Math.max(...each).toFixed(2)})`
}

/** What a DIR argument names: a reference, or a build and the style to call it in. */
function implOf(arg) {
  if (arg === 'v3' || arg === 'v4') return { impl: arg }
  const [name, options] = arg.split('#')
  const style = name.endsWith(':cb') ? { impl: 'rs-cb', dir: name.slice(0, -3) } : { impl: 'rs', dir: name }
  return options === undefined ? style : { ...style, options: JSON.parse(options) }
}

/** One measured run in a fresh child: worker.js, loading the build in `dir`. */
async function runBuild(job) {
  const result = await runChild(path.join(__dirname, 'worker.js'), [JSON.stringify(job)], job.dir ?? job.impl)
  if (result.bad > 0) throw new Error(`${job.dir ?? job.impl}: ${result.bad} wrong answers`)
  return result
}

async function main([op, c, n, rounds, ...dirs]) {
  if (!OPS.includes(op) || dirs.length === 0)
    throw new Error(`usage: node benchmark/ab.js ${OPS.join('|')} C N ROUNDS DIR[#OPTIONS]...`)
  const { startRedis } = require('../__test__/helpers/redis-server')
  const redis = await startRedis()
  const poolFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rs-ab-')), 'pool.json')
  try {
    const RedisSessions = require('..')
    const seeder = new RedisSessions({ port: redis.port, host: '127.0.0.1', namespace: 'ab', wipe: 0 })
    const tokens = await seed(seeder, APP.pool, SESSIONS, (i) => `u${i % 1000}`, { d: { a: 1, b: 'x' } })
    if (op === 'soapp') await seed(seeder, APP.big, BIG_SIZE, (i) => `u${i % BIG_IDS}`)
    await seeder.quit()
    fs.writeFileSync(poolFile, JSON.stringify(tokens))
    // A side with options of its own: its namespace and its pool, seeded by its build with them.
    const own = new Map()
    for (const [i, dir] of dirs.entries()) {
      const side = implOf(dir)
      if (side.options === undefined) continue
      const namespace = `ab${i}`
      const Build = require(path.resolve(side.dir))
      const sideSeeder = new Build({ ...side.options, port: redis.port, host: '127.0.0.1', namespace, wipe: 0 })
      const sideTokens = await seed(sideSeeder, APP.pool, SESSIONS, (j) => `u${j % 1000}`, { d: { a: 1, b: 'x' } })
      if (op === 'soapp') await seed(sideSeeder, APP.big, BIG_SIZE, (j) => `u${j % BIG_IDS}`)
      await sideSeeder.quit()
      const sidePool = path.join(path.dirname(poolFile), `pool${i}.json`)
      fs.writeFileSync(sidePool, JSON.stringify(sideTokens))
      own.set(dir, { namespace, poolFile: sidePool })
    }
    const results = new Map(dirs.map((dir) => [dir, []]))
    for (let round = 0; round < Number(rounds); round++) {
      for (const dir of round % 2 ? [...dirs].reverse() : dirs) {
        results.get(dir).push(
          await runBuild({
            ...implOf(dir),
            op,
            c: Number(c),
            n: Number(n),
            cache: op === 'cachedGet',
            port: redis.port,
            namespace: 'ab',
            redisPid: redis.child.pid,
            clkTck,
            poolFile,
            ...own.get(dir),
          }),
        )
      }
    }
    console.log(
      `${op}, ${c} in flight, ${n} operations, ${rounds} rounds (medians; Node CPU of every round in brackets)`,
    )
    for (const [dir, runs] of results) {
      const m = (key) => median(runs.map((r) => r[key]))
      console.log(
        [
          dir,
          `${Math.round(m('opsPerSec'))} ops/s (${spread(runs.map((r) => r.opsPerSec))})`,
          `node ${m('nodeCpuPerOp').toFixed(2)} µs`,
          `redis ${m('redisCpuPerOp').toFixed(2)} µs`,
          `peak RSS ${Math.round(m('maxRssMB'))} MB`,
          `[${runs.map((r) => r.nodeCpuPerOp.toFixed(1)).join(' ')}]`,
          dir === dirs[0] ? '' : `÷ ${dirs[0]} by round: ${ratios(runs, results.get(dirs[0]))}`,
        ].join('\t'),
      )
    }
  } finally {
    fs.rmSync(path.dirname(poolFile), { recursive: true, force: true })
    await redis.stop()
  }
}

main(process.argv.slice(2)).catch((err) => {
  console.error(err)
  process.exit(1)
})
