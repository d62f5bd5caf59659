import { Fragment, useState } from 'react'
import { Link, useNavigate } from 'react-router'
import YAML from 'yaml'
import { api, unwrap } from '../../api/client'
import { EmptyState, ErrorState, SkeletonRows } from '../../components/States'
import { useToasts } from '../../components/Toasts'
import { fmtWhen } from '../../lib/format'
import { useResource } from '../../lib/useResource'
import { useWizard } from '../new/store'

export function ConfigsPage() {
  const list = useResource(() => unwrap(api.GET('/api/configs')), [])
  const datasets = useResource(() => unwrap(api.GET('/api/datasets')), [])
  const { loadConfig } = useWizard()
  const toasts = useToasts()
  const navigate = useNavigate()
  const [open, setOpen] = useState<string | null>(null)
  const remove = async (id: string, name: string) => {
    if (!window.confirm(`Delete the config “${name}”?`)) return
    try {
      await unwrap(api.DELETE('/api/configs/{config_id}', { params: { path: { config_id: id } } }))
      await list.reload()
    } catch (err) {
      toasts.error(err)
    }
  }
  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>Configs</h1>
          <p className="sub">Named run configs. Load one into the wizard to run it again or change it.</p>
        </div>
      </div>
      {list.error && <ErrorState problem={list.error} onRetry={list.reload} />}
      {list.loading && <div className="card card-body"><SkeletonRows rows={3} height={28} /></div>}
      {list.data && list.data.length === 0 && (
        <div className="card">
          <EmptyState title="No saved configs" action={<Link to="/new" className="btn">Open the wizard</Link>}>
            Save one from the Review step of a new run.
          </EmptyState>
        </div>
      )}
      {list.data && list.data.length > 0 && (
        <div className="card">
          <table className="table">
            <thead><tr><th>Name</th><th>Model</th><th>Data</th><th>Updated</th><th /></tr></thead>
            <tbody>
              {list.data.map((c) => {
                const cfg = c.config as unknown as { model: { name_or_path: string }; data: { source: string } }
                const source = cfg.data.source
                const ds = source.startsWith('dataset:') ? datasets.data?.find((d) => `dataset:${d.id}` === source) : undefined
                return (
                  <Fragment key={c.id}>
                    <tr>
                      <td><strong>{c.name}</strong>{c.description && <div className="small muted">{c.description}</div>}</td>
                      <td className="small mono">{cfg.model.name_or_path}</td>
                      <td className="small" title={source}>{ds ? ds.name : <span className="mono">{source}</span>}</td>
                      <td className="small muted">{fmtWhen(c.updated_at)}</td>
                      <td className="num nowrap">
                        <button type="button" className="btn sm ghost" aria-expanded={open === c.id} onClick={() => setOpen(open === c.id ? null : c.id)}>YAML</button>{' '}
                        <button type="button" className="btn sm" onClick={() => { loadConfig(c.config as unknown as Record<string, unknown>, c.name); navigate('/new') }}>Load into wizard</button>{' '}
                        <button type="button" className="btn sm ghost" onClick={() => remove(c.id, c.name)}>Delete</button>
                      </td>
                    </tr>
                    {open === c.id && (
                      <tr>
                        <td colSpan={5}><pre className="yaml">{YAML.stringify(c.config)}</pre></td>
                      </tr>
                    )}
                  </Fragment>
                )
              })}
            </tbody>
          </table>
        </div>
      )}
    </div>
  )
}
