// The operator view: an admin API key opens the organization's instances,
// nodes, bundles, resources and files. The key lives in sessionStorage for
// this tab only, never in the URL.
import {
  createClient,
  type BundleSummary,
  type GetInstanceOutput,
  type Node as RoostNode,
  type RoostClient,
} from '../../clients/typescript/src/index.js'
import { badge, busy, bytes, card, describe, errorSlot, h, header, short, swap, table, when } from './dom.js'

const KEY = 'roost.apiKey'

type TabId = 'instances' | 'nodes' | 'bundles' | 'files'
const TABS: { id: TabId; label: string }[] = [
  { id: 'instances', label: 'Instances' },
  { id: 'nodes', label: 'Nodes' },
  { id: 'bundles', label: 'Bundles' },
  { id: 'files', label: 'Resources & files' },
]

export function operatorView(root: HTMLElement) {
  document.title = 'Console · roost'
  const key = sessionStorage.getItem(KEY)
  if (key) consoleView(root, key)
  else signIn(root)
}

function signIn(root: HTMLElement, notice?: string) {
  const input = h('input', { id: 'api-key', name: 'apiKey', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, placeholder: 'rk_…', class: 'mono' })
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', text: 'Open console' })
  const err = errorSlot()
  // method=post keeps the key out of the URL even if a script failed.
  const form = h(
    'form',
    {
      method: 'post',
      class: 'card signin',
      'aria-labelledby': 'signin-h',
      onsubmit: (e: Event) => {
        e.preventDefault()
        const k = input.value.trim()
        if (!k) return
        void busy(submit, err, async () => {
          const c = createClient({ url: location.origin, apiKey: k })
          await c.call('instances.list', { limit: 1 })
          sessionStorage.setItem(KEY, k)
          consoleView(root, k)
        })
      },
    },
    h('h1', { id: 'signin-h', text: 'Operator console' }),
    h('p', { class: 'muted', text: 'Enter an admin API key of your organization. It is kept in this tab only and never put in the address bar.' }),
    notice ? h('p', { class: 'error', role: 'alert', text: notice }) : null,
    h('label', { for: 'api-key', text: 'Admin API key' }),
    input,
    h('p', { class: 'hint' }, 'Lost it? ', h('code', { text: 'roost keys create --data DIR --org default --admin' }), ' makes another.'),
    submit,
    err.el,
  )
  swap(root, header('Console'), h('main', { class: 'page narrow-page' }, form))
  input.focus()
}

function consoleView(root: HTMLElement, apiKey: string) {
  const client = createClient({ url: location.origin, apiKey })
  const signOut = h('button', {
    type: 'button',
    class: 'btn btn-small btn-ghost',
    text: 'Sign out',
    onclick: () => {
      sessionStorage.removeItem(KEY)
      signIn(root)
    },
  })
  // A key that stops working (revoked, or another org's) sends the user back to the form.
  const onAuthError = (err: unknown) => {
    if ((err as { status?: number }).status === 401) {
      sessionStorage.removeItem(KEY)
      signIn(root, describe(err))
      return true
    }
    return false
  }

  const tablist = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Console sections' })
  const panels = h('div', { class: 'panels' })
  const built = new Map<TabId, { panel: HTMLElement; show(): void; hide?(): void }>()
  let current: TabId | null = null

  const tabButtons = TABS.map((t) =>
    h('button', {
      type: 'button',
      role: 'tab',
      id: `tab-${t.id}`,
      'aria-controls': `panel-${t.id}`,
      'aria-selected': 'false',
      tabindex: '-1',
      text: t.label,
      onclick: () => open(t.id),
      onkeydown: (e: KeyboardEvent) => {
        const i = TABS.findIndex((x) => x.id === t.id)
        let j = -1
        if (e.key === 'ArrowRight') j = (i + 1) % TABS.length
        else if (e.key === 'ArrowLeft') j = (i - 1 + TABS.length) % TABS.length
        else if (e.key === 'Home') j = 0
        else if (e.key === 'End') j = TABS.length - 1
        if (j < 0) return
        e.preventDefault()
        open(TABS[j].id)
        tabButtons[j].focus()
      },
    }),
  )
  swap(tablist, tabButtons)

  function open(id: TabId) {
    if (current === id) return
    if (current) built.get(current)?.hide?.()
    current = id
    history.replaceState(history.state, '', `${location.pathname}#${id}`)
    TABS.forEach((t, i) => {
      const on = t.id === id
      tabButtons[i].setAttribute('aria-selected', String(on))
      tabButtons[i].tabIndex = on ? 0 : -1
    })
    let tab = built.get(id)
    if (!tab) {
      const make = { instances: instancesTab, nodes: nodesTab, bundles: bundlesTab, files: filesTab }[id]
      tab = make(client, onAuthError)
      tab.panel.id = `panel-${id}`
      tab.panel.setAttribute('role', 'tabpanel')
      tab.panel.setAttribute('aria-labelledby', `tab-${id}`)
      tab.panel.tabIndex = -1
      built.set(id, tab)
      panels.appendChild(tab.panel)
    }
    for (const [tid, t] of built) t.panel.hidden = tid !== id
    tab.show()
  }

  swap(root, header('Console', signOut), h('main', { class: 'page' }, tablist, panels))
  const fromHash = location.hash.slice(1) as TabId
  open(TABS.some((t) => t.id === fromHash) ? fromHash : 'instances')
}

type OnAuthError = (err: unknown) => boolean

/** report shows an error in a slot unless it means the key no longer works. */
function reporter(slot: ReturnType<typeof errorSlot>, onAuthError: OnAuthError) {
  return {
    show(err: unknown) {
      if (!onAuthError(err)) slot.show(err)
    },
    clear: () => slot.clear(),
  }
}

// ---- instances --------------------------------------------------------------

function instancesTab(client: RoostClient, onAuthError: OnAuthError) {
  let limit = 10
  let offset = 0
  let total = 0
  let rows: GetInstanceOutput[] = []
  const slot = errorSlot()
  const err = reporter(slot, onAuthError)
  const search = h('input', { id: 'inst-search', type: 'search', placeholder: 'Name contains…', autocomplete: 'off' })
  const size = h(
    'select',
    { id: 'inst-size' },
    [10, 25, 50, 100].map((n) => h('option', { value: String(n), text: String(n) })),
  )
  const refreshBtn = h('button', { type: 'button', class: 'btn', text: 'Refresh', onclick: () => void load(refreshBtn) })
  const body = h('div', { class: 'table-host' })
  const prev = h('button', { type: 'button', class: 'btn', text: '← Previous', onclick: () => ((offset = Math.max(0, offset - limit)), void load(prev)) })
  const next = h('button', { type: 'button', class: 'btn', text: 'Next →', onclick: () => ((offset += limit), void load(next)) })
  const range = h('span', { class: 'range', 'aria-live': 'polite' })
  search.addEventListener('input', render)
  size.addEventListener('change', () => {
    limit = Number(size.value)
    offset = 0
    void load(null)
  })

  async function load(button: HTMLButtonElement | null) {
    await busy(button, err, async () => {
      const out = await client.instances.list({ limit, offset })
      rows = out.instances
      total = out.total
      if (rows.length === 0 && offset > 0 && total > 0) {
        offset = Math.max(0, Math.floor((total - 1) / limit) * limit)
        return load(null)
      }
      render()
    })
  }

  function render() {
    const q = search.value.trim().toLowerCase()
    const shown = q ? rows.filter((r) => r.name.toLowerCase().includes(q)) : rows
    range.textContent = total === 0 ? 'No instances' : `${offset + 1}–${offset + rows.length} of ${total}` + (q ? ` · ${shown.length} match on this page` : '')
    prev.disabled = offset === 0
    next.disabled = offset + rows.length >= total
    if (shown.length === 0) {
      swap(body, h('p', { class: 'empty', text: q ? 'No instance on this page has that name.' : 'No instances yet. A backend creates them with instances.create.' }))
      return
    }
    swap(
      body,
      table(
        ['Name', 'Status', 'Bundle', 'Template', 'Created', 'Actions'],
        shown.map((r) => {
          const openBtn = h('button', { type: 'button', class: 'btn btn-small', key: `open-${r.instanceId}`, text: 'Open', 'aria-label': `Open instance ${r.name}` })
          openBtn.addEventListener('click', () => void openInstance(r, openBtn))
          const archiveBtn = h('button', {
            type: 'button',
            class: 'btn btn-small btn-danger',
            key: `archive-${r.instanceId}`,
            text: 'Archive',
            'aria-label': `Archive instance ${r.name}`,
            disabled: r.status === 'archived',
          })
          archiveBtn.addEventListener('click', () => void archive(r, archiveBtn))
          return [
            h('span', null, h('strong', { text: r.name }), h('br'), h('span', { class: 'mono muted small', text: r.instanceId })),
            badge(r.status),
            r.bundleSlug || h('span', { class: 'muted', text: '—' }),
            r.templateSlug,
            when(r.createdAt),
            h('span', { class: 'actions' }, openBtn, archiveBtn),
          ]
        }),
        'Instances',
      ),
    )
  }

  async function openInstance(r: GetInstanceOutput, button: HTMLButtonElement) {
    // Open the tab now, while the click still counts as the user's, and
    // send it to the instance once the token exists.
    const w = window.open('', '_blank')
    await busy(button, err, async () => {
      try {
        const { token } = await client.tokens.create({ instanceId: r.instanceId, expiresIn: 3600 })
        const url = `/i/${encodeURIComponent(r.instanceId)}#token=${encodeURIComponent(token)}`
        if (w) {
          w.opener = null
          w.location.href = url
        } else location.assign(url)
      } catch (e) {
        w?.close()
        throw e
      }
    })
  }

  async function archive(r: GetInstanceOutput, button: HTMLButtonElement) {
    if (!confirm(`Archive instance "${r.name}"? Its sandbox is terminated and its tokens stop working. This cannot be undone.`)) return
    await busy(button, err, async () => {
      await client.instances.archive(r.instanceId)
      await load(null)
    })
  }

  const panel = h(
    'div',
    null,
    card(
      'Instances',
      'instances-h',
      h(
        'div',
        { class: 'toolbar' },
        h('div', { class: 'field' }, h('label', { for: 'inst-search', text: 'Search this page by name' }), search),
        h('div', { class: 'field' }, h('label', { for: 'inst-size', text: 'Per page' }), size),
        refreshBtn,
      ),
      slot.el,
      body,
      h('div', { class: 'pager' }, prev, range, next),
    ),
  )
  return { panel, show: () => void load(null) }
}

// ---- nodes ------------------------------------------------------------------

function nodesTab(client: RoostClient, onAuthError: OnAuthError) {
  const slot = errorSlot()
  const err = reporter(slot, onAuthError)
  const body = h('div', { class: 'node-grid' })
  const refreshBtn = h('button', { type: 'button', class: 'btn', text: 'Refresh', onclick: () => void load(refreshBtn) })
  let timer: number | undefined

  async function load(button: HTMLButtonElement | null) {
    await busy(button, err, async () => {
      const { nodes } = await client.call('nodes.list', {})
      render(nodes)
    })
  }

  function render(nodes: RoostNode[]) {
    if (nodes.length === 0) {
      swap(body, h('p', { class: 'empty' }, 'No nodes. ', h('code', { text: 'roost nodes token' }), ' prints a command that adds one.'))
      return
    }
    swap(body, nodes.map(nodeCard))
  }

  const panel = h(
    'div',
    null,
    card(
      'Nodes',
      'nodes-h',
      h('div', { class: 'toolbar' }, h('p', { class: 'muted grow', text: 'Metrics come with each heartbeat; this page refreshes every 5 seconds.' }), refreshBtn),
      slot.el,
      body,
    ),
  )
  return {
    panel,
    show() {
      void load(null)
      clearInterval(timer)
      timer = window.setInterval(() => !document.hidden && void load(null), 5000)
    },
    hide() {
      clearInterval(timer)
    },
  }
}

function meterRow(label: string, frac: number, text: string) {
  const pct = Math.max(0, Math.min(100, Math.round(frac * 100)))
  return h(
    'div',
    { class: 'metric' },
    h('div', { class: 'metric-head' }, h('span', { text: label }), h('span', { class: 'mono', text })),
    h('div', { class: `bar${pct >= 90 ? ' hot' : ''}`, role: 'meter', 'aria-label': label, 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(pct), 'aria-valuetext': text }, h('span', { style: `width:${pct}%` })),
  )
}

function nodeCard(n: RoostNode) {
  const m = n.metrics
  return h(
    'article',
    { class: 'node', 'aria-label': `Node ${n.name}` },
    h('div', { class: 'node-head' }, h('h3', { text: n.name }), badge(n.status)),
    h('p', { class: 'muted small' }, h('span', { class: 'mono', text: n.hostname }), ' · ', n.version, n.labels.length ? ' · ' : '', n.labels.map((l) => h('span', { class: 'tag', text: l }))),
    m
      ? h(
          'div',
          { class: 'metrics' },
          meterRow('CPU', m.cpuUsage, `${(m.cpuUsage * 100).toFixed(0)} %`),
          meterRow('Memory', m.memoryTotalMb ? m.memoryUsedMb / m.memoryTotalMb : 0, `${bytes(m.memoryUsedMb * 1048576)} of ${bytes(m.memoryTotalMb * 1048576)}`),
          h(
            'dl',
            { class: 'facts' },
            h('div', null, h('dt', { text: 'Load (1, 5, 15 min)' }), h('dd', { class: 'mono', text: m.loadAverage.map((x) => x.toFixed(2)).join('  ') })),
            h('div', null, h('dt', { text: 'Running sandboxes' }), h('dd', { class: 'mono', text: String(m.runningSandboxes) })),
            h('div', null, h('dt', { text: 'Disk free' }), h('dd', { class: 'mono', text: bytes(m.diskFreeMb * 1048576) })),
            h('div', null, h('dt', { text: 'Last heartbeat' }), h('dd', null, when(n.lastHeartbeatAt))),
          ),
        )
      : h('p', { class: 'muted' }, 'No metrics yet. Last heartbeat: ', when(n.lastHeartbeatAt)),
  )
}

// ---- bundles ----------------------------------------------------------------

function bundlesTab(client: RoostClient, onAuthError: OnAuthError) {
  const slot = errorSlot()
  const err = reporter(slot, onAuthError)
  const body = h('div', { class: 'bundle-list' })
  const refreshBtn = h('button', { type: 'button', class: 'btn', text: 'Refresh', onclick: () => void load(refreshBtn) })
  const open = new Set<string>()

  async function load(button: HTMLButtonElement | null) {
    await busy(button, err, async () => {
      const { bundles } = await client.call('bundles.list', { limit: 100 })
      if (bundles.length === 0) {
        swap(body, h('p', { class: 'empty' }, 'No bundles. ', h('code', { text: 'roost bundles push DIR --slug NAME' }), ' publishes one.'))
        return
      }
      swap(body, bundles.map(bundleItem))
      for (const slug of open) {
        const b = body.querySelector<HTMLButtonElement>(`[data-key="rev-${CSS.escape(slug)}"]`)
        if (b) void toggle(slug, b, true)
      }
    })
  }

  function bundleItem(b: BundleSummary) {
    const revs = h('div', { class: 'revisions', id: `revs-${b.id}`, hidden: true })
    const btn = h('button', {
      type: 'button',
      class: 'btn btn-small',
      key: `rev-${b.slug}`,
      'aria-expanded': 'false',
      'aria-controls': `revs-${b.id}`,
      text: 'Revisions',
    })
    btn.addEventListener('click', () => void toggle(b.slug, btn))
    return h(
      'article',
      { class: 'bundle', 'data-bundle': b.slug },
      h(
        'div',
        { class: 'bundle-head' },
        h('div', null, h('h3', null, h('span', { class: 'mono', text: b.slug }), b.name ? h('span', { class: 'muted', text: ` · ${b.name}` }) : null), b.description ? h('p', { class: 'muted', text: b.description }) : null),
        h('div', { class: 'bundle-meta' }, b.latestRevision?.version ? h('span', { class: 'tag', text: `v${b.latestRevision.version}` }) : null, when(b.createdAt), btn),
      ),
      revs,
    )
  }

  async function toggle(slug: string, btn: HTMLButtonElement, forceOpen = false) {
    const revs = document.getElementById(btn.getAttribute('aria-controls')!)!
    const expand = forceOpen || btn.getAttribute('aria-expanded') !== 'true'
    btn.setAttribute('aria-expanded', String(expand))
    revs.hidden = !expand
    if (!expand) {
      open.delete(slug)
      return
    }
    open.add(slug)
    const rerr = errorSlot()
    await busy(btn, rerr, async () => {
      swap(revs, h('p', { class: 'muted', text: 'Loading revisions…' }))
      const b = await client.call('bundles.get', { bundleSlug: slug })
      swap(
        revs,
        table(
          ['Version', 'Revision', 'Published', 'SHA-256', 'Presets', 'Services', 'Entrypoint'],
          b.revisions.map((r) => [
            h('strong', { text: r.version }),
            h('span', { class: 'mono small', text: r.id }),
            when(r.createdAt),
            h('span', { class: 'mono small', title: r.sha256, text: short(r.sha256, 12) }),
            r.manifest.presets.map((p) => h('span', { class: 'tag', title: p.description ?? '', text: p.id })),
            r.manifest.services.length ? r.manifest.services.map((s) => h('span', { class: 'tag', text: `${s.serviceType}:${s.port}` })) : h('span', { class: 'muted', text: '—' }),
            h('code', { class: 'small', text: r.manifest.entrypoint.join(' ') }),
          ]),
          `Revisions of ${slug}`,
        ),
      )
    })
    if (!rerr.el.hidden) swap(revs, rerr.el)
  }

  const panel = h('div', null, card('Bundles', 'bundles-h', h('div', { class: 'toolbar' }, h('p', { class: 'muted grow', text: 'Agent code, versioned. Instances run a bundle’s latest revision unless they name one.' }), refreshBtn), slot.el, body))
  return { panel, show: () => void load(null) }
}

// ---- resources and files ----------------------------------------------------

function filesTab(client: RoostClient, onAuthError: OnAuthError) {
  const slot = errorSlot()
  const err = reporter(slot, onAuthError)
  const filesBody = h('div', { class: 'table-host' })
  const resourcesBody = h('div', { class: 'table-host' })
  const uploads = h('ul', { class: 'uploads', 'aria-label': 'Uploads' })
  const limit = 20
  let offset = 0
  let total = 0

  const input = h('input', { id: 'file-input', type: 'file', multiple: true, class: 'visually-hidden' })
  input.addEventListener('change', () => {
    if (input.files) void uploadAll([...input.files])
    input.value = ''
  })
  const drop = h(
    'div',
    { class: 'dropzone', id: 'dropzone' },
    h('span', { class: 'drop-icon', 'aria-hidden': 'true', text: '⇪' }),
    h('p', null, h('strong', { text: 'Drop files here' }), ' or'),
    input,
    h('label', { for: 'file-input', class: 'btn btn-primary', text: 'Choose files…' }),
    h('p', { class: 'hint', text: 'Each file is streamed to the store; uploads can be large.' }),
  )
  let depth = 0
  drop.addEventListener('dragenter', (e) => {
    e.preventDefault()
    depth++
    drop.classList.add('over')
  })
  drop.addEventListener('dragover', (e) => {
    e.preventDefault()
    if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy'
  })
  drop.addEventListener('dragleave', () => {
    if (--depth <= 0) {
      depth = 0
      drop.classList.remove('over')
    }
  })
  drop.addEventListener('drop', (e) => {
    e.preventDefault()
    depth = 0
    drop.classList.remove('over')
    const files = [...(e.dataTransfer?.files ?? [])]
    if (files.length) void uploadAll(files)
  })

  async function uploadAll(files: File[]) {
    await Promise.all(files.map(uploadOne))
    await loadFiles()
  }

  async function uploadOne(file: File) {
    const bar = h('progress', { max: '100', value: '0', 'aria-label': `Upload of ${file.name}` })
    const pct = h('span', { class: 'mono pct', text: '0 %' })
    const state = h('span', { class: 'upload-state', text: 'Uploading…' })
    const li = h('li', { class: 'upload', 'data-file': file.name }, h('div', { class: 'upload-head' }, h('strong', { text: file.name }), h('span', { class: 'muted', text: bytes(file.size) })), h('div', { class: 'upload-bar' }, bar, pct), state)
    uploads.prepend(li)
    try {
      const out = await client.files.upload(file, {
        onProgress(loaded, t) {
          const p = Math.round((loaded / (t || file.size || 1)) * 100)
          bar.value = Math.min(p, 100)
          pct.textContent = `${Math.min(p, 100)} %`
        },
      })
      bar.value = 100
      pct.textContent = '100 %'
      li.classList.add('done')
      state.replaceChildren('Uploaded as ', h('span', { class: 'mono', text: out.fileId }))
    } catch (e) {
      li.classList.add('failed')
      if (!onAuthError(e)) {
        state.className = 'upload-state error'
        state.setAttribute('role', 'alert')
        state.textContent = 'Upload failed: ' + describe(e)
      }
    }
  }

  const prev = h('button', { type: 'button', class: 'btn', text: '← Previous', onclick: () => ((offset = Math.max(0, offset - limit)), void loadFiles()) })
  const next = h('button', { type: 'button', class: 'btn', text: 'Next →', onclick: () => ((offset += limit), void loadFiles()) })
  const range = h('span', { class: 'range', 'aria-live': 'polite' })

  async function loadFiles() {
    await busy(null, err, async () => {
      const out = await client.call('files.list', { limit, offset })
      total = out.total
      range.textContent = total === 0 ? 'No files' : `${offset + 1}–${offset + out.files.length} of ${total}`
      prev.disabled = offset === 0
      next.disabled = offset + out.files.length >= total
      if (out.files.length === 0) {
        swap(filesBody, h('p', { class: 'empty', text: 'No files yet. Upload one above.' }))
        return
      }
      swap(
        filesBody,
        table(
          ['Name', 'Size', 'Type', 'Uploaded', 'File id', 'SHA-256'],
          out.files.map((f) => [
            h('strong', { class: 'filename', text: f.filename }),
            bytes(f.size),
            h('span', { class: 'small', text: f.mimeType }),
            when(f.createdAt),
            h('span', { class: 'mono small', text: f.id }),
            h('span', { class: 'mono small', title: f.sha256, text: short(f.sha256, 12) }),
          ]),
          'Files',
        ),
      )
    })
  }

  async function loadResources() {
    await busy(null, err, async () => {
      const { resources } = await client.call('resources.list', { limit: 100 })
      if (resources.length === 0) {
        swap(resourcesBody, h('p', { class: 'empty', text: 'No resources. resources.create makes one from an uploaded file; sessions can start with it.' }))
        return
      }
      swap(
        resourcesBody,
        table(
          ['Slug', 'Name', 'Latest revision', 'File', 'Size', 'Updated'],
          resources.map((r) => [
            h('strong', { class: 'mono', text: r.slug }),
            r.name ?? h('span', { class: 'muted', text: '—' }),
            r.latestRevision ? h('span', null, r.latestRevision.label ? h('span', { class: 'tag', text: r.latestRevision.label }) : null, ' ', h('span', { class: 'mono small', text: r.latestRevision.id })) : '—',
            r.latestRevision?.file.filename ?? '—',
            r.latestRevision ? bytes(r.latestRevision.file.size) : '—',
            when(r.latestRevision?.createdAt ?? r.createdAt),
          ]),
          'Resources',
        ),
      )
    })
  }

  const panel = h(
    'div',
    { class: 'stack-cards' },
    card('Upload', 'upload-h', drop, uploads),
    slot.el,
    card('Files', 'files-h', filesBody, h('div', { class: 'pager' }, prev, range, next)),
    card('Resources', 'resources-h', resourcesBody),
  )
  return { panel, show: () => void Promise.all([loadFiles(), loadResources()]) }
}
