// The official JS SDKs' side of `make bench` (benches/bench.sh): the scenarios of the Rust
// `suite` binary, timed the same way, against the server named by the environment
// (E2B_API_KEY, E2B_API_URL, E2B_SANDBOX_URL). The packages come from tests/compat/js
// (`make js-deps`).
//
//   node suite.mjs SCENARIO [ARG]
//
// Scenarios: run_true, read_small, run_code, transfer FILE (uploads only with
// BENCH_UPLOAD_ONLY set), stdout MIB, concurrent, create_first, create_ci_first [cold]
// (create a code-interpreter sandbox, then runCode('1+1'), each create once the server's
// warm pools are full). Prints one JSON line per measured operation, the shape
// benches/report.py reads. BENCH_ITERATIONS, BENCH_WARMUP and BENCH_REPEATS change the sample counts.

import { execFileSync } from 'node:child_process'
import { createReadStream, createWriteStream, readFileSync, statSync, unlinkSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'

const MODULES = join(dirname(fileURLToPath(import.meta.url)), '../../tests/compat/js/node_modules')
const { Sandbox } = await import(join(MODULES, 'e2b', 'dist', 'index.mjs'))

const CLIENT = 'js'
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 100)
const WARMUP = Number(process.env.BENCH_WARMUP ?? 10)
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3)
const UPLOAD_ONLY = Boolean(process.env.BENCH_UPLOAD_ONLY)
const SANDBOXES = 10
const COMMANDS = 1000
const TEN_MINUTES_MS = 600_000

function packageVersion(name) {
  return JSON.parse(readFileSync(join(MODULES, name, 'package.json'), 'utf8')).version
}

function emit(scenario, unit, samples, extra = {}, pkg = 'e2b') {
  const line = { client: CLIENT, version: packageVersion(pkg), scenario, unit, samples, ...extra }
  process.stdout.write(JSON.stringify(line) + '\n')
}

const now = () => performance.now()
const peakRssMib = () => process.resourceUsage().maxRSS / 1024

async function timedMs(call) {
  for (let i = 0; i < WARMUP; i++) await call()
  const samples = []
  for (let i = 0; i < ITERATIONS; i++) {
    const started = now()
    await call()
    samples.push(now() - started)
  }
  return samples
}

// The server's warm pools (e2b-local's GET /local/warm-pools).
async function warmPools() {
  const response = await fetch(`${process.env.E2B_API_URL}/local/warm-pools`, {
    headers: { 'X-API-Key': process.env.E2B_API_KEY },
  })
  if (!response.ok) throw new Error(`GET /local/warm-pools: ${response.status}`)
  return response.json()
}

async function waitWarmPoolsFull(patienceMs = 120_000) {
  const deadline = now() + patienceMs
  for (;;) {
    const pools = await warmPools()
    if (pools.every((p) => p.ready === p.size)) return
    if (now() > deadline) throw new Error(`the warm pools did not refill: ${JSON.stringify(pools)}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

async function withSandbox(f, S = Sandbox) {
  const sandbox = await S.create({ timeoutMs: TEN_MINUTES_MS })
  try {
    return await f(sandbox)
  } finally {
    await sandbox.kill()
  }
}

const scenarios = {
  async run_true() {
    await withSandbox(async (s) => emit('run_true', 'ms', await timedMs(() => s.commands.run('true'))))
  },

  async read_small() {
    await withSandbox(async (s) => {
      await s.files.write('/tmp/small.txt', 'x'.repeat(1024))
      emit('read_small', 'ms', await timedMs(() => s.files.read('/tmp/small.txt')))
    })
  },

  async run_code() {
    const { Sandbox: CodeSandbox } = await import(
      join(MODULES, '@e2b', 'code-interpreter', 'dist', 'index.mjs')
    )
    await withSandbox(async (s) => {
      const samples = await timedMs(async () => {
        const execution = await s.runCode('1+1')
        if (execution.text !== '2') throw new Error(`runCode('1+1') gave ${execution.text}`)
      })
      emit('run_code', 'ms', samples, {}, '@e2b/code-interpreter')
    }, CodeSandbox)
  },

  async transfer(path) {
    const size = statSync(path).size
    const up = []
    const down = []
    await withSandbox(async (s) => {
      for (let i = 0; i < REPEATS; i++) {
        // No transfer is timed while another's pages are written back.
        execFileSync('sync')
        let started = now()
        await s.files.write('/tmp/bench.bin', Readable.toWeb(createReadStream(path)))
        up.push((now() - started) / 1000)
        if (UPLOAD_ONLY) continue

        execFileSync('sync')
        started = now()
        const stream = await s.files.read('/tmp/bench.bin', { format: 'stream' })
        let copied = 0
        const counted = new TransformStream({
          transform(chunk, controller) {
            copied += chunk.byteLength
            controller.enqueue(chunk)
          },
        })
        await pipeline(Readable.fromWeb(stream.pipeThrough(counted)), createWriteStream(`${path}.down`))
        down.push((now() - started) / 1000)
        unlinkSync(`${path}.down`)
        if (copied !== size) throw new Error(`downloaded ${copied} of ${size} bytes`)
      }
    })
    const rss = peakRssMib()
    emit('upload', 's', up, { bytes: size, peak_rss_mib: rss })
    if (down.length > 0) emit('download', 's', down, { bytes: size, peak_rss_mib: rss })
  },

  async stdout(mib) {
    const size = Number(mib) * 1024 * 1024
    const command = `head -c ${size} /dev/zero | tr '\\0' x`
    const samples = []
    await withSandbox(async (s) => {
      for (let i = 0; i < REPEATS; i++) {
        const started = now()
        const result = await s.commands.run(command, { timeoutMs: 0 })
        samples.push((now() - started) / 1000)
        if (result.stdout.length !== size) {
          throw new Error(`stdout had ${result.stdout.length} of ${size} bytes`)
        }
      }
    })
    emit('stdout', 's', samples, { bytes: size })
  },

  async concurrent() {
    const sandboxes = await Promise.all(
      Array.from({ length: SANDBOXES }, () => Sandbox.create({ timeoutMs: TEN_MINUTES_MS })),
    )
    const samples = []
    try {
      await Promise.all(sandboxes.map((s) => s.commands.run('true')))
      for (let r = 0; r < REPEATS; r++) {
        const started = now()
        await Promise.all(
          Array.from({ length: COMMANDS }, (_, i) => sandboxes[i % SANDBOXES].commands.run('true')),
        )
        samples.push((now() - started) / 1000)
      }
    } finally {
      await Promise.all(sandboxes.map((s) => s.kill()))
    }
    emit('concurrent', 's', samples, { commands: COMMANDS, sandboxes: SANDBOXES })
  },

  async create_ci_first(arg) {
    const { Sandbox: CodeSandbox } = await import(
      join(MODULES, '@e2b', 'code-interpreter', 'dist', 'index.mjs')
    )
    const creates = Number(process.env.BENCH_CI_CREATES ?? '15')
    const samples = []
    let warm = 0
    for (let i = 0; i < creates; i++) {
      await waitWarmPoolsFull()
      const before = (await warmPools()).reduce((n, p) => n + p.handedOut, 0)
      const started = now()
      const s = await CodeSandbox.create({ timeoutMs: TEN_MINUTES_MS })
      const execution = await s.runCode('1+1')
      samples.push(now() - started)
      if (execution.text !== '2') throw new Error(`runCode('1+1') gave ${execution.text}`)
      if ((await warmPools()).reduce((n, p) => n + p.handedOut, 0) > before) warm++
      await s.kill()
    }
    const name = arg === 'cold' ? 'create_ci_cold' : 'create_ci_first'
    emit(name, 'ms', samples, { served_warm: warm }, '@e2b/code-interpreter')
  },

  async create_first() {
    const samples = []
    for (let i = 0; i < REPEATS * 3; i++) {
      const started = now()
      const s = await Sandbox.create({ timeoutMs: TEN_MINUTES_MS })
      await s.commands.run('true')
      samples.push(now() - started)
      await s.kill()
    }
    emit('create_first', 'ms', samples)
  },
}

const [scenario, arg] = process.argv.slice(2)
if (!(scenario in scenarios)) {
  console.error(`unknown scenario ${scenario}`)
  process.exit(2)
}
await scenarios[scenario](arg)
