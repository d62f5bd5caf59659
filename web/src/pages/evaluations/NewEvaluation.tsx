import { useEffect, useState } from 'react'
import { useNavigate } from 'react-router'
import { api, unwrap } from '../../api/client'
import { fieldErrors, problemOf } from '../../api/problem'
import { Field } from '../../components/Field'
import { useToasts } from '../../components/Toasts'
import { fmtInt } from '../../lib/format'
import { useResource } from '../../lib/useResource'
import { useJobs } from '../../state/jobs'
import { DEFAULT_SAMPLING, SamplingControls, samplingErrors, toSampling, type SamplingDraft } from '../playground/sampling'
import { TargetSelect, useTargets } from '../playground/targets'

export const EVALUATE = 'evaluate'

/** Start an `evaluate` job: an adapter against its base on held-out rows or a dataset. */
export function NewEvaluation({ initialAdapter, onCancel }: { initialAdapter?: string; onCancel?: () => void }) {
  const targets = useTargets()
  const navigate = useNavigate()
  const toasts = useToasts()
  const { upsert } = useJobs()
  const [adapter, setAdapter] = useState(initialAdapter ?? '')
  const [data, setData] = useState<'heldout' | 'dataset'>('heldout')
  const [dataset, setDataset] = useState('')
  const [split, setSplit] = useState('')
  const [maxSamples, setMaxSamples] = useState('50')
  const [steps, setSteps] = useState<number[]>([])
  const [judgeOn, setJudgeOn] = useState(false)
  const [judge, setJudge] = useState({ base_url: '', model: '', api_key: '' })
  const [price, setPrice] = useState('2.0')
  const [sampling, setSampling] = useState<SamplingDraft>({ ...DEFAULT_SAMPLING, max_tokens: '128', seed: '0' })
  const [errors, setErrors] = useState<Record<string, string>>({})
  const [busy, setBusy] = useState(false)

  const chosen = adapter || targets.adapters[0]?.ref || ''
  const adapters = useResource(() => unwrap(api.GET('/api/adapters')), [])
  const datasets = useResource(() => unwrap(api.GET('/api/datasets')), [])
  const a = adapters.data?.find((x) => `adapter:${x.id}` === chosen)
  const runId = a?.job_id ?? null
  const checkpoints = useResource(async () => (runId ? await unwrap(api.GET('/api/jobs/{job_id}/checkpoints', { params: { path: { job_id: runId } } })) : []), [runId])
  useEffect(() => {
    setSteps([])
    if (a && !a.job_id) setData('dataset')
  }, [a?.id]) // eslint-disable-line react-hooks/exhaustive-deps

  const n = Number(maxSamples)
  const localErrors: Record<string, string> = { ...samplingErrors(sampling) as Record<string, string> }
  if (!Number.isInteger(n) || n < 1 || n > 1000) localErrors.max_samples = 'A whole number from 1 to 1,000.'
  if (steps.length > 10) localErrors.checkpoints = 'At most 10 checkpoints.'
  const p = Number(price)
  if (!Number.isFinite(p) || p < 0) localErrors.price_per_gpu_hour = 'A price of 0 or more.'
  if (judgeOn && !judge.base_url.trim()) localErrors['judge.base_url'] = 'The judge’s OpenAI-compatible URL.'
  if (judgeOn && !judge.model.trim()) localErrors['judge.model'] = 'The judge’s model name.'
  const shown = { ...errors, ...localErrors }
  const blocker = !chosen ? 'Choose an adapter' : data === 'dataset' && !dataset ? 'Choose a dataset' : Object.keys(localErrors).length ? 'Fix the marked fields' : null

  const submit = async (e: React.FormEvent) => {
    e.preventDefault()
    if (blocker) return
    setBusy(true)
    setErrors({})
    try {
      const config = {
        adapter: chosen,
        dataset: data === 'dataset' ? `dataset:${dataset}` : null,
        split: data === 'dataset' && split.trim() ? split.trim() : null,
        max_samples: n,
        sampling: toSampling(sampling),
        checkpoints: steps,
        judge: judgeOn ? { base_url: judge.base_url.trim(), model: judge.model.trim(), api_key: judge.api_key || null } : null,
        price_per_gpu_hour: p,
      }
      const job = await unwrap(api.POST('/api/jobs', { body: { kind: EVALUATE, config, name: `Evaluation of ${targets.nameOf(chosen)}` } }))
      upsert(job)
      navigate(`/evaluations/${job.id}`)
    } catch (err) {
      const fields = fieldErrors(problemOf(err))
      setErrors(fields)
      const unplaced = Object.entries(fields).filter(([k]) => !FIELD_KEYS.has(k))
      if (!Object.keys(fields).length || unplaced.length) toasts.error(err)
    } finally {
      setBusy(false)
    }
  }

  const complete = (checkpoints.data ?? []).filter((c) => c.complete)
  return (
    <form className="card" aria-label="New evaluation" onSubmit={submit} noValidate data-testid="new-evaluation">
      <div className="card-head">
        <h2>New evaluation</h2>
        <span className="right muted small">the adapter and its base answer the same prompts; metrics, speed and a blind vote compare them</span>
      </div>
      <div className="card-body stack">
        <div className="form-grid">
          <Field id="eval-adapter" label="Adapter" help={a ? `Compared with its base, ${targets.find(chosen)?.baseName ?? a.base_model}.` : 'The tuned model.'} error={shown.adapter}>
            <TargetSelect id="eval-adapter" value={chosen} onChange={setAdapter} targets={targets} only="adapter" describedBy="eval-adapter-help" />
          </Field>
          <Field id="eval-max" label="Max samples" help="How many prompts to answer (each twice: base and tuned)." error={shown.max_samples}>
            <input id="eval-max" type="text" inputMode="numeric" value={maxSamples} onChange={(e) => setMaxSamples(e.target.value)} aria-invalid={Boolean(shown.max_samples)} aria-describedby="eval-max-help" />
          </Field>
          <Field id="eval-price" label="Price per GPU hour ($)" help="For the cost per 1,000 requests." error={shown.price_per_gpu_hour}>
            <input id="eval-price" type="text" inputMode="decimal" value={price} onChange={(e) => setPrice(e.target.value)} aria-invalid={Boolean(shown.price_per_gpu_hour)} aria-describedby="eval-price-help" />
          </Field>
        </div>
        <div className="stack-sm">
          <span className="field-label" id="eval-data-label">Data</span>
          <div className="segmented" role="group" aria-labelledby="eval-data-label">
            <button type="button" aria-pressed={data === 'heldout'} onClick={() => setData('heldout')} disabled={Boolean(a && !a.job_id)} title={a && !a.job_id ? 'A registered adapter has no run, so no held-out rows' : undefined}>Held-out rows of its run</button>
            <button type="button" aria-pressed={data === 'dataset'} onClick={() => setData('dataset')}>A dataset</button>
          </div>
          {data === 'heldout' ? (
            <p className="small muted">The rows the run kept out of training (its eval split). {shown.dataset && <span className="bad-text">{shown.dataset}</span>}</p>
          ) : (
            <div className="form-grid">
              <Field id="eval-dataset" label="Dataset" help="Its prompts and reference answers, read with its field mapping." error={shown.dataset}>
                <select id="eval-dataset" value={dataset} onChange={(e) => setDataset(e.target.value)} aria-describedby="eval-dataset-help">
                  <option value="">Choose…</option>
                  {(datasets.data ?? []).filter((d) => d.status === 'ready').map((d) => (
                    <option key={d.id} value={d.id}>{d.name}{d.row_count != null ? ` (${fmtInt(d.row_count)} rows)` : ''}</option>
                  ))}
                </select>
              </Field>
              <Field id="eval-split" label="Split (optional)" help="For a hub dataset, e.g. test." error={shown.split}>
                <input id="eval-split" type="text" value={split} onChange={(e) => setSplit(e.target.value)} aria-describedby="eval-split-help" />
              </Field>
            </div>
          )}
        </div>
        {runId && (
          <div className="stack-sm">
            <span className="field-label" id="eval-ckpt-label">Checkpoints (optional)</span>
            {complete.length === 0 ? (
              <p className="small muted">The run kept no complete checkpoint.</p>
            ) : (
              <>
                <div className="row" role="group" aria-labelledby="eval-ckpt-label" style={{ gap: 6 }}>
                  {complete.map((c) => (
                    <button key={c.step} type="button" className="chip" aria-pressed={steps.includes(c.step)} onClick={() => setSteps((s) => (s.includes(c.step) ? s.filter((x) => x !== c.step) : [...s, c.step].sort((x, y) => x - y)))}>
                      step {c.step}
                    </button>
                  ))}
                </div>
                <p className="small muted">Also evaluate these steps of the run, to chart a metric over training. {shown.checkpoints && <span className="bad-text">{shown.checkpoints}</span>}</p>
              </>
            )}
          </div>
        )}
        <div className="stack-sm">
          <label className="check" htmlFor="eval-judge-on">
            <input id="eval-judge-on" type="checkbox" checked={judgeOn} onChange={(e) => setJudgeOn(e.target.checked)} />
            <span><span style={{ fontWeight: 500 }}>Ask a judge model</span><br /><span className="help small muted">An OpenAI-compatible endpoint compares each pair, both ways round.</span></span>
          </label>
          {judgeOn && (
            <div className="form-grid">
              <Field id="eval-judge-url" label="Judge base URL" help="e.g. http://127.0.0.1:8000/v1" error={shown['judge.base_url']}>
                <input id="eval-judge-url" type="text" className="mono" value={judge.base_url} onChange={(e) => setJudge({ ...judge, base_url: e.target.value })} aria-describedby="eval-judge-url-help" />
              </Field>
              <Field id="eval-judge-model" label="Judge model" error={shown['judge.model']}>
                <input id="eval-judge-model" type="text" className="mono" value={judge.model} onChange={(e) => setJudge({ ...judge, model: e.target.value })} />
              </Field>
              <Field id="eval-judge-key" label="API key (optional)" help="Sent to the judge only; kept in the job's spec." error={shown['judge.api_key']}>
                <input id="eval-judge-key" type="password" autoComplete="off" value={judge.api_key} onChange={(e) => setJudge({ ...judge, api_key: e.target.value })} aria-describedby="eval-judge-key-help" />
              </Field>
            </div>
          )}
        </div>
        <details>
          <summary className="small">Sampling (greedy by default, so the comparison is repeatable)</summary>
          <div style={{ marginTop: 10 }}><SamplingControls value={sampling} onChange={setSampling} idPrefix="eval" /></div>
        </details>
        <div className="row">
          <button type="submit" className={`btn primary ${blocker ? 'needs' : ''}`} disabled={busy || Boolean(blocker)}>{busy ? 'Starting…' : blocker ?? 'Start evaluation'}</button>
          {onCancel && <button type="button" className="btn ghost" onClick={onCancel}>Cancel</button>}
        </div>
      </div>
    </form>
  )
}

const FIELD_KEYS = new Set(['adapter', 'dataset', 'split', 'max_samples', 'checkpoints', 'price_per_gpu_hour', 'judge.base_url', 'judge.model', 'judge.api_key'])
