import { useCallback, useEffect, useRef, useState } from 'react'
import { problemOf, type Problem } from '../api/problem'

export interface Resource<T> {
  data: T | undefined
  error: Problem | null
  loading: boolean
  reload: () => Promise<void>
  setData: (value: T | ((old: T | undefined) => T)) => void
}

/**
 * Load something once per `deps`, with loading/error state and an optional poll. The latest
 * good data stays on screen while a reload or poll runs, so nothing flickers to a skeleton.
 */
export function useResource<T>(load: () => Promise<T>, deps: unknown[], pollMs?: number | null): Resource<T> {
  const [data, setData] = useState<T | undefined>(undefined)
  const [error, setError] = useState<Problem | null>(null)
  const [loading, setLoading] = useState(true)
  const loadRef = useRef(load)
  loadRef.current = load
  const generation = useRef(0)

  const reload = useCallback(async () => {
    const mine = ++generation.current
    try {
      const value = await loadRef.current()
      if (mine !== generation.current) return
      setData(value)
      setError(null)
    } catch (err) {
      if (mine !== generation.current) return
      setError(problemOf(err))
    } finally {
      if (mine === generation.current) setLoading(false)
    }
  }, [])

  useEffect(() => {
    setLoading(true)
    setData(undefined)
    setError(null)
    void reload()
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps)

  useEffect(() => {
    if (!pollMs) return
    const id = window.setInterval(() => {
      if (document.visibilityState === 'visible') void reload()
    }, pollMs)
    return () => window.clearInterval(id)
  }, [pollMs, reload])

  return { data, error, loading: loading && data === undefined, reload, setData }
}

/** A value that settles `ms` after its last change (for estimates while someone types). */
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value)
  useEffect(() => {
    const id = window.setTimeout(() => setSettled(value), ms)
    return () => window.clearTimeout(id)
  }, [value, ms])
  return settled
}
