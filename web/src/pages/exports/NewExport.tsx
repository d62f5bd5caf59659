import { useEffect, useState } from 'react'
import { useNavigate } from 'react-router'
import { estimateExport, startExport, type ExportFormat, type QuantName, type QuantizationInfo } from '../../api/exports'
import { fieldErrors, problemOf } from '../../api/problem'
import { Field } from '../../components/Field'
import { ErrorState, SkeletonRows } from '../../components/States'
import { useToasts } from '../../components/Toasts'
import { fmtBytes, fmtParams } from '../../lib/format'
import { useResource } from '../../lib/useResource'
import { useJobs } from '../../state/jobs'
import { TargetSelect, useTargets } from '../playground/targets'

const FORMATS: { id: ExportFormat; label: string; help: string }[] = [
  { id: 'adapter', label: 'Adapter (PEFT folder)', help: 'The LoRA weights as they are, to load on top of the base.' },
  { id: 'merged', label: 'Merged model', help: 'The adapter merged into the base: a plain transformers folder.' },
  { id: 'gguf', label: 'GGUF', help: 'llama.cpp and Ollama files, one per quantization.' },
]
const DEFAULT_QUANTS: QuantName[] = ['f16', 'q8_0', 'q4_k_m']
const TOOL_LABEL: Record<string, string> = { converter: 'llama.cpp’s converter', llama_cpp: 'llama-cpp-python' }

/** `adapter:<id>` from what a link carries (`?adapter=<id>` or `?adapter=adapter:<id>`). */
export function adapterRef(value: string | null | undefined): string {
  if (!value) return ''
  return value.startsWith('adapter:') ? value : `adapter:${value}`
}

function unavailableReason(q: QuantizationInfo, tools: { converter: boolean; llama_cpp: boolean }): string | null {
  if (q.available) return null
  if (q.tool === 'llama_cpp' && !tools.llama_cpp) return 'needs llama-cpp-python'
  if (q.tool === 'converter' && !tools.converter) return 'needs llama.cpp’s converter'
  return `not available (${TOOL_LABEL[q.tool] ?? q.tool})`
}

/** Start an `export` job: the PEFT folder, merged weights, GGUF files, a Modelfile and parity. */
export function NewExport({ initialAdapter, onCancel }: { initialAdapter?: string; onCancel?: () => void }) {
  const targets = useTargets()
  const navigate = useNavigate()
  const toasts = useToasts()
  const { upsert } = useJobs()
  const [adapter, setAdapter] = useState(adapterRef(initialAdapter))
  const [formats, setFormats] = useState<ExportFormat[]>(['adapter', 'merged', 'gguf'])
  const [dtype, setDtype] = useState<'float16' | 'bfloat16'>('float16')
  const [quants, setQuants] = useState<QuantName[]>(DEFAULT_QUANTS)
  const [modelfile, setModelfile] = useState(true)
  const [parity, setParity] = useState(true)
  const [name, setName] = useState('')
  const [errors, setErrors] = useState<Record<string, string>>({})
  const [busy, setBusy] = useState(false)

  const chosen = adapter || targets.adapters[0]?.ref || ''
  const estimate = useResource(async () => (chosen ? await estimateExport(chosen) : null), [chosen])
  const est = estimate.data ?? null
  const tools = { converter: est?.converter ?? true, llama_cpp: est?.llama_cpp ?? true }

  // Drop what the estimate says cannot be made here; parity needs llama-cpp-python.
  useEffect(() => {
    if (!est) return
    const ok = new Set(est.quantizations.filter((q) => q.available).map((q) => q.name))
    setQuants((qs) => qs.filter((q) => ok.has(q)))
    if (!est.llama_cpp) setParity(false)
  }, [est])

  const gguf = formats.includes('gguf')
  const toggleFormat = (f: ExportFormat) => setFormats((fs) => (fs.includes(f) ? fs.filter((x) => x !== f) : [...fs, f]))
  const toggleQuant = (q: QuantName) => setQuants((qs) => (qs.includes(q) ? qs.filter((x) => x !== q) : [...qs, q]))

  const sizes = est
    ? (formats.includes('adapter') ? est.formats.adapter ?? 0 : 0) +
      (formats.includes('merged') || gguf ? est.formats.merged ?? 0 : 0) +
      (gguf ? est.quantizations.filter((q) => quants.includes(q.name as QuantName)).reduce((s, q) => s + q.size_bytes, 0) : 0)
    : null
  const tooBig = est != null && sizes != null && sizes > est.free_bytes
  const localErrors: Record<string, string> = {}
  if (!formats.length) localErrors.formats = 'Pick at least one format.'
  if (gguf && !quants.length) localErrors.quantizations = 'Pick at least one quantization for GGUF.'
  if (name && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) localErrors.name = 'Letters, digits, dot, dash and underscore; up to 64.'
  const shown = { ...errors, ...localErrors }
  const blocker = !chosen ? 'Choose an adapter' : Object.keys(localErrors).length ? 'Fix the marked fields' : null

  const submit = async (e: React.FormEvent) => {
    e.preventDefault()
    if (blocker) return
    setBusy(true)
    setErrors({})
    try {
      const job = await startExport({
        adapter: chosen,
        formats,
        dtype,
        quantizations: gguf ? quants : [],
        modelfile: gguf && modelfile,
        parity: gguf && parity,
        gguf_lora: false,
        name: name.trim() || null,
      })
      upsert(job)
      navigate(`/exports/${job.id}`)
    } catch (err) {
      const fields = fieldErrors(problemOf(err))
      setErrors(fields)
      const unplaced = Object.entries(fields).filter(([k]) => !FIELD_KEYS.has(k))
      if (!Object.keys(fields).length || unplaced.length) toasts.error(err)
    } finally {
      setBusy(false)
    }
  }

  return (
    <form className="card" aria-label="New export" onSubmit={submit} noValidate data-testid="new-export">
      <div className="card-head">
        <h2>New export</h2>
        <span className="right muted small">files to run the adapter elsewhere: transformers, llama.cpp, Ollama</span>
      </div>
      <div className="card-body stack">
        <div className="form-grid">
          <Field id="export-adapter" label="Adapter" help={est ? `Base ${est.base_model}, ${fmtParams(est.parameters)} parameters.` : 'The adapter to export.'} error={shown.adapter}>
            <TargetSelect id="export-adapter" value={chosen} onChange={setAdapter} targets={targets} only="adapter" describedBy="export-adapter-help" />
          </Field>
          <Field id="export-name" label="File name (optional)" help="The files’ base name; the adapter’s name when empty." error={shown.name}>
            <input id="export-name" type="text" className="mono" value={name} onChange={(e) => setName(e.target.value)} aria-invalid={Boolean(shown.name)} aria-describedby="export-name-help" />
          </Field>
        </div>

        {estimate.error && <ErrorState problem={estimate.error} onRetry={estimate.reload} title="Cannot estimate this export" />}
        {chosen && estimate.loading && !est && <SkeletonRows rows={3} />}

        <div className="stack-sm">
          <span className="field-label" id="export-formats-label">Formats</span>
          <div className="stack-sm" role="group" aria-labelledby="export-formats-label" data-testid="export-formats">
            {FORMATS.map((f) => (
              <label key={f.id} className="check" htmlFor={`export-format-${f.id}`}>
                <input id={`export-format-${f.id}`} type="checkbox" checked={formats.includes(f.id)} onChange={() => toggleFormat(f.id)} />
                <span>
                  <span style={{ fontWeight: 500 }}>{f.label}</span>
                  {est && f.id !== 'gguf' && <span className="muted small"> · about {fmtBytes(est.formats[f.id])}</span>}
                  <br /><span className="help small muted">{f.help}</span>
                </span>
              </label>
            ))}
          </div>
          {shown.formats && <span className="bad-text small">{shown.formats}</span>}
          {formats.includes('merged') && (
            <div className="row" style={{ gap: 8 }}>
              <span className="small muted" id="export-dtype-label">Merged dtype</span>
              <div className="segmented" role="group" aria-labelledby="export-dtype-label">
                <button type="button" aria-pressed={dtype === 'float16'} onClick={() => setDtype('float16')}>float16</button>
                <button type="button" aria-pressed={dtype === 'bfloat16'} onClick={() => setDtype('bfloat16')}>bfloat16</button>
              </div>
            </div>
          )}
        </div>

        {gguf && (
          <div className="stack-sm">
            <span className="field-label" id="export-quants-label">GGUF quantizations</span>
            {est && (!est.converter || !est.llama_cpp) && (
              <div className="notice warn" data-testid="export-tools-missing">
                <div>
                  <strong>{!est.converter ? 'llama.cpp’s converter is not installed' : 'llama-cpp-python is not installed'}</strong>
                  {!est.converter ? ': no GGUF file can be made.' : ': the K-quants and the parity check need it; F16, BF16 and Q8_0 still work.'}
                  {est.fix && <div className="small">Fix: <span className="mono">{est.fix}</span></div>}
                </div>
              </div>
            )}
            {est ? (
              <div className="table-scroll">
                <table className="table" role="group" aria-labelledby="export-quants-label" data-testid="export-quants">
                  <thead><tr><th>Type</th><th>What it is</th><th className="num">About</th><th><span className="sr-only">Availability</span></th></tr></thead>
                  <tbody>
                    {est.quantizations.map((q) => {
                      const reason = unavailableReason(q, tools)
                      const id = `export-quant-${q.name}`
                      return (
                        <tr key={q.name} data-quant={q.name} className={reason ? 'muted' : ''}>
                          <td>
                            <label className="check" htmlFor={id}>
                              <input id={id} type="checkbox" checked={quants.includes(q.name as QuantName)} disabled={Boolean(reason)} onChange={() => toggleQuant(q.name as QuantName)} />
                              <span className="mono">{q.name}</span>
                            </label>
                          </td>
                          <td className="small">{q.description}</td>
                          <td className="num">{fmtBytes(q.size_bytes)}</td>
                          <td className="small">{reason ? <span className="badge plain warn" title={est.fix ?? undefined}>{reason}</span> : <span className="muted">{TOOL_LABEL[q.tool] ?? q.tool}</span>}</td>
                        </tr>
                      )
                    })}
                  </tbody>
                </table>
              </div>
            ) : !estimate.error && <SkeletonRows rows={4} />}
            {shown.quantizations && <span className="bad-text small">{shown.quantizations}</span>}
            <label className="check" htmlFor="export-modelfile">
              <input id="export-modelfile" type="checkbox" checked={modelfile} onChange={(e) => setModelfile(e.target.checked)} />
              <span><span style={{ fontWeight: 500 }}>Ollama Modelfile</span><br /><span className="help small muted">FROM one of the GGUF files, the chat template, the stop tokens and the run’s system prompt.</span></span>
            </label>
            <label className="check" htmlFor="export-parity">
              <input id="export-parity" type="checkbox" checked={parity} disabled={est != null && !est.llama_cpp} onChange={(e) => setParity(e.target.checked)} />
              <span>
                <span style={{ fontWeight: 500 }}>Parity check</span>
                <br /><span className="help small muted">{est && !est.llama_cpp ? 'Needs llama-cpp-python (see the fix above).' : 'The same prompts through the merged model and each GGUF: tokenization, agreement, logit difference.'}</span>
              </span>
            </label>
          </div>
        )}

        {est && sizes != null && (
          <p className={`small ${tooBig ? 'bad-text' : 'muted'}`} data-testid="export-disk">
            About {fmtBytes(sizes)} of files{gguf ? ' (plus a temporary F16 file)' : ''}; {fmtBytes(est.free_bytes)} free.
            {tooBig && ' This will not fit: free some disk or pick fewer outputs.'}
          </p>
        )}
        <div className="row">
          <button type="submit" className={`btn primary ${blocker ? 'needs' : ''}`} disabled={busy || Boolean(blocker)}>{busy ? 'Starting…' : blocker ?? 'Start export'}</button>
          {onCancel && <button type="button" className="btn ghost" onClick={onCancel}>Cancel</button>}
        </div>
      </div>
    </form>
  )
}

const FIELD_KEYS = new Set(['adapter', 'formats', 'quantizations', 'name'])
