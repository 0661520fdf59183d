// The instance view: the page a backend links a user to, at
// /i/{instanceId}#token=... It trades the token for the instance cookie,
// takes the token out of the URL, and from then on talks to that one
// instance with the cookie.
import {
  createInstanceClient,
  RoostApiError,
  type InstanceClient,
  type InstanceExecInSandboxOutputFull,
  type InstanceGetStatusOutput,
  type ExecSummary,
  type PublishSessionOutput,
} from '../../clients/typescript/src/index.js'
import { ago, badge, busy, card, describe, errorSlot, h, header, short, swap, when } from './dom.js'

const POLL_MS = 2000
const LIVE = new Set(['creating', 'running', 'paused'])

interface ChatLine {
  dir: 'in' | 'out' | 'note'
  text: string
  at: Date
}

interface ChatState {
  ws: WebSocket | null
  state: 'connecting' | 'open' | 'closed'
  lines: ChatLine[]
}

export function instanceView(root: HTMLElement, instanceId: string) {
  // The token is read once and leaves the address bar before anything else
  // happens; the page keeps it in memory only, for service links.
  const fragment = new URLSearchParams(location.hash.slice(1))
  const token = fragment.get('token') ?? undefined
  if (location.hash) history.replaceState(history.state, '', location.pathname + location.search)

  const api: InstanceClient = createInstanceClient({ url: location.origin, instanceId })
  document.title = 'Instance · roost'

  let status: InstanceGetStatusOutput | null = null
  let sandboxId: string | null = null
  let selected: string | null = null
  let stopped = false
  // What was last drawn, so that a poll redraws only what changed.
  let shownSessions = ''
  let shownEvents = ''
  let shownPresets = ''
  const publishResults = new Map<string, { ok: boolean; text: string }>()
  const chats = new Map<string, ChatState>()
  const serviceLinks = new Map<string, { serviceType: string; port: number; url: string | null; error?: string }[]>()

  // ---- layout -------------------------------------------------------------
  const banner = errorSlot()
  banner.el.classList.add('banner')
  const title = h('h1', { class: 'title', id: 'inst-title', text: 'Instance' })
  const badges = h('div', { class: 'badges' })
  const meta = h('dl', { class: 'meta' })
  const controlsErr = errorSlot()
  const btnStart = h('button', { type: 'button', class: 'btn', text: 'Start sandbox', onclick: () => act(btnStart, () => ensure()) })
  const btnPause = h('button', { type: 'button', class: 'btn', text: 'Pause', onclick: () => act(btnPause, () => api.call('pauseSandbox', { sandboxId: need() })) })
  const btnResume = h('button', { type: 'button', class: 'btn', text: 'Resume', onclick: () => act(btnResume, () => api.call('resumeSandbox', {})) })
  const btnRestart = h('button', { type: 'button', class: 'btn', text: 'Restart agent', onclick: () => act(btnRestart, () => api.call('restartAgent', { sandboxId: need() })) })
  const btnTerminate = h('button', {
    type: 'button',
    class: 'btn btn-danger',
    text: 'Terminate',
    onclick: () => {
      if (!confirm('Terminate this sandbox? Its processes stop; /workspace is kept only until the sandbox is removed.')) return
      void act(btnTerminate, () => api.call('terminateSandbox', { sandboxId: need() }))
    },
  })
  const controls = h('div', { class: 'controls', role: 'group', 'aria-label': 'Sandbox controls' }, btnStart, btnPause, btnResume, btnRestart, btnTerminate)

  const hero = h(
    'section',
    { class: 'card hero', 'aria-labelledby': 'inst-title' },
    h('div', { class: 'hero-head' }, title, badges),
    meta,
    controls,
    controlsErr.el,
  )

  // Sessions
  const presetSelect = h('select', { id: 'preset', name: 'preset', 'aria-describedby': 'preset-about' })
  const presetAbout = h('p', { class: 'hint', id: 'preset-about' })
  const describePreset = () => {
    const p = status?.presets.find((x) => x.id === presetSelect.value)
    presetAbout.textContent = p?.description ?? ''
    presetAbout.hidden = !p?.description
  }
  presetSelect.addEventListener('change', describePreset)
  const sessionsErr = errorSlot()
  const sessionList = h('div', { class: 'sessions', id: 'session-list' })
  const createBtn = h('button', { type: 'submit', class: 'btn btn-primary', text: 'Create session' })
  const sessionsCard = card(
    'Sessions',
    'sessions-h',
    h(
      'form',
      {
        class: 'row',
        onsubmit: (e: Event) => {
          e.preventDefault()
          void busy(createBtn, sessionsErr, async () => {
            const out = await api.call('createSession', { presetId: presetSelect.value })
            await refresh()
            select(out.sessionId)
          })
        },
      },
      h('label', { for: 'preset', text: 'Preset' }),
      presetSelect,
      createBtn,
    ),
    presetAbout,
    sessionsErr.el,
    sessionList,
  )

  // Chat
  const chatHead = h('p', { class: 'muted', text: 'Choose a session to chat with its agent.' })
  const chatLog = h('div', { class: 'chat-log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Messages', tabindex: '0' })
  const chatInput = h('input', { id: 'chat-input', type: 'text', autocomplete: 'off', placeholder: 'Write a message', disabled: true })
  const chatSend = h('button', { type: 'submit', class: 'btn btn-primary', text: 'Send', disabled: true })
  const chatErr = errorSlot()
  const chatCard = card(
    'Chat',
    'chat-h',
    chatHead,
    chatLog,
    h(
      'form',
      { class: 'row', onsubmit: (e: Event) => (e.preventDefault(), send()) },
      h('label', { for: 'chat-input', class: 'sr-only', text: 'Message' }),
      chatInput,
      chatSend,
    ),
    chatErr.el,
  )

  // Services
  const servicesBody = h('div', { class: 'services' })
  const servicesErr = errorSlot()
  const portInput = h('input', { id: 'port', type: 'number', min: '1', max: '65535', inputmode: 'numeric', placeholder: '8080', class: 'narrow' })
  const portBtn = h('button', { type: 'submit', class: 'btn', text: 'Get link' })
  const servicesCard = card(
    'Services',
    'services-h',
    servicesBody,
    h(
      'form',
      {
        class: 'row',
        onsubmit: (e: Event) => {
          e.preventDefault()
          if (!selected || !portInput.value) return
          const sid = selected
          void busy(portBtn, servicesErr, async () => {
            const out = await api.call('getServiceUrl', { sessionId: sid, serviceType: `port:${portInput.value}` })
            const list = serviceLinks.get(sid) ?? []
            list.push({ serviceType: `port:${portInput.value}`, port: Number(portInput.value), url: out.url })
            serviceLinks.set(sid, list)
            renderServices()
          })
        },
      },
      h('label', { for: 'port', text: 'Any port' }),
      portInput,
      portBtn,
    ),
    servicesErr.el,
  )

  // Command
  const cmdInput = h('input', { id: 'cmd', type: 'text', autocomplete: 'off', spellcheck: 'false', class: 'mono', placeholder: 'ls -la /workspace' })
  const cmdRun = h('button', { type: 'submit', class: 'btn btn-primary', text: 'Run' })
  const cmdErr = errorSlot()
  const cmdResult = h('div', { class: 'exec-result', 'aria-live': 'polite' })
  const execList = h('ol', { class: 'exec-list', 'aria-label': 'Recent commands' })
  const cmdHistory: string[] = []
  let histPos = -1
  let draft = ''
  cmdInput.addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowUp' && e.key !== 'ArrowDown') return
    if (cmdHistory.length === 0) return
    e.preventDefault()
    if (histPos === -1) draft = cmdInput.value
    if (e.key === 'ArrowUp') histPos = histPos === -1 ? cmdHistory.length - 1 : Math.max(0, histPos - 1)
    else histPos = histPos === -1 || histPos >= cmdHistory.length - 1 ? -1 : histPos + 1
    cmdInput.value = histPos === -1 ? draft : cmdHistory[histPos]
    cmdInput.setSelectionRange(cmdInput.value.length, cmdInput.value.length)
  })
  const commandCard = card(
    'Command',
    'cmd-h',
    h(
      'form',
      { class: 'row', onsubmit: (e: Event) => (e.preventDefault(), run()) },
      h('label', { for: 'cmd', class: 'sr-only', text: 'Command' }),
      h('span', { class: 'prompt', 'aria-hidden': 'true', text: '$' }),
      cmdInput,
      cmdRun,
    ),
    h('p', { class: 'hint', text: 'Runs in /workspace as the sandbox user. ↑ and ↓ recall earlier commands.' }),
    cmdErr.el,
    cmdResult,
    h('h3', { text: 'History' }),
    execList,
  )

  // Logs
  const follow = h('input', { id: 'follow', type: 'checkbox', checked: true })
  const logsPre = h('pre', { class: 'logs', role: 'log', 'aria-label': 'Agent log', tabindex: '0', text: '' })
  const logsErr = errorSlot()
  const logsRefresh = h('button', { type: 'button', class: 'btn', text: 'Refresh', onclick: () => void loadLogs(logsRefresh) })
  const logsCard = card(
    'Agent logs',
    'logs-h',
    h('div', { class: 'row' }, h('label', { class: 'check' }, follow, ' Follow'), logsRefresh),
    logsErr.el,
    logsPre,
  )
  follow.addEventListener('change', () => {
    if (follow.checked) void loadLogs(null)
  })

  // Lifecycle
  const eventsList = h('ol', { class: 'events', 'aria-label': 'Lifecycle events, newest first' })
  const eventsCard = card('Lifecycle', 'events-h', eventsList)

  swap(
    root,
    header('Instance', h('span', { class: 'live', id: 'live', title: 'Status refreshes every 2 seconds' }, h('span', { class: 'dot' }), 'live')),
    h(
      'main',
      { class: 'page instance' },
      banner.el,
      hero,
      h('div', { class: 'grid' }, h('div', { class: 'col' }, sessionsCard, chatCard, servicesCard), h('div', { class: 'col' }, commandCard, logsCard, eventsCard)),
    ),
  )

  // ---- behaviour ----------------------------------------------------------
  function need(): string {
    if (!sandboxId) throw new Error('This instance has no sandbox yet. Start one first.')
    return sandboxId
  }

  async function act(button: HTMLButtonElement, fn: () => Promise<unknown>) {
    await busy(button, controlsErr, async () => {
      await fn()
      await refresh()
    })
    // busy re-enabled the button; the sandbox's state decides.
    render()
  }

  async function ensure() {
    const out = await api.call('ensureSandbox', {})
    sandboxId = out.sandboxId
  }

  async function start() {
    if (token) {
      try {
        // Only this one call carries the token; the cookie does the rest.
        await createInstanceClient({ url: location.origin, instanceId, token }).exchangeCookie()
      } catch (err) {
        fatal(err)
        return
      }
    }
    try {
      await refresh()
    } catch (err) {
      fatal(err)
      return
    }
    const first = status?.sessions.find((s) => s.status === 'active') ?? status?.sessions[0]
    if (first) select(first.id)
    void loadExecs()
    void loadLogs(null)
    poll()
    logLoop()
  }

  function fatal(err: unknown) {
    stopped = true
    document.getElementById('live')?.classList.add('off')
    let text = describe(err)
    if (err instanceof RoostApiError && (err.type === 'unauthorized' || err.type === 'not_found')) {
      text += token
        ? ' The link may have expired or belong to another instance: ask the app that sent you here for a new one.'
        : ' Open this page from a link that carries an instance token (/i/{instanceId}#token=...).'
    }
    banner.el.textContent = text
    banner.el.hidden = false
    hero.classList.add('dim')
  }

  async function refresh() {
    const st = await api.call('getInstanceStatus', {})
    status = st
    const sb = st.sandbox
    sandboxId = sb && sb.e2bId && LIVE.has(sb.state) ? sb.e2bId : null
    render()
  }

  function poll() {
    const tick = async () => {
      if (stopped) return
      if (!document.hidden) {
        try {
          await refresh()
          banner.el.hidden = true
        } catch (err) {
          if (err instanceof RoostApiError && (err.status === 401 || err.status === 404)) {
            fatal(err)
            return
          }
          banner.el.textContent = describe(err) + ' Retrying…'
          banner.el.hidden = false
        }
      }
      setTimeout(tick, POLL_MS)
    }
    setTimeout(tick, POLL_MS)
  }

  function render() {
    if (!status) return
    const st = status
    title.textContent = st.name || st.instanceId
    document.title = `${st.name || st.instanceId} · roost`
    const sstate = st.sandbox?.state ?? 'none'
    swap(badges, badge(st.status), h('span', { class: 'badge-label' }, 'sandbox ', badge(sstate)))
    swap(
      meta,
      h('div', null, h('dt', { text: 'Instance' }), h('dd', { class: 'mono', text: st.instanceId })),
      h('div', null, h('dt', { text: 'Sandbox' }), h('dd', { class: 'mono', text: st.sandbox?.e2bId ?? '—' })),
      h('div', null, h('dt', { text: 'Last activity' }), h('dd', null, when(st.sandbox?.lastActivityAt))),
    )
    const live = sandboxId !== null
    btnStart.hidden = live
    btnPause.disabled = sstate !== 'running'
    btnResume.disabled = sstate !== 'paused'
    btnRestart.disabled = sstate !== 'running'
    btnTerminate.disabled = !live

    // Presets: rebuilt only when they change, so an open select stays put.
    const presetKey = JSON.stringify(st.presets)
    if (shownPresets !== presetKey) {
      shownPresets = presetKey
      swap(presetSelect, st.presets.map((p) => h('option', { value: p.id, text: p.name })))
      createBtn.disabled = st.presets.length === 0
      if (st.presets.length === 0) swap(presetSelect, h('option', { value: '', text: 'This bundle has no presets' }))
      describePreset()
    }
    renderSessions()
    renderEvents()
  }

  function renderSessions() {
    if (!status) return
    const sessions = [...status.sessions].sort((a, b) => b.createdAt.localeCompare(a.createdAt))
    const key = JSON.stringify([sessions, selected, [...publishResults]])
    if (shownSessions === key) return
    shownSessions = key
    if (sessions.length === 0) {
      swap(sessionList, h('p', { class: 'muted', text: 'No sessions yet. Create one with a preset.' }))
      return
    }
    swap(
      sessionList,
      h(
        'ul',
        { class: 'session-list' },
        sessions.map((s) => {
          const res = publishResults.get(s.id)
          const pub = h('button', { type: 'button', class: 'btn btn-small', key: `pub-${s.id}`, text: 'Publish' })
          pub.addEventListener('click', () => void publish(s.id, pub))
          return h(
            'li',
            { class: s.id === selected ? 'session selected' : 'session', 'data-session': s.id },
            h(
              'div',
              { class: 'session-main' },
              h(
                'button',
                {
                  type: 'button',
                  class: 'link-btn',
                  key: `sel-${s.id}`,
                  'aria-pressed': String(s.id === selected),
                  title: 'Chat with this session',
                  onclick: () => select(s.id),
                },
                h('span', { class: 'mono', text: s.id }),
              ),
              h('span', { class: 'session-info' }, badge(s.status), ' ', s.presetId ?? 'no preset', ' · ', when(s.createdAt)),
            ),
            h('div', { class: 'session-actions' }, pub),
            res
              ? h('p', { class: res.ok ? 'publish ok' : 'publish failed', role: 'status' }, res.text)
              : null,
          )
        }),
      ),
    )
  }

  async function publish(sessionId: string, button: HTMLButtonElement) {
    await busy(button, sessionsErr, async () => {
      let out: PublishSessionOutput
      try {
        out = await api.call('publishSession', { sessionId })
      } catch (err) {
        publishResults.set(sessionId, { ok: false, text: 'Publish failed: ' + describe(err) })
        renderSessions()
        return
      }
      if (out.ok && out.commitSha) {
        publishResults.set(sessionId, {
          ok: true,
          text: `Published commit ${out.commitSha}${out.pushed ? ' (pushed)' : ''} on branch session/${sessionId}`,
        })
      } else {
        publishResults.set(sessionId, { ok: false, text: 'Publish failed: ' + (out.error ?? 'the server gave no reason') })
      }
      renderSessions()
    })
  }

  function renderEvents() {
    if (!status) return
    const events = [...status.lifecycleEvents].reverse().slice(0, 50)
    const key = JSON.stringify(events)
    if (shownEvents === key) return
    shownEvents = key
    swap(
      eventsList,
      events.map((e) =>
        h('li', null, h('span', { class: 'event-name', text: e.event.replace(/_/g, ' ') }), when(e.createdAt), e.detail ? h('span', { class: 'event-detail', text: e.detail }) : null),
      ),
    )
  }

  // ---- sessions: chat and services ----------------------------------------
  function select(sessionId: string) {
    if (selected === sessionId) return
    selected = sessionId
    renderSessions()
    chatErr.clear()
    const c = chats.get(sessionId)
    if (!c || c.state === 'closed') void connect(sessionId)
    renderChat()
    void loadServices(sessionId)
  }

  async function connect(sessionId: string) {
    const c: ChatState = chats.get(sessionId) ?? { ws: null, state: 'connecting', lines: [] }
    c.state = 'connecting'
    chats.set(sessionId, c)
    renderChat()
    try {
      const { wsToken } = await api.call('getSessionToken', { sessionId })
      const ws = api.openSession(sessionId, wsToken)
      c.ws = ws
      ws.onopen = () => {
        c.state = 'open'
        renderChat()
      }
      ws.onmessage = (ev) => {
        const text = typeof ev.data === 'string' ? ev.data : `[binary message, ${(ev.data as Blob).size ?? 0} bytes]`
        c.lines.push({ dir: 'in', text, at: new Date() })
        renderChat()
      }
      ws.onclose = (ev) => {
        if (c.ws !== ws) return
        c.state = 'closed'
        c.lines.push({ dir: 'note', text: `Connection closed${ev.code ? ` (code ${ev.code}${ev.reason ? `: ${ev.reason}` : ''})` : ''}.`, at: new Date() })
        renderChat()
      }
    } catch (err) {
      c.state = 'closed'
      if (sessionId === selected) chatErr.show(err)
      renderChat()
    }
  }

  function send() {
    if (!selected) return
    const c = chats.get(selected)
    const text = chatInput.value
    if (!c || !c.ws || c.state !== 'open' || text === '') return
    c.ws.send(text)
    c.lines.push({ dir: 'out', text, at: new Date() })
    chatInput.value = ''
    renderChat()
  }

  function renderChat() {
    if (!selected) return
    const c = chats.get(selected)
    const state = c?.state ?? 'closed'
    const label = state === 'open' ? 'connected' : state === 'connecting' ? 'connecting…' : 'disconnected'
    const sid = selected
    swap(
      chatHead,
      h('span', { class: 'mono', text: short(sid, 20) }),
      ' ',
      h('span', { class: `conn conn-${state}`, text: label }),
      state === 'closed'
        ? h('button', { type: 'button', class: 'btn btn-small', key: 'reconnect', text: 'Reconnect', onclick: () => void connect(sid) })
        : null,
    )
    chatHead.classList.remove('muted')
    chatInput.disabled = state !== 'open'
    chatSend.disabled = state !== 'open'
    const lines = c?.lines ?? []
    swap(
      chatLog,
      lines.length === 0 ? h('p', { class: 'muted', text: 'No messages yet.' }) : null,
      lines.map((l) =>
        h('div', { class: `msg msg-${l.dir}` }, h('span', { class: 'sr-only', text: l.dir === 'in' ? 'Agent: ' : l.dir === 'out' ? 'You: ' : '' }), l.text),
      ),
    )
    chatLog.scrollTop = chatLog.scrollHeight
  }

  async function loadServices(sessionId: string) {
    servicesErr.clear()
    if (!serviceLinks.has(sessionId)) {
      swap(servicesBody, h('p', { class: 'muted', text: 'Loading…' }))
      try {
        const { services } = await api.call('getServiceUrls', { sessionId })
        const links = await Promise.all(
          services.map(async (s) => {
            try {
              const { url } = await api.call('getServiceUrl', { sessionId, serviceType: s.serviceType })
              return { serviceType: s.serviceType, port: s.port, url }
            } catch (err) {
              return { serviceType: s.serviceType, port: s.port, url: null, error: describe(err) }
            }
          }),
        )
        serviceLinks.set(sessionId, links)
      } catch (err) {
        servicesErr.show(err)
        swap(servicesBody)
        return
      }
    }
    if (sessionId === selected) renderServices()
  }

  function renderServices() {
    if (!selected) return
    const links = serviceLinks.get(selected) ?? []
    swap(
      servicesBody,
      links.length === 0 ? h('p', { class: 'muted', text: 'The bundle declares no services.' }) : null,
      links.length
        ? h(
            'ul',
            { class: 'service-list' },
            links.map((l) => {
              if (!l.url) return h('li', null, h('strong', { text: l.serviceType }), ' ', h('span', { class: 'error', text: l.error ?? 'no URL' }))
              return h(
                'li',
                null,
                h('a', { href: withToken(l.url), target: '_blank', rel: 'noopener noreferrer', class: 'service-link' }, h('strong', { text: l.serviceType }), ` · port ${l.port}`),
                h('span', { class: 'mono url', text: l.url }),
              )
            }),
          )
        : null,
      links.length
        ? h(
            'p',
            { class: 'hint' },
            token
              ? 'Links carry this page’s instance token for the first visit; the service then keeps its own cookie.'
              : 'A service opens with the instance token (?token=…). This page no longer holds it: open the page again from its link to get links that carry it.',
          )
        : null,
    )
  }

  function withToken(url: string): string {
    if (!token) return url
    const u = new URL(url, location.origin)
    u.searchParams.set('token', token)
    return u.toString()
  }

  // ---- command ------------------------------------------------------------
  async function run() {
    const command = cmdInput.value.trim()
    if (!command) return
    if (cmdHistory[cmdHistory.length - 1] !== command) cmdHistory.push(command)
    histPos = -1
    await busy(cmdRun, cmdErr, async () => {
      swap(cmdResult, h('p', { class: 'muted', text: `Running ${command}…` }))
      let out: InstanceExecInSandboxOutputFull
      try {
        out = await api.call('execInSandbox', { command })
      } catch (err) {
        swap(cmdResult)
        throw err
      }
      cmdInput.value = ''
      showResult(command, out.exitCode, out.durationMs, out.stdout, out.stderr, [
        out.timedOut ? 'timed out' : '',
        out.cancelled ? 'cancelled' : '',
        out.stdoutTruncated || out.stderrTruncated ? 'output truncated' : '',
      ])
      await loadExecs()
    })
  }

  function showResult(command: string, exitCode: number | null, durationMs: number | null, stdout: string, stderr: string, notes: string[]) {
    const ok = exitCode === 0
    swap(
      cmdResult,
      h(
        'div',
        { class: 'result-head' },
        h('code', { class: 'cmd', text: `$ ${command}` }),
        h('span', { class: ok ? 'badge badge-ok' : 'badge badge-bad', 'data-exit': String(exitCode ?? ''), text: exitCode === null ? 'no exit code' : `exit ${exitCode}` }),
        durationMs !== null ? h('span', { class: 'muted', text: `${durationMs} ms` }) : null,
        notes.filter(Boolean).map((n) => h('span', { class: 'badge badge-warn', text: n })),
      ),
      h('pre', { class: 'out stdout', 'aria-label': 'Standard output', text: stdout || '(no output)' }),
      stderr ? h('pre', { class: 'out stderr', 'aria-label': 'Standard error', text: stderr }) : null,
    )
  }

  async function loadExecs() {
    try {
      const { execs } = await api.call('listExecs', { limit: 20 })
      if (cmdHistory.length === 0) for (const e of [...execs].reverse()) if (cmdHistory[cmdHistory.length - 1] !== e.command) cmdHistory.push(e.command)
      renderExecs(execs)
    } catch (err) {
      cmdErr.show(err)
    }
  }

  function renderExecs(execs: ExecSummary[]) {
    if (execs.length === 0) {
      swap(execList, h('li', { class: 'muted', text: 'No commands run yet.' }))
      return
    }
    swap(
      execList,
      execs.map((e) =>
        h(
          'li',
          null,
          h('button', {
            type: 'button',
            class: 'link-btn mono',
            key: `use-${e.execId}`,
            title: 'Put this command in the box',
            text: e.command,
            onclick: () => {
              cmdInput.value = e.command
              cmdInput.focus()
            },
          }),
          h(
            'span',
            { class: 'exec-meta' },
            e.exitCode === null ? badge(e.status) : h('span', { class: e.exitCode === 0 ? 'badge badge-ok' : 'badge badge-bad', text: `exit ${e.exitCode}` }),
            ' ',
            when(e.startedAt),
            ' ',
            h('button', {
              type: 'button',
              class: 'btn btn-small',
              key: `out-${e.execId}`,
              text: 'Output',
              'aria-label': `Show the output of ${e.command}`,
              onclick: (ev: Event) => void showOutput(e, ev.currentTarget as HTMLButtonElement),
            }),
          ),
        ),
      ),
    )
  }

  async function showOutput(e: ExecSummary, button: HTMLButtonElement) {
    await busy(button, cmdErr, async () => {
      const [o, er] = await Promise.all([
        api.call('getExecOutput', { execId: e.execId, stream: 'stdout' }),
        api.call('getExecOutput', { execId: e.execId, stream: 'stderr' }),
      ])
      showResult(e.command, e.exitCode, e.durationMs, o.data, er.data, [o.eof && er.eof ? '' : 'more output on the server'])
    })
  }

  // ---- logs ---------------------------------------------------------------
  async function loadLogs(button: HTMLButtonElement | null) {
    if (!sandboxId) {
      logsPre.textContent = 'No sandbox is running.'
      return
    }
    const id = sandboxId
    await busy(button, logsErr, async () => {
      const out = await api.call('getAgentLogs', { sandboxId: id, lines: 500 })
      const atEnd = logsPre.scrollTop + logsPre.clientHeight >= logsPre.scrollHeight - 8
      if (logsPre.textContent !== out.logs) logsPre.textContent = out.logs || '(the agent has not written anything yet)'
      if (follow.checked || atEnd) logsPre.scrollTop = logsPre.scrollHeight
    })
  }

  function logLoop() {
    const tick = async () => {
      if (stopped) return
      if (follow.checked && !document.hidden) await loadLogs(null)
      setTimeout(tick, POLL_MS)
    }
    setTimeout(tick, POLL_MS)
  }

  // Relative times go stale; refresh them now and then.
  setInterval(() => {
    for (const t of root.querySelectorAll<HTMLTimeElement>('time[datetime]')) t.textContent = ago(new Date(t.dateTime))
  }, 15_000)

  void start()
}
