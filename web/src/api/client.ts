// The typed API client. Types come from the server's OpenAPI schema (`npm run gen:api`), the
// calls go through openapi-fetch; nothing here describes an endpoint by hand.
//
// Authentication is the server's business: when it needs a token, opening the UI once with
// `?token=` makes it set an HttpOnly cookie and redirect to the page without the token. Every
// request below (fetch, XHR, WebSocket, a download link) then carries that cookie, so no script
// ever reads, stores or puts the token into a URL (docs/security.md).
import createClient from 'openapi-fetch'
import type { paths } from './schema'
import { ApiError, networkProblem, toProblem } from './problem'

export const api = createClient<paths>({ baseUrl: window.location.origin, credentials: 'same-origin' })

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

/** A ws:// or wss:// URL for an API path: the page's scheme decides, so https pages get wss. */
export function wsUrl(path: string, params: Record<string, string | number> = {}): string {
  const url = new URL(path, window.location.origin)
  url.protocol = window.location.protocol === 'https:' ? 'wss:' : 'ws:'
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, String(v))
  return url.toString()
}

/** An absolute URL for a plain link to an API path (a download); the cookie authenticates it. */
export function apiHref(path: string): string {
  return new URL(path, window.location.origin).toString()
}
