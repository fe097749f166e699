// Starts one e2b-local server for a test file and points the official SDK at it, as
// tests/compat/python/conftest.py does: `serve` on port 0, then the E2B_* variables it prints.

import { spawn } from 'node:child_process'
import { createWriteStream, existsSync, mkdtempSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
const ENV_KEYS = ['E2B_API_URL', 'E2B_SANDBOX_URL', 'E2B_API_KEY']

function binary() {
  if (process.env.E2B_LOCAL_BIN) return process.env.E2B_LOCAL_BIN
  const path = join(ROOT, 'target', 'debug', 'e2b-local')
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: run \`cargo build -p e2b-local\` first`)
  }
  return path
}

/**
 * Starts `e2b-local serve`, waits (at most `timeoutMs`) until it has printed its
 * environment, exports that environment to `process.env` and returns a handle whose
 * `stop()` terminates the server and restores the previous environment.
 */
export async function startServer({ timeoutMs = 30_000 } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'e2b-local-js-'))
  const log = createWriteStream(join(dataDir, 'server.log'))
  const proc = spawn(
    binary(),
    ['serve', '--listen', '127.0.0.1:0', '--data-dir', join(dataDir, 'data')],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  proc.stderr.pipe(log)
  const exited = new Promise((resolveExit) => proc.once('exit', resolveExit))
  // A test process that dies without its `after` hook still ends the server (which then
  // kills its sandboxes).
  const orphanGuard = () => proc.kill('SIGTERM')
  process.once('exit', orphanGuard)

  const seen = []
  const env = await new Promise((resolveEnv, reject) => {
    const found = {}
    const timer = setTimeout(() => {
      proc.kill('SIGKILL')
      reject(new Error(`e2b-local did not print its environment in time:\n${seen.join('\n')}`))
    }, timeoutMs)
    const onExit = (code) => {
      clearTimeout(timer)
      reject(new Error(`e2b-local exited with ${code} before it was ready:\n${seen.join('\n')}`))
    }
    proc.once('exit', onExit)
    proc.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    createInterface({ input: proc.stdout }).on('line', (line) => {
      seen.push(line)
      const m = /\b(E2B_[A-Z_]+)=(\S+)/.exec(line)
      if (m) found[m[1]] = m[2].replace(/^['"]|['"]$/g, '')
      if (ENV_KEYS.every((k) => k in found)) {
        clearTimeout(timer)
        proc.off('exit', onExit)
        resolveEnv(found)
      }
    })
  })

  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]))
  Object.assign(process.env, env)

  return {
    env,
    dataDir,
    async stop() {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k]
        else process.env[k] = v
      }
      process.off('exit', orphanGuard)
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM')
        const killer = setTimeout(() => proc.kill('SIGKILL'), 10_000)
        await exited
        clearTimeout(killer)
      }
      log.end()
      if (!process.env.E2B_LOCAL_KEEP_DATA) {
        await rm(dataDir, { recursive: true, force: true }).catch(() => {})
      }
    },
  }
}
