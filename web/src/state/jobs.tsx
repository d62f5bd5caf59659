// The job list the sidebar, the runs page and the jobs page share: loaded once, then kept
// current by the `/api/jobs/events` WebSocket; while that socket is down, a poll every few
// seconds instead. One list of every kind (the socket reports every kind): `runs` are the
// training runs, `others` the rest (dataset validation, demo model builds, ...).
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react'
import { api, unwrap } from '../api/client'
import { openStream, type Connection, type JobListEvent } from '../api/events'
import { problemOf, type Problem } from '../api/problem'
import type { Job } from '../api/types'

interface JobsState {
  /** Every job, of any kind, newest first. */
  jobs: Job[] | undefined
  /** Training runs only (kind `train`): what the runs list and the sidebar show. */
  runs: Job[] | undefined
  /** Every other kind: what the jobs page shows. */
  others: Job[] | undefined
  error: Problem | null
  connection: Connection
  reload: () => Promise<void>
  /** Put a job the page just received (created, resumed, cancelled) into the list at once. */
  upsert: (job: Job) => void
}

const Ctx = createContext<JobsState | null>(null)
const POLL_MS = 4000
export const TRAIN = 'train'
const ENDED = new Set(['completed', 'stopped', 'failed', 'interrupted'])

export function JobsProvider({ children }: { children: ReactNode }) {
  const [jobs, setJobs] = useState<Job[] | undefined>(undefined)
  const [error, setError] = useState<Problem | null>(null)
  const [connection, setConnection] = useState<Connection>('connecting')
  const known = useRef(new Set<string>())

  const reload = useCallback(async () => {
    try {
      const list = await unwrap(api.GET('/api/jobs'))
      known.current = new Set(list.map((j) => j.id))
      setJobs(list)
      setError(null)
    } catch (err) {
      setError(problemOf(err))
    }
  }, [])

  const upsert = useCallback((job: Job) => {
    known.current.add(job.id)
    setJobs((list) => {
      const rest = (list ?? []).filter((j) => j.id !== job.id)
      return [job, ...rest].sort((a, b) => b.created_at.localeCompare(a.created_at))
    })
  }, [])

  useEffect(() => {
    void reload()
    const stream = openStream<JobListEvent>({
      path: '/api/jobs/events',
      onConnection: (state) => {
        setConnection(state)
        if (state === 'live') void reload() // catch up on anything missed while disconnected
      },
      onMessage: (ev) => {
        if (!ev || !ev.job_id) return
        if (!known.current.has(ev.job_id)) {
          void reload()
          return
        }
        // An ended job has new fields (result, reason, metrics) the event does not carry.
        if (ENDED.has(ev.status)) void reload()
        setJobs((list) =>
          list?.map((j) =>
            j.id === ev.job_id
              ? {
                  ...j,
                  status: ev.status ?? j.status,
                  progress: ev.progress ?? j.progress,
                  step: ev.step ?? j.step,
                  total_steps: ev.total_steps ?? j.total_steps,
                }
              : j,
          ),
        )
      },
    })
    return () => stream.close()
  }, [reload])

  useEffect(() => {
    if (connection === 'live') return
    const id = window.setInterval(() => void reload(), POLL_MS)
    return () => window.clearInterval(id)
  }, [connection, reload])

  const runs = useMemo(() => jobs?.filter((j) => j.kind === TRAIN), [jobs])
  const others = useMemo(() => jobs?.filter((j) => j.kind !== TRAIN), [jobs])
  const value = useMemo(() => ({ jobs, runs, others, error, connection, reload, upsert }), [jobs, runs, others, error, connection, reload, upsert])
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>
}

export function useJobs(): JobsState {
  const ctx = useContext(Ctx)
  if (!ctx) throw new Error('useJobs outside JobsProvider')
  return ctx
}
