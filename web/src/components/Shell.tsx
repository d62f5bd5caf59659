import { Fragment } from 'react'
import { NavLink, Outlet, useLocation } from 'react-router'
import { useJobs } from '../state/jobs'
import { useServer } from '../state/server'
import type { SystemInfo } from '../api/types'
import { fmtGb, fmtWhen, runLabel } from '../lib/format'
import { StatusBadge } from './StatusBadge'
import { Skeleton } from './States'

function Meter({ label, value, title }: { label: string; value: number; title: string }) {
  const pct = Math.max(0, Math.min(100, value))
  return (
    <span className="meter" title={title}>
      <span>{label}</span>
      <span className="meter-track" aria-hidden="true">
        <span className={`meter-fill ${pct > 85 ? 'hot' : ''}`} style={{ width: `${pct}%`, display: 'block' }} />
      </span>
      <span className="nowrap">{Math.round(pct)}%</span>
    </span>
  )
}

function SystemStatus({ system }: { system: SystemInfo }) {
  const gpu = system.gpus[0]
  const canTrain = system.device === 'cuda'
  return (
    <div className="sysbar" aria-label="System status">
      <Meter label="CPU" value={system.cpu.percent} title={`${system.cpu.cores} cores`} />
      <Meter label="RAM" value={system.memory.percent} title={`${fmtGb(system.memory.available_gb)} free of ${fmtGb(system.memory.total_gb)}`} />
      {gpu ? (
        <>
          <Meter label="GPU mem" value={(gpu.memory_used_gb / gpu.memory_total_gb) * 100} title={`${gpu.name}: ${fmtGb(gpu.memory_used_gb)} of ${fmtGb(gpu.memory_total_gb)}`} />
          <Meter label="GPU" value={gpu.utilization ?? 0} title={`${gpu.name} utilisation`} />
        </>
      ) : (
        <span className="muted">no GPU</span>
      )}
      <details className="sysdetails">
        <summary className={`badge ${canTrain ? 'ok' : 'warn'}`} data-testid="verdict" title="System details">
          {canTrain ? 'GPU ready' : 'CPU only'}
        </summary>
        <div className="popover card" role="dialog" aria-label="System details">
          <p style={{ fontWeight: 600 }}>{system.verdict}</p>
          <dl className="kv small" style={{ marginTop: 8 }}>
            <dt>CPU</dt>
            <dd>{system.cpu.cores} cores, {Math.round(system.cpu.percent)}% busy</dd>
            <dt>Memory</dt>
            <dd>{fmtGb(system.memory.available_gb)} free of {fmtGb(system.memory.total_gb)}</dd>
            <dt>Disk</dt>
            <dd>{fmtGb(system.disk.free_gb)} free of {fmtGb(system.disk.total_gb)}</dd>
            {system.gpus.map((g) => (
              <Fragment key={g.index}>
                <dt>GPU {g.index}</dt>
                <dd>{g.name}: {fmtGb(g.memory_used_gb)} of {fmtGb(g.memory_total_gb)}{g.utilization != null ? `, ${Math.round(g.utilization)}% busy` : ''}</dd>
              </Fragment>
            ))}
          </dl>
          <h3 style={{ margin: '10px 0 6px', fontSize: 12 }}>Accelerators</h3>
          <ul className="small" style={{ margin: 0, paddingLeft: 0, listStyle: 'none' }}>
            {system.accelerators.map((a) => (
              <li key={a.name} style={{ marginBottom: 4 }}>
                <span className={`badge ${a.active ? 'ok' : 'idle'}`}>{a.name}</span> <span className="muted">{a.reason}</span>
              </li>
            ))}
          </ul>
        </div>
      </details>
    </div>
  )
}

function Sidebar() {
  const { runs: jobs, error, connection } = useJobs()
  return (
    <nav className="sidebar" aria-label="Runs">
      <div className="sidebar-head">
        <h2>Runs</h2>
        <NavLink to="/new" className="btn sm primary">
          New run
        </NavLink>
      </div>
      {jobs === undefined && !error && (
        <div style={{ padding: '4px 18px' }} className="stack-sm">
          <Skeleton height={34} />
          <Skeleton height={34} />
          <Skeleton height={34} />
        </div>
      )}
      {error && jobs === undefined && <p className="small muted" style={{ padding: '4px 18px' }}>Runs unavailable: {error.detail}</p>}
      {jobs && jobs.length === 0 && (
        <p className="small muted" style={{ padding: '4px 18px' }}>
          No runs yet. <NavLink to="/new">Start your first run</NavLink>.
        </p>
      )}
      {jobs && jobs.length > 0 && (
        <ul className="runlist">
          {jobs.map((j) => (
            <li key={j.id}>
              <NavLink to={`/runs/${j.id}`} data-job={j.id}>
                <div className="run-name">{runLabel(j)}</div>
                <div className="run-meta">
                  <StatusBadge status={j.status} progress={j.progress} />
                  <span className="nowrap">{fmtWhen(j.created_at)}</span>
                </div>
                {(j.status === 'running' || j.status === 'queued') && (
                  <div className="mini-progress" aria-hidden="true">
                    <div style={{ width: `${(j.progress ?? 0) * 100}%` }} />
                  </div>
                )}
              </NavLink>
            </li>
          ))}
        </ul>
      )}
      <div className="sidebar-foot">
        {connection === 'live' ? 'Live updates' : connection === 'connecting' ? 'Connecting…' : 'Live updates unavailable, refreshing every few seconds'}
      </div>
    </nav>
  )
}

export function Shell() {
  const { system } = useServer()
  const location = useLocation()
  return (
    <div className="shell">
      <header className="topbar">
        <NavLink to="/" className="brand">
          <span className="brand-mark">L</span> loralab
        </NavLink>
        <nav className="topnav" aria-label="Main">
          <NavLink to="/" end>Runs</NavLink>
          <NavLink to="/new">New run</NavLink>
          <NavLink to="/datasets">Datasets</NavLink>
          <NavLink to="/models">Models</NavLink>
          <NavLink to="/adapters">Adapters</NavLink>
          <NavLink to="/playground" className={({ isActive }) => (isActive || location.pathname === '/batch' ? 'active' : '')}>Playground</NavLink>
          <NavLink to="/evaluations">Evaluations</NavLink>
          <NavLink to="/exports">Exports</NavLink>
          <NavLink to="/jobs">Jobs</NavLink>
          <NavLink to="/configs">Configs</NavLink>
        </nav>
        {system.data ? <SystemStatus system={system.data} /> : system.error ? <span className="sysbar badge bad">{system.error.detail}</span> : <Skeleton width={360} height={18} style={{ marginLeft: 'auto' }} />}
      </header>
      <Sidebar />
      <main className="main" id="main">
        <Outlet />
      </main>
    </div>
  )
}
