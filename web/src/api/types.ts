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
