// What can answer: the local base models and the adapters, each with the reference the API takes
// (`model:<id>`, `adapter:<id>`). One picker for the playground, batch tests and evaluations.
import { api, unwrap } from '../../api/client'
import type { Adapter, Model } from '../../api/types'
import { useResource } from '../../lib/useResource'

export interface Target {
  ref: string
  name: string
  kind: 'adapter' | 'model' | 'other'
  /** For an adapter: the base it was trained on, as a reference when it is a local model. */
  baseRef?: string
  baseName?: string
}

export interface Targets {
  adapters: Target[]
  models: Target[]
  loading: boolean
  error: import('../../api/problem').Problem | null
  reload: () => void
  find: (ref: string) => Target | undefined
  /** A display name for any reference, even one not in the lists (a hub id). */
  nameOf: (ref: string) => string
}

function adapterTarget(a: Adapter, models: Model[]): Target {
  const baseRef = a.base_ref ?? a.base_model
  const local = models.find((m) => `model:${m.id}` === baseRef)
  return { ref: `adapter:${a.id}`, name: a.name, kind: 'adapter', baseRef, baseName: local?.name ?? a.base_model }
}

export function useTargets(): Targets {
  const models = useResource(() => unwrap(api.GET('/api/models')), [])
  const adapters = useResource(() => unwrap(api.GET('/api/adapters')), [])
  const local = models.data?.local ?? []
  const modelTargets: Target[] = local.map((m) => ({ ref: `model:${m.id}`, name: m.name, kind: 'model' }))
  const adapterTargets = (adapters.data ?? []).map((a) => adapterTarget(a, local))
  const all = [...adapterTargets, ...modelTargets]
  const find = (ref: string) => all.find((t) => t.ref === ref)
  return {
    adapters: adapterTargets,
    models: modelTargets,
    loading: models.loading || adapters.loading,
    error: models.error ?? adapters.error,
    reload: () => {
      void models.reload()
      void adapters.reload()
    },
    find,
    nameOf: (ref: string) => find(ref)?.name ?? ref,
  }
}

interface PickerProps {
  id: string
  value: string
  onChange: (ref: string) => void
  targets: Targets
  /** Which kinds to offer (evaluations take adapters only). */
  only?: 'adapter'
  disabled?: boolean
  describedBy?: string
}

/** A select of adapters then base models; a reference that is not listed (a hub id) stays as it is. */
export function TargetSelect({ id, value, onChange, targets, only, disabled, describedBy }: PickerProps) {
  const listed = Boolean(targets.find(value)) || value === ''
  return (
    <select id={id} value={value} onChange={(e) => onChange(e.target.value)} disabled={disabled || targets.loading} aria-describedby={describedBy} data-testid={`${id}-select`}>
      {value === '' && <option value="">{targets.loading ? 'Loading…' : 'Choose…'}</option>}
      {!listed && <option value={value}>{value}</option>}
      {targets.adapters.length > 0 && (
        <optgroup label="Adapters">
          {targets.adapters.map((t) => (
            <option key={t.ref} value={t.ref}>
              {t.name} · {t.ref.slice(0, 16)} (on {t.baseName})
            </option>
          ))}
        </optgroup>
      )}
      {only !== 'adapter' && targets.models.length > 0 && (
        <optgroup label="Base models">
          {targets.models.map((t) => (
            <option key={t.ref} value={t.ref}>
              {t.name} · {t.ref.slice(0, 14)}
            </option>
          ))}
        </optgroup>
      )}
    </select>
  )
}
