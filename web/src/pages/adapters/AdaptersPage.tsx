import { useRef, useState } from 'react'
import { Link } from 'react-router'
import { api, unwrap } from '../../api/client'
import { fieldErrors, problemOf, type Problem } from '../../api/problem'
import type { Adapter } from '../../api/types'
import { Field } from '../../components/Field'
import { EmptyState, ErrorState, SkeletonRows } from '../../components/States'
import { useToasts } from '../../components/Toasts'
import { fmtBytes, fmtWhen } from '../../lib/format'
import { useResource } from '../../lib/useResource'
import { DownloadLink, KeyMetric, SourceBadge, UseInRunButton } from './common'

const FIELDS = ['path', 'base_model', 'name'] as const
type FieldName = (typeof FIELDS)[number]

/** Where a problem about the whole registration belongs: the base model, or else the folder. */
function placeProblem(p: Problem): { fields: Partial<Record<FieldName, string>>; rest: string | null } {
  const fields: Partial<Record<FieldName, string>> = {}
  const rest: string[] = []
  for (const [loc, msg] of Object.entries(fieldErrors(p, []))) {
    const key = FIELDS.find((f) => loc === f || loc.endsWith(`.${f}`))
    if (key) fields[key] = msg
    else rest.push(loc ? `${loc}: ${msg}` : msg)
  }
  if (!p.errors?.length) {
    const text = `${p.detail}${p.fix ? ` ${p.fix}` : ''}`
    if (p.status === 0) rest.push(text)
    else fields[/base|model/.test(p.code) && !/adapter_(not_found|invalid|folder)/.test(p.code) ? 'base_model' : 'path'] = text
  }
  return { fields, rest: rest.length ? rest.join('; ') : null }
}

export function RegisterAdapterForm({ onDone, pathRef }: { onDone: (a: Adapter) => void; pathRef?: React.Ref<HTMLInputElement> }) {
  const toasts = useToasts()
  const models = useResource(() => unwrap(api.GET('/api/models')), [])
  const [path, setPath] = useState('')
  const [base, setBase] = useState('')
  const [name, setName] = useState('')
  const [errors, setErrors] = useState<Partial<Record<FieldName, string>>>({})
  const [other, setOther] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const submit = async (e: React.FormEvent) => {
    e.preventDefault()
    setBusy(true)
    setErrors({})
    setOther(null)
    try {
      const a = await unwrap(api.POST('/api/adapters/register', { body: { path: path.trim(), base_model: base.trim(), name: name.trim() || undefined } }))
      toasts.show(`Registered ${a.name}`, 'ok')
      setPath('')
      setName('')
      onDone(a)
    } catch (err) {
      const placed = placeProblem(problemOf(err))
      setErrors(placed.fields)
      setOther(placed.rest)
    } finally {
      setBusy(false)
    }
  }
  return (
    <form className="stack-sm" onSubmit={submit} aria-label="Register a PEFT folder" noValidate>
      <div className="row" style={{ alignItems: 'flex-start' }}>
        <div style={{ flex: 2, minWidth: 260 }}>
          <Field id="adapter-path" label="Adapter folder on the server" help="A PEFT folder: adapter_config.json and adapter_model.safetensors." error={errors.path}>
            <input id="adapter-path" aria-invalid={Boolean(errors.path)} aria-describedby={errors.path ? "adapter-path-err" : "adapter-path-help"} ref={pathRef} type="text" className="mono" value={path} onChange={(e) => setPath(e.target.value)} placeholder="/adapters/my-lora" required />
          </Field>
        </div>
        <div style={{ flex: 2, minWidth: 240 }}>
          <Field id="adapter-base" label="Base model" help="What it was trained on: a hub id, or model:<id> for a registered folder. It is checked against the adapter." error={errors.base_model}>
            <input id="adapter-base" aria-invalid={Boolean(errors.base_model)} aria-describedby={errors.base_model ? "adapter-base-err" : "adapter-base-help"} type="text" className="mono" list="adapter-base-models" value={base} onChange={(e) => setBase(e.target.value)} placeholder="Qwen/Qwen2.5-0.5B-Instruct" required />
          </Field>
          <datalist id="adapter-base-models">
            {(models.data?.local ?? []).map((m) => (
              <option key={m.id} value={`model:${m.id}`}>{m.name}</option>
            ))}
          </datalist>
        </div>
        <div style={{ flex: 1, minWidth: 160 }}>
          <Field id="adapter-name" label="Name (optional)" help="The folder name by default." error={errors.name}>
            <input id="adapter-name" aria-invalid={Boolean(errors.name)} aria-describedby={errors.name ? "adapter-name-err" : "adapter-name-help"} type="text" value={name} onChange={(e) => setName(e.target.value)} />
          </Field>
        </div>
      </div>
      {other && <p className="small" role="alert" style={{ color: 'var(--bad)' }}>{other}</p>}
      <div>
        <button className="btn" type="submit" disabled={busy || !path.trim() || !base.trim()}>{busy ? 'Checking…' : 'Register adapter'}</button>
      </div>
    </form>
  )
}

export function AdaptersPage() {
  const adapters = useResource(() => unwrap(api.GET('/api/adapters')), [])
  const models = useResource(() => unwrap(api.GET('/api/models')), [])
  const modelNames = new Map((models.data?.local ?? []).map((m) => [`model:${m.id}`, m.name]))
  const toasts = useToasts()
  const [deleting, setDeleting] = useState<string | null>(null)
  const pathInput = useRef<HTMLInputElement>(null)
  const remove = async (a: Adapter) => {
    if (!window.confirm(`Delete the adapter “${a.name}”?${a.source === 'external' ? ' Its folder stays where it is.' : ' Its files are deleted.'}`)) return
    setDeleting(a.id)
    try {
      await unwrap(api.DELETE('/api/adapters/{adapter_id}', { params: { path: { adapter_id: a.id } } }))
      adapters.setData((list) => (list ?? []).filter((x) => x.id !== a.id))
      toasts.show(`Deleted ${a.name}`, 'ok')
    } catch (err) {
      toasts.error(err) // 409 adapter_in_use names the jobs that use it
    } finally {
      setDeleting(null)
    }
  }
  const list = adapters.data ?? []
  return (
    <div className="page stack">
      <div className="page-head" style={{ marginBottom: 0 }}>
        <div>
          <h1>Adapters</h1>
          <p className="sub">
            The LoRA adapters on this server: made by your runs, promoted from a checkpoint, or registered from a folder. Anywhere a model is asked for, <code className="mono">adapter:&lt;id&gt;</code> names one.
          </p>
        </div>
        <div className="actions">
          <button type="button" className="btn" onClick={() => pathInput.current?.focus()}>Register a PEFT folder</button>
        </div>
      </div>

      <section className="card" aria-labelledby="adapters-h">
        <div className="card-head">
          <h2 id="adapters-h">Adapters</h2>
          {adapters.data && <span className="right muted small">{list.length} in all</span>}
        </div>
        {adapters.loading && <div className="card-body"><SkeletonRows rows={3} height={28} /></div>}
        {adapters.error && <div className="card-body"><ErrorState problem={adapters.error} onRetry={adapters.reload} /></div>}
        {adapters.data && list.length === 0 && (
          <EmptyState title="No adapters yet" action={<Link to="/new" className="btn primary">Start a run</Link>}>
            A completed run adds its adapter here. You can also promote a checkpoint on a run's page, or register a PEFT folder below.
          </EmptyState>
        )}
        {list.length > 0 && (
          <div style={{ overflowX: 'auto' }}>
          <table className="table" data-testid="adapters-table">
            <thead>
              <tr><th>Adapter</th><th>Base model</th><th>Source</th><th>Method</th><th className="num">Step</th><th className="num" title="eval loss when the run had eval data, else train loss">Loss</th><th className="num">Size</th><th>Created</th><th><span className="sr-only">Actions</span></th></tr>
            </thead>
            <tbody>
              {list.map((a) => (
                <tr key={a.id} data-adapter={a.id}>
                  <td>
                    <Link to={`/adapters/${a.id}`}><strong>{a.name}</strong></Link>
                    <div className="small muted mono">adapter:{a.id.slice(0, 8)}…</div>
                  </td>
                  <td className="small" style={{ maxWidth: 220, overflow: 'hidden', textOverflow: 'ellipsis' }} title={`${a.base_ref ?? ''} ${a.base_model}`.trim()}>
                    {a.base_ref && modelNames.has(a.base_ref) ? <Link to={`/models#${a.base_ref.replace(':', '-')}`}>{modelNames.get(a.base_ref)}</Link> : <span className="mono">{a.base_ref ?? a.base_model}</span>}
                  </td>
                  <td>
                    <SourceBadge source={a.source} />
                    {a.job_id && <div className="small"><Link to={`/runs/${a.job_id}`}>open run</Link></div>}
                  </td>
                  <td>{a.method ?? '—'}</td>
                  <td className="num">{a.step ?? '—'}</td>
                  <td className="num"><KeyMetric adapter={a} bare /></td>
                  <td className="num nowrap">{fmtBytes(a.size_bytes)}</td>
                  <td className="small muted nowrap">{fmtWhen(a.created_at)}</td>
                  <td>
                    <div className="row nowrap" style={{ gap: 6, flexWrap: 'nowrap', justifyContent: 'flex-end' }}>
                      <DownloadLink adapter={a} />
                      <UseInRunButton adapter={a} />
                      <button type="button" className="btn sm danger" onClick={() => remove(a)} disabled={deleting === a.id} aria-label={`Delete ${a.name}`}>
                        {deleting === a.id ? 'Deleting…' : 'Delete'}
                      </button>
                    </div>
                    {a.in_use_by.length > 0 && <div className="small muted" style={{ textAlign: 'right' }}>in use by {a.in_use_by.length} job{a.in_use_by.length === 1 ? '' : 's'}</div>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          </div>
        )}
      </section>

      <section className="card" aria-labelledby="register-h">
        <div className="card-head">
          <h2 id="register-h">Register a PEFT folder</h2>
          <span className="right muted small">an adapter trained elsewhere; its files stay where they are</span>
        </div>
        <div className="card-body">
          <RegisterAdapterForm pathRef={pathInput} onDone={(a) => adapters.setData((old) => [a, ...(old ?? []).filter((x) => x.id !== a.id)])} />
        </div>
      </section>
    </div>
  )
}
