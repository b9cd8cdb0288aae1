'use strict'
// What the facade publishes on node:diagnostics_channel, in the shapes Node's
// own instrumentation and OpenTelemetry bind to:
// - the tracing channel `redis-sessions:operation` (start, end, asyncStart,
//   asyncEnd, error), whose context is { method, app, cached }, plus `error`
//   when the call fails;
// - the channel `redis-sessions:connection`: { event: 'connect' | 'disconnect'
//   | 'reconnect', cause? }.
// Never a token, an id or session data: the context carries no answer
// (Node's own tracePromise would put the session in `result`). Nothing is
// built while no one subscribes: the facade asks `tracing()` first.
const diagnostics = require('node:diagnostics_channel')

const operation = diagnostics.tracingChannel('redis-sessions:operation')
const connection = diagnostics.channel('redis-sessions:connection')
const { start, end, asyncStart, asyncEnd, error } = operation

/** Whether anyone listens to operations (TracingChannel#hasSubscribers is newer than Node 18.19). */
function tracing() {
  return (
    start.hasSubscribers ||
    end.hasSubscribers ||
    asyncStart.hasSubscribers ||
    asyncEnd.hasSubscribers ||
    error.hasSubscribers
  )
}

/** The app named by the options, if it is there as a plain value (a getter is not run for this). */
function appOf(options) {
  if (options === null || typeof options !== 'object') return undefined
  const app = Object.getOwnPropertyDescriptor(options, 'app')?.value
  return typeof app === 'string' || typeof app === 'number' ? String(app) : undefined
}

function failed(context, err) {
  context.error = err
  error.publish(context)
}

/**
 * Runs `work` (an answer, a Promise, or a throw) inside the trace of one
 * operation and hands the outcome on as the facade does: a Promise, or the
 * callback run later by `later(fn, args)`, which calls fn(...args)
 * (from a Promise reaction: fake timers replace process.nextTick).
 */
function trace(context, work, callback, later) {
  return start.runStores(context, () => {
    let answer
    try {
      answer = Promise.resolve(work())
    } catch (err) {
      answer = Promise.reject(err)
    } finally {
      end.publish(context)
    }
    if (callback === undefined) {
      return answer.then(
        (value) => {
          asyncStart.publish(context)
          asyncEnd.publish(context)
          return value
        },
        (err) => {
          failed(context, err)
          asyncStart.publish(context)
          asyncEnd.publish(context)
          throw err
        },
      )
    }
    const call = (...args) =>
      asyncStart.runStores(context, () => {
        try {
          callback(...args)
        } finally {
          asyncEnd.publish(context)
        }
      })
    answer.then(
      (value) => later(call, [null, value]),
      (err) => {
        failed(context, err)
        later(call, [err])
      },
    )
    return undefined
  })
}

/** Publishes a connection change, if anyone listens. */
function connectionChanged(event, cause) {
  if (!connection.hasSubscribers) return
  connection.publish(cause === undefined ? { event } : { event, cause })
}

module.exports = { tracing, trace, appOf, connectionChanged }
