'use strict'
// One of three jest files sharing the package; run by __test__/runtimes.test.js.
require('./scenario')(2)
