import { lazy, StrictMode, Suspense, type ReactNode } from 'react'
import { createRoot } from 'react-dom/client'
import { BrowserRouter, Link, Route, Routes } from 'react-router'
import { Shell } from './components/Shell'
import { Skeleton } from './components/States'
import { ToastProvider } from './components/Toasts'
import { RunsPage } from './pages/jobs/RunsPage'
import { WizardProvider } from './pages/new/store'
import { JobsProvider } from './state/jobs'
import { ServerProvider } from './state/server'
import './styles.css'

// Each page loads when first opened (the charts' uPlot only with a run page).
const NewRunPage = lazy(() => import('./pages/new/NewRunPage').then((m) => ({ default: m.NewRunPage })))
const RunPage = lazy(() => import('./pages/jobs/RunPage').then((m) => ({ default: m.RunPage })))
const DatasetsPage = lazy(() => import('./pages/datasets/DatasetsPage').then((m) => ({ default: m.DatasetsPage })))
const DatasetPage = lazy(() => import('./pages/datasets/DatasetPage').then((m) => ({ default: m.DatasetPage })))
const ModelsPage = lazy(() => import('./pages/models/ModelsPage').then((m) => ({ default: m.ModelsPage })))
const JobsPage = lazy(() => import('./pages/jobs/JobsPage').then((m) => ({ default: m.JobsPage })))
const JobPage = lazy(() => import('./pages/jobs/JobPage').then((m) => ({ default: m.JobPage })))
const AdaptersPage = lazy(() => import('./pages/adapters/AdaptersPage').then((m) => ({ default: m.AdaptersPage })))
const AdapterPage = lazy(() => import('./pages/adapters/AdapterPage').then((m) => ({ default: m.AdapterPage })))
const PlaygroundPage = lazy(() => import('./pages/playground/PlaygroundPage').then((m) => ({ default: m.PlaygroundPage })))
const BatchPage = lazy(() => import('./pages/playground/BatchPage').then((m) => ({ default: m.BatchPage })))
const EvaluationsPage = lazy(() => import('./pages/evaluations/EvaluationsPage').then((m) => ({ default: m.EvaluationsPage })))
const EvaluationPage = lazy(() => import('./pages/evaluations/EvaluationPage').then((m) => ({ default: m.EvaluationPage })))
const ArenaPage = lazy(() => import('./pages/evaluations/ArenaPage').then((m) => ({ default: m.ArenaPage })))
const ExportsPage = lazy(() => import('./pages/exports/ExportsPage').then((m) => ({ default: m.ExportsPage })))
const ExportPage = lazy(() => import('./pages/exports/ExportPage').then((m) => ({ default: m.ExportPage })))
const ConfigsPage = lazy(() => import('./pages/configs/ConfigsPage').then((m) => ({ default: m.ConfigsPage })))

function Page({ children }: { children: ReactNode }) {
  const fallback = (
    <div className="page stack" aria-busy="true">
      <Skeleton height={28} width={280} />
      <Skeleton height={180} />
      <Skeleton height={260} />
    </div>
  )
  return <Suspense fallback={fallback}>{children}</Suspense>
}

function NotFound() {
  return (
    <div className="page">
      <div className="card">
        <div className="empty">
          <h3>No page here</h3>
          <p>The address does not match any page.</p>
          <Link to="/" className="btn">Go to the runs</Link>
        </div>
      </div>
    </div>
  )
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <ToastProvider>
      <ServerProvider>
        <JobsProvider>
          <WizardProvider>
            <BrowserRouter>
              <Routes>
                <Route element={<Shell />}>
                  <Route index element={<RunsPage />} />
                  <Route path="new" element={<Page><NewRunPage /></Page>} />
                  <Route path="runs/:id" element={<Page><RunPage /></Page>} />
                  <Route path="datasets" element={<Page><DatasetsPage /></Page>} />
                  <Route path="datasets/:id" element={<Page><DatasetPage /></Page>} />
                  <Route path="models" element={<Page><ModelsPage /></Page>} />
                  <Route path="jobs" element={<Page><JobsPage /></Page>} />
                  <Route path="jobs/:id" element={<Page><JobPage /></Page>} />
                  <Route path="adapters" element={<Page><AdaptersPage /></Page>} />
                  <Route path="adapters/:id" element={<Page><AdapterPage /></Page>} />
                  <Route path="playground" element={<Page><PlaygroundPage /></Page>} />
                  <Route path="batch" element={<Page><BatchPage /></Page>} />
                  <Route path="evaluations" element={<Page><EvaluationsPage /></Page>} />
                  <Route path="evaluations/:id" element={<Page><EvaluationPage /></Page>} />
                  <Route path="evaluations/:id/arena" element={<Page><ArenaPage /></Page>} />
                  <Route path="exports" element={<Page><ExportsPage /></Page>} />
                  <Route path="exports/:id" element={<Page><ExportPage /></Page>} />
                  <Route path="configs" element={<Page><ConfigsPage /></Page>} />
                  <Route path="*" element={<NotFound />} />
                </Route>
              </Routes>
            </BrowserRouter>
          </WizardProvider>
        </JobsProvider>
      </ServerProvider>
    </ToastProvider>
  </StrictMode>,
)
