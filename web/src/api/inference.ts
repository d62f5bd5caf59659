// `POST /api/inference` with `stream: true` answers Server-Sent Events, which openapi-fetch does
// not read, so this one call uses fetch and a ReadableStream. The lines are, per
// docs/dev/inference-contract.md: `data: {"delta": "..."}`, then `data: {"done": true, "result":
// InferenceResult}`; an error mid-stream is `data: {"error": problem}`.
import { ApiError, networkProblem, toProblem, type Problem } from './problem'
import type { InferenceRequest, InferenceResult } from './types'

export interface StreamHandlers {
  /** Each piece of text as it arrives. */
  onDelta: (text: string) => void
  signal?: AbortSignal
}

/** The request as the stream sends it (`stream` is always true here). */
export type StreamRequest = Omit<InferenceRequest, 'stream'>

type StreamLine = { delta?: string; done?: boolean; result?: InferenceResult; error?: unknown }

export function abortedProblem(): Problem {
  return { status: 0, code: 'aborted', detail: 'Stopped.' }
}

/**
 * Stream one answer: `onDelta` gets the text as it comes, the promise the final result. Rejects
 * with an ApiError (the server's problem, `aborted` after Stop, `server_unreachable`).
 */
export async function streamInference(body: StreamRequest, { onDelta, signal }: StreamHandlers): Promise<InferenceResult> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'text/event-stream' }
  let response: Response
  try {
    response = await fetch('/api/inference', { method: 'POST', headers, body: JSON.stringify({ ...body, stream: true }), signal })
  } catch (err) {
    throw new ApiError(signal?.aborted ? abortedProblem() : networkProblem())
  }
  if (!response.ok || !response.body) {
    let payload: unknown = null
    try {
      const text = await response.text()
      try {
        payload = JSON.parse(text)
      } catch {
        payload = text
      }
    } catch {
      /* nothing to read */
    }
    throw new ApiError(toProblem(payload, response.status, 'The model could not answer.'))
  }

  const reader = response.body.getReader()
  const decoder = new TextDecoder()
  let buffer = ''
  const handle = (event: string): InferenceResult | null => {
    // One SSE event: its `data:` lines joined by newlines (other fields are ignored).
    const data = event
      .split('\n')
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, ''))
      .join('\n')
    if (!data) return null
    let line: StreamLine
    try {
      line = JSON.parse(data) as StreamLine
    } catch {
      return null // a line we cannot read is skipped, never fatal
    }
    if (line.error !== undefined) throw new ApiError(toProblem(line.error, 500, 'The model stopped with an error.'))
    if (typeof line.delta === 'string' && line.delta) onDelta(line.delta)
    if (line.done && line.result) return line.result
    return null
  }
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (value) buffer += decoder.decode(value, { stream: true })
      if (done) buffer += decoder.decode() + '\n\n'
      buffer = buffer.replace(/\r\n/g, '\n')
      let cut: number
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, cut)
        buffer = buffer.slice(cut + 2)
        const result = handle(event)
        if (result) {
          void reader.cancel().catch(() => undefined)
          return result
        }
      }
      if (done) break
    }
  } catch (err) {
    if (err instanceof ApiError) throw err
    throw new ApiError(signal?.aborted ? abortedProblem() : networkProblem())
  }
  throw new ApiError({ status: 0, code: 'stream_incomplete', detail: 'The answer stopped before it was complete.', fix: 'Try again; if it keeps happening, see the server log.' })
}
