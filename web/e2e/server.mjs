// Starts a real roost platform for the browser tests: the binary `make
// build` made (it embeds web/dist), on a loopback port, with a fresh data
// dir and the demo agent published as the bundle "echo".
import { spawn } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

export const repo = resolve(import.meta.dirname, '..', '..')

export async function startServer(extraArgs = []) {
  const bin = process.env.ROOST_BIN ?? join(repo, 'bin', 'roost')
  const agent = process.env.ROOST_TEST_AGENT ?? join(repo, 'bin', 'roost-test-agent')
  const parent = mkdtempSync(join(tmpdir(), 'roost-web-'))
  // The embedded node's sandboxes pass through the data dir's parent.
  chmodSync(parent, 0o711)
  const data = join(parent, 'data')
  const proc = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--data', data, '--demo-agent', agent, '--log-level', 'warn', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  let exited = false
  proc.on('exit', () => (exited = true))
  const ready = await new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error('roost did not start in 60 s:\n' + out)), 60_000)
    proc.on('error', (err) => reject(new Error(`cannot start ${bin} (run make build first): ${err.message}`)))
    proc.on('exit', (code) => reject(new Error(`roost exited with ${code}:\n${out}`)))
    proc.stdout.on('data', (chunk) => {
      out += chunk
      const url = out.match(/roost is listening on (http:\/\/\S+)/)
      const keys = out.match(/^rk_\S+$/gm)
      if (url && keys) {
        clearTimeout(timer)
        resolveReady({ url: url[1], apiKey: keys[keys.length - 1] })
      }
    })
  })
  return {
    ...ready,
    dataDir: data,
    async stop() {
      if (!exited) {
        proc.kill('SIGTERM')
        await new Promise((r) => proc.once('exit', r))
      }
      // Sandboxes outlive their node on purpose; end this run's.
      await new Promise((r) => spawn(bin, ['node', '--data', data, '--kill-sandboxes'], { stdio: 'ignore' }).on('exit', r))
      rmSync(parent, { recursive: true, force: true })
    },
  }
}

/** A platform RPC call with the API key. */
export function rpcWith(url, apiKey) {
  return async (method, input = {}) => {
    const res = await fetch(`${url}/api/v1/rpc`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ method, input }),
    })
    const body = await res.json()
    if (!body.ok) throw new Error(`${method}: ${body.error.type}: ${body.error.message}`)
    return body.value
  }
}

/** The console the server serves must be the one in web/dist. */
export async function checkServedConsole(url) {
  const served = await (await fetch(`${url}/`)).text()
  const built = readFileSync(join(repo, 'web', 'dist', 'index.html'), 'utf8')
  if (served !== built) {
    throw new Error('bin/roost serves a console other than web/dist: run make build after npm run build')
  }
}
