import { useEffect, useRef, useState } from 'react'
import type { LogEntry } from './useRunStream'

/** A job's log, newest at the bottom, following new lines unless the reader turns it off. */
export function LogTail({ logs, title = 'Log', maxHeight }: { logs: LogEntry[]; title?: string; maxHeight?: number }) {
  const box = useRef<HTMLDivElement>(null)
  const [follow, setFollow] = useState(true)
  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight
  }, [logs, follow])
  return (
    <section className="card" aria-label={title}>
      <div className="card-head">
        <h3>{title}</h3>
        <label className="check small right">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> follow
        </label>
      </div>
      <div className="logtail" ref={box} tabIndex={0} aria-label="Log lines" data-testid="log-tail" style={maxHeight ? { maxHeight } : undefined}>
        {logs.length === 0 && <div className="ln debug">No log lines yet.</div>}
        {logs.map((l) => (
          <div key={l.seq} className={`ln ${l.level}`}>
            <span style={{ opacity: 0.5 }}>{new Date(l.time).toLocaleTimeString()} </span>
            {l.message}
          </div>
        ))}
      </div>
    </section>
  )
}
