// Memory estimates for the config being edited, asked of the server (`POST /api/models/estimate`)
// after typing settles, with a small cache so flipping back and forth costs nothing.
import { useEffect, useMemo, useState } from 'react'
import { api, unwrap } from '../../api/client'
import { problemOf, type Problem } from '../../api/problem'
import type { Estimate, RunConfig } from '../../api/types'
import { useDebounced } from '../../lib/useResource'
import type { Cfg } from './store'

const cache = new Map<string, Promise<Estimate>>()

/** The parts of a config that change memory; the data source does not, so a placeholder stands in. */
export function estimateBody(config: Cfg, modelRef?: string): RunConfig {
  const body = structuredClone(config) as Record<string, Record<string, unknown>>
  if (modelRef) body.model = { ...body.model, name_or_path: modelRef }
  body.data = { ...body.data, source: String(body.data?.source || 'estimate-only') }
  delete (body as Record<string, unknown>).name
  return body as unknown as RunConfig
}

function estimate(body: RunConfig): Promise<Estimate> {
  const key = JSON.stringify([body.model, body.lora, body.train])
  let hit = cache.get(key)
  if (!hit) {
    hit = unwrap(api.POST('/api/models/estimate', { body }))
    hit.catch(() => cache.delete(key))
    cache.set(key, hit)
    if (cache.size > 500) cache.delete(cache.keys().next().value as string)
  }
  return hit
}

/** What to say when there is no estimate: the form's own errors come first. */
export function estimateProblemText(p: Problem): string {
  return p.code === 'invalid_config' || p.code === 'invalid_request' ? 'Fix the marked fields to update the estimate.' : p.detail
}

export interface EstimateState {
  data?: Estimate
  error?: Problem
  loading: boolean
}

export function useEstimate(config: Cfg, enabled: boolean): EstimateState {
  const body = useMemo(() => estimateBody(config), [config])
  const settled = useDebounced(JSON.stringify(body), 350)
  const [state, setState] = useState<EstimateState>({ loading: enabled })
  useEffect(() => {
    if (!enabled) {
      setState({ loading: false })
      return
    }
    let live = true
    setState((s) => ({ ...s, loading: true }))
    estimate(JSON.parse(settled) as RunConfig).then(
      (data) => live && setState({ data, loading: false }),
      (err) => live && setState({ error: problemOf(err), loading: false }),
    )
    return () => {
      live = false
    }
  }, [settled, enabled])
  return state
}

/** Estimates for many models under the same LoRA/training settings (the catalog's badges). */
export function useEstimates(config: Cfg, modelRefs: string[]): Map<string, EstimateState> {
  const base = useDebounced(JSON.stringify([config.lora, config.train, { ...config.model, name_or_path: '' }]), 500)
  const refs = modelRefs.join('|')
  const [states, setStates] = useState(new Map<string, EstimateState>())
  useEffect(() => {
    let live = true
    const list = refs ? refs.split('|') : []
    const queue = [...list]
    setStates((old) => new Map(list.map((r) => [r, { ...(old.get(r) ?? {}), loading: true }])))
    const worker = async () => {
      while (live && queue.length) {
        const ref = queue.shift() as string
        try {
          const data = await estimate(estimateBody(config, ref))
          if (live) setStates((old) => new Map(old).set(ref, { data, loading: false }))
        } catch (err) {
          if (live) setStates((old) => new Map(old).set(ref, { error: problemOf(err), loading: false }))
        }
      }
    }
    void Promise.all([worker(), worker(), worker(), worker()])
    return () => {
      live = false
    }
    // `config` is read through `base`, which changes exactly when it matters.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [base, refs])
  return states
}

/** A suggestion's `section.field=value` overrides as config values. */
export function parseOverrides(overrides: string[]): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {}
  for (const o of overrides) {
    const eq = o.indexOf('=')
    if (eq < 0) continue
    const [section, key] = o.slice(0, eq).split('.')
    const raw = o.slice(eq + 1)
    let value: unknown = raw
    if (raw === 'true' || raw === 'false') value = raw === 'true'
    else if (raw !== '' && Number.isFinite(Number(raw))) value = Number(raw)
    else if (raw === 'null') value = null
    ;(out[section] ??= {})[key] = value
  }
  return out
}
