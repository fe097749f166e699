// npm e2b 2.45.0 (installed as the alias e2b-2.45) against e2b-local.
import * as e2b from 'e2b-2.45'

import { sandboxSuite } from './sandbox-suite.mjs'

sandboxSuite(e2b, { version: '2.45.0' })
