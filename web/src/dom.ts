// A few helpers to build the DOM without a framework: the console is small,
// and every kilobyte the first load saves matters more than JSX.
import { RoostApiError, RoostConnectionError } from '../../clients/typescript/src/index.js'

type Child = Node | string | number | null | undefined | false | Child[]
type Attrs = Record<string, unknown>

/**
 * h builds an element. Attributes named on* become listeners, `class` the
 * class name, `text` the text content, booleans toggle the attribute, and
 * `key` marks the element so that focus survives a re-render (see swap).
 */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2).toLowerCase(), value as EventListener)
    } else if (name === 'class') {
      el.className = String(value)
    } else if (name === 'text') {
      el.textContent = String(value)
    } else if (name === 'key') {
      el.dataset.key = String(value)
    } else if (name === 'value' && 'value' in el) {
      ;(el as HTMLInputElement).value = String(value)
    } else if (value === true) {
      el.setAttribute(name, '')
    } else {
      el.setAttribute(name, String(value))
    }
  }
  append(el, children)
  return el
}

function append(el: Node, children: Child[]) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue
    if (Array.isArray(c)) append(el, c)
    else el.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)))
  }
}

/**
 * swap replaces a container's children, keeping keyboard focus on the
 * element with the same key, so that a live refresh never steals focus.
 */
export function swap(container: Element, ...children: Child[]) {
  const active = document.activeElement as HTMLElement | null
  const key = active && container.contains(active) ? active.dataset.key : undefined
  container.replaceChildren()
  append(container, children)
  if (key) {
    const again = container.querySelector<HTMLElement>(`[data-key="${CSS.escape(key)}"]`)
    again?.focus()
  }
}

/** A sentence for any error: the API's message and type, or why the server could not be reached. */
export function describe(err: unknown): string {
  if (err instanceof RoostApiError) return `${err.message} (${err.type}, HTTP ${err.status})`
  if (err instanceof RoostConnectionError) return `Could not reach roost: ${err.message}`
  if (err instanceof Error) return err.message
  return String(err)
}

/** An alert line that shows an error, or nothing. */
export function errorSlot(): { el: HTMLElement; show(err: unknown): void; clear(): void } {
  const el = h('p', { class: 'error', role: 'alert', hidden: true })
  return {
    el,
    show(err) {
      el.textContent = describe(err)
      el.hidden = false
    },
    clear() {
      el.textContent = ''
      el.hidden = true
    },
  }
}

/** busy disables a button while an action runs, and reports its error. */
export async function busy<T>(button: HTMLButtonElement | null, slot: { show(e: unknown): void; clear(): void } | null, fn: () => Promise<T>): Promise<T | undefined> {
  if (button) {
    button.disabled = true
    button.setAttribute('aria-busy', 'true')
  }
  slot?.clear()
  try {
    return await fn()
  } catch (err) {
    if (slot) slot.show(err)
    else throw err
    return undefined
  } finally {
    if (button) {
      button.disabled = false
      button.removeAttribute('aria-busy')
    }
  }
}

export function card(title: string, id: string, ...children: Child[]): HTMLElement {
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id, text: title }), ...children)
}

export function badge(text: string, extra = ''): HTMLElement {
  return h('span', { class: `badge badge-${text.replace(/[^a-z_]/gi, '')} ${extra}`.trim(), text })
}

const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' })

/** "3 minutes ago", with the exact time in the title. */
export function when(t: string | number | null | undefined): HTMLElement {
  if (t === null || t === undefined || t === '') return h('span', { class: 'muted', text: '—' })
  const d = new Date(t)
  return h('time', { datetime: d.toISOString(), title: d.toLocaleString(), text: ago(d) })
}

export function ago(d: Date): string {
  const s = Math.round((d.getTime() - Date.now()) / 1000)
  const abs = Math.abs(s)
  if (abs < 60) return rtf.format(s, 'second')
  if (abs < 3600) return rtf.format(Math.round(s / 60), 'minute')
  if (abs < 86400) return rtf.format(Math.round(s / 3600), 'hour')
  return rtf.format(Math.round(s / 86400), 'day')
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`
}

export function short(id: string, n = 12): string {
  return id.length > n ? id.slice(0, n) + '…' : id
}

/** A table that turns into labelled cards in a narrow window. */
export function table(headers: string[], rows: Child[][], caption?: string): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'stack' },
      caption ? h('caption', { class: 'sr-only', text: caption }) : null,
      h('thead', null, h('tr', null, headers.map((t) => h('th', { scope: 'col', text: t })))),
      h(
        'tbody',
        null,
        rows.map((r) => h('tr', null, r.map((c, i) => h('td', { 'data-label': headers[i] }, h('div', { class: 'cell' }, c))))),
      ),
    ),
  )
}

export function header(subtitle: string, ...right: Child[]): HTMLElement {
  return h(
    'header',
    { class: 'topbar' },
    h('a', { class: 'brand', href: '/' }, h('span', { class: 'logo', 'aria-hidden': 'true' }), 'roost'),
    h('span', { class: 'crumb', text: subtitle }),
    h('span', { class: 'spacer' }),
    ...right,
  )
}
