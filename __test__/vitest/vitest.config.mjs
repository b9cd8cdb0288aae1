// vitest's worker-thread pool: each file in a worker thread, the main thread never loads the package.
import { defineConfig } from 'vitest/config'

export default defineConfig({ test: { pool: 'threads', include: ['sessions-*.test.mjs'] } })
