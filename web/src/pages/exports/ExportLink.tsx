import { Link } from 'react-router'
import type { Adapter } from '../../api/types'

/** The Exports page with the new-export form open for this adapter. */
export function ExportLink({ adapter, className = 'btn sm' }: { adapter: Pick<Adapter, 'id' | 'name'>; className?: string }) {
  return (
    <Link className={className} to={`/exports?adapter=${encodeURIComponent(`adapter:${adapter.id}`)}`} title={`Export ${adapter.name}: merged weights, GGUF, an Ollama Modelfile`}>
      Export
    </Link>
  )
}
