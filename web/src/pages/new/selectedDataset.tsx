// The dataset chosen in the wizard, fetched once and shared by every step and the summary;
// polled while the server is still validating it.
import { createContext, useContext, useEffect, type ReactNode } from 'react'
import { api, unwrap } from '../../api/client'
import type { Dataset } from '../../api/types'
import { useResource, type Resource } from '../../lib/useResource'
import { useWizard } from './store'

const Ctx = createContext<Resource<Dataset | null> | null>(null)

export function isValidating(d: Dataset | null | undefined) {
  return d?.status === 'validating'
}

export function SelectedDatasetProvider({ children }: { children: ReactNode }) {
  const { state } = useWizard()
  const id = state.datasetId
  const res = useResource<Dataset | null>(async () => (id ? unwrap(api.GET('/api/datasets/{dataset_id}', { params: { path: { dataset_id: id } } })) : null), [id])
  const validating = isValidating(res.data)
  const { reload } = res
  useEffect(() => {
    if (!validating) return
    const t = window.setInterval(() => void reload(), 1000)
    return () => window.clearInterval(t)
  }, [validating, reload])
  return <Ctx.Provider value={res}>{children}</Ctx.Provider>
}

export function useSelectedDataset(): Resource<Dataset | null> {
  const ctx = useContext(Ctx)
  if (!ctx) throw new Error('useSelectedDataset outside SelectedDatasetProvider')
  return ctx
}
