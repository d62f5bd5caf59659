import type { Adapter } from '../../api/types'
import { fmtBytes } from '../../lib/format'

export function AdapterFiles({ adapter }: { adapter: Adapter }) {
  if (!adapter.files.length) return <div className="card-body muted small">No files listed.</div>
  return (
    <table className="table" data-testid="adapter-files">
      <thead><tr><th>File</th><th className="num">Size</th></tr></thead>
      <tbody>
        {adapter.files.map((f) => (
          <tr key={f.name}><td className="mono small">{f.name}</td><td className="num">{fmtBytes(f.size_bytes)}</td></tr>
        ))}
      </tbody>
    </table>
  )
}
