import { useCallback, useRef, useState } from 'react'
import { api, unwrap } from '../../api/client'
import { problemOf, type Problem } from '../../api/problem'
import { uploadDataset, type UploadHandle } from '../../api/upload'
import type { Dataset } from '../../api/types'
import { FieldMapping } from '../../components/data/FieldMapping'
import { SamplePreview } from '../../components/data/SamplePreview'
import { ValidationReportView } from '../../components/data/ValidationReportView'
import { Field } from '../../components/Field'
import { ErrorState, ProgressBar, SkeletonRows } from '../../components/States'
import { StatusBadge } from '../../components/StatusBadge'
import { fmtBytes, fmtInt } from '../../lib/format'
import { getPath } from '../../lib/schema'
import { useResource } from '../../lib/useResource'
import { useServer } from '../../state/server'
import { isValidating, useSelectedDataset } from './selectedDataset'
import { POPULAR_DATASETS } from './popular'
import { SystemPrompt } from './SystemPrompt'
import { useWizard } from './store'

const ACCEPT = '.jsonl,.json,.csv,.parquet,.txt'

function useChoose() {
  const { setField, update } = useWizard()
  return useCallback(
    (d: Dataset) => {
      setField('data.source', `dataset:${d.id}`)
      // The dataset's own system prompt (set on an earlier visit) comes with it.
      setField('data.system_prompt', d.system_prompt ?? null)
      update({ datasetId: d.id, datasetLabel: d.name, promptTemplate: d.system_prompt ? 'custom' : 'none' })
    },
    [setField, update],
  )
}

function Upload() {
  const choose = useChoose()
  const [over, setOver] = useState(false)
  const [progress, setProgress] = useState<number | null>(null)
  const [file, setFile] = useState<File | null>(null)
  const [problem, setProblem] = useState<Problem | null>(null)
  const handle = useRef<UploadHandle | null>(null)
  const input = useRef<HTMLInputElement>(null)

  const start = async (f: File) => {
    setFile(f)
    setProblem(null)
    setProgress(0)
    handle.current = uploadDataset(f, setProgress)
    try {
      const d = await handle.current.promise
      choose(d)
    } catch (err) {
      setProblem(problemOf(err))
    } finally {
      setProgress(null)
      handle.current = null
      if (input.current) input.current.value = ''
    }
  }

  return (
    <div className="stack-sm">
      <div
        className={`dropzone ${over ? 'over' : ''}`}
        onDragOver={(e) => {
          e.preventDefault()
          setOver(true)
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault()
          setOver(false)
          const f = e.dataTransfer.files[0]
          if (f) void start(f)
        }}
      >
        <p>
          <strong>Drop a dataset file here</strong> or{' '}
          <input ref={input} id="upload-file" className="sr-only" type="file" accept={ACCEPT} onChange={(e) => e.target.files?.[0] && void start(e.target.files[0])} />
          <label htmlFor="upload-file" className="btn sm" style={{ marginLeft: 4 }}>
            choose a file
          </label>
        </p>
        <p className="small muted" style={{ marginTop: 6 }}>
          JSONL, JSON, CSV or Parquet: chats (ShareGPT, OpenAI messages), Alpaca, Dolly, prompt/completion, question/answer, SQuAD, preference pairs, replies labelled good or bad (KTO).
        </p>
      </div>
      {progress !== null && file && (
        <div className="stack-sm" aria-live="polite">
          <div className="row small">
            <span>
              Uploading <strong>{file.name}</strong> ({fmtBytes(file.size)})
            </span>
            <span className="right">{Math.round(progress * 100)}%</span>
            <button type="button" className="btn sm ghost" onClick={() => handle.current?.abort()}>
              Cancel
            </button>
          </div>
          <ProgressBar value={progress} label="Upload progress" />
        </div>
      )}
      {problem && (
        <div className="notice bad" role="alert" data-testid="upload-error">
          <div className="stack-sm" style={{ width: '100%' }}>
            <strong>{file ? `${file.name}: ` : ''}{problem.detail}</strong>
            {problem.fix && <span>{problem.fix}</span>}
            {problem.errors && problem.errors.length > 0 && (
              <table className="table small">
                <thead><tr><th className="num">Line</th><th>Where</th><th>Problem</th></tr></thead>
                <tbody>
                  {problem.errors.map((e, i) => (
                    <tr key={i}><td className="num mono">{e.line ?? '—'}</td><td className="mono">{e.loc}</td><td>{e.message}</td></tr>
                  ))}
                </tbody>
              </table>
            )}
          </div>
        </div>
      )}
    </div>
  )
}

function HubForm() {
  const choose = useChoose()
  const [hubId, setHubId] = useState('')
  const [split, setSplit] = useState('train')
  const [subset, setSubset] = useState('')
  const [busy, setBusy] = useState(false)
  const [problem, setProblem] = useState<Problem | null>(null)
  const submit = async (e: React.FormEvent) => {
    e.preventDefault()
    setBusy(true)
    setProblem(null)
    try {
      choose(await unwrap(api.POST('/api/datasets/hub', { body: { hub_id: hubId.trim(), split: split.trim() || 'train', subset: subset.trim() || null } })))
    } catch (err) {
      setProblem(problemOf(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <form className="stack-sm" onSubmit={submit} aria-label="Hugging Face dataset">
      <div className="form-grid">
        <Field id="hub-ds" label="Dataset id" help="owner/name on the Hugging Face hub">
          <input id="hub-ds" type="text" value={hubId} placeholder="mlabonne/FineTome-100k" onChange={(e) => setHubId(e.target.value)} required />
        </Field>
        <Field id="hub-split" label="Split" help="train, test, … (default train)">
          <input id="hub-split" type="text" value={split} onChange={(e) => setSplit(e.target.value)} />
        </Field>
        <Field id="hub-subset" label="Subset (optional)" help="The dataset's config name, e.g. main for GSM8K">
          <input id="hub-subset" type="text" value={subset} onChange={(e) => setSubset(e.target.value)} />
        </Field>
      </div>
      {problem && <HubProblem problem={problem} />}
      <div>
        <button className="btn" type="submit" disabled={busy || !hubId.trim()}>
          {busy ? 'Reading from the hub…' : 'Use this dataset'}
        </button>
      </div>
    </form>
  )
}

function HubProblem({ problem }: { problem: Problem }) {
  const offline = problem.code === 'hub_unavailable'
  return (
    <div className={`notice ${offline ? 'warn' : 'bad'}`} role="alert">
      <div>
        <strong>{offline ? 'Hugging Face hub unavailable. ' : ''}</strong>
        {problem.detail} {problem.fix}
        {offline && !problem.fix && <div className="small" style={{ marginTop: 4 }}>Upload a local copy of the file instead, or try again once this server can reach huggingface.co.</div>}
      </div>
    </div>
  )
}

function Popular() {
  const choose = useChoose()
  const [busy, setBusy] = useState<string | null>(null)
  const [problems, setProblems] = useState<Record<string, Problem>>({})
  const pick = async (p: (typeof POPULAR_DATASETS)[number]) => {
    setBusy(p.hub_id)
    setProblems((old) => {
      const next = { ...old }
      delete next[p.hub_id]
      return next
    })
    try {
      choose(await unwrap(api.POST('/api/datasets/hub', { body: { hub_id: p.hub_id, split: p.split, subset: p.subset ?? null, name: p.name } })))
    } catch (err) {
      setProblems((old) => ({ ...old, [p.hub_id]: problemOf(err) }))
    } finally {
      setBusy(null)
    }
  }
  return (
    <div className="model-grid">
      {POPULAR_DATASETS.map((p) => (
        <div key={p.hub_id} className="model-card">
          <div className="row" style={{ gap: 6 }}>
            <span className="family">{p.name}</span>
            <span className="badge info plain right">{p.task}</span>
          </div>
          <span className="small muted mono" style={{ overflowWrap: 'anywhere' }}>{p.hub_id}{p.subset ? ` · ${p.subset}` : ''} · {p.split}</span>
          <span className="small">{p.blurb}</span>
          <span className="small muted">{fmtInt(p.rows)} rows · {p.format}</span>
          {problems[p.hub_id] && <HubProblem problem={problems[p.hub_id]} />}
          <div>
            <button type="button" className="btn sm" disabled={busy !== null} onClick={() => pick(p)}>
              {busy === p.hub_id ? 'Checking the hub…' : 'Use this dataset'}
            </button>
          </div>
        </div>
      ))}
    </div>
  )
}

function Existing() {
  const choose = useChoose()
  const { state } = useWizard()
  const list = useResource(() => unwrap(api.GET('/api/datasets')), [])
  if (list.loading) return <SkeletonRows rows={3} height={36} />
  if (list.error) return <ErrorState problem={list.error} onRetry={list.reload} />
  if (!list.data?.length) return <p className="muted">No datasets yet. Upload one, or pick a popular one.</p>
  return (
    <div className="card" style={{ boxShadow: 'none' }}>
      <table className="table">
        <thead>
          <tr><th>Name</th><th>Format</th><th className="num">Rows</th><th>Status</th><th /></tr>
        </thead>
        <tbody>
          {list.data.map((d) => (
            <tr key={d.id}>
              <td>{d.name}</td>
              <td className="mono small">{d.format ?? '—'}</td>
              <td className="num">{fmtInt(d.row_count)}</td>
              <td><StatusBadge status={d.status} /></td>
              <td className="num">
                <button type="button" className="btn sm" disabled={state.datasetId === d.id} onClick={() => choose(d)}>
                  {state.datasetId === d.id ? 'Selected' : 'Use'}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

function Chosen() {
  const { state } = useWizard()
  const { fields } = useServer()
  const ds = useSelectedDataset()
  const modelRef = String(getPath(state.config, 'model.name_or_path') ?? '') || null
  const seq = getPath(state.config, 'train.max_seq_length') as number | null
  const formats = fields.get('data.format')?.options ?? []
  const onChanged = ds.setData
  if (!state.datasetId) return null
  if (ds.loading) return <SkeletonRows rows={4} />
  if (ds.error) return <ErrorState problem={ds.error} onRetry={ds.reload} />
  const d = ds.data
  if (!d) return null
  const validating = isValidating(d)
  const version = `${d.format}|${JSON.stringify(d.field_mapping)}|${d.system_prompt ?? ''}|${d.status}`
  return (
    <>
      <section className="card" aria-labelledby="ds-h">
        <div className="card-head">
          <h2 id="ds-h">{d.name}</h2>
          <StatusBadge status={d.status} />
          <span className="right muted small">
            {d.kind === 'hub' ? `${d.hub_id} · ${d.split}` : d.original_filename} · {fmtBytes(d.size_bytes)} · {fmtInt(d.row_count)} rows
          </span>
        </div>
        <div className="card-body stack">
          {validating && (
            <div className="stack-sm">
              <span className="muted">Reading and checking every row…</span>
              <ProgressBar value={0} indeterminate label="Validating" />
            </div>
          )}
          {d.status === 'invalid' && (
            <div className="notice bad" role="alert">
              <div>
                <strong>This dataset cannot be trained on yet.</strong> {d.error}
              </div>
            </div>
          )}
          {d.report && <FieldMapping dataset={d} formats={formats} onChanged={onChanged} />}
        </div>
      </section>
      <section className="card" aria-labelledby="sp-h">
        <div className="card-head">
          <h2 id="sp-h">System prompt</h2>
        </div>
        <div className="card-body">
          <SystemPrompt dataset={d} onChanged={onChanged} />
        </div>
      </section>
      {d.report && (
        <section className="card" aria-labelledby="vr-h">
          <div className="card-head">
            <h2 id="vr-h">Validation report</h2>
          </div>
          <div className="card-body">
            <ValidationReportView report={d.report} limit={seq} datasetId={d.id} modelRef={modelRef} />
          </div>
        </section>
      )}
      {d.status === 'ready' && (
        <section className="card" aria-labelledby="pv-h">
          <div className="card-head">
            <h2 id="pv-h">Preview in the model's chat template</h2>
            <span className="right muted small">{modelRef ? state.modelLabel || modelRef : 'no model chosen'}</span>
          </div>
          <div className="card-body">
            <SamplePreview datasetId={d.id} modelRef={modelRef} version={version} maxSeqLength={seq} />
          </div>
        </section>
      )}
    </>
  )
}

export function DatasetStep() {
  const { state, update } = useWizard()
  const tabs = [
    ['upload', 'Upload a file'],
    ['hub', 'Hugging Face id'],
    ['popular', 'Popular datasets'],
    ['existing', 'Your datasets'],
  ] as const
  return (
    <div className="stack">
      <section className="card" aria-labelledby="src-h">
        <div className="card-head">
          <h2 id="src-h">Training data</h2>
          {state.datasetLabel && <span className="right muted small">Selected: <strong style={{ color: 'var(--text)' }}>{state.datasetLabel}</strong></span>}
        </div>
        <div className="card-body">
          <div className="tabs" role="tablist" aria-label="Where the data comes from">
            {tabs.map(([key, label]) => (
              <button key={key} role="tab" type="button" aria-selected={state.datasetTab === key} onClick={() => update({ datasetTab: key })}>
                {label}
              </button>
            ))}
          </div>
          {state.datasetTab === 'upload' && <Upload />}
          {state.datasetTab === 'hub' && <HubForm />}
          {state.datasetTab === 'popular' && <Popular />}
          {state.datasetTab === 'existing' && <Existing />}
        </div>
      </section>
      <Chosen />
    </div>
  )
}
