// npm @e2b/code-interpreter 2.8.0 (on npm e2b 2.51.0) against e2b-local, unchanged: every
// language, contexts, charts, images, env vars and errors, with the expectations of
// upstream's own tests (e2b-dev/code-interpreter js/tests).
//
// The server needs its kernel environment (E2B_LOCAL_KERNEL_ENV, set by the Makefile).

import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { after, before, describe, test } from 'node:test'

import { InvalidArgumentError, Sandbox, TimeoutError } from '@e2b/code-interpreter'

import { waitUntil } from './sandbox-suite.mjs'
import { startServer } from './server.mjs'

const T = { timeout: 120_000 }

const PIL_IMAGE = `
import numpy
from PIL import Image

imarray = numpy.random.rand(16,16,3) * 255
image = Image.fromarray(imarray.astype('uint8')).convert('RGBA')
`

/** The base64 of a PNG file starts with the encoded PNG signature. */
function assertPng(b64, what) {
  assert.ok(typeof b64 === 'string' && b64.startsWith('iVBORw0KGgo'), `${what}: no PNG (${String(b64).slice(0, 40)})`)
}

describe('npm @e2b/code-interpreter 2.8.0 against e2b-local', () => {
  let server
  let sbx

  before(async () => {
    server = await startServer()
    sbx = await Sandbox.create({ envs: { TEST_ENV_VAR: 'supertest' }, timeoutMs: 600_000 })
  })

  after(async () => {
    try {
      await sbx?.kill()
    } finally {
      await server?.stop()
    }
  })

  test('the packages under test are the pinned releases', () => {
    const require = createRequire(import.meta.url)
    assert.equal(require('@e2b/code-interpreter/package.json').version, '2.8.0')
    assert.equal(require('e2b/package.json').version, '2.51.0')
  })

  // --- python -------------------------------------------------------------------

  describe('python', () => {
    test('state persists; stdout, callbacks and the text result', T, async () => {
      await sbx.runCode('x = 40')
      const seen = []
      const results = []
      const execution = await sbx.runCode("print('hello')\nx + 2", {
        onStdout: (m) => seen.push(m.line),
        onResult: (r) => results.push(r),
      })
      assert.equal(execution.text, '42')
      assert.deepEqual(execution.logs.stdout, ['hello\n'])
      assert.deepEqual(seen, ['hello\n'])
      assert.equal(results.length, 1)
      assert.equal(results[0].isMainResult, true)
      assert.ok(Number.isInteger(execution.executionCount), String(execution.executionCount))
    })

    test('stderr', T, async () => {
      const seen = []
      const execution = await sbx.runCode("import sys\nprint('oops', file=sys.stderr)", {
        onStderr: (m) => seen.push(m.line),
      })
      assert.deepEqual(execution.logs.stderr, ['oops\n'])
      assert.deepEqual(seen, ['oops\n'])
    })

    test('cwd is /home/user, and ! runs shell commands', T, async () => {
      const cwd = await sbx.runCode('from pathlib import Path; print(Path.cwd())', { language: 'python' })
      assert.equal(cwd.logs.stdout.join('').trim(), '/home/user')
      const shell = await sbx.runCode('!pwd')
      assert.equal(shell.logs.stdout.join('').trim(), '/home/user')
    })

    test('a DataFrame is data and html', T, async () => {
      const execution = await sbx.runCode('import pandas as pd\npd.DataFrame({"a": [1, 2, 3]})')
      const main = execution.results.find((r) => r.isMainResult)
      assert.deepEqual(main.data, { a: [1, 2, 3] })
      assert.match(main.html, /<table/)
      assert.ok(main.formats().includes('data'))
    })
  })

  // --- the other languages ------------------------------------------------------

  describe('javascript', () => {
    test('console.log is stdout', T, async () => {
      const execution = await sbx.runCode('console.log("Hello World!")', { language: 'js' })
      assert.deepEqual(execution.logs.stdout, ['Hello World!\n'])
      assert.equal(execution.error, undefined)
    })

    test('ESM imports', T, async () => {
      const execution = await sbx.runCode("import { readFileSync } from 'fs'\nconsole.log(typeof readFileSync)", {
        language: 'js',
      })
      assert.deepEqual(execution.logs.stdout, ['function\n'])
    })

    test('state persists across executions', T, async () => {
      await sbx.runCode('const kept = 20', { language: 'javascript' })
      const execution = await sbx.runCode('console.log(kept + 1)', { language: 'javascript' })
      assert.deepEqual(execution.logs.stdout, ['21\n'])
    })

    test("the last expression's value is the text result", T, async () => {
      const execution = await sbx.runCode('1 + 1', { language: 'js' })
      assert.equal(execution.text, '2')
      assert.deepEqual(execution.logs.stdout, [])
    })

    test("a top-level await's value is the text result", T, async () => {
      const execution = await sbx.runCode("await Promise.resolve('Hello World!')", { language: 'js' })
      assert.equal(execution.text, 'Hello World!')
    })

    test('cwd is /home/user', T, async () => {
      const execution = await sbx.runCode('process.cwd()', { language: 'js' })
      assert.equal(execution.text, '/home/user')
    })

    // Each in a context of its own, so that no earlier failure is in the way.
    test('a thrown error is the execution error', T, async () => {
      const context = await sbx.createCodeContext({ language: 'js' })
      const errors = []
      const execution = await sbx.runCode("throw new Error('boom')", {
        context,
        onError: (e) => errors.push(e),
      })
      assert.ok(execution.error, JSON.stringify(execution.toJSON()))
      assert.equal(execution.error.name, 'Error')
      assert.equal(execution.error.value, 'boom')
      assert.equal(errors.length, 1)
      await sbx.removeCodeContext(context)
    })

    test('the context runs the next execution right after a failed one', T, async () => {
      const context = await sbx.createCodeContext({ language: 'js' })
      const failed = await sbx.runCode('const n = 1; n.missing.boom', { context })
      assert.ok(failed.error, `the failure is reported: ${JSON.stringify(failed.toJSON())}`)
      const next = await sbx.runCode("console.log('after the failure')", { context })
      assert.deepEqual(next.logs.stdout, ['after the failure\n'], JSON.stringify(next.toJSON()))
      await sbx.removeCodeContext(context)
    })
  })

  describe('typescript', () => {
    test('typed code runs', T, async () => {
      const execution = await sbx.runCode('const message: string = "Hello World!"; console.log(message)', {
        language: 'ts',
      })
      assert.deepEqual(execution.logs.stdout, ['Hello World!\n'])
    })

    test('cwd is /home/user', T, async () => {
      const execution = await sbx.runCode('process.cwd()', { language: 'ts' })
      assert.equal(execution.text, '/home/user')
    })
  })

  describe('r', () => {
    test('print is stdout', T, async () => {
      const execution = await sbx.runCode('print("Hello, World!")', { language: 'r' })
      assert.deepEqual(execution.logs.stdout, ['[1] "Hello, World!"\n'])
    })

    test('cwd is /home/user', T, async () => {
      const execution = await sbx.runCode('getwd()', { language: 'r' })
      assert.equal(execution.results[0]?.text.trim(), '[1] "/home/user"')
    })
  })

  describe('java', () => {
    test('System.out.println is stdout', T, async () => {
      const execution = await sbx.runCode('System.out.println("Hello, World!")', { language: 'java' })
      // Upstream's Java kernel sends the line and its newline as two chunks (its test reads
      // stdout[0] === 'Hello, World!'); jjava sends one. The text is the same.
      assert.equal(execution.logs.stdout.join(''), 'Hello, World!\n')
    })

    test('cwd is /home/user; state persists', T, async () => {
      const cwd = await sbx.runCode('System.getProperty("user.dir")', { language: 'java' })
      assert.equal(cwd.results[0]?.text.trim(), '/home/user')
      await sbx.runCode('int kept = 41;', { language: 'java' })
      assert.equal((await sbx.runCode('kept + 1', { language: 'java' })).text, '42')
    })

    test('an exception is the execution error', T, async () => {
      const execution = await sbx.runCode('int[] a = new int[1]; a[3] = 1;', { language: 'java' })
      assert.ok(execution.error, JSON.stringify(execution.toJSON()))
      assert.match(execution.error.value, /ArrayIndexOutOfBoundsException/)
    })
  })

  describe('bash', () => {
    test('cwd is /home/user; output is stdout', T, async () => {
      const execution = await sbx.runCode('pwd', { language: 'bash' })
      assert.equal(execution.logs.stdout.join('').trim(), '/home/user')
    })
  })

  // --- env vars -------------------------------------------------------------------

  describe('env vars', () => {
    // Upstream's env_vars tests, one language each: a variable set at sandbox creation, one
    // set for a single execution, and one execution's override of the sandbox's.
    const cases = {
      python: {
        sandboxVar: 'import os; os.getenv("TEST_ENV_VAR")',
        foo: 'import os; os.getenv("FOO")',
        fooOrDefault: "import os; os.getenv('FOO', 'default')",
      },
      javascript: {
        sandboxVar: 'process.env.TEST_ENV_VAR',
        foo: 'process.env.FOO',
        fooOrDefault: "process.env.FOO || 'default'",
      },
      bash: {
        sandboxVar: 'echo $TEST_ENV_VAR',
        foo: 'echo $FOO',
        fooOrDefault: 'echo ${FOO:-default}',
        read: (e) => e.logs.stdout[0]?.trim(),
      },
      java: {
        sandboxVar: 'System.getProperty("TEST_ENV_VAR")',
        foo: 'System.getProperty("FOO")',
        fooOrDefault: 'System.getProperty("FOO", "default")',
      },
      r: {
        sandboxVar: 'Sys.getenv("TEST_ENV_VAR")',
        foo: 'Sys.getenv("FOO")',
        fooOrDefault: 'Sys.getenv("FOO", unset = "default")',
        shown: (v) => `[1] "${v}"`,
      },
    }

    for (const [language, c] of Object.entries(cases)) {
      const read = c.read ?? ((e) => e.results[0]?.text.trim())
      const shown = c.shown ?? ((v) => v)
      test(`${language}: from the sandbox, per execution, overridden`, T, async () => {
        const value = async (code, envs) => read(await sbx.runCode(code, envs ? { language, envs } : { language }))
        assert.equal(await value(c.sandboxVar), shown('supertest'), 'set at sandbox creation')
        assert.equal(await value(c.foo, { FOO: 'bar' }), shown('bar'), 'set for one execution')
        assert.equal(await value(c.fooOrDefault), shown('default'), 'gone after that execution')
        assert.equal(await value(c.sandboxVar, { TEST_ENV_VAR: 'overwrite' }), shown('overwrite'), 'overridden')
        assert.equal(await value(c.sandboxVar), shown('supertest'), 'back after the override')
      })
    }
  })

  // --- contexts ---------------------------------------------------------------------

  describe('contexts', () => {
    test('python and javascript contexts exist from the start', T, async () => {
      const fresh = await Sandbox.create()
      try {
        const languages = (await fresh.listCodeContexts()).map((c) => c.language)
        assert.ok(languages.includes('python'), JSON.stringify(languages))
        assert.ok(languages.includes('javascript'), JSON.stringify(languages))
      } finally {
        await fresh.kill()
      }
    })

    test('contexts are listed in creation order', T, async () => {
      const created = []
      for (let i = 0; i < 5; i++) created.push((await sbx.createCodeContext()).id)
      const listed = (await sbx.listCodeContexts()).map((c) => c.id)
      assert.deepEqual(listed.filter((id) => created.includes(id)), created)
      assert.equal(listed[listed.length - 1], created[created.length - 1])
      for (const id of created) await sbx.removeCodeContext(id)
    })

    test('create with no options: python in /home/user', T, async () => {
      const context = await sbx.createCodeContext()
      assert.equal(context.language, 'python')
      assert.equal(context.cwd, '/home/user')
      const listed = (await sbx.listCodeContexts()).find((c) => c.id === context.id)
      assert.deepEqual({ ...listed }, { id: context.id, language: 'python', cwd: '/home/user' })
      assert.equal((await sbx.runCode('import os; os.getcwd()', { context })).text, '/home/user')
      await sbx.removeCodeContext(context)
    })

    test('create with a language and a cwd', T, async () => {
      const py = await sbx.createCodeContext({ language: 'python', cwd: '/root' })
      assert.deepEqual({ language: py.language, cwd: py.cwd }, { language: 'python', cwd: '/root' })
      assert.equal((await sbx.runCode('import os; os.getcwd()', { context: py })).text, '/root')

      const js = await sbx.createCodeContext({ language: 'js', cwd: '/tmp' })
      assert.deepEqual({ language: js.language, cwd: js.cwd }, { language: 'javascript', cwd: '/tmp' })
      const inJs = await sbx.runCode("console.log(process.cwd() + ' ' + typeof require)", { context: js })
      assert.deepEqual(inJs.logs.stdout, ['/tmp function\n'])

      const sh = await sbx.createCodeContext({ language: 'bash', cwd: '/tmp' })
      assert.equal(sh.language, 'bash')
      assert.deepEqual((await sbx.runCode('pwd', { context: sh })).logs.stdout, ['/tmp\n'])

      for (const c of [py, js, sh]) await sbx.removeCodeContext(c)
    })

    test('contexts are independent; restart clears one; remove deletes it', T, async () => {
      await sbx.runCode('only_in_default = 1')
      const context = await sbx.createCodeContext()
      const missing = await sbx.runCode('only_in_default', { context })
      assert.equal(missing.error?.value, "name 'only_in_default' is not defined")

      await sbx.runCode('x = 1', { context })
      assert.equal((await sbx.runCode('x', { context })).text, '1')
      await sbx.restartCodeContext(context.id)
      const execution = await sbx.runCode('x', { context })
      assert.equal(execution.error?.name, 'NameError')
      assert.equal(execution.error?.value, "name 'x' is not defined")
      assert.equal((await sbx.runCode('only_in_default')).text, '1', 'the default context is untouched')

      await sbx.removeCodeContext(context.id)
      assert.ok(!(await sbx.listCodeContexts()).some((c) => c.id === context.id))
    })

    test('language and context together are refused', T, async () => {
      const context = await sbx.createCodeContext()
      try {
        await assert.rejects(sbx.runCode('1', { context, language: 'python' }), InvalidArgumentError)
      } finally {
        await sbx.removeCodeContext(context)
      }
    })

    test('contexts in a sandbox closed to public traffic', T, async () => {
      const closed = await Sandbox.create({ secure: true, network: { allowPublicTraffic: false } })
      try {
        assert.ok(closed.trafficAccessToken)
        const context = await closed.createCodeContext()
        const contexts = await closed.listCodeContexts()
        assert.equal(contexts[contexts.length - 1].id, context.id)
        await closed.runCode('x = 1', { context })
        await closed.restartCodeContext(context.id)
        assert.equal((await closed.runCode('x', { context })).error?.name, 'NameError')
        assert.equal((await closed.runCode('x = 1; x')).text, '1')
        await closed.removeCodeContext(context.id)
        assert.ok(!(await closed.listCodeContexts()).some((c) => c.id === context.id))
      } finally {
        await closed.kill()
      }
    })
  })

  // --- charts and images ---------------------------------------------------------------

  describe('charts and images', () => {
    test('a matplotlib line chart is a chart and a png', T, async () => {
      const execution = await sbx.runCode(`
import matplotlib.pyplot as plt
plt.plot([1, 2, 3], [1, 4, 9], label='squares')
plt.xlabel('x (s)')
plt.ylabel('y (m)')
plt.title('Squares')
plt.show()
`)
      assert.equal(execution.error, undefined)
      const result = execution.results[0]
      assertPng(result.png, 'line chart')
      assert.ok(result.text, 'a text representation')
      const chart = result.chart
      assert.ok(chart, JSON.stringify(execution.toJSON()).slice(0, 300))
      assert.equal(chart.type, 'line')
      assert.equal(chart.title, 'Squares')
      assert.equal(chart.x_label, 'x (s)')
      assert.equal(chart.y_unit, 'm')
      assert.equal(chart.elements.length, 1)
      assert.equal(chart.elements[0].label, 'squares')
      assert.deepEqual(chart.elements[0].points, [[1, 1], [2, 4], [3, 9]])
    })

    test('a matplotlib bar chart', T, async () => {
      const execution = await sbx.runCode(`
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
ax.bar(['A', 'B', 'C'], [3, 5, 2], label='counts')
ax.set_title('Bars')
plt.show()
`)
      const chart = execution.results[0]?.chart
      assert.ok(chart, JSON.stringify(execution.toJSON()).slice(0, 300))
      assert.equal(chart.type, 'bar')
      assert.equal(chart.title, 'Bars')
      assert.deepEqual(chart.elements.map((e) => [e.label, e.value]), [['A', 3], ['B', 5], ['C', 2]])
    })

    test('a PIL image shown is a png result', T, async () => {
      const execution = await sbx.runCode(`${PIL_IMAGE}\nimage.show()\nprint("done")`)
      assertPng(execution.results[0]?.png, 'image.show()')
      assert.deepEqual(execution.logs.stdout, ['done\n'])
    })

    test('a PIL image as the last expression is a png result', T, async () => {
      const execution = await sbx.runCode(`${PIL_IMAGE}\nimage`)
      assertPng(execution.results[0]?.png, 'image')
    })

    test('a PIL image saved is a png result, and saved', T, async () => {
      const execution = await sbx.runCode(`${PIL_IMAGE}\nimage.save("test.png")\nprint("saved")`)
      assertPng(execution.results[0]?.png, 'image.save()')
      assert.ok(await sbx.files.exists('/home/user/test.png'))
    })
  })

  // --- errors and the interpreter's life ---------------------------------------------------

  describe('errors', () => {
    test('a Python error has name, value and traceback; onError sees it', T, async () => {
      const errors = []
      const execution = await sbx.runCode('1 / 0', { onError: (e) => errors.push(e) })
      assert.equal(execution.error?.name, 'ZeroDivisionError')
      assert.match(execution.error.value, /division by zero/)
      assert.match(execution.error.traceback, /ZeroDivisionError/)
      assert.equal(errors.length, 1)
      assert.equal(errors[0].name, 'ZeroDivisionError')
    })

    test('an execution timeout; the context runs the next execution', T, async () => {
      const started = Date.now()
      await assert.rejects(sbx.runCode('import time; time.sleep(300)', { timeoutMs: 2_000 }), TimeoutError)
      assert.ok(Date.now() - started < 15_000)
      const next = await sbx.runCode('1 + 1', { timeoutMs: 30_000 })
      assert.equal(next.text, '2')
    })

    test('a sandbox killed during runCode is reported as a kill', T, async () => {
      const doomed = await Sandbox.create()
      let killed
      const execution = doomed.runCode("import time\nprint('started', flush=True)\ntime.sleep(300)", {
        timeoutMs: 300_000,
        // Killed once the code is known to run, so the request is in flight.
        onStdout: () => {
          killed ??= doomed.kill()
        },
      })
      await assert.rejects(execution, (err) => {
        assert.ok(err instanceof TimeoutError, err)
        assert.match(err.message, /sandbox was killed while the request was in progress/)
        return true
      })
      assert.equal(await killed, true)
    })
  })

  describe('the interpreter service', () => {
    /** `curl` from inside the sandbox to the interpreter's health endpoint. */
    const health = async (sandbox) =>
      (await sandbox.commands.run('curl -s -o /dev/null -w "%{http_code}" http://0.0.0.0:49999/health || true')).stdout.trim()

    test('port 49999 answers from inside the sandbox', T, async () => {
      assert.equal(await health(sbx), '200')
    })

    test('a killed kernel is restarted and the context runs code again', T, async () => {
      const victim = await Sandbox.create()
      try {
        const pid = (await victim.runCode('import os; os.getpid()')).text
        assert.match(pid, /^\d+$/)
        await victim.commands.run(`kill -9 ${pid}`, { user: 'root' })
        const recovered = await waitUntil(
          async () => {
            const r = await victim.runCode('x = 1; x', { timeoutMs: 10_000 }).catch(() => undefined)
            return r?.text === '1' && r
          },
          { timeoutMs: 30_000, what: 'the python context to run code after its kernel was killed' },
        )
        assert.equal(recovered.text, '1')
        assert.notEqual((await victim.runCode('import os; os.getpid()')).text, pid)
        assert.equal(await health(victim), '200')
      } finally {
        await victim.kill()
      }
    })

    test('a killed interpreter service is restarted', T, async () => {
      const victim = await Sandbox.create()
      try {
        assert.equal(await health(victim), '200')
        // Whatever serves port 49999 inside the sandbox (upstream: uvicorn, which systemd
        // restarts; upstream's test kills it with \`kill -9\` as root).
        const owner = await victim.commands.run(
          "ss -Htlnp 'sport = :49999' | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2",
          { user: 'root' },
        )
        const pid = owner.stdout.trim()
        assert.match(pid, /^\d+$/, `no process listens on 49999 inside the sandbox: ${JSON.stringify(owner)}`)
        await victim.commands.run(`kill -9 ${pid}`, { user: 'root' }).catch(() => {})
        await waitUntil(
          async () => {
            assert.ok(await victim.isRunning(), `the sandbox died with pid ${pid}, the server of port 49999`)
            return (await health(victim).catch(() => '')) === '200'
          },
          { timeoutMs: 20_000, what: 'port 49999 to answer again' },
        )
        assert.equal((await victim.runCode('x = 1; x')).text, '1')
      } finally {
        await victim.kill()
      }
    })
  })
})
