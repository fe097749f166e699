// npm e2b 2.51.0, the newest release the project tests, against e2b-local.
import * as e2b from 'e2b'

import { sandboxSuite } from './sandbox-suite.mjs'

sandboxSuite(e2b, { version: '2.51.0' })
