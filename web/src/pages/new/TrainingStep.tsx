import { useMemo, type ReactNode } from 'react'
import { SchemaField } from '../../components/Field'
import { MemoryBar } from '../../components/MemoryBar'
import { ErrorState, Skeleton, SkeletonRows } from '../../components/States'
import { fmtDuration, fmtInt, fmtNumber } from '../../lib/format'
import { applies, getPath, unionOf, type FieldSpec, type VariantUnion } from '../../lib/schema'
import { presetsOf, useServer, type Preset } from '../../state/server'
import { estimateProblemText, useEstimate } from './estimate'
import { useRunPlan } from './plan'
import { RewardTester } from './RewardTester'
import { stepOf, useWizard } from './store'

const GROUPS: { title: string; note?: string; paths: string[] }[] = [
  { title: 'Length', note: 'max steps, when set, wins over epochs', paths: ['train.num_epochs', 'train.max_steps', 'train.max_seq_length', 'data.max_samples'] },
  { title: 'Batch', paths: ['train.batch_size', 'train.gradient_accumulation_steps'] },
  { title: 'Optimizer and schedule', paths: ['train.learning_rate', 'train.lr_scheduler', 'train.warmup_ratio', 'train.weight_decay', 'train.max_grad_norm', 'train.optimizer'] },
  { title: 'Evaluation', paths: ['data.eval_fraction', 'data.eval_split', 'train.eval_steps'] },
  { title: 'Checkpoints and logging', paths: ['train.save_steps', 'train.save_total_limit', 'train.logging_steps'] },
  { title: 'Speed and memory', paths: ['train.gradient_checkpointing', 'train.padding_free', 'train.fused_lora', 'train.fused_layers', 'train.cpu_threads', 'train.seed'] },
]

// Preset names that are not plain words (GRPO's variants); the rest are shown capitalised.
const PRESET_LABEL: Record<string, string> = { gspo: 'GSPO', dr_grpo: 'Dr. GRPO' }

// The method's own values a preset summary names, beside rank, learning rate and length.
const OWN_SUMMARY: [key: string, label: string][] = [
  ['beta', 'beta'],
  ['loss_type', 'loss'],
  ['num_generations', 'answers'],
  ['importance_sampling_level', 'ratio per'],
]

function presetSummary(p: Preset): string {
  const t = p.train
  const l = p.lora
  const length = t.max_steps ? `${t.max_steps} steps` : `${t.num_epochs ?? 1} epoch${Number(t.num_epochs ?? 1) === 1 ? '' : 's'}`
  const own = OWN_SUMMARY.filter(([k]) => t[k] !== undefined).map(([k, label]) => `${label} ${typeof t[k] === 'number' ? fmtNumber(Number(t[k])) : String(t[k])}`)
  return [`rank ${l.r ?? '—'}`, `lr ${fmtNumber(Number(t.learning_rate))}`, length, ...own].join(' · ')
}

const EDITED_IN_REWARDS = new Set(['train.rewards', 'train.markers'])

/**
 * The training method: one radio per member of the `train` union, labelled with the member's
 * title and its schema description. Choosing one swaps in that method's own fields (shown below
 * the choice); the shared fields keep their values.
 */
function MethodPicker({ union, render }: { union: VariantUnion; render: (spec: FieldSpec) => ReactNode }) {
  const { state, setVariant, update } = useWizard()
  const chosen = String(getPath(state.config, union.path) ?? union.variants[0].tag)
  const variant = union.variants.find((v) => v.tag === chosen)
  const placed = new Set(GROUPS.flatMap((g) => g.paths))
  // Rewards and markers are edited (and tried) in the rewards card below the picker.
  const own = (variant?.fields ?? []).filter((f) => !placed.has(f.path) && !EDITED_IN_REWARDS.has(f.path))
  const error = state.serverErrors[union.path] ?? state.serverErrors[union.section]
  // The shared values stay as they are, so they are no longer a preset of the new method.
  const pick = (tag: string) => {
    setVariant(union.section, tag)
    if (tag !== chosen) update({ preset: null })
  }
  return (
    <section className="card" aria-labelledby="method-h" data-testid="method-picker">
      <div className="card-head">
        <h2 id="method-h">Training method</h2>
        <span className="right muted small">{union.description}</span>
      </div>
      <div className="card-body stack">
        <div className="grid-3" role="radiogroup" aria-labelledby="method-h">
          {union.variants.map((v) => {
            const id = `method-${v.tag}`
            const on = v.tag === chosen
            return (
              <label
                key={v.tag}
                htmlFor={id}
                className="size-btn"
                style={{ alignItems: 'flex-start', justifyContent: 'flex-start', padding: '10px 12px', ...(on ? { borderColor: 'var(--accent)', background: 'var(--accent-2)' } : {}) }}
              >
                <input id={id} type="radio" name={union.path} value={v.tag} checked={on} aria-label={v.title} aria-describedby={`${id}-help`} onChange={() => pick(v.tag)} />
                <span style={{ display: 'flex', flexDirection: 'column', gap: 2 }}>
                  <strong>{v.title}</strong>
                  <span className="muted small" id={`${id}-help`}>
                    {v.description} <code>{union.key}: {v.tag}</code>
                  </span>
                </span>
              </label>
            )
          })}
        </div>
        {error && (
          <span className="err" role="alert">
            {error}
          </span>
        )}
        {own.length > 0 && (
          <div className="form-grid" aria-label={`${variant?.title ?? chosen} settings`} role="group" data-testid="method-fields">
            {own.map(render)}
          </div>
        )}
      </div>
    </section>
  )
}

export function TrainingStep() {
  const { state, setField, mergeConfig } = useWizard()
  const { fields, presets, schema } = useServer()
  const plan = useRunPlan()
  const est = useEstimate(state.config, Boolean(String(getPath(state.config, 'model.name_or_path') ?? '').trim()) && state.initialized)
  const union = useMemo(() => (schema.data ? unionOf(schema.data, 'train') : null), [schema.data])

  const groups = useMemo(() => {
    const used = new Set(GROUPS.flatMap((g) => g.paths))
    // The picker shows the method and its own fields; the rest goes into Other.
    const others = [...fields.values()].filter((s) => stepOf(s.path) === 2 && !used.has(s.path) && !s.onlyWhen && s.path !== union?.path).map((s) => s.path)
    return others.length ? [...GROUPS, { title: 'Other', paths: others }] : GROUPS
  }, [fields, union])

  if (schema.error) return <ErrorState problem={schema.error} onRetry={schema.reload} />
  if (!schema.data || !state.initialized) return <SkeletonRows rows={8} height={34} />

  const render = (spec: FieldSpec) => (
    <SchemaField key={spec.path} spec={spec} value={getPath(state.config, spec.path)} draft={state.drafts[spec.path]} serverError={state.serverErrors[spec.path]} onChange={(v, d) => setField(spec.path, v, d)} />
  )
  // The chosen method's own presets (its shared and its own values); a method without any gets
  // the first method's, and keeps the method chosen above either way.
  const method = String(getPath(state.config, 'train.method') ?? union?.variants[0].tag ?? '')
  const methodPresets = presetsOf(presets.data, method)
  const methodTitle = union?.variants.find((v) => v.tag === method)?.title ?? method
  const presetTrain = (train: Record<string, unknown>) => {
    const out = { ...train }
    if (union) delete out[union.key]
    return out
  }

  return (
    <div className="stack">
      {union && <MethodPicker union={union} render={render} />}
      {getPath(state.config, 'train.method') === 'grpo' && <RewardTester />}
      <section className="card" aria-labelledby="presets-h">
        <div className="card-head">
          <h2 id="presets-h">Start from a preset</h2>
          <span className="right muted small">
            Presets of {methodTitle}: each sets LoRA and training values, the method&apos;s own too; every field below stays editable.
          </span>
        </div>
        <div className="card-body">
          {presets.error && <ErrorState problem={presets.error} onRetry={presets.reload} />}
          {!presets.data && !presets.error && <Skeleton height={64} />}
          {presets.data && (
            <div className="grid-3" role="group" aria-label="Presets">
              {Object.entries(methodPresets).map(([name, p]) => (
                <button
                  key={`${method}/${name}`}
                  type="button"
                  className="size-btn"
                  aria-pressed={state.preset === name}
                  style={{ flexDirection: 'column', alignItems: 'flex-start', padding: '10px 12px', gap: 2 }}
                  onClick={() => mergeConfig({ lora: p.lora, train: presetTrain(p.train) }, { preset: name, loraMode: name === 'recommended' ? 'recommended' : 'custom' })}
                >
                  <strong style={{ textTransform: PRESET_LABEL[name] ? 'none' : 'capitalize' }}>{PRESET_LABEL[name] ?? name}</strong>
                  <span className="muted small">{p.description}</span>
                  <span className="small">{presetSummary(p)}</span>
                </button>
              ))}
            </div>
          )}
        </div>
      </section>

      <section className="card" aria-label="What this run will do">
        <div className="card-body">
          <div className="stat-row">
            <div className="stat">
              <div className="k">Effective batch</div>
              <div className="v" data-testid="effective-batch">{fmtInt(plan.effectiveBatch)}</div>
              <div className="small muted">{plan.batch} × {plan.accumulation} accumulation × 1 process</div>
            </div>
            <div className="stat">
              <div className="k">Optimizer steps</div>
              <div className="v">{plan.steps ? fmtInt(plan.steps) : '—'}</div>
              <div className="small muted">{plan.stepsNote}</div>
            </div>
            <div className="stat">
              <div className="k">Estimated time</div>
              <div className="v sm">{plan.seconds ? `≈ ${fmtDuration(plan.seconds)}` : 'not measured yet'}</div>
              <div className="small muted">{plan.timeNote}</div>
            </div>
            <div className="stat" style={{ flex: 2 }}>
              <div className="k">Memory</div>
              {est.data ? <MemoryBar estimate={est.data} /> : est.error ? <div className="small muted">{estimateProblemText(est.error)}</div> : <div className="small muted">{est.loading ? 'estimating…' : 'choose a model first'}</div>}
            </div>
          </div>
        </div>
      </section>

      {groups.map((g) => {
        const specs = g.paths.map((p) => fields.get(p)).filter((s): s is FieldSpec => Boolean(s) && applies(s as FieldSpec, state.config))
        if (!specs.length) return null
        return (
          <section key={g.title} className="card" aria-label={g.title}>
            <div className="card-head">
              <h3>{g.title}</h3>
              {g.note && <span className="right muted small">{g.note}</span>}
            </div>
            <div className="card-body">
              <div className="form-grid">{specs.map(render)}</div>
            </div>
          </section>
        )
      })}
    </div>
  )
}
