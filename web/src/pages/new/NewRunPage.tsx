import { useEffect } from 'react'
import { useSearchParams } from 'react-router'
import { useServer } from '../../state/server'
import { ErrorState } from '../../components/States'
import { DatasetStep } from './DatasetStep'
import { ModelStep } from './ModelStep'
import { ReviewStep } from './ReviewStep'
import { SelectedDatasetProvider } from './selectedDataset'
import { SummaryPanel } from './SummaryPanel'
import { TrainingStep } from './TrainingStep'
import { STEPS, useWizard, wizardIssues } from './store'

function Stepper() {
  const { state, goto } = useWizard()
  const { fields } = useServer()
  const issues = wizardIssues(state, fields)
  const hints = [state.modelLabel || 'choose a model', state.datasetLabel || 'choose data', state.preset ? `${state.preset} preset` : 'custom', 'check and start']
  return (
    <ol className="stepper" aria-label="Steps">
      {STEPS.map((s, i) => {
        const open = i <= state.furthest || Object.keys(state.serverErrors).length ? issues.filter((x) => x.step === i).length : 0
        const complete = i <= state.furthest && [Boolean(state.modelLabel), Boolean(state.datasetId), state.initialized, false][i]
        const cls = i === state.step ? '' : open ? 'todo' : complete ? 'done' : ''
        return (
          <li key={s.key} className={cls}>
            <button type="button" aria-current={i === state.step ? 'step' : undefined} onClick={() => goto(i)}>
              <span className="num">{open && i !== state.step ? '!' : i + 1}</span>
              <span style={{ minWidth: 0 }}>
                <div className="label">{s.label}</div>
                <div className="hint">{open ? `${open} to fix` : hints[i]}</div>
              </span>
            </button>
          </li>
        )
      })}
    </ol>
  )
}

/** `/new?model=adapter:<id>` (or `model:<id>`, a hub id): open the wizard with that model chosen. */
function useModelFromUrl() {
  const [params, setParams] = useSearchParams()
  const { setField, update, goto } = useWizard()
  const model = params.get('model')
  useEffect(() => {
    if (!model) return
    setField('model.name_or_path', model)
    update({ modelSource: model.startsWith('adapter:') ? 'adapter' : model.startsWith('model:') ? 'local' : 'hub', modelLabel: model })
    goto(0)
    const rest = new URLSearchParams(params)
    rest.delete('model')
    setParams(rest, { replace: true })
  }, [model]) // eslint-disable-line react-hooks/exhaustive-deps
}

export function NewRunPage() {
  const { state, goto, reset } = useWizard()
  const { schema } = useServer()
  useModelFromUrl()
  useEffect(() => {
    window.scrollTo({ top: 0 })
  }, [state.step])
  const body = [<ModelStep key="m" />, <DatasetStep key="d" />, <TrainingStep key="t" />, <ReviewStep key="r" />][state.step]
  return (
    <SelectedDatasetProvider>
      <div className="page">
        <div className="page-head">
          <div>
            <h1>New run</h1>
            <p className="sub">Fine-tune a model with LoRA in four steps. Everything you type is kept if you go back or leave this page.</p>
          </div>
          <div className="actions">
            {state.loadedFrom && <span className="badge info plain">from config “{state.loadedFrom}”</span>}
            <button type="button" className="btn ghost" onClick={() => window.confirm('Clear the whole form and start over?') && reset()}>
              Start over
            </button>
          </div>
        </div>
        {schema.error ? (
          <ErrorState problem={schema.error} onRetry={schema.reload} />
        ) : (
          <>
            <Stepper />
            <div className="wizard">
              <div>
                {body}
                <div className="wizard-nav">
                  <button type="button" className="btn" disabled={state.step === 0} onClick={() => goto(state.step - 1)}>
                    ← Back
                  </button>
                  {state.step < STEPS.length - 1 && (
                    <button type="button" className="btn primary" onClick={() => goto(state.step + 1)}>
                      Next: {STEPS[state.step + 1].label} →
                    </button>
                  )}
                </div>
              </div>
              <SummaryPanel />
            </div>
          </>
        )}
      </div>
    </SelectedDatasetProvider>
  )
}
