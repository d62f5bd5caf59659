// What a job refers to (its dataset, the adapter it starts from, its parent job) and what it
// produced (`result`), as links to those resources. Names come from the resources' lists, so a
// link reads "finetome_sample.parquet", not an id; an id that is no longer there stays an id.
import { Fragment, type ReactNode } from 'react'
import { Link } from 'react-router'
import { api, unwrap } from '../../api/client'
import type { Job } from '../../api/types'
import { fmtBytes, fmtNumber, shortId } from '../../lib/format'
import { useResource } from '../../lib/useResource'

export interface RefNames {
  dataset: Map<string, string>
  adapter: Map<string, string>
  model: Map<string, string>
  job: Map<string, string>
}

/** Names of datasets, adapters and models by id (empty maps while loading or when a list fails). */
export function useRefNames(jobs?: Job[]): RefNames {
  const datasets = useResource(() => unwrap(api.GET('/api/datasets')), [])
  const adapters = useResource(() => unwrap(api.GET('/api/adapters')), [])
  const models = useResource(() => unwrap(api.GET('/api/models')), [])
  return {
    dataset: new Map((datasets.data ?? []).map((d) => [d.id, d.name])),
    adapter: new Map((adapters.data ?? []).map((a) => [a.id, a.name])),
    model: new Map((models.data?.local ?? []).map((m) => [m.id, m.name])),
    job: new Map((jobs ?? []).map((j) => [j.id, j.name || j.kind_title])),
  }
}

type RefKind = keyof RefNames

/** The page of a resource, by the kind its `*_id` key names (`dataset_id` -> dataset). */
export function refTarget(kind: string, id: string): { kind: RefKind; to: string } | null {
  switch (kind) {
    case 'dataset':
      return { kind: 'dataset', to: `/datasets/${id}` }
    case 'adapter':
      return { kind: 'adapter', to: `/adapters/${id}` }
    case 'model':
      return { kind: 'model', to: `/models#model-${id}` }
    case 'job':
    case 'parent':
      return { kind: 'job', to: `/jobs/${id}` }
    default:
      return null
  }
}

const KIND_WORDS: Record<RefKind, string> = { dataset: 'dataset', adapter: 'adapter', model: 'model', job: 'job' }

export function RefLink({ kind, id, names, showKind = true }: { kind: string; id: string; names: RefNames; showKind?: boolean }) {
  const target = refTarget(kind, id)
  if (!target) return <span className="mono small">{id}</span>
  const name = names[target.kind].get(id)
  return (
    <span className="nowrap">
      {showKind && <span className="muted small">{KIND_WORDS[target.kind]} </span>}
      <Link to={target.to} data-ref={`${target.kind}:${id}`} title={`${target.kind}:${id}`}>{name ?? shortId(id)}</Link>
    </span>
  )
}

/** The references of a job: dataset, adapter, parent job, and the ids in its result. */
export function jobRefs(job: Job): { kind: string; id: string }[] {
  const out: { kind: string; id: string }[] = []
  if (job.dataset_id) out.push({ kind: 'dataset', id: job.dataset_id })
  if (job.adapter_id) out.push({ kind: 'adapter', id: job.adapter_id })
  if (job.parent_id) out.push({ kind: 'parent', id: job.parent_id })
  for (const [k, v] of Object.entries(job.result ?? {})) {
    if (k.endsWith('_id') && typeof v === 'string' && !out.some((r) => r.id === v)) out.push({ kind: k.slice(0, -3), id: v })
  }
  return out
}

export function JobRefs({ job, names }: { job: Job; names: RefNames }) {
  const refs = jobRefs(job)
  if (!refs.length) return <span className="muted">—</span>
  return (
    <span className="row" style={{ gap: 10 }}>
      {refs.map((r) => (
        <RefLink key={`${r.kind}:${r.id}`} kind={r.kind} id={r.id} names={names} />
      ))}
    </span>
  )
}

function valueText(key: string, v: unknown): ReactNode {
  if (v === null || v === undefined) return <span className="muted">—</span>
  if (typeof v === 'number') return key.endsWith('bytes') ? fmtBytes(v) : Number.isInteger(v) ? v.toLocaleString() : fmtNumber(v, 4)
  if (typeof v === 'boolean') return v ? 'yes' : 'no'
  if (typeof v === 'string') return v
  return <code className="mono small">{JSON.stringify(v)}</code>
}

/** A job's result as key/value; `*_id` keys that name a resource become links to it. */
export function ResultList({ result, names }: { result: Record<string, unknown>; names: RefNames }) {
  const entries = Object.entries(result)
  if (!entries.length) return <p className="muted small">The job finished without a result to show.</p>
  return (
    <dl className="kv" data-testid="job-result">
      {entries.map(([k, v]) => (
        <Fragment key={k}>
          <dt>{k.replace(/_/g, ' ')}</dt>
          <dd>{k.endsWith('_id') && typeof v === 'string' && refTarget(k.slice(0, -3), v) ? <RefLink kind={k.slice(0, -3)} id={v} names={names} showKind={false} /> : valueText(k, v)}</dd>
        </Fragment>
      ))}
    </dl>
  )
}
