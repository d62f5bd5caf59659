import { useEffect, useRef } from 'react'
import { api, unwrap } from '../../api/client'
import type { Dataset } from '../../api/types'
import { useToasts } from '../../components/Toasts'
import { getPath } from '../../lib/schema'
import { useWizard, type Markers } from './store'

const TEMPLATES: { id: string; label: string; text: (m: Markers) => string | null }[] = [
  { id: 'none', label: 'None', text: () => null },
  { id: 'assistant', label: 'Helpful assistant', text: () => 'You are a helpful assistant.' },
  {
    id: 'reasoning',
    label: 'Reasoning with markers',
    text: (m) =>
      `You are given a problem. Think about it step by step and write your reasoning between ${m.reasoningStart} and ${m.reasoningEnd}. ` +
      `Then give your final solution between ${m.solutionStart} and ${m.solutionEnd}.`,
  },
  { id: 'math', label: 'Math with final answer', text: () => 'Solve the math problem. Show your working, then write the final answer on its own line after "####".' },
  { id: 'concise', label: 'Concise expert', text: () => 'You are an expert. Answer accurately and concisely; say so when you are not sure.' },
  { id: 'custom', label: 'Custom', text: () => null },
]

/** System prompt templates, including one with reasoning and solution markers. */
export function SystemPrompt({ dataset, onChanged }: { dataset: Dataset | null; onChanged: (d: Dataset) => void }) {
  const { state, setField, update } = useWizard()
  const toasts = useToasts()
  const value = (getPath(state.config, 'data.system_prompt') as string | null) ?? ''
  const m = state.markers
  const pushed = useRef<string | null>(null)

  const choose = (id: string, markers = m) => {
    const t = TEMPLATES.find((x) => x.id === id)
    update({ promptTemplate: id, markers })
    if (id !== 'custom') setField('data.system_prompt', t?.text(markers) ?? null)
  }

  // Store the prompt on the dataset too (debounced), so its preview shows it.
  useEffect(() => {
    if (!dataset || (dataset.system_prompt ?? '') === value || pushed.current === value) return
    const id = window.setTimeout(async () => {
      pushed.current = value
      try {
        onChanged(await unwrap(api.PATCH('/api/datasets/{dataset_id}', { params: { path: { dataset_id: dataset.id } }, body: { system_prompt: value || null } })))
      } catch (err) {
        toasts.error(err)
      }
    }, 700)
    return () => window.clearTimeout(id)
  }, [value, dataset, onChanged, toasts])

  const marker = (key: keyof Markers, label: string) => (
    <div className="field">
      <label htmlFor={`mk-${key}`}>{label}</label>
      <input id={`mk-${key}`} type="text" className="mono" value={m[key]} onChange={(e) => choose('reasoning', { ...m, [key]: e.target.value })} />
    </div>
  )

  return (
    <div className="stack-sm">
      <div className="row" style={{ gap: 6 }} role="group" aria-label="System prompt template">
        {TEMPLATES.map((t) => (
          <button key={t.id} type="button" className="chip" aria-pressed={state.promptTemplate === t.id} onClick={() => choose(t.id)}>
            {t.label}
          </button>
        ))}
      </div>
      {state.promptTemplate === 'reasoning' && (
        <div className="form-grid" style={{ gridTemplateColumns: 'repeat(4, 1fr)' }}>
          {marker('reasoningStart', 'Reasoning starts')}
          {marker('reasoningEnd', 'Reasoning ends')}
          {marker('solutionStart', 'Solution starts')}
          {marker('solutionEnd', 'Solution ends')}
        </div>
      )}
      <div className="field">
        <label htmlFor="f-data-system_prompt">System prompt</label>
        <textarea
          id="f-data-system_prompt"
          rows={3}
          value={value}
          placeholder="No system message (the model's default, if its template has one)"
          onChange={(e) => {
            update({ promptTemplate: 'custom' })
            setField('data.system_prompt', e.target.value || null)
          }}
        />
        <span className="help">Put first in every training conversation. Use the same prompt when you chat with the tuned model.</span>
      </div>
    </div>
  )
}
