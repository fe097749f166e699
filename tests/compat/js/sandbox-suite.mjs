// The suite every npm `e2b` release the project pins runs against e2b-local, unchanged:
// commands, PTY, files (with signed URLs), watch, lifecycle and secure sandboxes.
// e2b-2.45.test.mjs and e2b-2.51.test.mjs each call `sandboxSuite` with their package.

import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'

import { startServer } from './server.mjs'

/** Polls `condition` until it returns a truthy value or `timeoutMs` passes (no fixed sleeps). */
export async function waitUntil(condition, { timeoutMs = 10_000, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await condition()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** A promise with its resolve function, for callbacks the SDK calls. */
function deferred() {
  let resolve
  const promise = new Promise((r) => (resolve = r))
  return { promise, resolve }
}

/** Rejects with a named error if `promise` has not settled within `ms`. */
function within(promise, ms, what) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** `fetch`, with the socket-level cause in the message when the request fails outright. */
async function http(url, init) {
  try {
    return await fetch(url, init)
  } catch (err) {
    const cause = err.cause ? `: ${err.cause.code ?? ''} ${err.cause.message}` : ''
    throw new Error(`${init?.method ?? 'GET'} ${url} failed${cause}`, { cause: err })
  }
}

const ODD = 'a b&c=d/é 100%'
const decoder = new TextDecoder()

export function sandboxSuite(e2b, { version }) {
  const {
    CommandExitError,
    FileNotFoundError,
    FileType,
    FilesystemEventType,
    Sandbox,
    SandboxNotFoundError,
    TimeoutError,
  } = e2b
  const T = { timeout: 60_000 }

  describe(`npm e2b ${version} against e2b-local`, () => {
    let server
    let sbx

    before(async () => {
      server = await startServer()
      sbx = await Sandbox.create({
        envs: { SANDBOX_LEVEL: 'from-sandbox' },
        metadata: { suite: `compat-js-${version}`, odd: ODD },
      })
    })

    after(async () => {
      try {
        await sbx?.kill()
      } finally {
        await server?.stop()
      }
    })

    test('the package under test is the pinned release', async () => {
      const { createRequire } = await import('node:module')
      const require = createRequire(import.meta.url)
      const name = version === '2.45.0' ? 'e2b-2.45' : 'e2b'
      assert.equal(require(`${name}/package.json`).version, version)
    })

    // --- commands ---------------------------------------------------------------

    describe('commands', () => {
      test('foreground: output, exit code, CommandExitError', T, async () => {
        const result = await sbx.commands.run('echo hello; echo oops >&2')
        assert.equal(result.exitCode, 0)
        assert.equal(result.stdout, 'hello\n')
        assert.equal(result.stderr, 'oops\n')

        const seen = []
        await sbx.commands.run('echo one; echo two', { onStdout: (d) => seen.push(d) })
        assert.equal(seen.join(''), 'one\ntwo\n')

        await assert.rejects(sbx.commands.run('echo before; exit 3'), (err) => {
          assert.ok(err instanceof CommandExitError, err)
          assert.equal(err.exitCode, 3)
          assert.equal(err.stdout, 'before\n')
          return true
        })
      })

      test('background: pid, callbacks, wait', T, async () => {
        const seen = []
        const handle = await sbx.commands.run('read x; echo got $x; echo err >&2', {
          background: true,
          stdin: true,
          onStdout: (d) => seen.push(d),
        })
        assert.ok(Number.isInteger(handle.pid) && handle.pid > 0)
        await sbx.commands.sendStdin(handle.pid, 'value\n')
        const result = await handle.wait()
        assert.equal(result.stdout, 'got value\n')
        assert.equal(result.stderr, 'err\n')
        assert.equal(seen.join(''), 'got value\n')
      })

      test('stdin: send text and bytes, close', T, async () => {
        const handle = await sbx.commands.run('cat', { background: true, stdin: true })
        await sbx.commands.sendStdin(handle.pid, 'line one\n')
        await sbx.commands.sendStdin(handle.pid, new TextEncoder().encode('line two\n'))
        await sbx.commands.closeStdin(handle.pid)
        const result = await handle.wait()
        assert.equal(result.stdout, 'line one\nline two\n')
      })

      test('env, cwd and user', T, async () => {
        const run = async (cmd, opts) => (await sbx.commands.run(cmd, opts)).stdout
        assert.equal(await run('echo $FOO', { envs: { FOO: 'bar' } }), 'bar\n')
        assert.equal(await run('echo $SANDBOX_LEVEL'), 'from-sandbox\n')
        assert.equal(
          await run('echo $SANDBOX_LEVEL', { envs: { SANDBOX_LEVEL: 'override' } }),
          'override\n',
        )
        assert.equal(await run('pwd', { cwd: '/tmp' }), '/tmp\n')
        assert.equal(await run('pwd'), '/home/user\n')
        assert.equal(await run('id -u; whoami; echo $HOME'), '1000\nuser\n/home/user\n')
        assert.equal(await run('id -u; whoami', { user: 'root' }), '0\nroot\n')
      })

      test('list and kill', T, async () => {
        const handle = await sbx.commands.run('sleep 300', { background: true })
        const listed = await sbx.commands.list()
        const mine = listed.find((p) => p.pid === handle.pid)
        assert.ok(mine, `pid ${handle.pid} not in ${JSON.stringify(listed)}`)
        assert.equal(mine.cmd, '/bin/bash')
        assert.ok(mine.args.join(' ').includes('sleep 300'), mine.args)

        assert.equal(await sbx.commands.kill(handle.pid), true)
        await assert.rejects(handle.wait(), CommandExitError)
        assert.equal(await sbx.commands.kill(handle.pid), false)
        const pids = (await sbx.commands.list()).map((p) => p.pid)
        assert.ok(!pids.includes(handle.pid))
      })

      test('timeout ends a command with TimeoutError', T, async () => {
        const started = Date.now()
        await assert.rejects(sbx.commands.run('sleep 30', { timeoutMs: 1000 }), TimeoutError)
        assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`)
      })

      test('connect to a running command', T, async () => {
        const handle = await sbx.commands.run('read x; echo got $x', {
          background: true,
          stdin: true,
        })
        const seen = []
        const other = await sbx.commands.connect(handle.pid, { onStdout: (d) => seen.push(d) })
        await sbx.commands.sendStdin(handle.pid, 'value\n')
        const result = await other.wait()
        assert.equal(result.stdout, 'got value\n')
        assert.equal(seen.join(''), 'got value\n')
      })
    })

    // --- pty --------------------------------------------------------------------

    describe('pty', () => {
      /** A PTY whose output is collected; `until(text)` resolves once the output holds it. */
      async function openPty(size = { cols: 80, rows: 24 }) {
        let out = ''
        const waiters = []
        const handle = await sbx.pty.create({
          ...size,
          timeoutMs: 0,
          onData: (data) => {
            out += decoder.decode(data, { stream: true })
            for (const w of waiters) if (out.includes(w.text)) w.resolve(out)
          },
        })
        const until = (text) => {
          if (out.includes(text)) return Promise.resolve(out)
          const d = deferred()
          waiters.push({ text, resolve: d.resolve })
          return within(d.promise, 15_000, `PTY output ${JSON.stringify(text)} (got ${JSON.stringify(out)})`)
        }
        const input = (text) => sbx.pty.sendInput(handle.pid, new TextEncoder().encode(text))
        return { handle, until, input, output: () => out }
      }

      test('create, input, size and TERM', T, async () => {
        const pty = await openPty()
        await pty.input('stty size; echo "term=$TERM"; exit\n')
        const result = await pty.handle.wait()
        assert.equal(result.exitCode, 0)
        assert.match(pty.output(), /\b24 80\b/)
        assert.match(pty.output(), /term=xterm/)
      })

      test('resize', T, async () => {
        const pty = await openPty()
        await pty.input('echo ready\n')
        await pty.until('ready\r\n')
        await sbx.pty.resize(pty.handle.pid, { cols: 120, rows: 40 })
        await pty.input('stty size; exit\n')
        await pty.handle.wait()
        assert.match(pty.output(), /\b40 120\b/)
      })

      test('kill', T, async () => {
        const pty = await openPty()
        assert.equal(await sbx.pty.kill(pty.handle.pid), true)
        await assert.rejects(pty.handle.wait(), CommandExitError)
        const pids = (await sbx.commands.list()).map((p) => p.pid)
        assert.ok(!pids.includes(pty.handle.pid))
        // envd answers once the process is gone: nothing with that pid is left.
        const probe = await sbx.commands.run(`kill -0 ${pty.handle.pid} 2>/dev/null && echo alive || echo gone`, { user: 'root' })
        assert.equal(probe.stdout, 'gone\n')
        assert.equal(await sbx.pty.kill(pty.handle.pid), false)
      })
    })

    // --- files ------------------------------------------------------------------

    describe('files', () => {
      test('write and read text, bytes, blob and stream', T, async () => {
        const info = await sbx.files.write('/home/user/notes/hello.txt', 'héllo wörld\n')
        assert.equal(info.path, '/home/user/notes/hello.txt')
        assert.equal(await sbx.files.read('/home/user/notes/hello.txt'), 'héllo wörld\n')

        const payload = new Uint8Array(256 * 64).map((_, i) => i % 256)
        await sbx.files.write('bin.dat', payload.buffer) // relative to the user's home
        const bytes = await sbx.files.read('/home/user/bin.dat', { format: 'bytes' })
        assert.deepEqual(Buffer.from(bytes), Buffer.from(payload))
        const blob = await sbx.files.read('/home/user/bin.dat', { format: 'blob' })
        assert.equal(blob.size, payload.length)
        const stream = await sbx.files.read('/home/user/bin.dat', { format: 'stream' })
        const chunks = []
        for await (const chunk of stream) chunks.push(Buffer.from(chunk))
        assert.deepEqual(Buffer.concat(chunks), Buffer.from(payload))
        assert.equal((await sbx.commands.run('stat -c %U /home/user/bin.dat')).stdout, 'user\n')

        const many = await sbx.files.write([
          { path: '/home/user/many/a.txt', data: 'A' },
          { path: '/home/user/many/b.txt', data: new Blob(['B']) },
        ])
        assert.deepEqual(many.map((w) => w.path).sort(), ['/home/user/many/a.txt', '/home/user/many/b.txt'])
        assert.equal(await sbx.files.read('/home/user/many/b.txt'), 'B')

        await assert.rejects(sbx.files.read('/home/user/nope.txt'), FileNotFoundError)
      })

      test('signed URLs through E2B_SANDBOX_URL', T, async () => {
        await sbx.files.write('/home/user/signed.txt', 'signed')
        for (const url of [
          await sbx.downloadUrl('/home/user/signed.txt'),
          await sbx.downloadUrl('/home/user/signed.txt', { useSignatureExpiration: 60 }),
        ]) {
          assert.ok(url.startsWith(`${process.env.E2B_SANDBOX_URL}/files?`), url)
          assert.match(url, /[?&]signature=v1_/)
          const resp = await http(url)
          assert.equal(resp.status, 200, await resp.clone().text())
          assert.equal(await resp.text(), 'signed')
        }

        const upload = await sbx.uploadUrl('/home/user/uploaded.txt')
        assert.ok(upload.startsWith(`${process.env.E2B_SANDBOX_URL}/files?`), upload)
        const form = new FormData()
        form.append('file', new Blob(['up']), 'uploaded.txt')
        const resp = await http(upload, { method: 'POST', body: form })
        assert.equal(resp.status, 200, await resp.text())
        assert.equal(await sbx.files.read('/home/user/uploaded.txt'), 'up')

        // A signature for one path, operation or sandbox opens nothing else.
        const signed = await sbx.downloadUrl('/home/user/signed.txt')
        const otherPath = signed.replace('signed.txt', 'uploaded.txt')
        assert.notEqual((await http(otherPath)).status, 200)
        const unsigned = new URL(signed)
        unsigned.searchParams.delete('signature')
        assert.notEqual((await http(unsigned)).status, 200)
        const expired = await sbx.downloadUrl('/home/user/signed.txt', { useSignatureExpiration: -60 })
        assert.notEqual((await http(expired)).status, 200)
      })

      test('refused uploads are answered with a status, not a cut connection', T, async () => {
        // Go's net/http (E2B's edge and envd) reads what is left of a small request body
        // before it answers, so a client still sending its body gets the refusal.
        await sbx.files.write('/home/user/kept.txt', 'kept')
        const readOnly = await sbx.downloadUrl('/home/user/kept.txt')
        const unsigned = `${process.env.E2B_SANDBOX_URL}/files?path=${encodeURIComponent('/home/user/kept.txt')}`
        const routing = { 'E2b-Sandbox-Id': sbx.sandboxId, 'E2b-Sandbox-Port': '49983' }
        const cases = [
          ['a read signature used to write', readOnly, {}],
          ['no signature and no sandbox named', unsigned, {}],
          ['no access token', unsigned, routing],
        ]
        for (const [what, url, headers] of cases) {
          for (let attempt = 0; attempt < 4; attempt++) {
            const form = new FormData()
            form.append('file', new Blob(['x'.repeat(64 * 1024)]), 'kept.txt')
            const resp = await http(url, { method: 'POST', headers, body: form })
              .catch((err) => assert.fail(`${what}, attempt ${attempt + 1}: ${err.message}`))
            assert.ok(resp.status >= 400 && resp.status < 500, `${what}: ${resp.status}`)
            await resp.arrayBuffer()
          }
        }
        assert.equal(await sbx.files.read('/home/user/kept.txt'), 'kept')
      })

      test('list, exists, getInfo', T, async () => {
        await sbx.files.write('/home/user/d/a.txt', 'a')
        await sbx.files.write('/home/user/d/sub/b.txt', 'bb')
        const names = (await sbx.files.list('/home/user/d')).map((e) => e.name).sort()
        assert.deepEqual(names, ['a.txt', 'sub'])
        const deep = (await sbx.files.list('/home/user/d', { depth: 2 })).map((e) => e.path)
        assert.ok(deep.includes('/home/user/d/sub/b.txt'), deep)

        assert.equal(await sbx.files.exists('/home/user/d/a.txt'), true)
        assert.equal(await sbx.files.exists('/home/user/d/nope'), false)

        const info = await sbx.files.getInfo('/home/user/d/sub/b.txt')
        assert.equal(info.type, FileType.FILE)
        assert.equal(info.size, 2)
        assert.equal(info.owner, 'user')
        assert.match(info.permissions, /^-rw/)
        assert.ok(info.modifiedTime instanceof Date)
        assert.equal((await sbx.files.getInfo('/home/user/d/sub')).type, FileType.DIR)
        await assert.rejects(sbx.files.getInfo('/home/user/d/nope'), FileNotFoundError)
      })

      test('makeDir, rename, remove', T, async () => {
        assert.equal(await sbx.files.makeDir('/home/user/x/y'), true)
        assert.equal(await sbx.files.makeDir('/home/user/x/y'), false)
        await sbx.files.write('/home/user/x/y/f.txt', 'data')
        const moved = await sbx.files.rename('/home/user/x/y/f.txt', '/home/user/x/g.txt')
        assert.equal(moved.path, '/home/user/x/g.txt')
        assert.equal(await sbx.files.read('/home/user/x/g.txt'), 'data')
        await sbx.files.remove('/home/user/x')
        assert.equal(await sbx.files.exists('/home/user/x'), false)
      })
    })

    // --- watch ------------------------------------------------------------------

    describe('watch', () => {
      /** Watches `dir`; `until(pred)` resolves with the events once one satisfies it. */
      async function watch(dir, opts = {}) {
        const events = []
        const waiters = []
        const handle = await sbx.files.watchDir(
          dir,
          (event) => {
            events.push(event)
            for (const w of waiters) if (w.pred(events)) w.resolve(events)
          },
          { timeoutMs: 0, ...opts },
        )
        const until = (pred, what) => {
          if (pred(events)) return Promise.resolve(events)
          const d = deferred()
          waiters.push({ pred, resolve: d.resolve })
          return within(d.promise, 15_000, `${what} (got ${JSON.stringify(events)})`)
        }
        return { handle, events, until }
      }

      test('create, write, rename and remove events', T, async () => {
        await sbx.files.makeDir('/home/user/watched')
        const w = await watch('/home/user/watched')
        try {
          await sbx.files.write('/home/user/watched/new.txt', '1')
          await sbx.commands.run('mv /home/user/watched/new.txt /home/user/watched/moved.txt')
          await sbx.files.remove('/home/user/watched/moved.txt')
          const kinds = [
            FilesystemEventType.CREATE,
            FilesystemEventType.WRITE,
            FilesystemEventType.RENAME,
            FilesystemEventType.REMOVE,
          ]
          const events = await w.until(
            (evs) => kinds.every((k) => evs.some((e) => e.type === k)),
            'create/write/rename/remove events',
          )
          assert.ok(events.some((e) => e.name === 'new.txt' && e.type === FilesystemEventType.CREATE))
          assert.ok(events.some((e) => e.name === 'moved.txt'))
        } finally {
          await w.handle.stop()
        }
      })

      test('recursive watch names paths below the directory', T, async () => {
        await sbx.files.makeDir('/home/user/rwatched/sub')
        const w = await watch('/home/user/rwatched', { recursive: true })
        try {
          await sbx.files.write('/home/user/rwatched/sub/deep.txt', 'deep')
          await w.until(
            (evs) => evs.some((e) => e.name === 'sub/deep.txt' && e.type === FilesystemEventType.CREATE),
            'a create event for sub/deep.txt',
          )
        } finally {
          await w.handle.stop()
        }
      })

      test('stop ends the watch: no events afterwards', T, async () => {
        await sbx.files.makeDir('/home/user/stopped')
        const exited = deferred()
        const w = await watch('/home/user/stopped', { onExit: (err) => exited.resolve(err) })
        await sbx.files.write('/home/user/stopped/before.txt', 'x')
        await w.until((evs) => evs.some((e) => e.name === 'before.txt'), 'an event for before.txt')
        await w.handle.stop()
        await within(exited.promise, 15_000, 'onExit after stop')
        const count = w.events.length
        await sbx.files.write('/home/user/stopped/after.txt', 'x')
        // A later watch sees the write, so the stopped one would have by now.
        const later = await watch('/home/user/stopped')
        await sbx.files.write('/home/user/stopped/after.txt', 'y')
        await later.until((evs) => evs.some((e) => e.name === 'after.txt'), 'an event for after.txt')
        await later.handle.stop()
        assert.equal(w.events.length, count, JSON.stringify(w.events))
      })

      test('watching a missing directory fails', T, async () => {
        await assert.rejects(
          sbx.files.watchDir('/home/user/not-there', () => {}),
          (err) => err instanceof e2b.SandboxError,
        )
      })
    })

    // --- lifecycle ----------------------------------------------------------------

    describe('lifecycle', () => {
      test('list filters by metadata and state', T, async () => {
        const ids = async (query) =>
          (await Sandbox.list({ query }).nextItems()).map((s) => s.sandboxId)
        assert.ok((await ids({ metadata: { suite: `compat-js-${version}` } })).includes(sbx.sandboxId))
        assert.deepEqual(await ids({ metadata: { odd: ODD } }), [sbx.sandboxId])
        assert.deepEqual(await ids({ metadata: { odd: 'a b' } }), [])
        assert.deepEqual(await ids({ metadata: { odd: ODD }, state: ['paused'] }), [])
        assert.deepEqual(await ids({ metadata: { odd: ODD }, state: ['running'] }), [sbx.sandboxId])
        const listed = (await Sandbox.list({ query: { metadata: { odd: ODD } } }).nextItems())[0]
        assert.equal(listed.state, 'running')
        assert.deepEqual(listed.metadata, { suite: `compat-js-${version}`, odd: ODD })
      })

      test('connect, setTimeout, getInfo, isRunning, metrics', T, async () => {
        const again = await Sandbox.connect(sbx.sandboxId)
        assert.equal(again.sandboxId, sbx.sandboxId)
        assert.equal((await again.commands.run('echo via connect')).stdout, 'via connect\n')

        await sbx.setTimeout(120_000)
        const info = await sbx.getInfo()
        assert.equal(info.sandboxId, sbx.sandboxId)
        assert.equal(info.state, 'running')
        assert.deepEqual(info.metadata, { suite: `compat-js-${version}`, odd: ODD })
        assert.ok(info.endAt > info.startedAt)
        const left = info.endAt.getTime() - Date.now()
        assert.ok(left > 100_000 && left <= 121_000, `${left} ms left after setTimeout(120 s)`)
        assert.ok(info.cpuCount > 0 && info.memoryMB > 0)
        assert.equal((await Sandbox.getInfo(sbx.sandboxId)).sandboxId, sbx.sandboxId)

        assert.equal(await sbx.isRunning(), true)
        const metrics = await waitUntil(async () => {
          const m = await sbx.getMetrics()
          return m.length > 0 && m
        }, { what: 'metrics' })
        const last = metrics[metrics.length - 1]
        assert.ok(last.timestamp instanceof Date)
        assert.ok(last.memUsed > 0 && last.memTotal >= last.memUsed, JSON.stringify(last))
        assert.ok(last.cpuCount > 0)
        assert.ok(last.diskTotal > 0)
      })

      test('kill, and what is left of a killed sandbox', T, async () => {
        const other = await Sandbox.create()
        assert.equal(await other.kill(), true)
        assert.equal(await other.isRunning(), false)
        assert.equal(await Sandbox.kill(other.sandboxId), false)
        await assert.rejects(Sandbox.getInfo(other.sandboxId), SandboxNotFoundError)
        await assert.rejects(Sandbox.connect(other.sandboxId), SandboxNotFoundError)
        await assert.rejects(Sandbox.setTimeout(other.sandboxId, 60_000), SandboxNotFoundError)
      })

      test('a kill during a command is reported as a kill', T, async () => {
        const other = await Sandbox.create()
        const handle = await other.commands.run('sleep 30', { background: true })
        assert.equal(await other.kill(), true)
        await assert.rejects(handle.wait(), (err) => {
          assert.match(String(err?.message), /killed or reached its end of life/)
          return true
        })
      })

      test('pause, then connect resumes with memory', T, async () => {
        const paused = await Sandbox.create({ metadata: { pausing: version } })
        try {
          await paused.commands.run('echo kept > /home/user/kept')
          const sleeper = await paused.commands.run('sleep 1000', { background: true })
          assert.equal(await paused.pause(), true)
          assert.equal(await paused.isRunning(), false)
          assert.equal((await Sandbox.getInfo(paused.sandboxId)).state, 'paused')
          const listed = await Sandbox.list({ query: { metadata: { pausing: version }, state: ['paused'] } }).nextItems()
          assert.deepEqual(listed.map((s) => s.sandboxId), [paused.sandboxId])
          assert.equal(await Sandbox.pause(paused.sandboxId), false) // already paused

          const again = await Sandbox.connect(paused.sandboxId)
          assert.equal(await again.isRunning(), true)
          assert.equal((await Sandbox.getInfo(paused.sandboxId)).state, 'running')
          assert.equal(await again.files.read('/home/user/kept'), 'kept\n')
          const pids = (await again.commands.list()).map((p) => p.pid)
          assert.ok(pids.includes(sleeper.pid), `sleeper ${sleeper.pid} not in ${pids}`)
        } finally {
          await paused.kill()
        }
      })

      test('pause without memory keeps the files, not the processes', T, async () => {
        const paused = await Sandbox.create()
        try {
          await paused.commands.run('echo kept > /home/user/kept')
          await paused.commands.run('sleep 1000', { background: true })
          assert.ok((await paused.commands.list()).some((p) => p.args.join(' ').includes('sleep 1000')))
          assert.equal(await paused.pause({ keepMemory: false }), true)
          const again = await Sandbox.connect(paused.sandboxId)
          assert.equal(await again.files.read('/home/user/kept'), 'kept\n')
          // A cold boot: the processes are gone (their pids may be reused, so match by command).
          const running = await again.commands.list()
          assert.ok(!running.some((p) => p.args.join(' ').includes('sleep 1000')), JSON.stringify(running))
          assert.equal((await again.commands.run("pgrep -fx 'sleep 1000' || echo none")).stdout, 'none\n')
        } finally {
          await paused.kill()
        }
      })
    })

    // --- secure sandboxes -----------------------------------------------------------

    describe('secure sandboxes', () => {
      test('envd refuses requests without the access token', T, async () => {
        const secure = await Sandbox.create({ secure: true })
        try {
          assert.equal((await secure.commands.run('echo secured')).stdout, 'secured\n')
          await secure.files.write('/home/user/secret.txt', 'secret')
          const token = secure.envdAccessToken
          assert.ok(typeof token === 'string' && token.length > 0, 'no envdAccessToken')

          const url = `${process.env.E2B_SANDBOX_URL}/files?path=${encodeURIComponent('/home/user/secret.txt')}&username=user`
          const routing = { 'E2b-Sandbox-Id': secure.sandboxId, 'E2b-Sandbox-Port': '49983' }
          const bare = await http(url, { headers: routing })
          assert.equal(bare.status, 401, await bare.text())
          const wrong = await http(url, { headers: { ...routing, 'X-Access-Token': `${token}x` } })
          assert.equal(wrong.status, 401)
          const good = await http(url, { headers: { ...routing, 'X-Access-Token': token } })
          assert.equal(good.status, 200)
          assert.equal(await good.text(), 'secret')

          const rpc = (headers) =>
            http(`${process.env.E2B_SANDBOX_URL}/process.Process/List`, {
              method: 'POST',
              headers: { ...routing, 'Content-Type': 'application/json', ...headers },
              body: '{}',
            })
          assert.equal((await rpc({})).status, 401)
          assert.equal((await rpc({ 'X-Access-Token': token })).status, 200)

          // Another sandbox's token opens nothing here.
          const neighbour = await Sandbox.create({ secure: true })
          try {
            const cross = await http(url, {
              headers: { ...routing, 'X-Access-Token': neighbour.envdAccessToken },
            })
            assert.equal(cross.status, 401)
          } finally {
            await neighbour.kill()
          }
        } finally {
          await secure.kill()
        }
      })

      test('a sandbox closed to public traffic needs its traffic token', T, async () => {
        const closed = await Sandbox.create({ network: { allowPublicTraffic: false } })
        try {
          assert.ok(closed.trafficAccessToken, 'no trafficAccessToken')
          const server = await closed.commands.run(
            'mkdir -p /tmp/www && echo served > /tmp/www/index.html && cd /tmp/www && exec python3 -m http.server 8000',
            { background: true },
          )
          const routing = { 'E2b-Sandbox-Id': closed.sandboxId, 'E2b-Sandbox-Port': '8000' }
          const get = (headers) => http(`${process.env.E2B_SANDBOX_URL}/index.html`, { headers: { ...routing, ...headers } })
          const ok = await waitUntil(async () => {
            const resp = await get({ 'E2B-Traffic-Access-Token': closed.trafficAccessToken })
            return resp.status === 200 && resp
          }, { what: 'the in-sandbox HTTP server' })
          assert.equal(await ok.text(), 'served\n')
          assert.equal((await get({})).status, 403)
          assert.equal((await get({ 'E2B-Traffic-Access-Token': 'nope' })).status, 403)
          await server.kill()
        } finally {
          await closed.kill()
        }
      })
    })
  })
}
