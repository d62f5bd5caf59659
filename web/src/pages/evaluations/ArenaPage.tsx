import { useCallback, useEffect, useRef, useState } from 'react'
import { Link, useParams } from 'react-router'
import { getEvaluation, getSamples, getSummary, nextPair, vote } from '../../api/evaluations'
import { problemOf, type Problem } from '../../api/problem'
import type { ArenaPair, ArenaSummary, EvalSample, Spread, VoteChoice, VoteResult } from '../../api/types'
import { EmptyState, ErrorState, SkeletonRows } from '../../components/States'
import { useToasts } from '../../components/Toasts'
import { fmtInt } from '../../lib/format'
import { useResource } from '../../lib/useResource'
import { useTargets } from '../playground/targets'
import { DeltaList, VoteCounts, WinRate } from './summary'

const CHOICES: { choice: VoteChoice; label: string; keys: string[] }[] = [
  { choice: 'a', label: 'A is better', keys: ['1', 'a'] },
  { choice: 'b', label: 'B is better', keys: ['2', 'b'] },
  { choice: 'tie', label: 'Tie', keys: ['3', 't'] },
  { choice: 'both_bad', label: 'Both bad', keys: ['4', 'x'] },
]

type State =
  | { kind: 'loading' }
  | { kind: 'pair'; pair: ArenaPair; voted?: { choice: VoteChoice; reveal: VoteResult['reveal'] } }
  | { kind: 'done' }
  | { kind: 'error'; problem: Problem }

function typing(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null
  return Boolean(el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || el.isContentEditable))
}

function SampleList({ title, ids, samples }: { title: string; ids: string[]; samples: Map<string, EvalSample> }) {
  if (!ids.length) return null
  return (
    <div className="stack-sm">
      <h3>{title}</h3>
      <ol className="sample-list small">
        {ids.slice(0, 5).map((id) => (
          <li key={id} title={samples.get(id)?.prompt}>{samples.get(id)?.prompt ?? <span className="mono">{id}</span>}</li>
        ))}
      </ol>
    </div>
  )
}

function SummaryPanel({ jobId, summary }: { jobId: string; summary: ArenaSummary | undefined }) {
  const samples = useResource(() => getSamples(jobId, 0, 200), [jobId])
  const byId = new Map((samples.data?.samples ?? []).map((s) => [s.id, s]))
  return (
    <aside className="card arena-summary" aria-label="Summary" data-testid="arena-summary">
      <div className="card-head"><h2>Summary</h2><Link to={`/evaluations/${jobId}`} className="right small">the evaluation</Link></div>
      <div className="card-body stack">
        {!summary ? <SkeletonRows rows={3} /> : (
          <>
            <WinRate summary={summary} />
            <VoteCounts summary={summary} />
            {summary.judge_agreement != null && (
              <p className="small" data-testid="judge-agreement">Your votes agree with the judge on <strong>{Math.round(summary.judge_agreement * 100)}%</strong> of the samples you both judged.</p>
            )}
            <SampleList title="Where tuned did best" ids={summary.best ?? []} samples={byId} />
            <SampleList title="Where tuned did worst" ids={summary.worst ?? []} samples={byId} />
            {Object.keys(summary.deltas ?? {}).length > 0 && (
              <div className="stack-sm"><h3>Metric deltas (tuned − base, ± spread)</h3><DeltaList deltas={summary.deltas as Record<string, Spread> | null} /></div>
            )}
          </>
        )}
      </div>
    </aside>
  )
}

export function ArenaPage() {
  const { id = '' } = useParams()
  const toasts = useToasts()
  const targets = useTargets()
  const [state, setState] = useState<State>({ kind: 'loading' })
  const [summary, setSummary] = useState<ArenaSummary | undefined>(undefined)
  const [voting, setVoting] = useState(false)
  const [adapterRef, setAdapterRef] = useState<string | null>(null)
  const nextBtn = useRef<HTMLButtonElement>(null)

  const load = useCallback(async () => {
    setState({ kind: 'loading' })
    try {
      setState({ kind: 'pair', pair: await nextPair(id) })
    } catch (err) {
      const p = problemOf(err)
      setState(p.code === 'arena_done' ? { kind: 'done' } : { kind: 'error', problem: p })
    }
  }, [id])

  useEffect(() => {
    void load()
    getSummary(id).then(setSummary, () => undefined)
    getEvaluation(id).then((j) => setAdapterRef(((j.config ?? {}) as { adapter?: string }).adapter ?? null), () => undefined)
  }, [id, load])

  const cast = useCallback(
    async (choice: VoteChoice) => {
      if (state.kind !== 'pair' || state.voted || voting) return
      setVoting(true)
      try {
        const res = await vote(id, state.pair.sample_id, choice)
        setState({ ...state, voted: { choice, reveal: res.reveal } })
        setSummary(res.summary)
      } catch (err) {
        const p = problemOf(err)
        if (p.code === 'already_voted') void load()
        toasts.error(err)
      } finally {
        setVoting(false)
      }
    },
    [id, state, voting, load, toasts],
  )

  useEffect(() => {
    if (state.kind === 'pair' && state.voted) nextBtn.current?.focus()
  }, [state])

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return
      if (state.kind !== 'pair') return
      const key = e.key.toLowerCase()
      if (state.voted) {
        if (key === 'n' || (key === 'enter' && document.activeElement === document.body)) {
          e.preventDefault()
          void load()
        }
        return
      }
      const c = CHOICES.find((x) => x.keys.includes(key))
      if (c) {
        e.preventDefault()
        void cast(c.choice)
      }
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [state, cast, load])

  const tunedName = adapterRef ? targets.nameOf(adapterRef) : 'the adapter'
  const baseName = adapterRef ? (targets.find(adapterRef)?.baseName ?? 'its base') : 'its base'
  const who = (side: string) => (side === 'tuned' ? `tuned (${tunedName})` : `base (${baseName})`)

  return (
    <div className="page stack">
      <div className="page-head" style={{ marginBottom: 0 }}>
        <div>
          <h1>Arena</h1>
          <p className="sub">Two answers to one prompt, sides shuffled by the server. Vote for the better one; who wrote which shows after your vote.</p>
        </div>
        <div className="actions"><Link to={`/evaluations/${id}`} className="btn ghost">Back to the evaluation</Link></div>
      </div>
      <div className="arena">
        <div className="stack" style={{ minWidth: 0 }}>
          {state.kind === 'loading' && <div className="card card-body"><SkeletonRows rows={5} /></div>}
          {state.kind === 'error' && <ErrorState problem={state.problem} onRetry={load} title={state.problem.code === 'evaluation_not_ready' ? 'The evaluation is not finished yet' : state.problem.status === 404 ? 'Nothing to vote on' : undefined} />}
          {state.kind === 'done' && (
            <div className="card" data-testid="arena-done">
              <EmptyState title="Every sample has a vote" action={<Link to={`/evaluations/${id}`} className="btn primary">See the evaluation</Link>}>
                Thank you. The summary on the right counts every vote.
              </EmptyState>
            </div>
          )}
          {state.kind === 'pair' && (
            <>
              <section className="card" aria-label="Prompt">
                <div className="card-head"><h2>Prompt</h2><span className="right small muted" data-testid="arena-remaining">{state.voted && summary ? `${fmtInt(summary.remaining)} left to vote on` : `${fmtInt(state.pair.remaining)} left to vote on, this one included`}</span></div>
                <div className="card-body"><div className="cell-text" data-testid="arena-prompt">{state.pair.prompt}</div></div>
              </section>
              <div className="grid-2">
                {(['a', 'b'] as const).map((side) => {
                  const revealed = state.voted?.reveal[side]
                  const picked = state.voted && (state.voted.choice === side || state.voted.choice === 'tie')
                  return (
                    <section key={side} className={`card arena-answer ${revealed ?? ''} ${picked ? 'picked' : ''}`} aria-label={`Answer ${side.toUpperCase()}`} data-testid={`answer-${side}`}>
                      <div className="card-head">
                        <h2>Answer {side.toUpperCase()}</h2>
                        {revealed && <span className={`badge right ${revealed === 'tuned' ? 'ok' : 'idle'}`} data-testid={`reveal-${side}`}>{who(revealed)}</span>}
                      </div>
                      <div className="card-body"><div className="cell-text">{state.pair[side].trim() ? state.pair[side] : <span className="muted">(an empty answer: only spaces or new lines)</span>}</div></div>
                    </section>
                  )
                })}
              </div>
              {!state.voted ? (
                <div className="vote-bar-buttons" role="group" aria-label="Vote">
                  {CHOICES.map((c) => (
                    <button key={c.choice} type="button" className={`btn lg ${c.choice === 'a' || c.choice === 'b' ? 'primary' : ''}`} onClick={() => void cast(c.choice)} disabled={voting} aria-keyshortcuts={c.keys.join(' ')}>
                      {c.label} <kbd>{c.keys[0]}</kbd><kbd>{c.keys[1]}</kbd>
                    </button>
                  ))}
                </div>
              ) : (
                <div className="notice ok arena-reveal" role="status" data-testid="arena-reveal">
                  <div>
                    <strong>Your vote: {CHOICES.find((c) => c.choice === state.voted!.choice)?.label}.</strong>{' '}
                    A was the {who(state.voted.reveal.a)}, B was the {who(state.voted.reveal.b)}.
                  </div>
                  <button ref={nextBtn} type="button" className="btn primary right" onClick={() => void load()} aria-keyshortcuts="n">Next <kbd>n</kbd></button>
                </div>
              )}
              <p className="small muted">Keys: 1 or a for A, 2 or b for B, 3 or t for a tie, 4 or x when both are bad; then n (or Enter) for the next prompt.</p>
            </>
          )}
        </div>
        <SummaryPanel jobId={id} summary={summary} />
      </div>
    </div>
  )
}
