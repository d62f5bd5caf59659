import { useEffect, useState } from 'react'
import { Link, useNavigate, useParams } from 'react-router'
import { api, unwrap } from '../../api/client'
import { FieldMapping } from '../../components/data/FieldMapping'
import { Histogram } from '../../components/data/Histogram'
import { SamplePreview } from '../../components/data/SamplePreview'
import { ValidationReportView } from '../../components/data/ValidationReportView'
import { ErrorState, ProgressBar, Skeleton } from '../../components/States'
import { StatusBadge } from '../../components/StatusBadge'
import { useToasts } from '../../components/Toasts'
import { fmtBytes, fmtInt, fmtNumber, fmtWhen } from '../../lib/format'
import { useResource } from '../../lib/useResource'
import { useServer } from '../../state/server'
import { useWizard } from '../new/store'

const TABS = ['samples', 'statistics', 'report', 'mapping'] as const

export function DatasetPage() {
  const { id = '' } = useParams()
  const ds = useResource(() => unwrap(api.GET('/api/datasets/{dataset_id}', { params: { path: { dataset_id: id } } })), [id])
  const models = useResource(() => unwrap(api.GET('/api/models')), [])
  const { fields } = useServer()
  const wizard = useWizard()
  const toasts = useToasts()
  const navigate = useNavigate()
  const [tab, setTab] = useState<(typeof TABS)[number]>('samples')
  const [modelRef, setModelRef] = useState<string>('')
  const validating = ds.data?.status === 'validating'
  const { reload } = ds
  useEffect(() => {
    if (!validating) return
    const t = window.setInterval(() => void reload(), 1000)
    return () => window.clearInterval(t)
  }, [validating, reload])

  if (ds.error) return <div className="page"><ErrorState problem={ds.error} onRetry={ds.reload} title={ds.error.status === 404 ? 'No such dataset' : undefined} /></div>
  if (!ds.data) return <div className="page stack"><Skeleton height={28} width={300} /><Skeleton height={300} /></div>
  const d = ds.data
  const report = d.report

  const trainOn = () => {
    wizard.setField('data.source', `dataset:${d.id}`)
    wizard.setField('data.system_prompt', d.system_prompt ?? null)
    wizard.update({ datasetId: d.id, datasetLabel: d.name, datasetTab: 'existing', promptTemplate: d.system_prompt ? 'custom' : 'none', step: 1, furthest: Math.max(wizard.state.furthest, 1) })
    navigate('/new')
  }
  const remove = async () => {
    if (!window.confirm(`Delete the dataset “${d.name}”?`)) return
    try {
      await unwrap(api.DELETE('/api/datasets/{dataset_id}', { params: { path: { dataset_id: d.id } } }))
      toasts.show('Dataset deleted', 'ok')
      navigate('/datasets')
    } catch (err) {
      toasts.error(err)
    }
  }
  const tabLabel = { samples: 'Rendered samples', statistics: 'Statistics', report: 'Validation report', mapping: 'Field mapping' }
  return (
    <div className="page stack">
      <div className="page-head" style={{ marginBottom: 0 }}>
        <div>
          <div className="row" style={{ gap: 10 }}>
            <h1>{d.name}</h1>
            <StatusBadge status={d.status} />
          </div>
          <p className="sub small">
            <Link to="/datasets">Datasets</Link> · {d.kind === 'hub' ? `${d.hub_id} (${d.split}${d.subset ? `, ${d.subset}` : ''})` : d.original_filename} · {fmtBytes(d.size_bytes)} · {fmtInt(d.row_count)} rows · {d.format ?? 'format not recognised'} · added {fmtWhen(d.created_at)}
          </p>
        </div>
        <div className="actions">
          <button type="button" className="btn ghost" onClick={remove}>Delete</button>
          <button type="button" className="btn primary" onClick={trainOn} disabled={d.status !== 'ready'}>Train on this</button>
        </div>
      </div>
      {validating && <div className="card card-body stack-sm"><span className="muted">Reading and checking every row…</span><ProgressBar value={0} indeterminate label="Validating" /></div>}
      {d.status === 'invalid' && <div className="notice bad" role="alert"><div><strong>Not usable yet.</strong> {d.error} Review the field mapping or the errors below.</div></div>}
      <div className="card">
        <div className="card-body">
          <div className="tabs" role="tablist">
            {TABS.map((t) => (
              <button key={t} role="tab" type="button" aria-selected={tab === t} onClick={() => setTab(t)}>
                {tabLabel[t]}
              </button>
            ))}
          </div>
          {tab === 'samples' && (
            <div className="stack">
              <div className="field" style={{ maxWidth: 420 }}>
                <label htmlFor="pv-model">Render with the chat template of</label>
                <select id="pv-model" value={modelRef} onChange={(e) => setModelRef(e.target.value)}>
                  <option value="">a generic ChatML template</option>
                  {(models.data?.local ?? []).map((m) => (
                    <option key={m.id} value={`model:${m.id}`}>{m.name}</option>
                  ))}
                </select>
              </div>
              {d.status === 'ready' ? <SamplePreview datasetId={d.id} modelRef={modelRef || null} n={5} version={`${d.format}|${JSON.stringify(d.field_mapping)}`} /> : <p className="muted">Samples show once the dataset validates.</p>}
            </div>
          )}
          {tab === 'statistics' && report && (
            <div className="stack">
              {report.labels && (
                <div className="stack-sm" data-testid="label-balance">
                  <h3>Labels</h3>
                  <p className="small" style={{ margin: 0 }}>
                    <span className="badge ok">{fmtInt(report.labels.good ?? 0)} good</span>{' '}
                    <span className="badge bad">{fmtInt(report.labels.bad ?? 0)} bad</span>{' '}
                    <span className="muted">replies among the valid rows; KTO learns from both.</span>
                  </p>
                </div>
              )}
              {[report.tokens ? ['Tokens per sample', report.tokens] : null, report.chars ? ['Characters per sample', report.chars] : null]
                .filter((x): x is [string, NonNullable<typeof report.chars>] => Boolean(x))
                .map(([title, st]) => (
                  <div key={title} className="stack-sm">
                    <div className="row">
                      <h3>{title}</h3>
                      <span className="right small muted">min {fmtInt(st.min)} · mean {fmtNumber(st.mean)} · median {fmtInt(st.p50)} · p95 {fmtInt(st.p95)} · max {fmtInt(st.max)}</span>
                    </div>
                    <Histogram bins={st.histogram} unit={title.startsWith('Tokens') ? 'tokens' : 'characters'} limit={title.startsWith('Tokens') ? report.max_seq_length : null} />
                  </div>
                ))}
              {!report.chars && !report.tokens && <p className="muted">No valid rows to measure.</p>}
            </div>
          )}
          {tab === 'report' && report && <ValidationReportView report={report} datasetId={d.id} modelRef={modelRef || null} />}
          {tab === 'mapping' && report && <FieldMapping dataset={d} formats={fields.get('data.format')?.options ?? []} onChanged={ds.setData} />}
          {tab !== 'samples' && !report && <p className="muted">{validating ? 'The report appears when validation finishes.' : 'No report.'}</p>}
        </div>
      </div>
    </div>
  )
}
