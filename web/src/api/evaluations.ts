// The evaluation, arena and batch-results calls the pages make, in one place.
import { api, apiHref, unwrap } from './client'
import type { ArenaPair, ArenaSummary, EvalSample, Job, VoteChoice, VoteResult } from './types'

const path = (job_id: string) => ({ path: { job_id } })

export const listEvaluations = (): Promise<Job[]> => unwrap(api.GET('/api/evaluations'))
export const getEvaluation = (id: string): Promise<Job> => unwrap(api.GET('/api/evaluations/{job_id}', { params: path(id) }))
export async function getSamples(id: string, offset = 0, limit = 50): Promise<{ total: number; samples: EvalSample[] }> {
  const page = await unwrap(api.GET('/api/evaluations/{job_id}/samples', { params: { ...path(id), query: { offset, limit } } }))
  return { total: page.total, samples: page.samples as unknown as EvalSample[] }
}
export const getSummary = (id: string): Promise<ArenaSummary> => unwrap(api.GET('/api/evaluations/{job_id}/summary', { params: path(id) }))
export const nextPair = (id: string): Promise<ArenaPair> => unwrap(api.GET('/api/evaluations/{job_id}/arena/next', { params: path(id) }))
export const vote = (id: string, sample_id: string, choice: VoteChoice): Promise<VoteResult> =>
  unwrap(api.POST('/api/evaluations/{job_id}/votes', { params: path(id), body: { sample_id, choice } }))

/** The download link of a generate job's results (a plain link: the browser saves the file). */
export const resultsHref = (jobId: string, format: 'json' | 'csv') => apiHref(`/api/jobs/${jobId}/results?format=${format}`)

/** One row of a generate job's results (results.jsonl, loralab.evaluation.batch). */
export interface ResultRow {
  id?: string
  prompt: string
  expected?: string | null
  text?: string | null
  finish_reason?: string
  completion_tokens?: number
  latency_s?: number | null
  ttft_s?: number | null
  tokens_per_second?: number | null
  /** 1 when the output equals `expected` (normalised), 0 when not, null without one. */
  exact_match?: number | null
  error?: string | null
}

/** A generate job's rows: the JSON download is the list of rows. */
export async function getResults(jobId: string): Promise<ResultRow[]> {
  const body = (await unwrap(api.GET('/api/jobs/{job_id}/results', { params: { ...path(jobId), query: { format: 'json' } }, parseAs: 'json' }))) as unknown
  return Array.isArray(body) ? (body as ResultRow[]) : []
}
