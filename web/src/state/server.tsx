// What every page may need from the server and rarely changes: the RunConfig schema and its
// presets (loaded once), and the machine's status (polled for the top bar).
import { createContext, useContext, useMemo, type ReactNode } from 'react'
import { api, unwrap } from '../api/client'
import type { SystemInfo } from '../api/types'
import { useResource, type Resource } from '../lib/useResource'
import { allFields, type FieldSpec, type JsonSchema } from '../lib/schema'

/** One preset of a training method: a partial config (its `train` names the method) and what it is for. */
export interface Preset {
  description: string
  lora: Record<string, unknown>
  train: Record<string, unknown>
}
/** Every training method's presets: method -> preset name -> preset (the first name is the method's default). */
export type Presets = Record<string, Record<string, Preset>>

/**
 * The presets of `method`. A method the server has no presets for (a test-only one) gets the
 * first method's, whose shared values still apply.
 */
export function presetsOf(presets: Presets | undefined, method: string | undefined): Record<string, Preset> {
  if (!presets) return {}
  return (method && presets[method]) || Object.values(presets)[0] || {}
}

interface ServerState {
  schema: Resource<JsonSchema>
  fields: Map<string, FieldSpec>
  presets: Resource<Presets>
  system: Resource<SystemInfo>
}

const Ctx = createContext<ServerState | null>(null)

export function ServerProvider({ children }: { children: ReactNode }) {
  const schema = useResource(async () => (await unwrap(api.GET('/api/schema/run-config'))) as JsonSchema, [])
  const presets = useResource(async () => (await unwrap(api.GET('/api/schema/presets'))) as Presets, [])
  const system = useResource(() => unwrap(api.GET('/api/system')), [], 5000)
  const fields = useMemo(() => (schema.data ? allFields(schema.data) : new Map<string, FieldSpec>()), [schema.data])
  const value = useMemo(() => ({ schema, fields, presets, system }), [schema, fields, presets, system])
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>
}

export function useServer(): ServerState {
  const ctx = useContext(Ctx)
  if (!ctx) throw new Error('useServer outside ServerProvider')
  return ctx
}

export function hasGpu(system: SystemInfo | undefined): boolean {
  return Boolean(system && system.device === 'cuda' && system.gpus.length > 0)
}
