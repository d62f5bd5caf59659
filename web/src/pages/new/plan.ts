// What the run will do, worked out from the form: effective batch, optimizer steps and a time
// estimate measured on this machine by an earlier run of the same model (never invented).
import { useMemo } from 'react'
import { api, unwrap } from '../../api/client'
import type { Job } from '../../api/types'
import { getPath } from '../../lib/schema'
import { useResource } from '../../lib/useResource'
import { useJobs } from '../../state/jobs'
import { useSelectedDataset } from './selectedDataset'
import { useWizard } from './store'

function num(v: unknown, fallback: number): number {
  const n = Number(v)
  return Number.isFinite(n) && n > 0 ? n : fallback
}

export interface RunPlan {
  batch: number
  accumulation: number
  effectiveBatch: number
  steps: number | null
  stepsNote: string
  seconds: number | null
  timeNote: string
}

function secondsPerStep(job: Job): number | null {
  const elapsed = Number((job.metrics as Record<string, unknown> | null)?.elapsed_seconds)
  if (!job.step || !Number.isFinite(elapsed) || elapsed <= 0) return null
  return elapsed / job.step
}

export function useRunPlan(): RunPlan {
  const { state } = useWizard()
  const { jobs } = useJobs()
  const dataset = useSelectedDataset()
  const models = useResource(() => unwrap(api.GET('/api/models')), [])
  const cfg = state.config
  return useMemo(() => {
    const batch = num(getPath(cfg, 'train.batch_size'), 1)
    const accumulation = num(getPath(cfg, 'train.gradient_accumulation_steps'), 1)
    const effectiveBatch = batch * accumulation
    const maxSteps = getPath(cfg, 'train.max_steps') as number | null
    const epochs = num(getPath(cfg, 'train.num_epochs'), 1)
    const maxSamples = getPath(cfg, 'data.max_samples') as number | null
    const evalFraction = Number(getPath(cfg, 'data.eval_fraction') ?? 0) || 0
    const rows = dataset.data?.report?.valid_rows ?? dataset.data?.row_count ?? null
    let steps: number | null = null
    let stepsNote = ''
    if (maxSteps) {
      steps = maxSteps
      stepsNote = 'max steps is set'
    } else if (rows) {
      const used = Math.floor(Math.min(rows, maxSamples ?? rows) * (1 - evalFraction))
      steps = Math.max(1, Math.ceil((used * epochs) / effectiveBatch))
      stepsNote = `${used.toLocaleString()} rows × ${epochs} epoch${epochs === 1 ? '' : 's'} ÷ ${effectiveBatch}`
    } else {
      stepsNote = 'known once a dataset is chosen'
    }
    // An earlier run of the same base model on this server tells how long a step takes here.
    const ref = String(getPath(cfg, 'model.name_or_path') ?? '')
    const local = ref.startsWith('model:') ? models.data?.local.find((m) => `model:${m.id}` === ref)?.path : undefined
    const seqLen = num(getPath(cfg, 'train.max_seq_length'), 1)
    let seconds: number | null = null
    let timeNote = 'appears after a first run of this model here'
    const past = (jobs ?? []).find((j) => {
      const name = (j.config as { model?: { name_or_path?: string } })?.model?.name_or_path
      return (name === ref || (local && name === local)) && secondsPerStep(j) !== null
    })
    if (past && steps) {
      const pc = past.config as { train?: Record<string, number> }
      const pastBatch = num(pc.train?.batch_size, 1) * num(pc.train?.gradient_accumulation_steps, 1)
      const pastSeq = num(pc.train?.max_seq_length, seqLen)
      const scale = (effectiveBatch / pastBatch) * Math.min(seqLen / pastSeq, 4)
      const sps = (secondsPerStep(past) as number) * scale
      seconds = sps * steps
      const pastSps = secondsPerStep(past) as number
      timeNote = `run “${past.name ?? past.id.slice(0, 8)}” took ${pastSps.toFixed(2)} s/step at batch ${pastBatch} × ${pastSeq} tokens; scaled to this batch and length: ${sps.toFixed(2)} s/step`
    }
    return { batch, accumulation, effectiveBatch, steps, stepsNote, seconds, timeNote }
  }, [cfg, dataset.data, jobs, models.data])
}
