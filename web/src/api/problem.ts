// One place that turns an API error (RFC 9457 problem+json) into what the UI shows: messages
// next to the fields they concern, or a toast when the problem is about no field in particular.

export interface ProblemItem {
  loc: string
  message: string
  line?: number | null
  fix?: string | null
}

export interface Problem {
  type?: string
  title?: string
  status: number
  detail: string
  code: string
  fix?: string | null
  errors?: ProblemItem[]
}

export class ApiError extends Error {
  readonly problem: Problem
  constructor(problem: Problem) {
    super(problem.detail)
    this.name = 'ApiError'
    this.problem = problem
  }
  get status() {
    return this.problem.status
  }
  get code() {
    return this.problem.code
  }
}

const STATUS_CODES: Record<number, string> = {
  400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 409: 'conflict',
  413: 'too_large', 415: 'unsupported_media_type', 422: 'invalid_request', 503: 'unavailable',
}

/** A Problem from whatever came back: a problem document, FastAPI's default 422, text, nothing. */
export function toProblem(body: unknown, status: number, fallback = 'The request failed.'): Problem {
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>
    if (typeof b.code === 'string') {
      return {
        type: b.type as string | undefined,
        title: b.title as string | undefined,
        status: typeof b.status === 'number' ? b.status : status,
        detail: typeof b.detail === 'string' ? b.detail : String(b.title ?? fallback),
        code: b.code,
        fix: (b.fix as string | undefined) ?? null,
        errors: Array.isArray(b.errors) ? (b.errors as ProblemItem[]) : undefined,
      }
    }
    // FastAPI's own validation shape: {detail: [{loc: [...], msg}]}
    if (Array.isArray(b.detail)) {
      const errors = (b.detail as { loc?: unknown[]; msg?: string }[]).map((d) => ({
        loc: (d.loc ?? []).filter((p) => p !== 'body').join('.'),
        message: d.msg ?? 'invalid value',
      }))
      return { status, code: 'invalid_request', detail: `The request has ${errors.length} problem(s).`, errors }
    }
    if (typeof b.detail === 'string') return { status, code: STATUS_CODES[status] ?? 'http_error', detail: b.detail }
  }
  if (typeof body === 'string' && body.trim()) {
    return { status, code: STATUS_CODES[status] ?? 'http_error', detail: body.slice(0, 300) }
  }
  return { status, code: STATUS_CODES[status] ?? 'http_error', detail: fallback }
}

export function networkProblem(): Problem {
  return {
    status: 0,
    code: 'server_unreachable',
    detail: 'The loralab server cannot be reached.',
    fix: 'Check that `loralab serve` is still running, then try again.',
  }
}

/** The problem inside any thrown value (an ApiError, a fetch TypeError, anything else). */
export function problemOf(err: unknown): Problem {
  if (err instanceof ApiError) return err.problem
  if (err instanceof TypeError) return networkProblem()
  return { status: 0, code: 'client_error', detail: err instanceof Error ? err.message : String(err) }
}

/**
 * Field errors keyed by the form's own paths (`lora.r`, `train.learning_rate`). Locations are
 * relative to the config: `config.lora.r` (a job body) and `lora.r` (a bare RunConfig) both
 * become `lora.r`. `strip` lists further prefixes to drop.
 */
export function fieldErrors(problem: Problem, strip: string[] = ['config']): Record<string, string> {
  const out: Record<string, string> = {}
  for (const item of problem.errors ?? []) {
    let loc = item.loc ?? ''
    for (const prefix of strip) {
      if (loc === prefix) loc = ''
      else if (loc.startsWith(prefix + '.')) loc = loc.slice(prefix.length + 1)
    }
    const text = item.fix ? `${item.message.replace(/\.$/, '')}. Fix: ${item.fix}` : item.message
    out[loc] = out[loc] ? `${out[loc]}; ${text}` : text
  }
  return out
}

/** Split a problem into the errors a form can place and the rest, which deserve a toast. */
export function splitProblem(problem: Problem, knownFields: (loc: string) => boolean) {
  const fields = fieldErrors(problem)
  const placed: Record<string, string> = {}
  const unplaced: string[] = []
  for (const [loc, msg] of Object.entries(fields)) {
    if (loc && knownFields(loc)) placed[loc] = msg
    else unplaced.push(loc ? `${loc}: ${msg}` : msg)
  }
  return { placed, unplaced }
}

/** One readable line for a toast or an error state. */
export function problemText(problem: Problem): string {
  return problem.detail || problem.title || problem.code
}
