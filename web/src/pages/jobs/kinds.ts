import { api, unwrap } from '../../api/client'
import type { JobKind } from '../../api/types'
import { useResource } from '../../lib/useResource'

/** The job kinds the server knows (titles, descriptions, whether they resume), by name. */
export function useJobKinds(): Map<string, JobKind> {
  const kinds = useResource(() => unwrap(api.GET('/api/jobs/kinds')), [])
  return new Map((kinds.data ?? []).map((k) => [k.name, k]))
}
