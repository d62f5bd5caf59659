import { useMemo, useState } from 'react'
import { useNavigate } from 'react-router'
import YAML from 'yaml'
import { api, unwrap } from '../../api/client'
import { fieldErrors, problemOf, splitProblem, type Problem } from '../../api/problem'
import type { RunConfig } from '../../api/types'
import { SamplePreview } from '../../components/data/SamplePreview'
import { ValidationReportView } from '../../components/data/ValidationReportView'
import { Field } from '../../components/Field'
import { useToasts } from '../../components/Toasts'
import { getPath, setPath } from '../../lib/schema'
import { useResource } from '../../lib/useResource'
import { useJobs } from '../../state/jobs'
import { useServer } from '../../state/server'
import { useSelectedDataset } from './selectedDataset'
import { buildConfig, STEPS, stepOf, useWizard, wizardIssues } from './store'

/** The YAML for `loralab train`, with a note where a reference only this server can resolve. */
export function configYaml(config: Record<string, unknown>, notes: string[] = []): string {
  const head = ['# loralab run config: `loralab train run.yaml`', ...notes.map((n) => `# ${n}`)].join('\n')
  return `${head}\n${YAML.stringify(config, { lineWidth: 100 })}`
}

export function downloadText(name: string, text: string, type = 'application/yaml') {
  const url = URL.createObjectURL(new Blob([text], { type }))
  const a = document.createElement('a')
  a.href = url
  a.download = name
  a.click()
  window.setTimeout(() => URL.revokeObjectURL(url), 1000)
}

function useStart() {
  const { state, setServerErrors, goto } = useWizard()
  const { fields } = useServer()
  const { upsert } = useJobs()
  const toasts = useToasts()
  const navigate = useNavigate()
  const [busy, setBusy] = useState(false)
  const start = async () => {
    setBusy(true)
    try {
      const config = buildConfig(state) as unknown as RunConfig
      const job = await unwrap(api.POST('/api/jobs', { body: { kind: 'train', config, name: state.runName.trim() || null } }))
      upsert(job)
      toasts.show('Run queued', 'ok')
      navigate(`/runs/${job.id}`)
    } catch (err) {
      const p = problemOf(err)
      if (p.errors?.length) {
        const { placed, unplaced } = splitProblem(p, (loc) => fields.has(loc))
        setServerErrors({ ...placed, ...Object.fromEntries(unplaced.map((u, i) => [`_${i}`, u])) })
        const first = Object.keys(placed).map(stepOf).sort()[0]
        if (first !== undefined && first !== 3) goto(first)
        toasts.show(p.detail, 'bad', 'The fields at fault are marked.')
      } else {
        toasts.error(err)
      }
    } finally {
      setBusy(false)
    }
  }
  return { start, busy }
}

/** Start, or the name of what is missing (clicking it goes there). */
export function StartButton({ large }: { large?: boolean }) {
  const { state, goto } = useWizard()
  const { fields } = useServer()
  const dataset = useSelectedDataset()
  const { start, busy } = useStart()
  const issues = wizardIssues(state, fields)
  if (dataset.data?.status === 'invalid') issues.push({ step: 1, path: 'data.source', message: 'fix or replace the dataset (it did not validate)', action: 'fix the dataset' })
  if (dataset.data?.status === 'validating') issues.push({ step: 1, path: 'data.source', message: 'wait for the dataset check to finish', action: 'wait for the dataset check' })
  const cls = `btn ${large ? 'lg' : ''}`
  if (issues.length) {
    const first = issues[0]
    return (
      <button type="button" className={`${cls} needs`} data-testid="start" onClick={() => goto(first.step)} title={issues.map((i) => i.message).join('\n')}>
        {first.action.charAt(0).toUpperCase() + first.action.slice(1)}
        {issues.length > 1 ? ` (+${issues.length - 1} more)` : ''} →
      </button>
    )
  }
  return (
    <button type="button" className={`${cls} primary`} data-testid="start" disabled={busy} onClick={start}>
      {busy ? 'Starting…' : 'Start training'}
    </button>
  )
}

function SaveConfig({ config }: { config: Record<string, unknown> }) {
  const { state } = useWizard()
  const toasts = useToasts()
  const [name, setName] = useState(state.loadedFrom ?? '')
  const [description, setDescription] = useState('')
  const [problem, setProblem] = useState<Problem | null>(null)
  const [busy, setBusy] = useState(false)
  const save = async (e: React.FormEvent) => {
    e.preventDefault()
    setBusy(true)
    setProblem(null)
    try {
      const saved = await unwrap(api.POST('/api/configs', { body: { name: name.trim(), description: description.trim() || null, config: config as unknown as RunConfig } }))
      toasts.show(`Saved as “${saved.name}”`, 'ok')
    } catch (err) {
      setProblem(problemOf(err))
    } finally {
      setBusy(false)
    }
  }
  const errs = problem ? fieldErrors(problem) : {}
  const nameError = problem && (problem.status === 409 ? problem.detail : errs.name)
  const other = problem && !nameError ? problem.detail : null
  return (
    <form className="stack-sm" onSubmit={save} aria-label="Save as a named config">
      <div className="form-grid">
        <Field id="cfg-name" label="Config name" help="Reuse it from the Configs page." error={nameError}>
          <input id="cfg-name" type="text" value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} aria-invalid={Boolean(nameError)} />
        </Field>
        <Field id="cfg-desc" label="Description (optional)">
          <input id="cfg-desc" type="text" value={description} onChange={(e) => setDescription(e.target.value)} />
        </Field>
      </div>
      {other && <div className="notice bad">{other}</div>}
      <div>
        <button className="btn" type="submit" disabled={busy || !name.trim()}>
          {busy ? 'Saving…' : 'Save config'}
        </button>
      </div>
    </form>
  )
}

export function ReviewStep() {
  const { state, update } = useWizard()
  const { fields } = useServer()
  const dataset = useSelectedDataset()
  const config = useMemo(() => buildConfig(state), [state])
  const issues = wizardIssues(state, fields)
  const models = useResource(() => unwrap(api.GET('/api/models')), [])
  const notes: string[] = []
  const source = String(getPath(config, 'data.source') ?? '')
  if (source.startsWith('dataset:')) {
    const file = dataset.data?.kind === 'hub' ? dataset.data.hub_id : dataset.data?.original_filename
    notes.push(`data.source ${source.slice(0, 16)}… is a dataset on this server${file ? ` (${file})` : ''}.`)
    notes.push('Elsewhere, set data.source to the file path or the hub id.')
  }
  // The CLI reads a model folder, not this server's model:<id>: the downloaded YAML uses the folder.
  const modelRef = String(getPath(config, 'model.name_or_path') ?? '')
  const folder = modelRef.startsWith('model:') ? models.data?.local.find((m) => `model:${m.id}` === modelRef)?.path : undefined
  const cliConfig = folder ? setPath(config, 'model.name_or_path', folder) : config
  const yaml = configYaml(cliConfig, notes)
  const seq = getPath(config, 'train.max_seq_length') as number | null
  return (
    <div className="stack">
      <section className="card" aria-labelledby="run-h">
        <div className="card-head">
          <h2 id="run-h">Run</h2>
        </div>
        <div className="card-body stack">
          <div className="form-grid">
            <Field id="run-name" label="Run name (optional)" help="Shown in the runs list; the model name otherwise.">
              <input id="run-name" type="text" value={state.runName} maxLength={200} onChange={(e) => update({ runName: e.target.value })} />
            </Field>
          </div>
          {issues.length > 0 ? (
            <div className="notice warn" role="status">
              <div>
                <strong>Before you can start:</strong>
                <ul style={{ margin: '4px 0 0', paddingLeft: 18 }}>
                  {issues.map((i) => (
                    <li key={i.path + i.message}>
                      {i.message} <span className="muted">({STEPS[i.step].label})</span>
                    </li>
                  ))}
                </ul>
              </div>
            </div>
          ) : (
            <div className="notice ok">Everything needed is set. Training runs on the server; you can close this tab at any time.</div>
          )}
          <div className="row">
            <StartButton large />
          </div>
        </div>
      </section>

      {dataset.data?.status === 'ready' && (
        <section className="card" aria-labelledby="rs-h">
          <div className="card-head">
            <h2 id="rs-h">Three samples as they will be trained</h2>
          </div>
          <div className="card-body stack">
            <SamplePreview datasetId={dataset.data.id} modelRef={modelRef || null} maxSeqLength={seq} version={`${dataset.data.format}|${dataset.data.system_prompt ?? ''}`} />
            {dataset.data.report && <ValidationReportView report={dataset.data.report} limit={seq} datasetId={dataset.data.id} modelRef={modelRef || null} />}
          </div>
        </section>
      )}

      <section className="card" aria-labelledby="yaml-h">
        <div className="card-head">
          <h2 id="yaml-h">Config as YAML</h2>
          <div className="right">
            <button type="button" className="btn sm" onClick={() => downloadText(`${(state.runName || 'run').replace(/[^\w.-]+/g, '-')}.yaml`, yaml)}>
              Download YAML
            </button>
            <button type="button" className="btn sm" onClick={() => void navigator.clipboard?.writeText(yaml)}>
              Copy
            </button>
          </div>
        </div>
        <div className="card-body">
          <pre className="yaml" data-testid="config-yaml">{yaml}</pre>
        </div>
      </section>

      <section className="card" aria-labelledby="save-h">
        <div className="card-head">
          <h2 id="save-h">Save as a named config</h2>
        </div>
        <div className="card-body">
          <SaveConfig config={config} />
        </div>
      </section>
    </div>
  )
}
