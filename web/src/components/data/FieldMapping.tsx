import { useEffect, useState } from 'react'
import { api, unwrap } from '../../api/client'
import { fieldErrors, problemOf, type Problem } from '../../api/problem'
import type { Dataset } from '../../api/types'
import type { components } from '../../api/schema'

type DatasetUpdate = components['schemas']['DatasetUpdate']
import { useToasts } from '../Toasts'

// The fields each format fills (mirrors loralab.data.fields.FORMAT_FIELDS; the server checks the
// mapping and answers with the field at fault, so a drift shows up as a clear error, not silently).
const FORMAT_ROLES: Record<string, { name: string; required: boolean }[]> = {
  conversations: [{ name: 'conversations', required: true }],
  messages: [{ name: 'messages', required: true }],
  alpaca: [{ name: 'instruction', required: true }, { name: 'input', required: false }, { name: 'output', required: true }],
  dolly: [{ name: 'instruction', required: true }, { name: 'context', required: false }, { name: 'response', required: true }],
  prompt_completion: [{ name: 'prompt', required: true }, { name: 'completion', required: true }],
  question_answer: [{ name: 'question', required: true }, { name: 'answer', required: true }],
  problem_solution: [{ name: 'problem', required: true }, { name: 'solution', required: true }],
  squad: [{ name: 'context', required: true }, { name: 'question', required: true }, { name: 'answers', required: true }],
  preference: [{ name: 'prompt', required: false }, { name: 'chosen', required: true }, { name: 'rejected', required: true }],
  unpaired_preference: [{ name: 'prompt', required: true }, { name: 'completion', required: true }, { name: 'label', required: true }],
}

// What each format is, in words; the option's value stays the format's name.
const FORMAT_LABEL: Record<string, string> = {
  conversations: 'Conversations (ShareGPT from/value)',
  messages: 'Messages (OpenAI role/content)',
  alpaca: 'Alpaca (instruction, input, output)',
  dolly: 'Dolly (instruction, context, response)',
  prompt_completion: 'Prompt and completion',
  question_answer: 'Question and answer',
  problem_solution: 'Problem and solution',
  squad: 'SQuAD (context, question, answers)',
  preference: 'Preference pairs (chosen and rejected)',
  unpaired_preference: 'Labelled replies (good or bad, for KTO)',
}

// Fields whose column needs more than a name to choose.
const ROLE_HELP: Record<string, string> = {
  label: 'Column saying whether the reply is good: true/false, 1/0, good/bad, yes/no.',
}

interface Props {
  dataset: Dataset
  formats: string[]
  onChanged: (d: Dataset) => void
}

/** The detected format and column mapping, shown as a guess to review, and editable. */
export function FieldMapping({ dataset, formats, onChanged }: Props) {
  const toasts = useToasts()
  const report = dataset.report
  const columns = report?.columns ?? []
  const [format, setFormat] = useState(dataset.format ?? report?.format ?? '')
  const [mapping, setMapping] = useState<Record<string, string>>(dataset.field_mapping ?? {})
  const [busy, setBusy] = useState(false)
  const [problem, setProblem] = useState<Problem | null>(null)
  useEffect(() => {
    setFormat(dataset.format ?? report?.format ?? '')
    setMapping(dataset.field_mapping ?? {})
  }, [dataset.id, dataset.format, JSON.stringify(dataset.field_mapping)]) // eslint-disable-line react-hooks/exhaustive-deps

  const roles = FORMAT_ROLES[format] ?? []
  const detection = report?.detection
  const dirty = format !== (dataset.format ?? report?.format ?? '') || JSON.stringify(mapping) !== JSON.stringify(dataset.field_mapping ?? {})
  const errs = problem ? fieldErrors(problem) : {}

  const apply = async () => {
    setBusy(true)
    setProblem(null)
    try {
      const body = { format: format as NonNullable<DatasetUpdate['format']>, field_mapping: Object.fromEntries(Object.entries(mapping).filter(([k, v]) => v && roles.some((r) => r.name === k))) }
      const updated = await unwrap(api.PATCH('/api/datasets/{dataset_id}', { params: { path: { dataset_id: dataset.id } }, body }))
      onChanged(updated)
      toasts.show('Mapping saved; the dataset was checked again.', 'ok')
    } catch (err) {
      setProblem(problemOf(err))
    } finally {
      setBusy(false)
    }
  }

  return (
    <div className="stack-sm" data-testid="field-mapping">
      {detection && detection.detected && (
        <div className="notice info">
          <div>
            <strong>Auto-detected, please review.</strong> Format <span className="mono">{detection.format ?? 'none'}</span>
            {detection.confidence ? ` (${Math.round(detection.confidence * 100)}% of sampled rows convert cleanly)` : ''}.
            {detection.notes.length > 0 && <span> {detection.notes.join(' ')}</span>}
          </div>
        </div>
      )}
      {detection && !detection.detected && <div className="notice ok">Format and mapping were set by you.</div>}
      <div className="form-grid">
        <div className="field">
          <label htmlFor="map-format">Format</label>
          <select id="map-format" value={format} onChange={(e) => setFormat(e.target.value)} aria-invalid={Boolean(errs.format)}>
            {!format && <option value="">(not recognised)</option>}
            {formats.filter((f) => f !== 'auto').map((f) => (
              <option key={f} value={f}>{FORMAT_LABEL[f] ?? f}</option>
            ))}
          </select>
          {errs.format ? <span className="err">{errs.format}</span> : <span className="help">The shape of each row.</span>}
        </div>
        {roles.map((r) => {
          const id = `map-${r.name}`
          const err = errs[`field_mapping.${r.name}`] ?? errs[r.name]
          return (
            <div className="field" key={r.name}>
              <label htmlFor={id}>
                {r.name} {r.required ? '' : <span className="muted small">(optional)</span>}
              </label>
              <select id={id} value={mapping[r.name] ?? ''} aria-invalid={Boolean(err)} onChange={(e) => setMapping({ ...mapping, [r.name]: e.target.value })}>
                <option value="">{r.required ? '(choose a column)' : '(none)'}</option>
                {columns.map((c) => (
                  <option key={c} value={c}>{c}</option>
                ))}
              </select>
              {err ? <span className="err">{err}</span> : <span className="help">{ROLE_HELP[r.name] ?? `Column that fills “${r.name}”.`}</span>}
            </div>
          )
        })}
      </div>
      {problem && !Object.keys(errs).some((k) => k === 'format' || k.startsWith('field_mapping')) && (
        <div className="notice bad" role="alert">{problem.detail}{problem.fix ? ` ${problem.fix}` : ''}</div>
      )}
      <div className="row">
        <button type="button" className="btn" disabled={!dirty || busy || !format} onClick={apply}>
          {busy ? 'Checking…' : 'Apply mapping'}
        </button>
        {columns.length > 0 && <span className="muted small">Columns: {columns.map((c) => <code key={c} style={{ marginRight: 6 }}>{c}</code>)}</span>}
      </div>
    </div>
  )
}
