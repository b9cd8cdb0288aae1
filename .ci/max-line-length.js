'use strict'
// Fails when a JavaScript or TypeScript line under the given paths is longer
// than 120 characters. Prettier wraps code at 120 but leaves long strings and
// comments alone, and oxlint has no max-len rule.
// Usage: node .ci/max-line-length.js PATH...
const fs = require('node:fs')
const path = require('node:path')

const MAX = 120
const SOURCE = /\.(js|cjs|mjs|ts)$/
// Generated or copied in, not ours to wrap (as in .prettierignore).
const SKIP = new Set(['node_modules', 'target', '.reference-suites', 'binding.js', 'binding.d.ts'])

function* files(entry) {
  if (SKIP.has(path.basename(entry))) return
  if (fs.statSync(entry).isDirectory()) {
    for (const name of fs.readdirSync(entry).sort()) yield* files(path.join(entry, name))
  } else if (SOURCE.test(entry)) {
    yield entry
  }
}

let long = 0
for (const file of process.argv.slice(2).flatMap((p) => [...files(p)])) {
  fs.readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      const length = [...line].length
      if (length > MAX) {
        long++
        console.error(`${file}:${i + 1}: ${length} characters (at most ${MAX})`)
      }
    })
}
if (long > 0) {
  console.error(`${long} lines longer than ${MAX} characters`)
  process.exitCode = 1
}
