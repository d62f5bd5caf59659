// The export calls the pages make, and the shapes of an export's result (loralab.export.run).
import { api, apiHref, unwrap } from './client'
import type { components } from './schema'
import type { Job } from './types'

type S = components['schemas']
export type ExportSpec = S['ExportSpec']
export type ExportEstimate = S['ExportEstimate']
export type QuantizationInfo = S['QuantizationInfo']
export type ExportFormat = NonNullable<ExportSpec['formats']>[number]
export type QuantName = NonNullable<ExportSpec['quantizations']>[number]

export interface ExportFile { name: string; format: string; quantization?: string; size_bytes: number }
export interface Divergence { prompt: string; position: number; expected_token: number; got_token: number; hf_margin: number; gguf_margin?: number | null; near_tie: boolean }
export interface ParityReport {
  file: string
  quantization: string
  tokenization_equal: boolean
  agreement: number
  tokens: number
  max_logit_diff: number
  first_divergence: Divergence | null
  /** true or false for the judged types (f16, bf16, q8_0); null when only measured. */
  passed: boolean | null
  rule?: string | null
}
export interface ExportResult {
  files: ExportFile[]
  parity: { prompts: string[]; max_new_tokens: number; reference: string; quantizations: ParityReport[]; suspect: boolean } | null
  suspect: boolean
}

export const listExports = (): Promise<Job[]> => unwrap(api.GET('/api/exports'))
export const estimateExport = (adapter: string): Promise<ExportEstimate> => unwrap(api.GET('/api/exports/estimate', { params: { query: { adapter } } }))
export const startExport = (body: ExportSpec): Promise<Job> => unwrap(api.POST('/api/exports', { body }))
/** A plain link: the browser saves the file (folders come as a zip). */
export const exportFileHref = (jobId: string, name: string) => apiHref(`/api/exports/${jobId}/files/${name.split('/').map(encodeURIComponent).join('/')}`)
