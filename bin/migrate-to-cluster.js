#!/usr/bin/env node
'use strict'
// Copies the live sessions of a standalone Redis (the reference's key layout)
// into a Redis Cluster (cluster mode's layout), under new tokens, and prints
// one {"app","old","new"} line per session. The copying is the engine's.
const { parseArgs } = require('node:util')
const { NativeSessions } = require('../binding.js')

const USAGE = `usage: redis-sessions-migrate-to-cluster --from redis://host:6379 --to redis://node:7000 [--to ...] [--namespace rs]
Copies every live session once (running it twice copies them twice); the source is only read.`

async function main() {
  const { values } = parseArgs({
    options: {
      from: { type: 'string' },
      to: { type: 'string', multiple: true },
      namespace: { type: 'string', default: 'rs' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help || !values.from || !values.to) {
    console.error(USAGE)
    process.exitCode = values.help ? 0 : 2
    return
  }
  const from = new NativeSessions({ options: { url: values.from }, namespace: values.namespace, wipe: 0 })
  const to = new NativeSessions({ cluster: values.to, namespace: values.namespace, wipe: 0 })
  let total = 0
  try {
    let cursor = '0'
    do {
      const step = await from.migrateStep(to, cursor)
      for (const [app, old, fresh] of step.moved) process.stdout.write(`${JSON.stringify({ app, old, new: fresh })}\n`)
      total += step.moved.length
      cursor = step.cursor
    } while (cursor !== '0')
    console.error(`copied ${total} sessions`)
  } finally {
    await from.quit(undefined, false)
    await to.quit(undefined, false)
  }
}

main().catch((err) => {
  console.error(`migrate-to-cluster: ${err.message}`)
  process.exitCode = 1
})
