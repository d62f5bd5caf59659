// Sampling settings as the forms hold them (text, so a half-typed number is not lost) and as
// the API takes them (`SamplingParams` of docs/dev/inference-contract.md).
import { Field } from '../../components/Field'
import type { Sampling } from '../../api/types'

export interface SamplingDraft {
  temperature: string
  top_p: string
  top_k: string
  max_tokens: string
  stop: string
  seed: string
}

export const DEFAULT_SAMPLING: SamplingDraft = { temperature: '0', top_p: '1', top_k: '0', max_tokens: '256', stop: '', seed: '' }

type Key = keyof SamplingDraft
interface Rule { label: string; help: string; min: number; max: number; integer?: boolean; optional?: boolean; above?: boolean }
const RULES: Record<Exclude<Key, 'stop'>, Rule> = {
  temperature: { label: 'Temperature', help: '0 is greedy: the same answer every time; higher is more varied (0–2).', min: 0, max: 2 },
  top_p: { label: 'Top p', help: 'Keep the likeliest tokens that add up to this probability (1 = off).', min: 0, max: 1, above: true },
  top_k: { label: 'Top k', help: 'Keep only the k likeliest tokens (0 = off).', min: 0, max: 1000, integer: true },
  max_tokens: { label: 'Max tokens', help: 'The longest answer, in tokens.', min: 1, max: 8192, integer: true },
  seed: { label: 'Seed', help: 'Same seed and settings, same answer. Empty: a new one per message, shown under it.', min: 0, max: 2 ** 31 - 1, integer: true, optional: true },
}

export function samplingErrors(d: SamplingDraft): Partial<Record<Key, string>> {
  const errors: Partial<Record<Key, string>> = {}
  for (const [key, rule] of Object.entries(RULES) as [Exclude<Key, 'stop'>, Rule][]) {
    const text = d[key].trim()
    if (text === '' && rule.optional) continue
    const n = Number(text)
    if (text === '' || !Number.isFinite(n)) errors[key] = 'Enter a number.'
    else if (rule.integer && !Number.isInteger(n)) errors[key] = 'Enter a whole number.'
    else if (n < rule.min || n > rule.max || (rule.above && n <= rule.min)) errors[key] = rule.above ? `Above ${rule.min}, at most ${rule.max}.` : `Between ${rule.min} and ${rule.max}.`
  }
  return errors
}

export function stopList(d: SamplingDraft): string[] {
  return d.stop.split('\n').map((s) => s.replace(/\\n/g, '\n')).filter((s) => s.length > 0)
}

/** The API's sampling object (call only when `samplingErrors` is empty). */
export function toSampling(d: SamplingDraft, seed?: number | null): Sampling {
  return {
    temperature: Number(d.temperature),
    top_p: Number(d.top_p),
    top_k: Number(d.top_k),
    max_tokens: Number(d.max_tokens),
    stop: stopList(d),
    seed: seed !== undefined ? seed : d.seed.trim() === '' ? null : Number(d.seed),
  }
}

export function SamplingControls({ value, onChange, idPrefix = 's', disabled }: { value: SamplingDraft; onChange: (d: SamplingDraft) => void; idPrefix?: string; disabled?: boolean }) {
  const errors = samplingErrors(value)
  const set = (k: Key, v: string) => onChange({ ...value, [k]: v })
  return (
    <fieldset className="sampling" disabled={disabled}>
      <legend>Sampling</legend>
      <div className="sampling-grid">
        {(Object.keys(RULES) as Exclude<Key, 'stop'>[]).map((k) => {
          const id = `${idPrefix}-${k}`
          const rule = RULES[k]
          return (
            <Field key={k} id={id} label={rule.label} help={rule.help} error={errors[k]} changed={value[k] !== DEFAULT_SAMPLING[k]}>
              <input id={id} type="text" inputMode={rule.integer ? 'numeric' : 'decimal'} value={value[k]} placeholder={rule.optional ? 'random' : undefined} aria-invalid={Boolean(errors[k])} aria-describedby={errors[k] ? `${id}-err` : `${id}-help`} onChange={(e) => set(k, e.target.value)} />
            </Field>
          )
        })}
        <Field id={`${idPrefix}-stop`} label="Stop sequences" help="One per line; the answer ends before any of them. \n stands for a newline." changed={value.stop !== ''}>
          <textarea id={`${idPrefix}-stop`} rows={2} value={value.stop} aria-describedby={`${idPrefix}-stop-help`} onChange={(e) => set('stop', e.target.value)} />
        </Field>
      </div>
    </fieldset>
  )
}
