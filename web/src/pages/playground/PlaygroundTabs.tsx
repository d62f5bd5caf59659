import { Link } from 'react-router'

/** Chat and batch testing are two tabs of one place; the chosen model goes along. */
export function PlaygroundTabs({ current, model }: { current: 'chat' | 'batch'; model?: string }) {
  const q = model ? `?model=${encodeURIComponent(model)}` : ''
  return (
    <nav className="tabs" aria-label="Playground">
      <Link to={`/playground${q}`} aria-current={current === 'chat' ? 'page' : undefined} className={current === 'chat' ? 'on' : ''}>Chat</Link>
      <Link to={`/batch${q}`} aria-current={current === 'batch' ? 'page' : undefined} className={current === 'batch' ? 'on' : ''}>Batch test</Link>
    </nav>
  )
}
