import { useEffect, useMemo, useState } from 'react'
import { Link } from 'react-router'
import { api, unwrap } from '../../api/client'
import { problemOf, type Problem } from '../../api/problem'
import type { Adapter, CatalogEntry, Model } from '../../api/types'
import { Field, SchemaField } from '../../components/Field'
import { MemoryBar, VerdictBadge } from '../../components/MemoryBar'
import { ErrorState, Skeleton, SkeletonRows } from '../../components/States'
import { useToasts } from '../../components/Toasts'
import { fmtGb, fmtInt, fmtParams } from '../../lib/format'
import { getPath } from '../../lib/schema'
import { useResource } from '../../lib/useResource'
import { hasGpu, presetsOf, useServer } from '../../state/server'
import { estimateProblemText, parseOverrides, useEstimate, useEstimates, type EstimateState } from './estimate'
import { DemoModelBuild } from '../models/DemoModelBuild'
import { useWizard } from './store'

const FAMILY_NAMES: Record<string, string> = {
  qwen3: 'Qwen3', 'qwen2.5': 'Qwen2.5', llama: 'Llama 3', mistral: 'Mistral', phi: 'Phi', gemma: 'Gemma', smollm2: 'SmolLM2',
}
const STANDARD_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']

function MiniVerdict({ est }: { est: EstimateState | undefined }) {
  if (!est || est.loading) return <Skeleton width={54} height={18} />
  if (est.error) return <span className="badge idle" title={est.error.detail}>no estimate</span>
  if (!est.data) return null
  return (
    <span className="row nowrap" style={{ gap: 6, flexWrap: 'nowrap' }}>
      <span className="muted small">{fmtGb(est.data.total_gb)}</span>
      <VerdictBadge verdict={est.data.verdict} />
    </span>
  )
}

function Catalog() {
  const { state, setField, update } = useWizard()
  const [kind, setKind] = useState<'instruct' | 'base'>('instruct')
  const catalog = useResource(() => unwrap(api.GET('/api/models/catalog')), [])
  const entries = useMemo(() => (catalog.data ?? []).filter((e) => e.kind === kind), [catalog.data, kind])
  const estimates = useEstimates(state.config, entries.map((e) => e.id))
  const families = useMemo(() => {
    const by = new Map<string, CatalogEntry[]>()
    for (const e of entries) by.set(e.family, [...(by.get(e.family) ?? []), e])
    return [...by.entries()]
  }, [entries])
  const selected = String(getPath(state.config, 'model.name_or_path') ?? '')

  const { system } = useServer()
  const cpuOnly = Boolean(system.data) && !hasGpu(system.data)

  if (catalog.error) return <ErrorState problem={catalog.error} onRetry={catalog.reload} />
  if (catalog.loading) return <div className="model-grid">{Array.from({ length: 6 }, (_, i) => <Skeleton key={i} height={150} />)}</div>
  return (
    <div className="stack">
      {cpuOnly && (
        <div className="notice info row">
          <span>No GPU here, so real models train slowly. To try the whole workflow in a minute first, use the tiny demo model.</span>
          <button type="button" className="btn right" onClick={() => update({ modelSource: 'local' })}>Use a demo model</button>
        </div>
      )}
      <div className="row">
        <div className="segmented" role="group" aria-label="Model kind">
          <button type="button" aria-pressed={kind === 'instruct'} onClick={() => setKind('instruct')}>Instruct (chat)</button>
          <button type="button" aria-pressed={kind === 'base'} onClick={() => setKind('base')}>Base</button>
        </div>
        <span className="muted small">Badges estimate memory with your current LoRA and training settings on this machine.</span>
      </div>
      <div className="model-grid">
        {families.map(([family, list]) => (
          <div key={family} className={`model-card ${list.some((e) => e.id === selected) ? 'selected' : ''}`}>
            <div className="row" style={{ gap: 6 }}>
              <span className="family">{FAMILY_NAMES[family] ?? family}</span>
              <span className="muted small right">{list[0].license}{list[0].gated ? ' · gated' : ''}</span>
            </div>
            {list.map((e) => (
              <button
                key={e.id}
                type="button"
                className="size-btn"
                aria-pressed={e.id === selected}
                title={`${e.id} · ${fmtParams(e.parameters)} parameters · ${fmtInt(e.context_length)} context${e.gated ? ' · accept the licence on the hub first' : ''}`}
                onClick={() => {
                  setField('model.name_or_path', e.id)
                  update({ modelSource: 'catalog', modelLabel: e.name })
                }}
              >
                <span className="nowrap">
                  <strong>{e.size}</strong> <span className="muted small">{Math.round(e.context_length / 1024)}k</span>
                </span>
                <MiniVerdict est={estimates.get(e.id)} />
              </button>
            ))}
          </div>
        ))}
      </div>
    </div>
  )
}

function HubModel() {
  const { state, setField, update } = useWizard()
  const value = state.modelSource === 'hub' ? String(getPath(state.config, 'model.name_or_path') ?? '') : ''
  return (
    <div className="stack-sm" style={{ maxWidth: 560 }}>
      <Field id="hub-model" label="Hugging Face model id" help="For example Qwen/Qwen2.5-0.5B-Instruct. It is downloaded when the run starts; gated models need HF_TOKEN on the server." error={state.serverErrors['model.name_or_path']}>
        <input
          id="hub-model"
          type="text"
          placeholder="owner/model"
          value={value}
          onChange={(e) => {
            setField('model.name_or_path', e.target.value.trim())
            update({ modelSource: 'hub', modelLabel: e.target.value.trim() })
          }}
        />
      </Field>
    </div>
  )
}

function LocalModels() {
  const { state, setField, update } = useWizard()
  const toasts = useToasts()
  const models = useResource(() => unwrap(api.GET('/api/models')), [])
  const [path, setPath] = useState('')
  const [name, setName] = useState('')
  const [busy, setBusy] = useState(false)
  const [problem, setProblem] = useState<Problem | null>(null)
  const selected = String(getPath(state.config, 'model.name_or_path') ?? '')
  const choose = (m: Model) => {
    setField('model.name_or_path', `model:${m.id}`)
    update({ modelSource: 'local', modelLabel: m.name })
  }
  const register = async (ev: React.FormEvent) => {
    ev.preventDefault()
    setBusy(true)
    setProblem(null)
    try {
      const m = await unwrap(api.POST('/api/models', { body: { path: path.trim(), name: name.trim() || undefined } }))
      await models.reload()
      choose(m)
      setPath('')
      setName('')
      toasts.show(`Registered ${m.name}`, 'ok')
    } catch (err) {
      const p = problemOf(err)
      // Already registered: choose the existing entry instead of failing.
      const existing = p.code === 'model_exists' ? /model:([0-9a-f]+)/.exec(p.fix ?? '')?.[1] : undefined
      const list = existing ? (await models.reload(), await unwrap(api.GET('/api/models'))).local : []
      const found = list.find((m) => m.id === existing)
      if (found) {
        choose(found)
        toasts.show(`${found.name} was already registered; it is selected.`, 'info')
      } else {
        setProblem(p)
      }
    } finally {
      setBusy(false)
    }
  }
  const local = models.data?.local ?? []
  return (
    <div className="grid-2">
      <div className="stack-sm">
        <h3>Registered local models</h3>
        {models.loading && <SkeletonRows rows={2} height={40} />}
        {models.error && <ErrorState problem={models.error} onRetry={models.reload} />}
        {models.data && local.length === 0 && <p className="muted small">None yet. Register a folder that holds config.json and the weights, or build the demo or the starter model below.</p>}
        {local.map((m) => (
          <button key={m.id} type="button" className="size-btn" aria-pressed={selected === `model:${m.id}`} onClick={() => choose(m)} style={{ padding: '8px 10px' }}>
            <span style={{ textAlign: 'left' }}>
              <strong>{m.name}</strong>
              <br />
              <span className="muted mono" style={{ fontSize: 11.5 }}>{m.path}</span>
            </span>
            {selected === `model:${m.id}` && <span className="badge ok plain">selected</span>}
          </button>
        ))}
        <DemoModelBuild
          onBuilt={async (m) => {
            await models.reload()
            choose(m)
          }}
        />
        <div className="divider" />
        <DemoModelBuild
          variant="starter"
          onBuilt={async (m) => {
            await models.reload()
            choose(m)
          }}
        />
      </div>
      <form className="stack-sm" onSubmit={register} aria-label="Register a local model folder">
        <h3>Register a local folder</h3>
        <Field id="local-path" label="Folder on the server" help="An absolute path holding config.json, the tokenizer and the weights." error={problem ? problem.detail + (problem.fix ? ` ${problem.fix}` : '') : null}>
          <input id="local-path" type="text" className="mono" value={path} placeholder="/models/my-model" onChange={(e) => setPath(e.target.value)} required />
        </Field>
        <Field id="local-name" label="Name (optional)" help="Shown in lists; the folder name by default.">
          <input id="local-name" type="text" value={name} onChange={(e) => setName(e.target.value)} />
        </Field>
        <div>
          <button className="btn" type="submit" disabled={busy || !path.trim()}>
            {busy ? 'Registering…' : 'Register model'}
          </button>
        </div>
      </form>
    </div>
  )
}

/** Continue training an adapter: the run loads its base model with this adapter on top. */
function AdapterModels() {
  const { state, setField, update } = useWizard()
  const adapters = useResource(() => unwrap(api.GET('/api/adapters')), [])
  const selected = String(getPath(state.config, 'model.name_or_path') ?? '')
  const choose = (a: Adapter) => {
    setField('model.name_or_path', `adapter:${a.id}`)
    update({ modelSource: 'adapter', modelLabel: a.name })
  }
  // Opened with ?model=adapter:<id>: show the adapter's name, not its reference.
  const current = adapters.data?.find((a) => `adapter:${a.id}` === selected)
  useEffect(() => {
    if (current && state.modelLabel !== current.name) update({ modelLabel: current.name })
  }, [current, state.modelLabel, update])
  const list = adapters.data ?? []
  return (
    <div className="stack-sm" style={{ maxWidth: 720 }}>
      <p className="muted small">
        The run starts from a trained adapter instead of a fresh one, on the adapter's own base model: train it further on new data. Anywhere a model is asked for, <code className="mono">adapter:&lt;id&gt;</code> does the same.
      </p>
      {adapters.loading && <SkeletonRows rows={2} height={40} />}
      {adapters.error && <ErrorState problem={adapters.error} onRetry={adapters.reload} />}
      {adapters.data && list.length === 0 && (
        <p className="muted small">No adapters yet: a completed run makes one. See <Link to="/adapters">Adapters</Link> to register a PEFT folder.</p>
      )}
      {selected.startsWith('adapter:') && adapters.data && !current && <p className="small" role="alert" style={{ color: 'var(--bad)' }}>{selected} is not on this server any more; choose another.</p>}
      {list.map((a) => (
        <button key={a.id} type="button" className="size-btn" aria-pressed={selected === `adapter:${a.id}`} onClick={() => choose(a)} style={{ padding: '8px 10px' }} data-adapter={a.id}>
          <span style={{ textAlign: 'left' }}>
            <strong>{a.name}</strong>
            <br />
            <span className="muted mono" style={{ fontSize: 11.5 }}>{a.base_ref ?? a.base_model}{a.step != null ? ` · step ${a.step}` : ''} · adapter:{a.id.slice(0, 8)}</span>
          </span>
          {selected === `adapter:${a.id}` && <span className="badge ok plain">selected</span>}
        </button>
      ))}
    </div>
  )
}

function MemoryCard() {
  const { state, mergeConfig } = useWizard()
  const chosen = Boolean(String(getPath(state.config, 'model.name_or_path') ?? '').trim())
  const est = useEstimate(state.config, chosen && state.initialized)
  const { system } = useServer()
  return (
    <section className="card" aria-labelledby="mem-h">
      <div className="card-head">
        <h2 id="mem-h">Memory estimate</h2>
        <span className="right muted small">weights, adapter, optimizer and activations for this whole config</span>
      </div>
      <div className="card-body">
        {system.data && system.data.device !== 'cuda' && <p className="small muted" style={{ marginBottom: 10 }}>This machine: {system.data.verdict}.</p>}
        {!chosen && <p className="muted">Choose a model to see what the run needs against this machine.</p>}
        {chosen && est.loading && !est.data && <Skeleton height={60} />}
        {chosen && est.error && (est.error.code === 'invalid_config' || est.error.code === 'invalid_request' ? <p className="muted">{estimateProblemText(est.error)}</p> : <ErrorState problem={est.error} title="No estimate for this model" />)}
        {chosen && est.data && !est.error && (
          <div className="stack-sm" style={{ opacity: est.loading ? 0.6 : 1 }}>
            <MemoryBar estimate={est.data} />
            {est.data.notes.map((n) => (
              <div key={n} className="notice warn small">{n}</div>
            ))}
            {est.data.verdict !== 'fits' && est.data.suggestions.length > 0 && (
              <div className="stack-sm">
                <span className="small" style={{ fontWeight: 600 }}>One-click fixes</span>
                <div className="row" style={{ gap: 8 }}>
                  {est.data.suggestions.map((s) => (
                    <button key={s.text} type="button" className="btn sm" title={s.overrides.join(', ')} onClick={() => mergeConfig(parseOverrides(s.overrides))}>
                      {s.text} → {fmtGb(s.total_gb)}
                    </button>
                  ))}
                </div>
              </div>
            )}
          </div>
        )}
      </div>
    </section>
  )
}

function TargetModules({ modules }: { modules: string[] }) {
  const { state, setField } = useWizard()
  const value = getPath(state.config, 'lora.target_modules')
  const all = value === 'all-linear'
  const list = Array.isArray(value) ? (value as string[]) : []
  const toggle = (m: string) => {
    const current = all ? modules : list
    const next = current.includes(m) ? current.filter((x) => x !== m) : [...current, m]
    setField('lora.target_modules', next.length === modules.length && modules.every((x) => next.includes(x)) ? 'all-linear' : next)
  }
  return (
    <fieldset>
      <legend>Target modules</legend>
      <div className="row" style={{ gap: 6 }}>
        <button type="button" className="chip" aria-pressed={all} onClick={() => setField('lora.target_modules', 'all-linear')}>
          all linear layers
        </button>
        {modules.map((m) => (
          <button key={m} type="button" className="chip mono" aria-pressed={all || list.includes(m)} onClick={() => toggle(m)}>
            {m}
          </button>
        ))}
      </div>
      {!all && list.length === 0 && <p className="err small" style={{ color: 'var(--bad)', marginTop: 6 }}>Choose at least one module.</p>}
      <p className="help small muted" style={{ marginTop: 6 }}>All linear layers usually trains best; attention-only (q_proj, v_proj) is smaller and faster.</p>
    </fieldset>
  )
}

function LoraCard() {
  const { state, setField, update, mergeConfig } = useWizard()
  const { fields, system, presets } = useServer()
  const gpu = hasGpu(system.data)
  const catalog = useResource(() => unwrap(api.GET('/api/models/catalog')), [])
  const selected = String(getPath(state.config, 'model.name_or_path') ?? '')
  const entry = catalog.data?.find((e) => e.id === selected)
  const modules = entry ? [...entry.target_modules] : STANDARD_TARGETS
  const method = getPath(state.config, 'train.method')
  const recommended = presetsOf(presets.data, typeof method === 'string' ? method : undefined).recommended
  const rec = (recommended?.lora ?? {}) as Record<string, unknown>
  const f = (path: string) => fields.get(path)
  const render = (path: string) => {
    const spec = f(path)
    if (!spec) return null
    return <SchemaField key={path} spec={spec} value={getPath(state.config, path)} draft={state.drafts[path]} serverError={state.serverErrors[path]} onChange={(v, d) => setField(path, v, d)} />
  }
  const quant = String(getPath(state.config, 'model.quantization') ?? 'none')
  const setMode = (mode: typeof state.loraMode) => {
    if (mode === 'recommended' && recommended?.lora) mergeConfig({ lora: recommended.lora }, { loraMode: mode })
    else update({ loraMode: mode })
  }
  const modelFields = [...fields.values()].filter((s) => s.path.startsWith('model.') && !['model.name_or_path', 'model.quantization'].includes(s.path))
  const loraFields = [...fields.values()].filter((s) => s.path.startsWith('lora.') && s.path !== 'lora.target_modules')
  return (
    <section className="card" aria-labelledby="lora-h">
      <div className="card-head">
        <h2 id="lora-h">LoRA adapter</h2>
        <div className="right segmented" role="group" aria-label="LoRA settings mode">
          {(['recommended', 'custom', 'advanced'] as const).map((m) => (
            <button key={m} type="button" aria-pressed={state.loraMode === m} onClick={() => setMode(m)}>
              {m[0].toUpperCase() + m.slice(1)}
            </button>
          ))}
        </div>
      </div>
      <div className="card-body stack">
        {state.loraMode === 'recommended' && (
          <p>
            Rank <strong>{String(rec.r ?? getPath(state.config, 'lora.r'))}</strong>, alpha <strong>{String(rec.alpha ?? getPath(state.config, 'lora.alpha'))}</strong>, dropout{' '}
            <strong>{String(rec.dropout ?? getPath(state.config, 'lora.dropout'))}</strong> on <strong>{String(rec.target_modules ?? 'all-linear') === 'all-linear' ? 'every linear layer' : String(rec.target_modules)}</strong>. A
            sound start for most instruction and chat data; switch to Custom to change rank and targets.
          </p>
        )}
        {state.loraMode === 'custom' && (
          <>
            <div className="form-grid">{['lora.r', 'lora.alpha', 'lora.dropout'].map(render)}</div>
            <TargetModules modules={modules} />
          </>
        )}
        {state.loraMode === 'advanced' && (
          <>
            <div className="form-grid">{loraFields.map((s) => render(s.path))}</div>
            <TargetModules modules={modules} />
            <div className="divider" />
            <h3>Base model loading</h3>
            <div className="form-grid">{modelFields.map((s) => render(s.path))}</div>
          </>
        )}
        <div className="divider" />
        <fieldset>
          <legend>Quantized base (QLoRA)</legend>
          <div className="row">
            <div className="segmented" role="group" aria-label="Quantization">
              {[
                ['none', 'Off (full precision)'],
                ['4bit', '4-bit'],
                ['8bit', '8-bit'],
              ].map(([v, label]) => (
                <button key={v} type="button" aria-pressed={quant === v} disabled={v !== 'none' && !gpu} onClick={() => setField('model.quantization', v)}>
                  {label}
                </button>
              ))}
            </div>
            <span className="muted small">{gpu ? '4-bit cuts weight memory about 4x, at a small quality cost.' : 'QLoRA needs a CUDA GPU and bitsandbytes; this machine has no GPU, so it trains in full precision.'}</span>
          </div>
        </fieldset>
      </div>
    </section>
  )
}

export function ModelStep() {
  const { state, update } = useWizard()
  const tabs = [
    ['catalog', 'Catalog'],
    ['hub', 'Hugging Face id'],
    ['local', 'Local folder'],
    ['adapter', 'Continue an adapter'],
  ] as const
  return (
    <div className="stack">
      <section className="card" aria-labelledby="base-h">
        <div className="card-head">
          <h2 id="base-h">Base model</h2>
          {state.modelLabel && <span className="right muted small">Selected: <strong style={{ color: 'var(--text)' }}>{state.modelLabel}</strong></span>}
        </div>
        <div className="card-body">
          <div className="tabs" role="tablist" aria-label="Where the model comes from">
            {tabs.map(([key, label]) => (
              <button key={key} role="tab" type="button" aria-selected={state.modelSource === key} onClick={() => update({ modelSource: key })}>
                {label}
              </button>
            ))}
          </div>
          {state.modelSource === 'catalog' && <Catalog />}
          {state.modelSource === 'hub' && <HubModel />}
          {state.modelSource === 'local' && <LocalModels />}
          {state.modelSource === 'adapter' && <AdapterModels />}
        </div>
      </section>
      <MemoryCard />
      <LoraCard />
    </div>
  )
}

