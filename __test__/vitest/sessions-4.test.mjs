// One of six vitest files sharing the package.
import { scenario } from './scenario.mjs'

scenario(4)
