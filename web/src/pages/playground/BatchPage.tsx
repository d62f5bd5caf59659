import { useState } from 'react'
import { Link, useSearchParams } from 'react-router'
import { api, unwrap } from '../../api/client'
import { getResults, resultsHref } from '../../api/evaluations'
import { fieldErrors, problemOf } from '../../api/problem'
import { uploadDataset } from '../../api/upload'
import { Field } from '../../components/Field'
import { JobProgress } from '../../components/JobProgress'
import { EmptyState, ErrorState, SkeletonRows } from '../../components/States'
import { StatusBadge } from '../../components/StatusBadge'
import { useToasts } from '../../components/Toasts'
import { fmtInt, fmtNumber, fmtPct, fmtWhen } from '../../lib/format'
import { useResource } from '../../lib/useResource'
import { useJobs } from '../../state/jobs'
import { useRunStream } from '../jobs/useRunStream'
import { secs } from './AnswerMeta'
import { PlaygroundTabs } from './PlaygroundTabs'
import { DEFAULT_SAMPLING, SamplingControls, samplingErrors, toSampling, type SamplingDraft } from './sampling'
import { TargetSelect, useTargets } from './targets'

export const GENERATE = 'generate'
const MAX_LINES = 1000

type Source = { kind: 'lines' } | { kind: 'dataset'; id: string; name: string; rows: number | null }

function linesOf(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter(Boolean)
}

function Results({ jobId, status }: { jobId: string; status: string }) {
  const rows = useResource(() => getResults(jobId), [jobId, status])
  if (rows.loading) return <div className="card-body"><SkeletonRows rows={4} /></div>
  if (rows.error) return <div className="card-body"><ErrorState problem={rows.error} onRetry={rows.reload} /></div>
  const list = rows.data ?? []
  if (!list.length) return <div className="card-body muted">The job wrote no results.</div>
  const hasExpected = list.some((r) => r.expected != null && r.expected !== '')
  const matchOf = (r: (typeof list)[number]) => (r.exact_match == null ? null : r.exact_match >= 1)
  return (
    <div className="table-scroll">
      <table className="table results" data-testid="batch-results">
        <thead>
          <tr><th>#</th><th>Prompt</th>{hasExpected && <th>Expected</th>}<th>Output</th><th className="num">Latency</th><th className="num">Tokens/s</th>{hasExpected && <th>Match</th>}</tr>
        </thead>
        <tbody>
          {list.map((r, i) => (
            <tr key={i}>
              <td className="num muted">{i + 1}</td>
              <td className="cell-text">{r.prompt}</td>
              {hasExpected && <td className="cell-text">{r.expected ?? <span className="muted">—</span>}</td>}
              <td className="cell-text">{r.error ? <span className="bad-text">{r.error}</span> : (r.text ?? '')}</td>
              <td className="num nowrap">{secs(r.latency_s)}</td>
              <td className="num">{fmtNumber(r.tokens_per_second, 3)}</td>
              {hasExpected && <td>{matchOf(r) == null ? <span className="muted">—</span> : matchOf(r) ? <span className="badge ok">match</span> : <span className="badge idle">differs</span>}</td>}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

function BatchJob({ jobId }: { jobId: string }) {
  const { state: run } = useRunStream(jobId)
  const targets = useTargets()
  const job = run.job
  if (run.error && !job) return <ErrorState problem={run.error} title={run.error.status === 404 ? 'No such batch test' : undefined} />
  if (!job) return <SkeletonRows rows={3} />
  const result = (job.result ?? {}) as Record<string, number | null | undefined>
  const spec = (job.config ?? {}) as { model?: string }
  return (
    <div className="stack">
      <JobProgress run={run} what="Batch test" />
      <section className="card" aria-label="Results">
        <div className="card-head">
          <h2>Results</h2>
          {spec.model && <span className="small muted" title={spec.model}>{targets.nameOf(spec.model)} <span className="mono">{spec.model.slice(0, 16)}</span></span>}
          {job.status === 'completed' && (
            <span className="right">
              <a className="btn sm" href={resultsHref(jobId, 'json')} download>Download JSON</a>
              <a className="btn sm" href={resultsHref(jobId, 'csv')} download>Download CSV</a>
            </span>
          )}
        </div>
        {job.status === 'completed' ? (
          <>
            <div className="card-body stat-row" data-testid="batch-summary">
              <div className="stat"><div className="k">Prompts</div><div className="v">{fmtInt(result.count)}</div></div>
              <div className="stat"><div className="k">Mean latency</div><div className="v sm">{secs(result.mean_latency_s)}</div></div>
              <div className="stat"><div className="k">Tokens/s</div><div className="v sm">{fmtNumber(result.tokens_per_second, 3)}</div></div>
              {result.exact_match != null && <div className="stat"><div className="k">Exact match</div><div className="v sm">{fmtPct(result.exact_match, 1)}</div></div>}
            </div>
            <Results jobId={jobId} status={job.status} />
          </>
        ) : (
          <div className="card-body muted small">{job.status === 'failed' ? 'No results: the job failed.' : 'The table fills in when every prompt has an answer.'}</div>
        )}
      </section>
    </div>
  )
}

export function BatchPage() {
  const [params, setParams] = useSearchParams()
  const jobId = params.get('job')
  const targets = useTargets()
  const toasts = useToasts()
  const { others, upsert } = useJobs()
  const [model, setModel] = useState(params.get('model') ?? '')
  const [mode, setMode] = useState<'lines' | 'file'>('lines')
  const [text, setText] = useState('')
  const [source, setSource] = useState<Source>({ kind: 'lines' })
  const [uploading, setUploading] = useState<number | null>(null)
  const [sampling, setSampling] = useState<SamplingDraft>(DEFAULT_SAMPLING)
  const [errors, setErrors] = useState<Record<string, string>>({})
  const [busy, setBusy] = useState(false)
  const chosen = model || targets.adapters[0]?.ref || targets.models[0]?.ref || ''
  const lines = linesOf(text)
  const sErrors = samplingErrors(sampling)

  const pickFile = async (file: File) => {
    setErrors({})
    if (/\.txt$/i.test(file.name)) {
      // A .txt is one prompt per line: read here and sent as lines.
      setText((await file.text()).replace(/\r\n/g, '\n'))
      setSource({ kind: 'lines' })
      setMode('lines')
      return
    }
    setUploading(0)
    try {
      const d = await uploadDataset(file, setUploading).promise
      setSource({ kind: 'dataset', id: d.id, name: d.name, rows: d.row_count ?? null })
    } catch (err) {
      setErrors({ file: problemOf(err).detail })
    } finally {
      setUploading(null)
    }
  }

  const promptsReady = mode === 'file' ? source.kind === 'dataset' : lines.length > 0 && lines.length <= MAX_LINES
  const blocker = !chosen ? 'Choose a model' : !promptsReady ? (mode === 'file' ? 'Upload a prompts file' : lines.length > MAX_LINES ? `At most ${MAX_LINES} lines` : 'Type some prompts') : Object.keys(sErrors).length ? 'Fix the sampling settings' : null

  const start = async (e: React.FormEvent) => {
    e.preventDefault()
    if (blocker) return
    setBusy(true)
    setErrors({})
    try {
      const config = {
        model: chosen,
        prompts: mode === 'file' && source.kind === 'dataset' ? `dataset:${source.id}` : null,
        lines: mode === 'lines' ? lines : null,
        sampling: toSampling(sampling),
      }
      const job = await unwrap(api.POST('/api/jobs', { body: { kind: GENERATE, config, name: `Batch test of ${targets.nameOf(chosen)}` } }))
      upsert(job)
      setParams({ job: job.id })
    } catch (err) {
      const p = problemOf(err)
      const fields = fieldErrors(p)
      setErrors(fields)
      if (!Object.keys(fields).length) toasts.error(err)
    } finally {
      setBusy(false)
    }
  }

  const recent = (others ?? []).filter((j) => j.kind === GENERATE).slice(0, 8)
  return (
    <div className="page stack">
      <div className="page-head" style={{ marginBottom: 0 }}>
        <div>
          <h1>Batch test</h1>
          <p className="sub">Run many prompts through one model in the background, then read or download every answer with its speed.</p>
        </div>
        {jobId && <div className="actions"><button type="button" className="btn" onClick={() => setParams({})}>New batch test</button></div>}
      </div>
      <PlaygroundTabs current="batch" model={chosen} />
      {jobId ? (
        <BatchJob jobId={jobId} />
      ) : (
        <form className="card" aria-label="New batch test" onSubmit={start} noValidate>
          <div className="card-body stack">
            {targets.error && <ErrorState problem={targets.error} onRetry={targets.reload} />}
            <Field id="batch-model" label="Model" help="A base model or an adapter." error={errors.model}>
              <TargetSelect id="batch-model" value={chosen} onChange={setModel} targets={targets} />
            </Field>
            <div className="stack-sm">
              <span className="field-label" id="batch-source-label">Prompts</span>
              <div className="segmented" role="group" aria-labelledby="batch-source-label">
                <button type="button" aria-pressed={mode === 'lines'} onClick={() => setMode('lines')}>Type or paste lines</button>
                <button type="button" aria-pressed={mode === 'file'} onClick={() => setMode('file')}>Upload a file</button>
              </div>
              {mode === 'lines' ? (
                <Field id="batch-lines" label={<span className="sr-only">Prompts, one per line</span>} help={`One prompt per line, at most ${MAX_LINES}. ${lines.length ? `${fmtInt(lines.length)} prompt${lines.length === 1 ? '' : 's'}.` : ''}`} error={errors.lines ?? (lines.length > MAX_LINES ? `${fmtInt(lines.length)} lines: at most ${MAX_LINES}.` : undefined)}>
                  <textarea id="batch-lines" rows={8} value={text} onChange={(e) => setText(e.target.value)} placeholder={'What is LoRA?\nWrite a haiku about GPUs.'} aria-describedby="batch-lines-help" />
                </Field>
              ) : (
                <Field id="batch-file" label={<span className="sr-only">Prompts file</span>} help={<>A <code>.txt</code> with one prompt per line, or JSONL with <code>prompt</code> (or <code>messages</code>) and an optional <code>expected</code>, which the results compare against.</>} error={errors.file ?? errors.prompts}>
                  <input id="batch-file" type="file" accept=".txt,.jsonl,.json,.csv" onChange={(e) => e.target.files?.[0] && void pickFile(e.target.files[0])} aria-describedby="batch-file-help" />
                </Field>
              )}
              {uploading !== null && <p className="small muted">Uploading… {Math.round(uploading * 100)}%</p>}
              {mode === 'file' && source.kind === 'dataset' && <p className="small" data-testid="batch-dataset">Prompts from <Link to={`/datasets/${source.id}`}>{source.name}</Link>{source.rows != null ? `, ${fmtInt(source.rows)} rows` : ''}.</p>}
            </div>
            <SamplingControls value={sampling} onChange={setSampling} idPrefix="batch" />
            <div className="row">
              <button type="submit" className={`btn primary ${blocker ? 'needs' : ''}`} disabled={busy || Boolean(blocker)}>{busy ? 'Starting…' : blocker ?? 'Start batch test'}</button>
            </div>
          </div>
        </form>
      )}
      <section className="card" aria-label="Recent batch tests">
        <div className="card-head"><h2>Recent batch tests</h2></div>
        {recent.length === 0 ? (
          <div className="card-body muted small">None yet.</div>
        ) : (
          <table className="table">
            <tbody>
              {recent.map((j) => (
                <tr key={j.id} className={j.id === jobId ? 'selected' : ''}>
                  <td><Link to={`/batch?job=${j.id}`}>{j.name ?? j.id.slice(0, 8)}</Link></td>
                  <td><StatusBadge status={j.status} progress={j.progress} /></td>
                  <td className="small muted">{fmtWhen(j.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      {!targets.loading && targets.adapters.length + targets.models.length === 0 && (
        <div className="card"><EmptyState title="No model to test" action={<Link to="/models" className="btn primary">Add a model</Link>}>Add a base model or train a run first.</EmptyState></div>
      )}
    </div>
  )
}
