// The console in headless Chromium against a live roost: the instance view
// a backend links to, and the operator view with an upload. Screenshots of
// both go to docs/screenshots.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { checkServedConsole, repo, rpcWith, startServer } from './server.mjs'
import { launch, missingBrowser } from './browser.mjs'

const skip = missingBrowser() || false
if (skip) console.log(`# skipping the browser tests: ${skip}`)

// ROOST_SCREENSHOTS sends the pictures elsewhere (they change each run).
const shots = process.env.ROOST_SCREENSHOTS ?? join(repo, 'docs', 'screenshots')
const WAIT = 30_000

let srv
let browser
let rpc

before(async () => {
  if (skip) return
  srv = await startServer()
  rpc = rpcWith(srv.url, srv.apiKey)
  await checkServedConsole(srv.url)
  browser = await launch()
  mkdirSync(shots, { recursive: true })
})

after(async () => {
  await browser?.close()
  await srv?.stop()
})

/** A page that fails the test on any script error and answers confirm() dialogs with yes. */
async function newPage(errors) {
  const page = await browser.context.newPage()
  page.setDefaultTimeout(WAIT)
  page.on('pageerror', (err) => errors.push(err.message))
  page.on('dialog', (d) => d.accept())
  return page
}

async function screenshot(page, name, width) {
  const old = page.viewportSize()
  await page.setViewportSize({ width, height: 900 })
  // No focus ring or caret in the pictures; let the layout settle at the new width.
  await page.evaluate(() => document.activeElement?.blur?.())
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))
  await page.screenshot({ path: join(shots, name), fullPage: true })
  await page.setViewportSize(old)
}

test('instance view: token to cookie, status, commands, pause and resume, logs, sessions, chat, publish, services', { skip, timeout: 240_000 }, async () => {
  const inst = await rpc('instances.create', {
    templateSlug: 'default',
    name: 'browser-test',
    bundleSlug: 'echo',
    vcsType: 'gitLocal',
    autoCreateSession: { presetId: 'chat', blocking: true },
  })
  assert.ok(inst.sessionId)
  const { token } = await rpc('tokens.create', { instanceId: inst.instanceId, expiresIn: 3600 })

  const errors = []
  const page = await newPage(errors)
  // Record what credentials each instance RPC call carried.
  const calls = []
  page.on('request', (req) => {
    const u = new URL(req.url())
    if (u.pathname.startsWith(`/api/v1/instances/${inst.instanceId}/`)) {
      calls.push({ path: u.pathname, method: req.postDataJSON?.()?.method, auth: req.headers()['authorization'] ?? '' })
    }
  })

  await page.goto(`${srv.url}/i/${inst.instanceId}#token=${token}`)

  // The token leaves the address bar, and the page carries on with the cookie.
  await page.waitForFunction(() => location.hash === '')
  assert.equal(page.url(), `${srv.url}/i/${inst.instanceId}`)
  assert.ok(!page.url().includes(token))

  // Status reaches ready; the name shows.
  await page.locator('#inst-title', { hasText: 'browser-test' }).waitFor()
  await page.locator('.badges .badge', { hasText: /^ready$/ }).waitFor()
  await page.locator('.badges .badge', { hasText: /^running$/ }).waitFor()
  await page.locator('.events .event-name', { hasText: 'ready' }).first().waitFor()

  const exchange = calls.find((c) => c.path.endsWith('/session-cookie'))
  assert.ok(exchange, 'the page traded the token for the cookie')
  assert.equal(exchange.auth, `Bearer ${token}`)
  const rpcs = calls.filter((c) => c.path.endsWith('/rpc'))
  assert.ok(rpcs.length > 0)
  for (const c of rpcs) assert.equal(c.auth, '', `instance RPC ${c.method} sent an Authorization header`)

  // A command with both streams and a failing exit code, then one that succeeds.
  const cmd = page.locator('#cmd')
  await cmd.fill('echo hello-from-browser; echo to-stderr >&2; exit 3')
  await cmd.press('Enter')
  await page.locator('.exec-result pre.stdout', { hasText: 'hello-from-browser' }).waitFor()
  await page.locator('.exec-result pre.stderr', { hasText: 'to-stderr' }).waitFor()
  await page.locator('.exec-result [data-exit="3"]', { hasText: 'exit 3' }).waitFor()
  await cmd.fill('pwd; echo hi > hello.txt')
  await page.getByRole('button', { name: 'Run', exact: true }).click()
  await page.locator('.exec-result pre.stdout', { hasText: '/workspace' }).waitFor()
  await page.locator('.exec-result [data-exit="0"]').waitFor()
  // History lists both; the up arrow recalls them, newest first.
  await page.locator('.exec-list li').nth(1).waitFor()
  assert.equal(await cmd.inputValue(), '')
  await cmd.press('ArrowUp')
  assert.equal(await cmd.inputValue(), 'pwd; echo hi > hello.txt')
  await cmd.press('ArrowUp')
  assert.equal(await cmd.inputValue(), 'echo hello-from-browser; echo to-stderr >&2; exit 3')
  await cmd.press('ArrowDown')
  await cmd.press('ArrowDown')
  assert.equal(await cmd.inputValue(), '')
  // The keyboard reaches the Run button, and its focus shows.
  await cmd.press('Tab')
  const focused = await page.evaluate(() => {
    const el = document.activeElement
    const st = getComputedStyle(el)
    return { text: el.textContent, outline: st.outlineStyle, width: st.outlineWidth }
  })
  assert.equal(focused.text, 'Run')
  assert.notEqual(focused.outline, 'none')
  assert.notEqual(focused.width, '0px')

  // The agent's log shows its lines.
  await page.locator('pre.logs', { hasText: 'test agent starting' }).waitFor()

  // Pause, then resume.
  await page.getByRole('button', { name: 'Pause', exact: true }).click()
  await page.locator('.badges .badge', { hasText: /^paused$/ }).waitFor()
  assert.equal(await page.getByRole('button', { name: 'Pause', exact: true }).isDisabled(), true)
  await page.getByRole('button', { name: 'Resume', exact: true }).click()
  await page.locator('.badges .badge', { hasText: /^running$/ }).waitFor()
  await page.locator('.events .event-name', { hasText: 'sandbox paused' }).first().waitFor()

  // The session made with the instance is selected and its chat connects.
  const first = page.locator(`li.session[data-session="${inst.sessionId}"]`)
  await first.waitFor()
  await page.locator('.conn-open').waitFor()
  await page.locator('#chat-input').fill('hello agent')
  await page.locator('#chat-input').press('Enter')
  await page.locator('.chat-log .msg-out', { hasText: 'hello agent' }).waitFor()
  await page.locator('.chat-log .msg-in', { hasText: 'echo: hello agent' }).waitFor()

  // A service link for the session, carrying the token for its first visit.
  const link = page.locator('a.service-link').first()
  await link.waitFor()
  const href = await link.getAttribute('href')
  assert.match(href, /\/s\/[a-z2-7]+\/\?token=/)
  const pageRes = await page.request.get(href)
  assert.equal(pageRes.status(), 200)
  assert.match(await pageRes.text(), /hello from sbx_/)

  // Publishing shows the commit.
  await first.getByRole('button', { name: 'Publish' }).click()
  const published = first.locator('.publish.ok')
  await published.waitFor()
  assert.match(await published.textContent(), /Published commit [0-9a-f]{40}/)

  await screenshot(page, 'instance-desktop.png', 1280)
  await screenshot(page, 'instance-narrow.png', 390)

  // A new session with the preset: listed, selected, and chatting.
  await page.locator('#preset').selectOption('chat')
  await page.getByRole('button', { name: 'Create session' }).click()
  // The new session is listed and becomes the selected one.
  const second = page.locator(`li.session.selected:not([data-session="${inst.sessionId}"])`)
  await second.waitFor()
  assert.equal(await page.locator('li.session').count(), 2)
  await page.locator('.conn-open').waitFor()
  await page.locator('#chat-input').fill('second session')
  await page.getByRole('button', { name: 'Send' }).click()
  await page.locator('.chat-log .msg-in', { hasText: 'echo: second session' }).waitFor()
  const sessions = await rpc('sessions.list', { instanceId: inst.instanceId })
  assert.equal(sessions.sessions.length, 2)

  // Restart the agent, then terminate the sandbox; the page offers a new one.
  await page.getByRole('button', { name: 'Restart agent' }).click()
  await page.locator('.events li', { hasText: 'agent started' }).nth(1).waitFor()
  await page.getByRole('button', { name: 'Terminate' }).click()
  await page.locator('.badges .badge', { hasText: /^terminated$/ }).waitFor()
  await page.getByRole('button', { name: 'Start sandbox' }).waitFor()

  // An API error shows its message and type.
  await cmd.fill('true')
  await cmd.press('Enter')
  const err = page.locator('#cmd-h ~ .error')
  await err.waitFor()
  assert.match(await err.textContent(), /\((conflict|not_found|unavailable), HTTP \d+\)/)

  assert.deepEqual(errors, [])
  await page.close()
})

test('instance view without a valid token says what to do', { skip, timeout: 60_000 }, async () => {
  const inst = await rpc('instances.create', { templateSlug: 'default', name: 'no-token' })
  const errors = []
  const page = await newPage(errors)
  await page.goto(`${srv.url}/i/${inst.instanceId}#token=not-a-token`)
  await page.waitForFunction(() => location.hash === '')
  const banner = page.locator('.banner')
  await banner.waitFor()
  assert.match(await banner.textContent(), /unauthorized/)
  assert.match(await banner.textContent(), /new one/)
  assert.deepEqual(errors, [])
  await page.close()
})

test('operator view: sign in, instances, nodes, bundles, upload', { skip, timeout: 180_000 }, async () => {
  // Enough instances for two pages, and one to archive.
  for (let i = 0; i < 11; i++) await rpc('instances.create', { templateSlug: 'default', name: `batch-${String(i).padStart(2, '0')}` })
  await rpc('instances.create', { templateSlug: 'default', name: 'to-archive' })
  const { total } = await rpc('instances.list', { limit: 1 })
  assert.ok(total > 10)

  const errors = []
  const page = await newPage(errors)
  await page.goto(`${srv.url}/`)

  // A wrong key is refused with the API's message and type.
  await page.getByLabel('Admin API key').fill('rk_wrong')
  await page.getByRole('button', { name: 'Open console' }).click()
  const refusal = page.locator('form .error')
  await refusal.waitFor()
  assert.match(await refusal.textContent(), /unauthorized, HTTP 401/)

  await page.getByLabel('Admin API key').fill(srv.apiKey)
  await page.getByLabel('Admin API key').press('Enter')
  await page.getByRole('tab', { name: 'Instances' }).waitFor()
  assert.ok(!page.url().includes(srv.apiKey), 'the key stays out of the URL')
  assert.equal(await page.evaluate(() => sessionStorage.getItem('roost.apiKey')), srv.apiKey)

  // Paging and search.
  const range = page.locator('#panel-instances .range')
  await range.filter({ hasText: `1–10 of ${total}` }).waitFor()
  await screenshot(page, 'console-instances-narrow.png', 390)
  await page.getByRole('button', { name: 'Next →' }).first().click()
  await range.filter({ hasText: `11–${total} of ${total}` }).waitFor()
  await page.getByRole('button', { name: '← Previous' }).first().click()
  await range.filter({ hasText: `1–10 of ${total}` }).waitFor()
  await page.getByLabel('Per page').selectOption('50')
  await range.filter({ hasText: `1–${total} of ${total}` }).waitFor()
  await screenshot(page, 'console-instances-desktop.png', 1280)
  await page.getByLabel('Search this page by name').fill('archive')
  const rows = page.locator('#panel-instances tbody tr')
  await range.filter({ hasText: '1 match on this page' }).waitFor()
  assert.equal(await rows.count(), 1)

  // Archive, confirmed.
  await page.getByRole('button', { name: 'Archive instance to-archive' }).click()
  await rows.first().locator('.badge', { hasText: 'archived' }).waitFor()
  assert.equal((await rpc('instances.list', { limit: 100 })).instances.find((i) => i.name === 'to-archive').status, 'archived')

  // Open an instance: a new tab on its instance view, the token out of its URL.
  await page.getByLabel('Search this page by name').fill('browser-test')
  const [instPage] = await Promise.all([
    browser.context.waitForEvent('page'),
    page.getByRole('button', { name: 'Open instance browser-test' }).click(),
  ])
  await instPage.locator('#inst-title', { hasText: 'browser-test' }).waitFor()
  assert.ok(!instPage.url().includes('#'), 'the opened instance view drops the token from its URL')
  await instPage.close()

  // Nodes with their metrics; tabs move with the arrow keys.
  await page.getByRole('tab', { name: 'Instances' }).focus()
  await page.keyboard.press('ArrowRight')
  assert.equal(await page.getByRole('tab', { name: 'Nodes' }).getAttribute('aria-selected'), 'true')
  const node = page.locator('article.node', { hasText: 'local' })
  await node.waitFor()
  await node.locator('.badge', { hasText: 'online' }).waitFor()
  await node.getByText('Running sandboxes').waitFor()
  await node.getByText('Last heartbeat').waitFor()
  await screenshot(page, 'console-nodes-desktop.png', 1280)

  // Bundles and their revisions.
  await page.getByRole('tab', { name: 'Bundles' }).click()
  const echo = page.locator('article.bundle[data-bundle="echo"]')
  await echo.getByRole('button', { name: 'Revisions' }).click()
  await echo.locator('.revisions td', { hasText: '1.0.0' }).waitFor()
  assert.equal(await echo.getByRole('button', { name: 'Revisions' }).getAttribute('aria-expanded'), 'true')

  // Files: upload through the file input (the keyboard's way) and by a drop.
  await page.getByRole('tab', { name: 'Resources & files' }).click()
  await page.locator('#panel-files .empty', { hasText: 'No files' }).or(page.locator('#panel-files tbody')).first().waitFor()
  const big = Buffer.alloc(3 * 1024 * 1024, 7)
  await page.locator('#file-input').setInputFiles({ name: 'model-weights.bin', mimeType: 'application/octet-stream', buffer: big })
  const up = page.locator('li.upload[data-file="model-weights.bin"]')
  await up.locator('.upload-state', { hasText: /Uploaded as file_/ }).waitFor()
  assert.equal(await up.locator('progress').evaluate((p) => p.value), 100)
  assert.equal((await up.locator('.pct').textContent()).trim(), '100 %')
  await page.locator('#panel-files tbody td', { hasText: 'model-weights.bin' }).waitFor()

  await page.evaluate(() => {
    const dt = new DataTransfer()
    dt.items.add(new File(['dropped by a test\n'], 'dropped.txt', { type: 'text/plain' }))
    const zone = document.getElementById('dropzone')
    zone.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true, cancelable: true }))
    zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }))
    zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }))
  })
  await page.locator('li.upload[data-file="dropped.txt"] .upload-state', { hasText: /Uploaded as file_/ }).waitFor()
  await page.locator('#panel-files tbody td', { hasText: 'dropped.txt' }).waitFor()
  const files = await rpc('files.list', {})
  assert.ok(files.files.some((f) => f.filename === 'model-weights.bin' && f.size === big.length))
  assert.ok(files.files.some((f) => f.filename === 'dropped.txt'))

  // A resource made from the upload is listed.
  const weights = files.files.find((f) => f.filename === 'model-weights.bin')
  await rpc('resources.create', { slug: 'weights', name: 'Weights', fileId: weights.id, label: 'v1' })
  await page.getByRole('tab', { name: 'Bundles' }).click()
  await page.getByRole('tab', { name: 'Resources & files' }).click()
  await page.locator('#panel-files tbody td', { hasText: 'weights' }).first().waitFor()

  await screenshot(page, 'console-files-desktop.png', 1280)
  await screenshot(page, 'console-files-narrow.png', 390)
  await page.getByRole('tab', { name: 'Nodes' }).click()
  await node.waitFor()
  await screenshot(page, 'console-nodes-narrow.png', 390)

  // Signing out forgets the key.
  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.getByLabel('Admin API key').waitFor()
  assert.equal(await page.evaluate(() => sessionStorage.getItem('roost.apiKey')), null)

  assert.deepEqual(errors, [])
  await page.close()
})
