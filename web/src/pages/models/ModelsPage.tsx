import { useMemo, useState } from 'react'
import { Link } from 'react-router'
import { api, unwrap } from '../../api/client'
import { problemOf, type Problem } from '../../api/problem'
import { Field } from '../../components/Field'
import { ErrorState, SkeletonRows } from '../../components/States'
import { useToasts } from '../../components/Toasts'
import { fmtWhen } from '../../lib/format'
import { useResource } from '../../lib/useResource'
import { useJobs } from '../../state/jobs'
import { DemoModelBuild } from './DemoModelBuild'

function RegisterForm({ onDone }: { onDone: () => void }) {
  const toasts = useToasts()
  const [path, setPath] = useState('')
  const [name, setName] = useState('')
  const [problem, setProblem] = useState<Problem | null>(null)
  const [busy, setBusy] = useState(false)
  const submit = async (e: React.FormEvent) => {
    e.preventDefault()
    setBusy(true)
    setProblem(null)
    try {
      const m = await unwrap(api.POST('/api/models', { body: { path: path.trim(), name: name.trim() || undefined } }))
      toasts.show(`Registered ${m.name}`, 'ok')
      setPath('')
      setName('')
      onDone()
    } catch (err) {
      setProblem(problemOf(err))
    } finally {
      setBusy(false)
    }
  }
  return (
    <form className="row" style={{ alignItems: 'flex-start' }} onSubmit={submit} aria-label="Register a local model folder">
      <div style={{ flex: 2, minWidth: 260 }}>
        <Field id="reg-path" label="Folder on the server" help="Holds config.json, the tokenizer and the weights." error={problem ? `${problem.detail}${problem.fix ? ` ${problem.fix}` : ''}` : null}>
          <input id="reg-path" type="text" className="mono" value={path} onChange={(e) => setPath(e.target.value)} placeholder="/models/my-model" required />
        </Field>
      </div>
      <div style={{ flex: 1, minWidth: 160 }}>
        <Field id="reg-name" label="Name (optional)">
          <input id="reg-name" type="text" value={name} onChange={(e) => setName(e.target.value)} />
        </Field>
      </div>
      <button className="btn" type="submit" disabled={busy || !path.trim()} style={{ marginTop: 23 }}>
        {busy ? 'Registering…' : 'Register'}
      </button>
    </form>
  )
}

export function ModelsPage() {
  const models = useResource(() => unwrap(api.GET('/api/models')), [])
  const { runs: jobs } = useJobs()
  const inUse = useMemo(() => {
    const by = new Map<string, number>()
    for (const j of jobs ?? []) {
      const name = String((j.config as { model?: { name_or_path?: string } })?.model?.name_or_path ?? '')
      if (name) by.set(name, (by.get(name) ?? 0) + 1)
    }
    return [...by.entries()].sort((a, b) => b[1] - a[1])
  }, [jobs])
  return (
    <div className="page stack">
      <div className="page-head" style={{ marginBottom: 0 }}>
        <div>
          <h1>Models</h1>
          <p className="sub">Base models on this server: registered folders, the tiny demo model and the SmolLM2 starter model.</p>
        </div>
      </div>
      {models.error && <ErrorState problem={models.error} onRetry={models.reload} />}

      <div className="notice info row" data-testid="adapters-link">
        <span>Fine-tuned adapters have their own page: download them, promote a checkpoint, or register a PEFT folder.</span>
        <Link to="/adapters" className="btn right">Open the adapters</Link>
      </div>

      <section className="card" aria-labelledby="local-h">
        <div className="card-head"><h2 id="local-h">Local base models</h2></div>
        <div className="card-body stack">
          {models.loading && <SkeletonRows rows={2} />}
          {models.data && models.data.local.length === 0 && <p className="muted">None registered. Register a folder to train on a model that is not on the hub, or to work offline.</p>}
          {models.data && models.data.local.length > 0 && (
            <table className="table">
              <thead><tr><th>Name</th><th>Folder</th><th>Reference</th><th>Added</th></tr></thead>
              <tbody>
                {models.data.local.map((m) => (
                  <tr key={m.id} id={`model-${m.id}`}>
                    <td><strong>{m.name}</strong></td>
                    <td className="small mono">{m.path}</td>
                    <td className="small mono muted">model:{m.id.slice(0, 8)}…</td>
                    <td className="small muted">{fmtWhen(m.created_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <RegisterForm onDone={models.reload} />
          <div className="divider" />
          <div className="grid-2">
            <DemoModelBuild selects={false} onBuilt={() => models.reload()} />
            <DemoModelBuild variant="starter" selects={false} onBuilt={() => models.reload()} />
          </div>
        </div>
      </section>

      <section className="card" aria-labelledby="inuse-h">
        <div className="card-head"><h2 id="inuse-h">Base models in use</h2><span className="right muted small">by your runs</span></div>
        {inUse.length === 0 ? (
          <div className="card-body muted">No runs yet.</div>
        ) : (
          <table className="table">
            <thead><tr><th>Model</th><th className="num">Runs</th></tr></thead>
            <tbody>
              {inUse.map(([name, n]) => (
                <tr key={name}><td className="mono small">{name}</td><td className="num">{n}</td></tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  )
}
