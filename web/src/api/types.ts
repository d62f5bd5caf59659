// Short names for the generated schema types (src/api/schema.d.ts). Regenerate, never edit that.
import type { components } from './schema'

type S = components['schemas']
export type Job = S['Job']
export type Dataset = S['Dataset']
export type ValidationReport = NonNullable<Dataset['report']>
export type Preview = S['DatasetPreview']
export type Model = S['Model']
export type ModelList = S['ModelList']
export type CatalogEntry = S['CatalogModel']
export type Estimate = S['MemoryEstimate']
export type SystemInfo = S['SystemInfo']
export type SavedConfig = S['SavedConfig']
export type Metrics = S['JobMetrics']
export type Checkpoint = S['Checkpoint']
export type LogLine = S['LogLine']
export type RunConfig = S['RunConfig']
export type JobKind = S['JobKindInfo']
export type Adapter = S['Adapter']
export type DemoModelResult = S['DemoModelBuild']

// ---- Try, compare and judge (docs/dev/inference-contract.md) ----
export type InferenceRequest = S['InferenceRequest']
export type InferenceMessage = S['ChatMessage']
export type InferenceResult = S['InferenceResult']
export type InferenceStatus = S['InferenceStatus']
export type ArenaPair = S['ArenaPair']
export type ArenaSummary = S['EvaluationSummary']
export type VoteChoice = S['VoteCreate']['choice']
export type VoteResult = S['VoteResult']
export type SamplePage = S['SamplePage']

// A job's `config` and `result`, and an evaluation's samples, are free-form in the schema (each
// job kind has its own); these are their shapes as the `generate` and `evaluate` kinds write them
// (loralab.jobs.generate_job, loralab.jobs.evaluate_job, loralab.evaluation.run).
/** `SamplingSpec` of loralab.jobs.sampling, the same fields as an inference request's. */
export type Sampling = Pick<InferenceRequest, 'temperature' | 'top_p' | 'top_k' | 'max_tokens' | 'stop' | 'seed'>
export interface SampleAnswer { text: string; latency_s?: number | null; tokens_per_second?: number | null; length?: number | null }
export interface EvalSample {
  id: string
  prompt: string
  reference?: string | null
  base: SampleAnswer
  tuned: SampleAnswer
  metrics: { base: Record<string, number | null>; tuned: Record<string, number | null> }
  judge?: { winner: string | null; error?: string } | null
}
export interface Spread { mean: number | null; std: number | null; n?: number }
/** A metric over samples: its mean and spread (a plain number in older results). */
export type MetricSummary = { mean: number | null; std?: number | null; n?: number } | number | null
export interface EvalResult {
  samples: number
  metrics: { base: Record<string, MetricSummary>; tuned: Record<string, MetricSummary> }
  deltas: Record<string, Spread>
  speed: { base: Record<string, number | null>; tuned: Record<string, number | null> }
  cost_per_1k_requests: { base: number | null; tuned: number | null }
  price_per_gpu_hour?: number
  checkpoints: { step: number; metrics: Record<string, MetricSummary> }[]
  judge: { tuned_wins: number; base_wins: number; ties: number; order_consistent?: number | null; judged?: number; failed?: number } | null
}
