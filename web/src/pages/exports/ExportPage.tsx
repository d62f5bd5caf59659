import { Link, useParams } from 'react-router'
import { exportFileHref, type ExportFile, type ExportResult, type ParityReport } from '../../api/exports'
import { JobProgress } from '../../components/JobProgress'
import { ErrorState, Skeleton } from '../../components/States'
import { fmtBytes, fmtInt, fmtNumber, fmtPct, fmtWhen } from '../../lib/format'
import { LogTail } from '../jobs/LogTail'
import { useRunStream } from '../jobs/useRunStream'
import { useTargets } from '../playground/targets'

const FORMAT_LABEL: Record<string, string> = { adapter: 'PEFT adapter (zip)', merged: 'merged model (zip)', gguf: 'GGUF', modelfile: 'Ollama Modelfile', card: 'model card', parity: 'parity report' }

function Verdict({ r }: { r: ParityReport }) {
  if (r.passed === true) return <span className="badge ok">pass</span>
  if (r.passed === false) return <span className="badge bad">fail</span>
  return <span className="badge plain idle" title="Lower-bit types are measured, not judged">measured</span>
}

function FilesCard({ jobId, files }: { jobId: string; files: ExportFile[] }) {
  return (
    <section className="card" aria-label="Files" data-testid="export-files">
      <div className="card-head"><h2>Files</h2><span className="right muted small">{files.length} in all · {fmtBytes(files.reduce((s, f) => s + f.size_bytes, 0))}</span></div>
      <div className="table-scroll">
        <table className="table">
          <thead><tr><th>Name</th><th>What</th><th className="num">Size</th><th><span className="sr-only">Download</span></th></tr></thead>
          <tbody>
            {files.map((f) => (
              <tr key={f.name} data-file={f.name}>
                <td className="mono small">{f.name}</td>
                <td className="small">{FORMAT_LABEL[f.format] ?? f.format}{f.quantization ? <> <span className="mono">{f.quantization}</span></> : null}</td>
                <td className="num">{fmtBytes(f.size_bytes)}</td>
                <td style={{ textAlign: 'right' }}><a className="btn sm" href={exportFileHref(jobId, f.name)} download aria-label={`Download ${f.name}`}>Download</a></td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  )
}

function ParityCard({ result }: { result: ExportResult }) {
  const parity = result.parity
  return (
    <section className="card" aria-label="Parity" data-testid="export-parity">
      <div className="card-head">
        <h2>Parity</h2>
        {result.suspect && <span className="badge bad" data-testid="suspect-badge">suspect</span>}
        {parity && <span className="right muted small">{fmtInt(parity.prompts.length)} prompts · {fmtInt(parity.max_new_tokens)} tokens each · {parity.reference}</span>}
      </div>
      {!parity ? (
        <div className="card-body muted small">No parity check in this export (it needs GGUF files and llama-cpp-python).</div>
      ) : (
        <>
          {result.suspect && (
            <div className="card-body">
              <div className="notice bad" role="alert"><div><strong>Suspect export.</strong> The F16 file disagrees with the merged model beyond near-ties: the conversion, the tokenizer or the chat template is likely wrong. Do not ship these files before looking at the log.</div></div>
            </div>
          )}
          <div className="table-scroll">
            <table className="table" data-testid="parity-table">
              <thead><tr><th>Type</th><th>Tokenization</th><th className="num">Agreement</th><th>First divergence</th><th className="num">Max logit diff</th><th>Result</th></tr></thead>
              <tbody>
                {parity.quantizations.map((r) => {
                  const d = r.first_divergence
                  return (
                    <tr key={r.quantization} data-parity={r.quantization}>
                      <td className="mono">{r.quantization}</td>
                      <td>{r.tokenization_equal ? <span className="badge plain ok">equal</span> : <span className="badge plain bad">differs</span>}</td>
                      <td className="num">{fmtPct(r.agreement, 0)} <span className="muted small">of {fmtInt(r.tokens)}</span></td>
                      <td className="small">
                        {d ? (
                          <>token {fmtInt(d.position)} of <q>{d.prompt.length > 40 ? `${d.prompt.slice(0, 40)}…` : d.prompt}</q><br />
                            <span className="muted">HF margin {fmtNumber(d.hf_margin, 4)}</span>{' '}
                            {d.near_tie ? <span className="badge plain info" title="A margin under 0.1: a near-tie, not a broken file">near-tie</span> : <span className="badge plain warn">clear</span>}
                          </>
                        ) : <span className="muted">none</span>}
                      </td>
                      <td className="num">{fmtNumber(r.max_logit_diff, 4)}</td>
                      <td title={r.rule ?? undefined}><Verdict r={r} /></td>
                    </tr>
                  )
                })}
              </tbody>
            </table>
          </div>
          <div className="card-body small muted">Teacher-forced: llama.cpp’s argmax at each position of the merged model’s greedy continuation. F16 and BF16 pass when tokenization is equal and every disagreement is a near-tie; Q8_0 at 75% agreement; lower-bit types are measured, not judged.</div>
        </>
      )}
    </section>
  )
}

function HowToRun({ result, jobId, name }: { result: ExportResult; jobId: string; name: string }) {
  const ggufs = result.files.filter((f) => f.format === 'gguf')
  const pick = ['q4_k_m', 'q5_k_m', 'q8_0', 'q6_k', 'f16'].map((q) => ggufs.find((f) => f.quantization === q)).find(Boolean) ?? ggufs[0]
  const modelfile = result.files.find((f) => f.name === 'Modelfile')
  const readme = result.files.find((f) => f.name === 'README.md')
  const merged = result.files.find((f) => f.format === 'merged')
  return (
    <section className="card" aria-label="How to run" data-testid="export-howto">
      <div className="card-head"><h2>How to run</h2><span className="right muted small">from the export’s folder, after downloading its files</span></div>
      <div className="card-body stack-sm">
        {modelfile && (
          <>
            <span className="field-label">Ollama <a className="small" href={exportFileHref(jobId, modelfile.name)} download style={{ fontWeight: 400 }}>Modelfile</a></span>
            <pre className="yaml">{`ollama create ${name} -f Modelfile\nollama run ${name}`}</pre>
          </>
        )}
        {pick && (
          <>
            <span className="field-label">llama.cpp</span>
            <pre className="yaml">{`llama-cli -m ${pick.name} -cnv`}</pre>
          </>
        )}
        {merged && (
          <>
            <span className="field-label">transformers</span>
            <pre className="yaml">{`from transformers import AutoModelForCausalLM, AutoTokenizer\nmodel = AutoModelForCausalLM.from_pretrained("${merged.name}")\ntokenizer = AutoTokenizer.from_pretrained("${merged.name}")`}</pre>
          </>
        )}
        {readme && <p className="small">The <a href={exportFileHref(jobId, readme.name)} download>model card (README.md)</a> has the base model, the data, the config, the metrics and these lines.</p>}
        {!modelfile && !pick && !merged && <p className="small muted">Load the PEFT folder on top of its base with peft’s <span className="mono">PeftModel.from_pretrained</span>.</p>}
      </div>
    </section>
  )
}

export function ExportPage() {
  const { id = '' } = useParams()
  const { state: run } = useRunStream(id)
  const targets = useTargets()
  const job = run.job
  if (run.error && !job) {
    return (
      <div className="page">
        <ErrorState problem={run.error} title={run.error.status === 404 ? 'No such export' : undefined} />
        <p style={{ marginTop: 12 }}><Link to="/exports">Back to the exports</Link></p>
      </div>
    )
  }
  if (!job) return <div className="page stack"><Skeleton height={28} width={320} /><Skeleton height={140} /><Skeleton height={260} /></div>
  const spec = (job.config ?? {}) as { adapter?: string; formats?: string[]; quantizations?: string[]; dtype?: string; name?: string | null }
  const result = (job.status === 'completed' ? job.result : null) as unknown as ExportResult | null
  const adapterId = spec.adapter?.startsWith('adapter:') ? spec.adapter.slice(8) : null
  const gguf = result?.files.find((f) => f.format === 'gguf')
  const baseName = spec.name || (gguf ? gguf.name.replace(/^gguf\//, '').replace(/-[a-z0-9_]+\.gguf$/, '') : 'model')
  return (
    <div className="page stack">
      <div className="page-head" style={{ marginBottom: 0 }}>
        <div style={{ minWidth: 0 }}>
          <h1>
            Export of {spec.adapter ? targets.nameOf(spec.adapter) : 'an adapter'}{' '}
            {result?.suspect && <span className="badge bad" data-testid="suspect-badge" style={{ verticalAlign: 'middle' }}>suspect</span>}
          </h1>
          <p className="sub small">
            {adapterId ? <Link to={`/adapters/${adapterId}`} className="mono">{spec.adapter}</Link> : <span className="mono">{spec.adapter}</span>}
            {' · '}{(spec.formats ?? []).join(', ')}
            {spec.formats?.includes('gguf') && spec.quantizations?.length ? ` (${spec.quantizations.join(', ')})` : ''}
            {' · '}created {fmtWhen(job.created_at)}
          </p>
        </div>
        <div className="actions">
          {spec.adapter && <Link className="btn" to={`/exports?adapter=${encodeURIComponent(spec.adapter)}`}>Export again</Link>}
          <Link className="btn ghost" to="/exports">All exports</Link>
        </div>
      </div>
      <JobProgress run={run} what="Export" />
      {result && (
        <>
          <FilesCard jobId={id} files={result.files ?? []} />
          <ParityCard result={result} />
          <HowToRun result={result} jobId={id} name={baseName} />
        </>
      )}
      {job.status === 'completed' && !result?.files && <div className="notice warn"><div>The export completed but its result lists no files.</div></div>}
      <LogTail logs={run.logs} maxHeight={job.status === 'completed' ? 220 : 360} />
    </div>
  )
}
