'use strict'
// Answers in the caller's realm. The addon's values belong to the realm that
// loaded it first (the main context): in a vm context of its own, as jest runs
// each test file, they are not instances of that context's Object, Array or
// Error, so `instanceof Error` and jest's toStrictEqual fail on them where they
// pass on the reference's. There, answers and errors are copied into this realm
// on their way out; in the main realm nothing is wrapped.
const { NativeSessions } = require('./binding.js')

const foreignRealm = !(NativeSessions.operations() instanceof Array)

function rehome(value) {
  if (value === null || typeof value !== 'object') return value
  // Array.from, not map: map would make an array of the value's own realm.
  if (Array.isArray(value)) return Array.from(value, rehome)
  if (Object.prototype.toString.call(value) === '[object Error]') {
    const kind = Object.getPrototypeOf(value)?.constructor?.name
    const local = globalThis[kind]
    Object.setPrototypeOf(value, local?.prototype instanceof Error ? local.prototype : Error.prototype)
    return value
  }
  const copy = {}
  for (const key of Object.keys(value)) copy[key] = rehome(value[key])
  return copy
}

/** `call(args)` with its answer, callback or Promise, handed over in this realm. */
function inCallersRealm(args, call) {
  const last = args.length - 1
  if (typeof args[last] === 'function') {
    const callback = args[last]
    args[last] = (...answer) => callback(...answer.map(rehome))
    return call(args)
  }
  return call(args).then(rehome, (err) => {
    throw rehome(err)
  })
}

module.exports = { foreignRealm, inCallersRealm }
