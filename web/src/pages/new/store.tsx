// The new-run wizard's state: one store for all four steps, saved to sessionStorage on every
// change, so Back, a reload or a detour to another page never loses what was typed.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react'
import { presetsOf, useServer } from '../../state/server'
import { applies, checkValue, defaultConfig, fitVariants, getPath, parseNumber, selectVariant, setPath, type FieldSpec } from '../../lib/schema'

export type Cfg = Record<string, Record<string, unknown>> & { name?: string | null }

export const STEPS = [
  { key: 'model', label: 'Model' },
  { key: 'dataset', label: 'Dataset' },
  { key: 'training', label: 'Training' },
  { key: 'review', label: 'Review' },
] as const

export interface Markers {
  reasoningStart: string
  reasoningEnd: string
  solutionStart: string
  solutionEnd: string
}

export interface WizardState {
  step: number
  config: Cfg
  drafts: Record<string, string>
  serverErrors: Record<string, string>
  /** `adapter`: continue training an adapter (model.name_or_path is `adapter:<id>`). */
  modelSource: 'catalog' | 'hub' | 'local' | 'adapter'
  modelLabel: string
  datasetId: string | null
  datasetLabel: string
  datasetTab: 'upload' | 'hub' | 'popular' | 'existing'
  loraMode: 'recommended' | 'custom' | 'advanced'
  preset: string | null
  promptTemplate: string
  markers: Markers
  runName: string
  loadedFrom: string | null
  initialized: boolean
  /** The furthest step opened so far: later steps do not nag yet. */
  furthest: number
}

const KEY = 'loralab.wizard.v1'

export const DEFAULT_MARKERS: Markers = {
  reasoningStart: '<think>',
  reasoningEnd: '</think>',
  solutionStart: '<answer>',
  solutionEnd: '</answer>',
}

function fresh(): WizardState {
  return {
    step: 0,
    config: { model: { name_or_path: '' }, data: { source: '' }, lora: {}, train: {} } as Cfg,
    drafts: {},
    serverErrors: {},
    modelSource: 'catalog',
    modelLabel: '',
    datasetId: null,
    datasetLabel: '',
    datasetTab: 'upload',
    loraMode: 'recommended',
    preset: 'recommended',
    promptTemplate: 'none',
    markers: DEFAULT_MARKERS,
    runName: '',
    loadedFrom: null,
    initialized: false,
    furthest: 0,
  }
}

function load(): WizardState {
  try {
    const raw = sessionStorage.getItem(KEY)
    if (raw) return { ...fresh(), ...(JSON.parse(raw) as Partial<WizardState>) }
  } catch {
    /* a broken entry starts over */
  }
  return fresh()
}

function deepMerge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base
  if (base && over && typeof base === 'object' && typeof over === 'object' && !Array.isArray(base) && !Array.isArray(over)) {
    const out: Record<string, unknown> = { ...(base as Record<string, unknown>) }
    for (const [k, v] of Object.entries(over as Record<string, unknown>)) out[k] = deepMerge(out[k], v)
    return out
  }
  return over
}

interface WizardApi {
  state: WizardState
  /** Set one config field; `draft` keeps the raw text of a number being typed. */
  setField: (path: string, value: unknown, draft?: string) => void
  update: (patch: Partial<WizardState>) => void
  /** Merge sections into the config (a preset, a saved config), dropping drafts they cover. */
  mergeConfig: (partial: Record<string, unknown>, patch?: Partial<WizardState>) => void
  /** Choose a member of a union section (`train`'s method): shared values stay, its own fields come in. */
  setVariant: (section: string, tag: string) => void
  setServerErrors: (errors: Record<string, string>) => void
  reset: () => void
  goto: (step: number) => void
  /** Replace the form with a saved config (the schema's defaults fill what it leaves out). */
  loadConfig: (config: Record<string, unknown>, from: string) => void
}

const Ctx = createContext<WizardApi | null>(null)

export function WizardProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<WizardState>(load)
  const { schema, presets } = useServer()

  useEffect(() => {
    sessionStorage.setItem(KEY, JSON.stringify(state))
  }, [state])

  // Fill in every schema default (and the recommended preset) once, under what is already there.
  useEffect(() => {
    if (state.initialized || !schema.data || !presets.data) return
    const defaults = defaultConfig(schema.data)
    const method = getPath(state.config, 'train.method')
    const chosen = state.preset ? presetsOf(presets.data, typeof method === 'string' ? method : undefined)[state.preset] : undefined
    const preset = chosen ? { lora: chosen.lora, train: chosen.train } : {}
    // The defaults hold the first method's own fields; fitting drops them when another is chosen.
    const root = schema.data
    setState((s) => ({ ...s, initialized: true, config: fitVariants(root, deepMerge(deepMerge(defaults, preset), s.config) as Cfg) }))
  }, [schema.data, presets.data, state.initialized, state.preset])

  const setField = useCallback((path: string, value: unknown, draft?: string) => {
    setState((s) => {
      const drafts = { ...s.drafts }
      if (draft === undefined) delete drafts[path]
      else drafts[path] = draft
      const serverErrors = { ...s.serverErrors }
      delete serverErrors[path]
      return { ...s, config: setPath(s.config, path, value), drafts, serverErrors }
    })
  }, [])

  const update = useCallback((patch: Partial<WizardState>) => setState((s) => ({ ...s, ...patch })), [])

  const mergeConfig = useCallback((partial: Record<string, unknown>, patch?: Partial<WizardState>) => {
    setState((s) => {
      const drafts = { ...s.drafts }
      const serverErrors = { ...s.serverErrors }
      for (const [section, values] of Object.entries(partial)) {
        if (!values || typeof values !== 'object') continue
        for (const key of Object.keys(values)) {
          delete drafts[`${section}.${key}`]
          delete serverErrors[`${section}.${key}`]
        }
      }
      const merged = deepMerge(s.config, partial) as Cfg
      return { ...s, ...patch, drafts, serverErrors, config: schema.data ? fitVariants(schema.data, merged) : merged }
    })
  }, [schema.data])

  const setVariant = useCallback((section: string, tag: string) => {
    const root = schema.data
    if (!root) return
    setState((s) => {
      const config = selectVariant(root, s.config, section, tag)
      const kept = new Set(Object.keys(config[section] ?? {}).map((k) => `${section}.${k}`))
      const stale = (path: string) => path === section || (path.startsWith(`${section}.`) && !kept.has(path))
      const drafts = Object.fromEntries(Object.entries(s.drafts).filter(([path]) => !stale(path)))
      const serverErrors = Object.fromEntries(Object.entries(s.serverErrors).filter(([path]) => !stale(path)))
      return { ...s, config, drafts, serverErrors }
    })
  }, [schema.data])

  const setServerErrors = useCallback((errors: Record<string, string>) => setState((s) => ({ ...s, serverErrors: errors })), [])
  const reset = useCallback(() => setState(fresh()), [])
  const goto = useCallback((step: number) => setState((s) => ({ ...s, step, furthest: Math.max(s.furthest, step) })), [])
  const loadConfig = useCallback((config: Record<string, unknown>, from: string) => {
    const cfg = structuredClone(config) as Cfg
    const model = String(getPath(cfg, 'model.name_or_path') ?? '')
    const source = String(getPath(cfg, 'data.source') ?? '')
    const datasetId = source.startsWith('dataset:') ? source.slice('dataset:'.length) : null
    const runName = typeof cfg.name === 'string' ? cfg.name : ''
    delete cfg.name
    setState({
      ...fresh(),
      step: 3,
      furthest: 3,
      config: cfg,
      initialized: false,
      preset: null,
      loraMode: 'custom',
      modelSource: model.startsWith('adapter:') ? 'adapter' : model.startsWith('model:') ? 'local' : 'hub',
      modelLabel: model,
      datasetId,
      datasetLabel: datasetId ? source : '',
      datasetTab: 'existing',
      promptTemplate: getPath(cfg, 'data.system_prompt') ? 'custom' : 'none',
      runName,
      loadedFrom: from,
    })
  }, [])

  const value = useMemo(
    () => ({ state, setField, update, mergeConfig, setVariant, setServerErrors, reset, goto, loadConfig }),
    [state, setField, update, mergeConfig, setVariant, setServerErrors, reset, goto, loadConfig],
  )
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>
}

export function useWizard(): WizardApi {
  const ctx = useContext(Ctx)
  if (!ctx) throw new Error('useWizard outside WizardProvider')
  return ctx
}

/** Which step shows a config path. */
export function stepOf(path: string): number {
  if (path.startsWith('model.') || path.startsWith('lora.')) return 0
  if (path === 'data.source' || path === 'data.format' || path === 'data.field_mapping' || path === 'data.system_prompt' || path === 'data.split' || path === 'data.subset') return 1
  if (path.startsWith('data.') || path.startsWith('train.')) return 2
  return 3
}

export interface Issue {
  step: number
  path: string
  /** The full sentence, for the list on the Review step. */
  message: string
  /** A short imperative for the Start button: "choose a dataset", "fix Rank (r)". */
  action: string
}

/** The error a field shows now (what was typed, then the server's verdict), or null. */
export function fieldError(state: WizardState, spec: FieldSpec): string | null {
  const draft = state.drafts[spec.path]
  if (draft !== undefined && (spec.kind === 'integer' || spec.kind === 'number')) {
    const parsed = parseNumber(spec, draft)
    if ('error' in parsed) return parsed.error
    const bad = checkValue(spec, parsed.value)
    if (bad) return bad
  } else {
    const bad = checkValue(spec, getPath(state.config, spec.path))
    if (bad) return bad
  }
  return state.serverErrors[spec.path] ?? null
}

/** Everything that stands between the form and Start, in step order. */
export function wizardIssues(state: WizardState, fields: Map<string, FieldSpec>): Issue[] {
  const issues: Issue[] = []
  if (!String(getPath(state.config, 'model.name_or_path') ?? '').trim()) {
    issues.push({ step: 0, path: 'model.name_or_path', message: 'choose a model', action: 'choose a model' })
  }
  if (!String(getPath(state.config, 'data.source') ?? '').trim()) {
    issues.push({ step: 1, path: 'data.source', message: 'choose a dataset', action: 'choose a dataset' })
  }
  for (const spec of fields.values()) {
    if (spec.path === 'model.name_or_path' || spec.path === 'data.source') continue
    if (!applies(spec, state.config)) continue // another method's own field
    const err = fieldError(state, spec)
    if (err) issues.push({ step: stepOf(spec.path), path: spec.path, message: `${spec.title}: ${err}`, action: `fix ${spec.title}` })
  }
  for (const [path, message] of Object.entries(state.serverErrors)) {
    if (!fields.has(path)) issues.push({ step: stepOf(path), path, message: path.startsWith('_') ? message : `${path}: ${message}`, action: 'see the problems on Review' })
  }
  return issues.sort((a, b) => a.step - b.step)
}

/** The RunConfig to send: the form's config with the run name. */
export function buildConfig(state: WizardState): Cfg {
  const cfg = structuredClone(state.config)
  cfg.name = state.runName.trim() || null
  return cfg
}
