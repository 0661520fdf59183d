// A page served by one instance's sandbox on a service domain (the same
// site as the platform) must not act on another instance with the
// visitor's instance cookie, in real Chromium: *.test resolves to the
// loopback server through --host-resolver-rules.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { rpcWith, startServer } from './server.mjs'
import { launch, missingBrowser } from './browser.mjs'

const skip = missingBrowser() || false
if (skip) console.log(`# skipping the browser tests: ${skip}`)

let srv
let browser
let rpc

before(async () => {
  if (skip) return
  srv = await startServer(['--service-domain', 'svc.plat.test'])
  rpc = rpcWith(srv.url, srv.apiKey)
  browser = await launch(['--host-resolver-rules=MAP *.test 127.0.0.1'])
})

after(async () => {
  await browser?.close()
  await srv?.stop()
})

/** An instance RPC call with the token, from this process. */
async function instanceCall(id, token, method, input = {}) {
  const res = await fetch(`${srv.url}/api/v1/instances/${id}/rpc`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ method, input }),
  })
  return res.json()
}

test("a service domain's page cannot use a visitor's instance cookie", { skip, timeout: 180_000 }, async () => {
  const port = new URL(srv.url).port
  const plat = `http://plat.test:${port}`
  const a = await rpc('instances.create', {
    templateSlug: 'default', name: 'serves-a-page', bundleSlug: 'echo', autoCreateSession: { presetId: 'chat', blocking: true },
  })
  const c = await rpc('instances.create', { templateSlug: 'default', name: 'victim', bundleSlug: 'echo' })
  const tokA = (await rpc('tokens.create', { instanceId: a.instanceId, expiresIn: 3600 })).token
  const tokC = (await rpc('tokens.create', { instanceId: c.instanceId, expiresIn: 3600 })).token
  const svc = await rpc('services.getUrl', { instanceId: a.instanceId, sessionId: a.sessionId, serviceType: 'web' })
  const host = new URL(svc.url).hostname
  assert.match(host, /^[a-z2-7]+\.svc\.plat\.test$/)

  const page = await browser.context.newPage()
  page.setDefaultTimeout(30_000)
  // The visitor holds C's cookie, from the platform's own page, and the
  // platform's page can use it.
  await page.goto(`${plat}/healthz`)
  const own = await page.evaluate(async ([id, tok]) => {
    const set = await fetch(`/api/v1/instances/${id}/session-cookie`, { method: 'POST', headers: { Authorization: `Bearer ${tok}` } })
    const call = await fetch(`/api/v1/instances/${id}/rpc`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ method: 'listSessions', input: {} }),
    })
    return [set.status, call.status]
  }, [c.instanceId, tokC])
  assert.deepEqual(own, [200, 200], 'the platform\'s own page sets and uses the instance cookie')

  // A's page, on the service domain, tries to run a command in C, with a
  // preflighted request and with a simple one (no preflight).
  await page.goto(`http://${host}:${port}/?token=${tokA}`)
  assert.match(await page.content(), /hello from sbx_/)
  const tries = await page.evaluate(async ([plat, id]) => {
    const out = []
    const body = JSON.stringify({ method: 'execInSandbox', input: { command: 'echo pwned > /workspace/pwned' } })
    for (const type of ['application/json', 'text/plain']) {
      try {
        const r = await fetch(`${plat}/api/v1/instances/${id}/rpc`, { method: 'POST', credentials: 'include', headers: { 'Content-Type': type }, body })
        out.push(`${type}: status ${r.status}`)
      } catch (e) {
        out.push(`${type}: blocked (${e.message})`)
      }
    }
    return out
  }, [plat, c.instanceId])
  for (const t of tries) assert.match(t, /blocked|status 401/, `the page reached instance C: ${t}`)

  // Nothing ran in C.
  const execs = await instanceCall(c.instanceId, tokC, 'listExecs')
  assert.ok(execs.ok, JSON.stringify(execs))
  assert.equal(execs.value.total, 0, `commands ran in C: ${JSON.stringify(execs.value)}`)
  await page.close()
})
