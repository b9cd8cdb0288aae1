// The express-session store as an ES module: `import { RedisSessionsStore } from 'redis-sessions-rs/express'`.
import store from './express.js'

export const { RedisSessionsStore } = store
export default RedisSessionsStore
