// The typed API client. Types come from the server's OpenAPI schema (`npm run gen:api`), the
// calls go through openapi-fetch; nothing here describes an endpoint by hand.
import createClient, { type Middleware } from 'openapi-fetch'
import type { paths } from './schema'
import { ApiError, networkProblem, toProblem } from './problem'

const TOKEN_KEY = 'loralab.token'

/** The API token, when the server needs one: `?token=` in the URL once, then kept for the tab. */
export function apiToken(): string | null {
  const fromUrl = new URLSearchParams(window.location.search).get('token')
  if (fromUrl) sessionStorage.setItem(TOKEN_KEY, fromUrl)
  return fromUrl ?? sessionStorage.getItem(TOKEN_KEY)
}

const auth: Middleware = {
  onRequest({ request }) {
    const token = apiToken()
    if (token) request.headers.set('Authorization', `Bearer ${token}`)
    return request
  },
}

export const api = createClient<paths>({ baseUrl: window.location.origin })
api.use(auth)

type Result<T> = { data?: T; error?: unknown; response: Response }

/** The data of a call, or an ApiError carrying the server's problem document. */
export async function unwrap<T>(call: Promise<Result<T>>): Promise<T> {
  let result: Result<T>
  try {
    result = await call
  } catch (err) {
    if (err instanceof ApiError) throw err
    throw new ApiError(networkProblem())
  }
  const { data, error, response } = result
  if (!response.ok || error !== undefined) throw new ApiError(toProblem(error, response.status))
  return data as T
}

/** ws:// or wss:// URL for an API path, with the token when there is one. */
export function wsUrl(path: string, params: Record<string, string | number> = {}): string {
  const url = new URL(path, window.location.origin)
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, String(v))
  const token = apiToken()
  if (token) url.searchParams.set('token', token)
  return url.toString()
}

/**
 * An absolute URL for a plain link to an API path (a download), with `?token=` when the tab
 * has a token: a link cannot send the Authorization header. On loopback there is none.
 */
export function apiHref(path: string): string {
  const url = new URL(path, window.location.origin)
  const token = apiToken()
  if (token) url.searchParams.set('token', token)
  return url.toString()
}
