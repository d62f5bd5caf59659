import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react'
import { problemOf, problemText } from '../api/problem'

interface Toast {
  id: number
  tone: 'bad' | 'ok' | 'info'
  text: string
  fix?: string | null
}

interface ToastApi {
  show: (text: string, tone?: Toast['tone'], fix?: string | null) => void
  /** Show the problem inside any error (API problem, network failure, anything). */
  error: (err: unknown) => void
}

const Ctx = createContext<ToastApi | null>(null)

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([])
  const dismiss = useCallback((id: number) => setToasts((ts) => ts.filter((t) => t.id !== id)), [])
  const show = useCallback(
    (text: string, tone: Toast['tone'] = 'info', fix?: string | null) => {
      const id = Date.now() + Math.random()
      setToasts((ts) => [...ts.slice(-3), { id, tone, text, fix }])
      window.setTimeout(() => dismiss(id), tone === 'bad' ? 9000 : 4500)
    },
    [dismiss],
  )
  const api = useMemo<ToastApi>(
    () => ({
      show,
      error: (err) => {
        const p = problemOf(err)
        show(problemText(p), 'bad', p.fix)
      },
    }),
    [show],
  )
  return (
    <Ctx.Provider value={api}>
      {children}
      <div className="toasts" role="status" aria-live="polite">
        {toasts.map((t) => (
          <div key={t.id} className={`toast ${t.tone}`}>
            <div>
              <div>{t.text}</div>
              {t.fix && <div className="fix">{t.fix}</div>}
            </div>
            <button aria-label="Dismiss" onClick={() => dismiss(t.id)}>
              ×
            </button>
          </div>
        ))}
      </div>
    </Ctx.Provider>
  )
}

export function useToasts(): ToastApi {
  const ctx = useContext(Ctx)
  if (!ctx) throw new Error('useToasts outside ToastProvider')
  return ctx
}
