'use strict'
// A second process for events.test.js: an instance with `events: true` (its
// options in argv[2]) that records every 'session' event and sends them to
// its parent when asked.
const RedisSessions = require('../..')

const rs = new RedisSessions(JSON.parse(process.argv[2]))
const heard = []
rs.on('session', (event) => heard.push(event))
// Ready once connected and subscribed (the subscription follows the connection closely).
rs.ping().then(() => setTimeout(() => process.send({ ready: true }), 300))
process.on('message', async (message) => {
  if (message === 'report') process.send({ heard })
  if (message === 'quit') {
    await rs.quit()
    process.disconnect()
  }
})
