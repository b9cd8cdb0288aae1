#!/usr/bin/env node
'use strict'
// Copies the live sessions of a standalone Redis (the reference's key layout)
// into a Redis Cluster (cluster mode's layout), under new tokens, and writes
// one {"app","old","new"} line per copied session to a map only its operator
// can read: every line holds two bearer tokens. The copying is the engine's.
const fs = require('node:fs')
const path = require('node:path')
const { parseArgs } = require('node:util')
const { NativeSessions } = require('../binding.js')

const USAGE = `usage: redis-sessions-migrate-to-cluster --from redis://host:6379 --to redis://node:7000 [--to ...]
         [--namespace rs] [--map FILE | --stdout]
Copies every live session of --from into the cluster under a new token (the old one with
its first two characters naming its bucket); the source is only read. Each copied session
is one {"app","old","new"} line of the token map, for swapping the tokens in cookies:
  --map FILE  appends to FILE, created readable by you only (mode 0600); refused if others can read it
  (default)   a new file ./redis-sessions-token-map-TIME.jsonl, mode 0600, named on stderr
  --stdout    prints the map to stdout instead
Running it again copies only the sessions no earlier run copied (the cluster keeps a record
of each copy for as long as the session could live): sessions logged out of or changed on the
cluster since stay as they are, and a session already on the cluster is never written over.`

const PRIVATE = 0o600

/** Opens the map so that only its owner can read it; an existing file must be private already. */
function openMap(file, { append }) {
  const fd = fs.openSync(file, append ? 'a' : 'wx', PRIVATE)
  const mode = fs.fstatSync(fd).mode & 0o777
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    fs.closeSync(fd)
    throw new Error(`${file} can be read by others (mode ${mode.toString(8)}): chmod 600 it, or name a new file`)
  }
  return fd
}

function defaultMapName() {
  return `redis-sessions-token-map-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`
}

async function main() {
  const { values } = parseArgs({
    options: {
      from: { type: 'string' },
      to: { type: 'string', multiple: true },
      namespace: { type: 'string', default: 'rs' },
      map: { type: 'string' },
      stdout: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help || !values.from || !values.to || (values.map && values.stdout)) {
    console.error(USAGE)
    process.exitCode = values.help ? 0 : 2
    return
  }
  let fd
  if (!values.stdout) {
    const file = path.resolve(values.map ?? defaultMapName())
    fd = openMap(file, { append: values.map !== undefined })
    console.error(`writing the old→new token map to ${file} (mode 600: only you can read it)`)
  }
  const write = fd === undefined ? (text) => process.stdout.write(text) : (text) => fs.writeSync(fd, text)
  const from = new NativeSessions({ options: { url: values.from }, namespace: values.namespace, wipe: 0 })
  const to = new NativeSessions({ cluster: values.to, namespace: values.namespace, wipe: 0 })
  const total = { copied: 0, skipped: 0, present: 0 }
  try {
    let cursor = '0'
    do {
      const step = await from.migrateStep(to, cursor)
      // Written before the next step: a later run skips these, so the map is their only trace.
      const lines = step.moved.map(([app, old, fresh]) => `${JSON.stringify({ app, old, new: fresh })}\n`).join('')
      if (lines) write(lines)
      total.copied += step.moved.length
      total.skipped += step.skipped
      total.present += step.present
      cursor = step.cursor
    } while (cursor !== '0')
    console.error(
      `copied ${total.copied} sessions; skipped ${total.skipped} copied by an earlier run; ` +
        `left ${total.present} alone that were on the cluster already`,
    )
  } finally {
    if (fd !== undefined) fs.closeSync(fd)
    await from.quit(undefined, false)
    await to.quit(undefined, false)
  }
}

main().catch((err) => {
  console.error(`migrate-to-cluster: ${err.message}`)
  process.exitCode = 1
})
