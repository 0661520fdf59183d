/**
 * The TypeScript client of roost: the platform RPC (API key), file uploads
 * with progress, and one instance's RPC and session websocket (instance
 * token). Method inputs and outputs are generated from the server's Go types.
 */
import type { InstanceMethods, PlatformMethods } from './generated/types.js'
import { RoostApiError, RoostConnectionError } from './errors.js'

export * from './generated/types.js'
export { RoostApiError, RoostConnectionError } from './errors.js'

type MethodName<M> = Extract<keyof M, string>
type Input<M, K extends keyof M> = M[K] extends { input: infer I } ? I : never
type Output<M, K extends keyof M> = M[K] extends { output: infer O } ? O : never

/** A typed call of one endpoint's methods. */
export interface Caller<M> {
  call<K extends MethodName<M>>(method: K, input: Input<M, K>): Promise<Output<M, K>>
}

interface Transport {
  url: string
  headers: Record<string, string>
  fetch: typeof fetch
}

async function post<T>(t: Transport, method: string, input: unknown): Promise<T> {
  let response: Response
  try {
    response = await t.fetch(t.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...t.headers },
      body: JSON.stringify({ method, input: input ?? {} }),
      credentials: 'include',
    })
  } catch (err) {
    throw new RoostConnectionError(`could not reach ${t.url}: ${(err as Error).message}`, err)
  }
  let data: any
  try {
    data = await response.json()
  } catch (err) {
    throw new RoostConnectionError(`${t.url} answered HTTP ${response.status} with a body that is not JSON`, err)
  }
  if (data && data.ok === true && response.ok) return data.value as T
  if (data && data.ok === false && data.error) {
    throw new RoostApiError({ type: data.error.type, message: data.error.message, status: response.status, details: data.error.details })
  }
  throw new RoostConnectionError(`${t.url} answered HTTP ${response.status} without an RPC reply`)
}

function trimURL(url: string): string {
  return url.replace(/\/+$/, '')
}

/** What a successful upload answers. */
export interface UploadResult {
  ok: true
  fileId: string
  filename: string
  mimeType: string
  size: number
  r2Key: string
}

export interface UploadOptions {
  filename?: string
  /** Called as bytes are sent: loaded so far, and the total when known. */
  onProgress?: (loaded: number, total: number | undefined) => void
  signal?: AbortSignal
}

export interface ClientOptions {
  /** The platform's base URL, like https://roost.example.com */
  url: string
  /** An API key (rk_...) */
  apiKey: string
  /** A fetch to use instead of the global one. */
  fetch?: typeof fetch
}

/** The platform client: every platform method, typed, and file uploads. */
export interface RoostClient extends Caller<PlatformMethods> {
  files: {
    upload(file: Blob, options?: UploadOptions): Promise<UploadResult>
  }
  instances: {
    create(input: Input<PlatformMethods, 'instances.create'>): Promise<Output<PlatformMethods, 'instances.create'>>
    get(instanceId: string): Promise<Output<PlatformMethods, 'instances.get'>>
    getStatus(instanceId: string): Promise<Output<PlatformMethods, 'instances.status'>>
    list(input?: Input<PlatformMethods, 'instances.list'>): Promise<Output<PlatformMethods, 'instances.list'>>
    archive(instanceId: string): Promise<Output<PlatformMethods, 'instances.archive'>>
  }
  tokens: {
    create(input: Input<PlatformMethods, 'tokens.create'>): Promise<Output<PlatformMethods, 'tokens.create'>>
  }
}

export function createClient(options: ClientOptions): RoostClient {
  const base = trimURL(options.url)
  const f = options.fetch ?? globalThis.fetch.bind(globalThis)
  const t: Transport = { url: `${base}/api/v1/rpc`, headers: { Authorization: `Bearer ${options.apiKey}` }, fetch: f }
  const call = <K extends MethodName<PlatformMethods>>(method: K, input: Input<PlatformMethods, K>) =>
    post<Output<PlatformMethods, K>>(t, method, input)
  return {
    call,
    files: {
      upload: (file, opts) => upload(base, options.apiKey, file, opts ?? {}, f),
    },
    instances: {
      create: (input) => call('instances.create', input),
      get: (instanceId) => call('instances.get', { instanceId }),
      getStatus: (instanceId) => call('instances.status', { instanceId }),
      list: (input) => call('instances.list', input ?? {}),
      archive: (instanceId) => call('instances.archive', { instanceId }),
    },
    tokens: {
      create: (input) => call('tokens.create', input),
    },
  }
}

async function upload(base: string, apiKey: string, file: Blob, opts: UploadOptions, f: typeof fetch): Promise<UploadResult> {
  const filename = opts.filename ?? ((file as File).name || 'file')
  const url = `${base}/api/v1/files/upload`
  const form = new FormData()
  form.append('file', file, filename)
  // Browsers report upload progress only through XMLHttpRequest.
  if (typeof XMLHttpRequest !== 'undefined') {
    return new Promise<UploadResult>((resolve, reject) => {
      const xhr = new XMLHttpRequest()
      xhr.open('POST', url)
      xhr.setRequestHeader('Authorization', `Bearer ${apiKey}`)
      xhr.upload.onprogress = (e) => opts.onProgress?.(e.loaded, e.lengthComputable ? e.total : undefined)
      xhr.onerror = () => reject(new RoostConnectionError(`could not reach ${url}`))
      xhr.onload = () => {
        let body: any
        try {
          body = JSON.parse(xhr.responseText)
        } catch {
          reject(new RoostConnectionError(`${url} answered HTTP ${xhr.status} with a body that is not JSON`))
          return
        }
        if (xhr.status === 200 && body.ok) resolve(body as UploadResult)
        else reject(new RoostApiError({ type: typeOfStatus(xhr.status), message: body.error ?? `HTTP ${xhr.status}`, status: xhr.status }))
      }
      opts.signal?.addEventListener('abort', () => xhr.abort())
      xhr.send(form)
    })
  }
  // Elsewhere, count the bytes as the encoded form streams out.
  const encoded = new Response(form)
  const total = file.size
  const contentType = encoded.headers.get('Content-Type') ?? 'multipart/form-data'
  let loaded = 0
  const counted = encoded.body!.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        loaded += chunk.byteLength
        opts.onProgress?.(Math.min(loaded, total), total)
        controller.enqueue(chunk)
      },
    }),
  )
  let response: Response
  try {
    response = await f(url, {
      method: 'POST',
      headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': contentType },
      body: counted,
      signal: opts.signal,
      // Node's fetch needs this to send a stream.
      duplex: 'half',
    } as RequestInit)
  } catch (err) {
    throw new RoostConnectionError(`could not reach ${url}: ${(err as Error).message}`, err)
  }
  const body: any = await response.json().catch(() => ({}))
  if (response.ok && body.ok) return body as UploadResult
  throw new RoostApiError({ type: typeOfStatus(response.status), message: body.error ?? `HTTP ${response.status}`, status: response.status })
}

function typeOfStatus(status: number): string {
  switch (status) {
    case 400: return 'invalid_input'
    case 401: return 'unauthorized'
    case 403: return 'forbidden'
    case 404: return 'not_found'
    case 409: return 'conflict'
    case 413: return 'payload_too_large'
    case 429: return 'rate_limited'
    case 503: return 'unavailable'
    case 504: return 'timeout'
  }
  return 'internal'
}

export interface InstanceClientOptions {
  url: string
  instanceId: string
  /** An instance token from tokens.create; omit in a page that holds the instance cookie. */
  token?: string
  fetch?: typeof fetch
  /** A WebSocket constructor where there is no global one. */
  WebSocket?: typeof WebSocket
}

/** One instance's client: its methods, typed, and its sessions' websockets. */
export interface InstanceClient extends Caller<InstanceMethods> {
  /** Opens a session's websocket with the session's wsToken. */
  openSession(sessionId: string, wsToken: string): WebSocket
  /** Trades the token for the instance cookie (browsers). */
  exchangeCookie(): Promise<{ expiresAt: string }>
}

export function createInstanceClient(options: InstanceClientOptions): InstanceClient {
  const base = trimURL(options.url)
  const f = options.fetch ?? globalThis.fetch.bind(globalThis)
  const headers: Record<string, string> = options.token ? { Authorization: `Bearer ${options.token}` } : {}
  const id = encodeURIComponent(options.instanceId)
  const t: Transport = { url: `${base}/api/v1/instances/${id}/rpc`, headers, fetch: f }
  return {
    call: (method, input) => post(t, method, input),
    openSession(sessionId, wsToken) {
      const WS = options.WebSocket ?? globalThis.WebSocket
      if (!WS) throw new RoostConnectionError('no WebSocket implementation: pass one as options.WebSocket')
      const wsBase = base.replace(/^http/, 'ws')
      return new WS(`${wsBase}/api/v1/instances/${id}/sessions/${encodeURIComponent(sessionId)}/ws?token=${encodeURIComponent(wsToken)}`)
    },
    exchangeCookie() {
      return post<{ expiresAt: string }>({ ...t, url: `${base}/api/v1/instances/${id}/session-cookie` }, '', undefined)
    },
  }
}
