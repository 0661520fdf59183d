// Starts a real roost platform for the tests: the binary `make build`
// made, on a loopback port, with a fresh data dir and the demo agent.
import { spawn } from 'node:child_process'
import { mkdtempSync, chmodSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '..', '..', '..')

export async function startServer() {
  const bin = process.env.ROOST_BIN ?? join(root, 'bin', 'roost')
  const agent = process.env.ROOST_TEST_AGENT ?? join(root, 'bin', 'roost-test-agent')
  const parent = mkdtempSync(join(tmpdir(), 'roost-ts-'))
  chmodSync(parent, 0o711)
  const data = join(parent, 'data')
  const proc = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--data', data, '--demo-agent', agent, '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  const ready = await new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error('roost did not start in 60 s:\n' + out)), 60_000)
    proc.on('exit', (code) => reject(new Error(`roost exited with ${code}:\n${out}`)))
    proc.stdout.on('data', (chunk) => {
      out += chunk
      const url = out.match(/listening on (http:\/\/\S+)/)
      const key = out.match(/^(rk_\S+)$/m)
      if (url && key) {
        clearTimeout(timer)
        resolveReady({ url: url[1], apiKey: key[1] })
      }
    })
  })
  return {
    ...ready,
    dataDir: data,
    async stop() {
      proc.kill('SIGTERM')
      await new Promise((r) => proc.once('exit', r))
      // Sandboxes outlive their node on purpose; end this test's.
      await new Promise((r) => spawn(bin, ['node', '--data', data, '--kill-sandboxes'], { stdio: 'ignore' }).on('exit', r))
      rmSync(parent, { recursive: true, force: true })
    },
  }
}
