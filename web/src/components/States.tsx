import type { ReactNode } from 'react'
import type { Problem } from '../api/problem'

export function Skeleton({ height = 16, width = '100%', style }: { height?: number; width?: number | string; style?: React.CSSProperties }) {
  return <div className="skeleton" style={{ height, width, ...style }} aria-hidden="true" />
}

export function SkeletonRows({ rows = 3, height = 18 }: { rows?: number; height?: number }) {
  return (
    <div className="stack-sm" aria-busy="true" aria-label="Loading">
      {Array.from({ length: rows }, (_, i) => (
        <Skeleton key={i} height={height} width={`${90 - ((i * 17) % 30)}%`} />
      ))}
    </div>
  )
}

export function EmptyState({ title, children, action }: { title: string; children?: ReactNode; action?: ReactNode }) {
  return (
    <div className="empty">
      <h3>{title}</h3>
      {children && <p>{children}</p>}
      {action}
    </div>
  )
}

export function ErrorState({ problem, onRetry, title }: { problem: Problem; onRetry?: () => void; title?: string }) {
  return (
    <div className="notice bad" role="alert">
      <div className="stack-sm" style={{ gap: 4 }}>
        <strong>{title ?? (problem.status === 0 ? 'Cannot reach the server' : 'Something went wrong')}</strong>
        <span>{problem.detail}</span>
        {problem.fix && <span>{problem.fix}</span>}
        <span className="small mono" style={{ opacity: 0.75 }}>
          {problem.code}
          {problem.status ? ` · HTTP ${problem.status}` : ''}
        </span>
      </div>
      {onRetry && (
        <button className="btn sm right" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  )
}

export function ProgressBar({ value, tone, label, indeterminate }: { value: number; tone?: 'ok' | 'bad'; label: string; indeterminate?: boolean }) {
  const pct = Math.max(0, Math.min(1, value)) * 100
  return (
    <div
      className={`progress ${tone ?? ''} ${indeterminate ? 'indeterminate' : ''}`}
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={indeterminate ? undefined : Math.round(pct)}
    >
      <div style={{ width: `${pct}%` }} />
    </div>
  )
}
