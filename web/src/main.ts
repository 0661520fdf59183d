// The console's router: /i/{instanceId} is the instance view, / and
// /console the operator view; the server answers index.html for both.
import './style.css'
import { h, header, swap } from './dom.js'
import { instanceView } from './instance.js'
import { operatorView } from './operator.js'

const root = document.getElementById('app')!
const path = location.pathname.replace(/\/+$/, '') || '/'
const inst = path.match(/^\/i\/([^/]+)$/)

if (inst) {
  instanceView(root, decodeURIComponent(inst[1]))
} else if (path === '/' || path === '/console' || path.startsWith('/console/')) {
  operatorView(root)
} else {
  document.title = 'Not found · roost'
  swap(
    root,
    header('Not found'),
    h(
      'main',
      { class: 'page narrow-page' },
      h('section', { class: 'card' }, h('h1', { text: 'No page here' }), h('p', null, 'Nothing lives at ', h('code', { text: location.pathname }), '. ', h('a', { href: '/', text: 'Open the console' }), '.')),
    ),
  )
}
