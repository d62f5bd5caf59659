// A conversation the panes share: each exchange is one user message and one answer per pane.
// A pane's history is its own answers, so two models never see each other's words.
import type { Problem } from '../../api/problem'
import type { InferenceMessage, InferenceResult } from '../../api/types'

export interface Answer {
  /** The reference the pane asked (what answered comes from `result`). */
  asked: string
  text: string
  streaming: boolean
  result?: InferenceResult
  error?: Problem
  /** Seconds from sending to the first piece of text, as the browser saw it. */
  clientTtft?: number
}

export interface Exchange {
  id: number
  user: string
  seed: number | null
  answers: (Answer | undefined)[]
}

export function paneMessages(exchanges: Exchange[], pane: number, system: string, next: string): InferenceMessage[] {
  const out: InferenceMessage[] = []
  if (system.trim()) out.push({ role: 'system', content: system })
  for (const ex of exchanges) {
    const a = ex.answers[pane]
    if (!a || a.error || a.streaming || !a.result) continue // a failed or stopped answer is not history
    out.push({ role: 'user', content: ex.user }, { role: 'assistant', content: a.text })
  }
  out.push({ role: 'user', content: next })
  return out
}

export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 31)
}
