// The TypeScript client against a live roost: every platform and instance
// method is called at least once.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import {
  createClient, createInstanceClient, RoostApiError, RoostConnectionError,
  platformMethodsNames, instanceMethodsNames,
} from '../dist/index.js'
import { startServer } from '../support/server.mjs'

let srv
let client
const called = new Set()

function tracked(c) {
  return { ...c, call: (m, input) => { called.add(m); return c.call(m, input) } }
}

before(async () => {
  srv = await startServer()
  client = createClient({ url: srv.url, apiKey: srv.apiKey })
})

after(async () => {
  await srv?.stop()
})

async function until(what, fn, ms = 60_000) {
  const end = Date.now() + ms
  for (let wait = 20; ; wait = Math.min(wait * 2, 500)) {
    const v = await fn()
    if (v) return v
    if (Date.now() > end) throw new Error('timed out waiting for ' + what)
    await new Promise((r) => setTimeout(r, wait))
  }
}

test('errors tell an API error from a connection error', async () => {
  await assert.rejects(client.call('instances.get', { instanceId: 'ins_nope' }), (e) => {
    assert.ok(e instanceof RoostApiError)
    assert.equal(e.type, 'not_found')
    assert.equal(e.status, 404)
    assert.match(e.message, /instance/)
    return true
  })
  await assert.rejects(client.call('instances.create', { name: 'x' }), (e) => {
    assert.equal(e.type, 'invalid_input')
    assert.deepEqual(e.details, { field: 'templateSlug', reason: 'required' })
    return true
  })
  const bad = createClient({ url: srv.url, apiKey: 'rk_wrong' })
  await assert.rejects(bad.call('instances.list', {}), (e) => e instanceof RoostApiError && e.type === 'unauthorized' && e.status === 401)
  const down = createClient({ url: 'http://127.0.0.1:1', apiKey: srv.apiKey })
  await assert.rejects(down.call('instances.list', {}), (e) => e instanceof RoostConnectionError)
})

test('every method, platform and instance', async () => {
  const c = tracked(client)

  // Files, resources, bundles.
  const progress = []
  const blob = new Blob([new Uint8Array(300_000).fill(7)], { type: 'application/octet-stream' })
  const up = await client.files.upload(blob, { filename: 'data.bin', onProgress: (loaded, total) => progress.push([loaded, total]) })
  assert.equal(up.ok, true)
  assert.equal(up.size, 300_000)
  assert.equal(up.filename, 'data.bin')
  assert.ok(progress.length > 0 && progress.at(-1)[0] === 300_000, 'upload progress reaches the total')
  const f = await c.call('files.get', { fileId: up.fileId })
  assert.equal(f.size, 300_000)
  assert.ok((await c.call('files.list', {})).total >= 1)
  const res = await c.call('resources.create', { slug: 'dataset', fileId: up.fileId, name: 'Data', label: 'v1' })
  const up2 = await client.files.upload(new Blob(['hello']), { filename: 'hello.txt' })
  await c.call('resources.addRevision', { resourceSlug: 'dataset', fileId: up2.fileId, label: 'v2' })
  const got = await c.call('resources.get', { resourceId: res.resourceId })
  assert.equal(got.latestRevision.label, 'v2')
  assert.equal(got.latestRevision.file.filename, 'hello.txt')
  assert.equal((await c.call('resources.list', {})).resources.length, 1)

  const bundles = await c.call('bundles.list', {})
  assert.equal(bundles.bundles[0].slug, 'echo')
  const b = await c.call('bundles.get', { bundleSlug: 'echo' })
  const archive = b.revisions[0]
  assert.deepEqual(archive.manifest.presets.map((p) => p.id), ['chat'])
  await assert.rejects(c.call('bundles.publish', { slug: 'echo', fileId: up2.fileId }), (e) => e.type === 'invalid_input')
  const republished = await c.call('bundles.publish', { slug: 'echo-copy', fileId: archive.fileId })
  assert.equal(republished.version, '1.0.0')
  assert.deepEqual(await c.call('bundles.delete', { bundleSlug: 'echo-copy' }), { ok: true })
  await assert.rejects(c.call('files.delete', { fileId: up2.fileId }), (e) => e.type === 'conflict')

  await c.call('templates.list', {})
  const nodes = await until('the local node online', async () => {
    const l = await c.call('nodes.list', {})
    return l.nodes.find((n) => n.status === 'online') && l
  })
  const node = nodes.nodes[0]
  assert.equal((await c.call('nodes.get', { nodeId: node.id })).name, 'local')
  const enroll = await c.call('nodes.createEnrollToken', { ttl: 60, labels: ['gpu'] })
  assert.match(enroll.installCommand, /install\.sh\?token=/)
  await c.call('nodes.drain', { nodeId: node.id })
  await c.call('nodes.undrain', { nodeId: node.id })
  await assert.rejects(c.call('nodes.remove', { nodeId: 'node_nope' }), (e) => e.type === 'not_found')

  // An instance with a session, its services, and publishing.
  const inst = await c.call('instances.create', {
    templateSlug: 'default', name: 'ts', bundleSlug: 'echo', vcsType: 'gitLocal', metadata: { from: 'ts' },
    autoCreateSession: { presetId: 'chat', blocking: true, resourceIds: [res.resourceId] },
  })
  assert.ok(inst.sessionId && inst.wsToken)
  assert.equal((await c.call('instances.get', { instanceId: inst.instanceId })).metadata.from, 'ts')
  assert.ok((await c.call('instances.list', { limit: 10 })).total >= 1)
  const st = await c.call('instances.status', { instanceId: inst.instanceId })
  assert.equal(st.sessions.length, 1)
  const s2 = await c.call('sessions.create', { instanceId: inst.instanceId, presetId: 'chat', blocking: true })
  assert.equal(s2.status, 'active')
  assert.equal((await c.call('sessions.list', { instanceId: inst.instanceId })).sessions.length, 2)
  const url = await c.call('services.getUrl', { instanceId: inst.instanceId, sessionId: inst.sessionId, serviceType: 'web' })
  assert.match(url.url, /\/s\/[a-z2-7]{26}\/$/)
  const tok = await c.call('tokens.create', { instanceId: inst.instanceId, expiresIn: 600 })

  const ic = tracked(createInstanceClient({ url: srv.url, instanceId: inst.instanceId, token: tok.token }))
  const ens = await ic.call('ensureSandbox', {})
  assert.equal(ens.state, 'running')
  const ex = await ic.call('execInSandbox', { command: 'ls /workspace/.roost/inputs; echo out; echo err >&2; exit 3' })
  assert.equal(ex.success, false)
  assert.equal(ex.exitCode, 3)
  assert.match(ex.stdout, /hello\.txt/)
  assert.equal(ex.stderr, 'err\n')
  const outp = await ic.call('getExecOutput', { execId: ex.execId, stream: 'stderr' })
  assert.equal(outp.data, 'err\n')
  assert.equal((await ic.call('listExecs', {})).execs[0].execId, ex.execId)
  assert.deepEqual(await ic.call('cancelExec', { execId: ex.execId }), { ok: true, cancelled: false })
  const logs = await ic.call('getAgentLogs', { sandboxId: ens.sandboxId, lines: 3 })
  assert.ok(logs.logs.length > 0)
  assert.deepEqual(await ic.call('validateSandboxToken', { sandboxId: ens.sandboxId, token: 'wrong' }), { value: false })
  const sess = await ic.call('createSession', { presetId: 'chat' })
  assert.ok(sess.sessionId)
  const ist = await ic.call('getInstanceStatus', {})
  assert.equal(ist.name, 'ts')
  assert.deepEqual(ist.presets.map((p) => p.id), ['chat'])
  assert.equal(ist.services[0].port, 3000)
  const stok = await ic.call('getSessionToken', { sessionId: inst.sessionId, expiresIn: 60 })
  assert.match(stok.wsToken, /^ey/)
  const listed = await ic.call('listSessions', {})
  assert.equal(typeof listed.sessions[0].createdAt, 'number')
  const su = await ic.call('getServiceUrl', { sessionId: inst.sessionId, serviceType: 'web' })
  assert.equal(su.url, url.url)
  const sus = await ic.call('getServiceUrls', { sessionId: inst.sessionId })
  assert.equal(sus.services[0].port, 3000)
  await ic.call('execInSandbox', { command: 'echo work > result.txt' })
  const pub = await ic.call('publishSession', { sessionId: inst.sessionId })
  assert.equal(pub.ok, true)
  assert.equal(pub.pushed, true)
  const pub2 = await c.call('sessions.publish', { instanceId: inst.instanceId, sessionId: inst.sessionId })
  assert.equal(pub2.pushed, false)

  // The session websocket.
  const ws = createInstanceClient({ url: srv.url, instanceId: inst.instanceId }).openSession(inst.sessionId, inst.wsToken)
  const echoed = await new Promise((resolve, reject) => {
    ws.onopen = () => ws.send('hi')
    ws.onmessage = (m) => resolve(m.data)
    ws.onerror = (e) => reject(new Error('websocket error'))
  })
  assert.equal(echoed, 'echo: hi')
  ws.close()

  // Lifecycle.
  await ic.call('pauseSandbox', { sandboxId: ens.sandboxId })
  // Work on a paused sandbox resumes it.
  const onPaused = await ic.call('execInSandbox', { command: 'echo back' })
  assert.equal(onPaused.stdout, 'back\n')
  await ic.call('pauseSandbox', { sandboxId: ens.sandboxId })
  await ic.call('resumeSandbox', {})
  await ic.call('restartAgent', { sandboxId: ens.sandboxId })
  await ic.call('terminateSandbox', { sandboxId: ens.sandboxId })
  const fresh = await ic.call('createSandbox', {})
  assert.notEqual(fresh.sandboxId, ens.sandboxId)

  assert.deepEqual(await c.call('instances.archive', { instanceId: inst.instanceId }), { ok: true })
  assert.deepEqual(await c.call('resources.delete', { resourceId: res.resourceId }), { ok: true })
  assert.deepEqual(await c.call('files.delete', { fileId: up2.fileId }), { ok: true })

  const missing = [...platformMethodsNames, ...instanceMethodsNames].filter((m) => !called.has(m))
  assert.deepEqual(missing, [], 'every method is called')
})
