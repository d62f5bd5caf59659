import { useEffect, useRef, useState } from 'react'
import { Link, useSearchParams } from 'react-router'
import { abortedProblem, streamInference } from '../../api/inference'
import { problemOf, type Problem } from '../../api/problem'
import { EmptyState, ErrorState, SkeletonRows } from '../../components/States'
import { Field } from '../../components/Field'
import { AnsweredBy, AnswerMetrics } from './AnswerMeta'
import { paneMessages, randomSeed, type Answer, type Exchange } from './chat'
import { DEFAULT_SAMPLING, SamplingControls, samplingErrors, toSampling, type SamplingDraft } from './sampling'
import { TargetSelect, useTargets, type Targets } from './targets'
import { PlaygroundTabs } from './PlaygroundTabs'

function AnswerView({ answer }: { answer: Answer }) {
  return (
    <div className={`msg assistant ${answer.error ? 'failed' : ''}`} data-testid="answer" aria-busy={answer.streaming}>
      <div className="msg-text" data-testid="answer-text">
        {answer.text}
        {answer.streaming && <span className="caret" aria-hidden="true" />}
        {!answer.text && answer.streaming && <span className="muted">waiting for the first token…</span>}
        {answer.result && !answer.text.trim() && <span className="muted small">(an empty answer: only spaces or new lines)</span>}
      </div>
      {answer.error && <AnswerError problem={answer.error} partial={Boolean(answer.text)} />}
      {answer.result && <AnsweredBy result={answer.result} />}
    </div>
  )
}

function AnswerError({ problem, partial }: { problem: Problem; partial: boolean }) {
  if (problem.code === 'aborted') return <p className="small muted" data-testid="answer-stopped">Stopped{partial ? ' before the end' : ''}.</p>
  return (
    <div className="notice bad small" role="alert" data-testid="answer-error">
      <div>
        <strong>{problem.detail}</strong>
        {problem.fix && <div>{problem.fix}</div>}
        <div className="mono" style={{ opacity: 0.75 }}>{problem.code}{problem.status ? ` · HTTP ${problem.status}` : ''}</div>
      </div>
    </div>
  )
}

interface PaneProps {
  index: number
  title: string
  target: string
  onTarget: (ref: string) => void
  targets: Targets
  exchanges: Exchange[]
  busy: boolean
  hint?: string
}

function Pane({ index, title, target, onTarget, targets, exchanges, busy, hint }: PaneProps) {
  const end = useRef<HTMLDivElement>(null)
  const last = exchanges[exchanges.length - 1]?.answers[index]
  useEffect(() => {
    end.current?.scrollIntoView({ block: 'nearest' })
  }, [last?.text, exchanges.length])
  const id = `pane-${index}-model`
  return (
    <section className="card pane" aria-label={title} data-testid={`pane-${index}`}>
      <div className="card-head pane-head">
        <label htmlFor={id} className="pane-title">{title}</label>
        <TargetSelect id={id} value={target} onChange={onTarget} targets={targets} disabled={busy} describedBy={hint ? `${id}-hint` : undefined} />
      </div>
      {hint && <div className="pane-hint small muted" id={`${id}-hint`}>{hint}</div>}
      <div className="pane-body" aria-live="polite">
        {exchanges.length === 0 && <p className="muted small pane-empty">No messages yet. What you send below goes to {index === 0 ? 'this model' : 'both panes, with the same settings'}.</p>}
        {exchanges.map((ex) => {
          const a = ex.answers[index]
          return (
            <div key={ex.id} className="exchange">
              <div className="msg user"><div className="msg-text">{ex.user}</div></div>
              {a ? <AnswerView answer={a} /> : <p className="small muted">Not sent to this pane.</p>}
              {a?.result && <AnswerMetrics result={a.result} seed={ex.seed} />}
            </div>
          )
        })}
        <div ref={end} />
      </div>
    </section>
  )
}

export function PlaygroundPage() {
  const [params, setParams] = useSearchParams()
  const targets = useTargets()
  const compare = params.get('compare') === '1'
  const model = params.get('model') ?? ''
  const vs = params.get('vs') ?? ''
  const [sampling, setSampling] = useState<SamplingDraft>(DEFAULT_SAMPLING)
  const [system, setSystem] = useState('')
  const [draft, setDraft] = useState('')
  const [exchanges, setExchanges] = useState<Exchange[]>([])
  const [busy, setBusy] = useState(false)
  const abort = useRef<AbortController | null>(null)
  const nextId = useRef(1)
  const input = useRef<HTMLTextAreaElement>(null)

  const setParam = (changes: Record<string, string | null>) => {
    const next = new URLSearchParams(params)
    for (const [k, v] of Object.entries(changes)) {
      if (v === null || v === '') next.delete(k)
      else next.set(k, v)
    }
    setParams(next, { replace: true })
  }

  // With nothing chosen, the first adapter (or model) answers; side by side, its base is the other pane.
  const first = targets.adapters[0]?.ref ?? targets.models[0]?.ref ?? ''
  const primary = model || first
  const primaryTarget = targets.find(primary)
  const defaultVs = primaryTarget?.kind === 'adapter' ? (primaryTarget.baseRef ?? '') : (targets.models.find((m) => m.ref !== primary)?.ref ?? primary)
  const other = vs || defaultVs
  const paneRefs = compare ? [other, primary] : [primary]
  useEffect(() => {
    if (!model && first) setParam({ model: first })
  }, [first]) // eslint-disable-line react-hooks/exhaustive-deps

  const errors = samplingErrors(sampling)
  const invalid = Object.keys(errors).length > 0
  const missing = paneRefs.some((r) => !r)

  const send = async () => {
    const text = draft.trim()
    if (!text || busy || invalid || missing) return
    const seed = sampling.seed.trim() === '' ? randomSeed() : Number(sampling.seed)
    const id = nextId.current++
    const history = exchanges
    const refs = [...paneRefs]
    setExchanges((xs) => [...xs, { id, user: text, seed, answers: refs.map(() => undefined) }])
    setDraft('')
    setBusy(true)
    const controller = new AbortController()
    abort.current = controller
    const patch = (pane: number, change: (a: Answer) => Answer) =>
      setExchanges((xs) => xs.map((ex) => (ex.id === id ? { ...ex, answers: ex.answers.map((a, i) => (i === pane && a ? change(a) : a)) } : ex)))
    // One pane after the other: the panes usually share a base, which answers one request at a
    // time, so running them together would only make the second one's latency look worse.
    for (let pane = 0; pane < refs.length; pane++) {
      const start = performance.now()
      setExchanges((xs) => xs.map((ex) => (ex.id === id ? { ...ex, answers: ex.answers.map((a, i) => (i === pane ? { asked: refs[pane], text: '', streaming: true } : a)) } : ex)))
      if (controller.signal.aborted) {
        patch(pane, (a) => ({ ...a, streaming: false, error: abortedProblem() }))
        continue
      }
      try {
        const result = await streamInference(
          { model: refs[pane], messages: paneMessages(history, pane, system, text), ...toSampling(sampling, seed) },
          {
            signal: controller.signal,
            onDelta: (delta) => patch(pane, (a) => ({ ...a, text: a.text + delta, clientTtft: a.clientTtft ?? (performance.now() - start) / 1000 })),
          },
        )
        patch(pane, (a) => ({ ...a, text: result.text ?? a.text, streaming: false, result }))
      } catch (err) {
        patch(pane, (a) => ({ ...a, streaming: false, error: problemOf(err) }))
      }
    }
    abort.current = null
    setBusy(false)
    input.current?.focus()
  }

  const stop = () => abort.current?.abort()
  const clear = () => setExchanges([])

  const noTargets = !targets.loading && !targets.error && targets.adapters.length === 0 && targets.models.length === 0
  const hintFor = (pane: number): string | undefined => {
    if (!compare) return undefined
    const t = targets.find(paneRefs[pane])
    if (pane === 0 && primaryTarget?.kind === 'adapter' && paneRefs[0] === primaryTarget.baseRef) return `The base of ${primaryTarget.name}, with no adapter.`
    if (pane === 1 && t?.kind === 'adapter') return `${t.name} on ${t.baseName}.`
    return undefined
  }
  const sendLabel = busy ? 'Answering…' : missing ? 'Choose a model' : invalid ? 'Fix the sampling settings' : compare ? 'Send to both' : 'Send'

  return (
    <div className="page stack">
      <div className="page-head" style={{ marginBottom: 0 }}>
        <div>
          <h1>Playground</h1>
          <p className="sub">Chat with a base model or an adapter. Side by side, one message goes to both with the same seed and sampling.</p>
        </div>
        <div className="actions">
          <div className="segmented" role="group" aria-label="Panes">
            <button type="button" aria-pressed={!compare} onClick={() => setParam({ compare: null })} disabled={busy}>One model</button>
            <button type="button" aria-pressed={compare} onClick={() => setParam({ compare: '1' })} disabled={busy}>Side by side</button>
          </div>
          <button type="button" className="btn ghost" onClick={clear} disabled={busy || exchanges.length === 0}>Clear chat</button>
        </div>
      </div>
      <PlaygroundTabs current="chat" model={primary} />

      {targets.error && <ErrorState problem={targets.error} onRetry={targets.reload} />}
      {targets.loading && <SkeletonRows rows={4} height={28} />}
      {noTargets && (
        <div className="card">
          <EmptyState title="Nothing to chat with yet" action={<div className="row" style={{ justifyContent: 'center' }}><Link to="/models" className="btn primary">Add a model</Link><Link to="/new" className="btn">Start a run</Link></div>}>
            Add a base model (the demo model builds in seconds), or train a run: its adapter shows up here.
          </EmptyState>
        </div>
      )}

      {!targets.loading && !noTargets && (
        <div className="playground">
          <div className="stack" style={{ minWidth: 0 }}>
            <div className={`panes ${compare ? 'two' : ''}`}>
              {paneRefs.map((ref, i) => (
                <Pane
                  key={i}
                  index={i}
                  title={compare ? (i === 0 ? 'A' : 'B') : 'Model'}
                  target={ref}
                  onTarget={(r) => (compare && i === 0 ? setParam({ vs: r }) : setParam({ model: r }))}
                  targets={targets}
                  exchanges={exchanges}
                  busy={busy}
                  hint={hintFor(i)}
                />
              ))}
            </div>
            <form
              className="card composer"
              aria-label="Compose"
              onSubmit={(e) => {
                e.preventDefault()
                void send()
              }}
            >
              <label htmlFor="message" className="sr-only">Message</label>
              <textarea
                id="message"
                ref={input}
                rows={3}
                value={draft}
                placeholder={compare ? 'A message for both panes…' : 'A message…'}
                onChange={(e) => setDraft(e.target.value)}
                onKeyDown={(e) => {
                  if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
                    e.preventDefault()
                    void send()
                  }
                  if (e.key === 'Escape' && busy) stop()
                }}
                aria-describedby="message-help"
              />
              <div className="row">
                <span className="small muted" id="message-help">Enter sends, Shift+Enter starts a new line{busy ? ', Esc stops' : ''}.</span>
                <div className="right row" style={{ gap: 6 }}>
                  {busy && <button type="button" className="btn danger" onClick={stop}>Stop</button>}
                  <button type="submit" className="btn primary" disabled={busy || !draft.trim() || invalid || missing}>{sendLabel}</button>
                </div>
              </div>
            </form>
          </div>
          <aside className="card playground-side" aria-label="Settings">
            <div className="card-body stack">
              <Field id="system-prompt" label="System prompt" help="Sent first, to every pane. Empty: none (the model's chat template may add its own).">
                <textarea id="system-prompt" rows={3} value={system} onChange={(e) => setSystem(e.target.value)} aria-describedby="system-prompt-help" disabled={busy} />
              </Field>
              <SamplingControls value={sampling} onChange={setSampling} idPrefix="pg" disabled={busy} />
            </div>
          </aside>
        </div>
      )}
    </div>
  )
}
