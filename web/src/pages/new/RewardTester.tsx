// Try GRPO rewards before training: pick presets and weights, type a completion or score the
// chosen dataset's first rows, and see each reward's score and the weighted total.
import { useEffect, useState } from 'react'
import { api, unwrap } from '../../api/client'
import { problemOf, problemText, type Problem } from '../../api/problem'
import type { components } from '../../api/schema'
import { ErrorState, Skeleton } from '../../components/States'
import { getPath } from '../../lib/schema'
import { useResource } from '../../lib/useResource'
import { useWizard } from './store'

type TestResult = components['schemas']['RewardTestResult']
interface Pick {
  name: string
  weight: number
  params: string
}

function range(r: { score_range?: readonly number[] | null }): string {
  return r.score_range ? `${r.score_range[0]}–${r.score_range[1]}` : 'any'
}

const DEFAULT_MARKERS = {
  reasoning_start: '<start_working_out>',
  reasoning_end: '<end_working_out>',
  solution_start: '<SOLUTION>',
  solution_end: '</SOLUTION>',
}
const DEFAULT_REWARDS = [
  { name: 'math_answer', weight: 2, params: {} },
  { name: 'format', weight: 1, params: {} },
]
type Spec = { name: string; weight: number; params: Record<string, unknown> }

/**
 * The GRPO rewards and markers of the run (`train.rewards`, `train.markers`), edited here and
 * scored on a typed completion or dataset rows before training (`POST /api/rewards/test`).
 */
export function RewardTester() {
  const { state, setField } = useWizard()
  const presets = useResource(() => unwrap(api.GET('/api/rewards')), [])
  const stored = getPath(state.config, 'train.rewards') as Spec[] | undefined
  const specs: Spec[] = Array.isArray(stored) && stored.length ? stored : DEFAULT_REWARDS
  const markers = { ...DEFAULT_MARKERS, ...((getPath(state.config, 'train.markers') as Record<string, string> | undefined) ?? {}) }
  // The run starts with the defaults shown here, so a GRPO run always names its rewards.
  useEffect(() => {
    if (!Array.isArray(stored) || !stored.length) setField('train.rewards', DEFAULT_REWARDS)
  }, [stored, setField])
  const [drafts, setDrafts] = useState<Record<number, string>>({})
  const picks: Pick[] = specs.map((sp, i) => ({ name: sp.name, weight: sp.weight ?? 1, params: drafts[i] ?? JSON.stringify(sp.params ?? {}) }))
  const setPicks = (next: Pick[] | ((old: Pick[]) => Pick[])) => {
    const list = typeof next === 'function' ? next(picks) : next
    const out: Spec[] = list.map((p, i) => {
      let params: Record<string, unknown> = specs[i]?.params ?? {}
      try {
        params = p.params.trim() ? JSON.parse(p.params) : {}
      } catch {
        /* keep the last valid params while the JSON is being typed */
      }
      return { name: p.name, weight: p.weight, params }
    })
    setDrafts(Object.fromEntries(list.map((p, i) => [i, p.params])))
    setField('train.rewards', out)
  }
  const [completion, setCompletion] = useState('')
  const [answer, setAnswer] = useState('')
  const [useDataset, setUseDataset] = useState(false)
  const [result, setResult] = useState<TestResult | null>(null)
  const [problem, setProblem] = useState<Problem | null>(null)
  const [busy, setBusy] = useState(false)

  const m = { reasoningStart: markers.reasoning_start, reasoningEnd: markers.reasoning_end, solutionStart: markers.solution_start, solutionEnd: markers.solution_end }
  const setMarker = (key: keyof typeof DEFAULT_MARKERS, value: string) => setField('train.markers', { ...markers, [key]: value })
  const update = (i: number, change: Partial<Pick>) => setPicks((old) => old.map((p, j) => (j === i ? { ...p, ...change } : p)))

  async function run() {
    setBusy(true)
    setProblem(null)
    try {
      const rewards = picks.map((p) => ({ name: p.name, weight: p.weight, params: p.params.trim() ? JSON.parse(p.params) : {} }))
      const body = {
        rewards,
        markers,
        completion: completion || (useDataset ? null : ''),
        answer: answer || null,
        dataset: useDataset && state.datasetId ? `dataset:${state.datasetId}` : null,
        rows: 5,
      }
      setResult(await unwrap(api.POST('/api/rewards/test', { body })))
    } catch (err) {
      setResult(null)
      setProblem(err instanceof SyntaxError ? { title: 'Invalid params', detail: `Params must be JSON: ${err.message}`, status: 422, code: 'invalid_params' } : problemOf(err))
    } finally {
      setBusy(false)
    }
  }

  return (
    <section className="card" aria-labelledby="rewards-h" data-testid="reward-tester">
      <div className="card-head">
        <h2 id="rewards-h">Rewards</h2>
        <span className="right muted small">GRPO trains on the weighted total of these. Score them on a completion before you start.</span>
      </div>
      <div className="card-body stack">
        {presets.error && <ErrorState problem={presets.error} onRetry={presets.reload} />}
        {!presets.data && !presets.error && <Skeleton height={64} />}
        {presets.data && (
          <div role="group" aria-label="Rewards" className="stack">
            {picks.map((p, i) => (
              <div key={i} className="form-grid" style={{ gridTemplateColumns: '2fr 1fr 3fr auto', alignItems: 'end' }}>
                <label>
                  <span className="small">Reward {i + 1}</span>
                  <select value={p.name} onChange={(e) => update(i, { name: e.target.value })} aria-label={`Reward ${i + 1}`}>
                    {presets.data.map((r) => (
                      <option key={r.name} value={r.name} title={r.description}>
                        {r.title} ({range(r)})
                      </option>
                    ))}
                  </select>
                </label>
                <label>
                  <span className="small">Weight</span>
                  <input type="number" step="0.1" value={p.weight} onChange={(e) => update(i, { weight: Number(e.target.value) })} aria-label={`Weight ${i + 1}`} />
                </label>
                <label>
                  <span className="small">Params (JSON)</span>
                  <input value={p.params} onChange={(e) => update(i, { params: e.target.value })} aria-label={`Params ${i + 1}`} placeholder="{}" />
                </label>
                <button type="button" className="btn" onClick={() => setPicks((old) => old.filter((_, j) => j !== i))} disabled={picks.length === 1} aria-label={`Remove reward ${i + 1}`}>
                  Remove
                </button>
              </div>
            ))}
            <div>
              <button type="button" className="btn" onClick={() => setPicks((old) => [...old, { name: 'format', weight: 1, params: '{}' }])} disabled={picks.length >= 16}>
                Add a reward
              </button>
            </div>
            <p className="small muted">{presets.data.find((r) => r.name === picks[picks.length - 1]?.name)?.description}</p>
          </div>
        )}
        <div className="form-grid" role="group" aria-label="Markers">
          {(Object.keys(DEFAULT_MARKERS) as (keyof typeof DEFAULT_MARKERS)[]).map((key) => (
            <label key={key}>
              <span className="small">{key.replace('_', ' ')}</span>
              <input className="mono" value={markers[key]} onChange={(e) => setMarker(key, e.target.value)} aria-label={`Marker ${key.replace('_', ' ')}`} />
            </label>
          ))}
        </div>
        <label>
          <span className="small">Completion</span>
          <textarea rows={4} value={completion} onChange={(e) => setCompletion(e.target.value)} placeholder={`${m.reasoningStart}…${m.reasoningEnd}${m.solutionStart}42${m.solutionEnd}`} aria-label="Completion" />
        </label>
        <div className="form-grid">
          <label>
            <span className="small">Answer (the `answer` column)</span>
            <input value={answer} onChange={(e) => setAnswer(e.target.value)} placeholder="#### 42" aria-label="Answer" disabled={useDataset} />
          </label>
          <label className="row small">
            <input type="checkbox" checked={useDataset} onChange={(e) => setUseDataset(e.target.checked)} disabled={!state.datasetId} />
            Score the dataset's first 5 rows {completion ? '(with this completion)' : '(their own answers)'}
          </label>
        </div>
        <div>
          <button type="button" className="btn primary" onClick={run} disabled={busy || !presets.data}>
            {busy ? 'Scoring…' : 'Score'}
          </button>
        </div>
        {problem && (
          <p role="alert" className="error small">
            {problemText(problem)}
          </p>
        )}
        {result && (
          <table className="table small" aria-label="Reward scores">
            <thead>
              <tr>
                <th>Completion</th>
                {result.labels.map((l, i) => (
                  <th key={l} className="num">
                    {l} ×{result.weights[i]}
                  </th>
                ))}
                <th className="num">Total</th>
              </tr>
            </thead>
            <tbody>
              {result.rows.map((r, i) => (
                <tr key={i}>
                  <td title={r.prompt} style={{ maxWidth: 360, whiteSpace: 'pre-wrap' }}>
                    {r.completion.length > 200 ? `${r.completion.slice(0, 200)}…` : r.completion}
                  </td>
                  {result.labels.map((l) => (
                    <td key={l} className="num">
                      {r.scores[l]}
                    </td>
                  ))}
                  <td className="num">
                    <strong>{r.total}</strong>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
    </section>
  )
}
