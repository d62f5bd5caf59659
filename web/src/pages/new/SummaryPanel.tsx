import { useMemo } from 'react'
import { VerdictBadge } from '../../components/MemoryBar'
import { fmtGb, fmtInt, fmtNumber } from '../../lib/format'
import { applies, getPath, sameValue } from '../../lib/schema'
import { useServer } from '../../state/server'
import { useEstimate } from './estimate'
import { useRunPlan } from './plan'
import { StartButton } from './ReviewStep'
import { useSelectedDataset } from './selectedDataset'
import { useWizard } from './store'

function plural(n: number, word: string) {
  return `${fmtInt(n)} ${word}${n === 1 ? '' : 's'}`
}

/** What will really happen when Start is pressed, kept current while the form is edited. */
export function SummaryPanel() {
  const { state } = useWizard()
  const { fields, system } = useServer()
  const dataset = useSelectedDataset()
  const plan = useRunPlan()
  const cfg = state.config
  const model = String(getPath(cfg, 'model.name_or_path') ?? '')
  const est = useEstimate(cfg, Boolean(model) && state.initialized)
  const quant = String(getPath(cfg, 'model.quantization') ?? 'none')
  const changed = useMemo(
    () => [...fields.values()].filter((f) => applies(f, cfg) && f.default !== undefined && !sameValue(getPath(cfg, f.path), f.default)).length,
    [fields, cfg],
  )
  const d = dataset.data
  const evalFraction = Number(getPath(cfg, 'data.eval_fraction') ?? 0)
  const evalSplit = getPath(cfg, 'data.eval_split') as string | null
  const maxSamples = getPath(cfg, 'data.max_samples') as number | null
  const downloads: string[] = []
  if (model && !model.startsWith('model:')) downloads.push(`model ${model}`)
  if (d?.kind === 'hub') downloads.push(`dataset ${d.hub_id}`)
  const device = system.data?.device === 'cuda' ? `GPU (${system.data.gpus[0]?.name ?? 'CUDA'})` : 'CPU'
  const precision = est.data ? est.data.dtype : String(getPath(cfg, 'model.dtype') ?? 'auto')

  const row = (k: string, v: React.ReactNode, missing = false) => (
    <>
      <dt>{k}</dt>
      <dd className={missing ? 'missing' : undefined}>{v}</dd>
    </>
  )
  return (
    <aside className="summary card" aria-label="Run summary">
      <div className="card-body stack">
        <div>
          <h3>Summary</h3>
          <dl>
            {row('Model', state.modelLabel || model || 'not chosen', !model)}
            {row('Method', `${String(getPath(cfg, 'train.method') ?? 'sft').toUpperCase()} · ${quant === 'none' ? 'LoRA' : `QLoRA ${quant}`} r${String(getPath(cfg, 'lora.r') ?? '—')} α${String(getPath(cfg, 'lora.alpha') ?? '—')}`)}
            {row('Runs on', `${device} · ${precision}`)}
            {row('Data', d ? `${d.name}${d.format ? ` (${d.format})` : ''}` : 'not chosen', !d)}
            {d && row('Rows', `${fmtInt(d.report?.valid_rows ?? d.row_count)}${maxSamples ? `, max ${fmtInt(maxSamples)} used` : ''}`)}
            {row('Split', evalSplit ? `train / eval split “${evalSplit}”` : evalFraction > 0 ? `${Math.round((1 - evalFraction) * 100)}% train / ${Math.round(evalFraction * 100)}% eval` : 'all rows train, no eval')}
            {row('Context length', `${fmtInt(getPath(cfg, 'train.max_seq_length') as number)} tokens`)}
            {row('Effective batch', `${plan.effectiveBatch} (${plan.batch} × ${plan.accumulation} × 1)`)}
            {row('Learning rate', fmtNumber(getPath(cfg, 'train.learning_rate') as number))}
            {row('Length', plan.steps ? plural(plan.steps, 'step') : plural(Number(getPath(cfg, 'train.num_epochs') ?? 1), 'epoch'))}
            {row('Memory', est.data ? <span className="row" style={{ gap: 6, justifyContent: 'flex-end' }}>{fmtGb(est.data.total_gb)} <VerdictBadge verdict={est.data.verdict} /></span> : est.error ? 'no estimate' : '—')}
            {row('Downloads', downloads.length ? downloads.join(', ') : 'nothing')}
            {row('Changed settings', `${changed} from defaults`)}
          </dl>
        </div>
        <StartButton />
      </div>
    </aside>
  )
}
