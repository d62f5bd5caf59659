import type { ReactNode } from 'react'
import { boundsText, checkValue, parseNumber, sameValue, type FieldSpec } from '../lib/schema'

export function fieldId(path: string) {
  return `f-${path.replace(/\./g, '-')}`
}

interface FieldProps {
  id: string
  label: ReactNode
  help?: ReactNode
  error?: string | null
  changed?: boolean
  children: ReactNode
}

/** A label, the control, its help text and its error, tied together for screen readers. */
export function Field({ id, label, help, error, changed, children }: FieldProps) {
  return (
    <div className="field" data-field={id}>
      <label htmlFor={id}>
        {label}
        {changed && <span className="changed">changed</span>}
      </label>
      {children}
      {error ? (
        <span className="err" id={`${id}-err`} role="alert">
          {error}
        </span>
      ) : (
        help && (
          <span className="help" id={`${id}-help`}>
            {help}
          </span>
        )
      )}
    </div>
  )
}

const TRI_STATE: Record<string, boolean | null> = { auto: null, on: true, off: false }

function fmtDefault(v: unknown, spec?: FieldSpec): string {
  if ((v === null || v === undefined) && spec?.kind === 'boolean') return 'auto'
  if (v === null || v === undefined) return 'empty'
  if (Array.isArray(v)) return v.join(', ') || 'none'
  return String(v)
}

interface SchemaFieldProps {
  spec: FieldSpec
  value: unknown
  draft?: string
  serverError?: string | null
  disabled?: boolean
  disabledReason?: string
  onChange: (value: unknown, draft?: string) => void
}

/** One config field rendered from its JSON schema: control, help, default, bounds, inline check. */
export function SchemaField({ spec, value, draft, serverError, disabled, disabledReason, onChange }: SchemaFieldProps) {
  const id = fieldId(spec.path)
  const numeric = spec.kind === 'integer' || spec.kind === 'number'
  let inlineError: string | null = null
  if (numeric && draft !== undefined) {
    const parsed = parseNumber(spec, draft)
    inlineError = 'error' in parsed ? parsed.error : checkValue(spec, parsed.value)
  } else {
    inlineError = checkValue(spec, value)
  }
  const error = inlineError ?? serverError ?? null
  const changed = !sameValue(value, spec.default) && spec.default !== undefined
  const bounds = numeric ? boundsText(spec) : ''
  const help = (
    <>
      {disabled && disabledReason ? <strong>{disabledReason} </strong> : null}
      {spec.description}
      {spec.default !== undefined && <> Default {fmtDefault(spec.default, spec)}.</>}
      {bounds && <> Range {bounds}.</>}
    </>
  )
  const describedBy = error ? `${id}-err` : `${id}-help`

  if (spec.kind === 'boolean' && spec.nullable) {
    // A nullable boolean's null is "decided at run time", not off: three choices, not a checkbox.
    const shown = value === true ? 'on' : value === false ? 'off' : 'auto'
    return (
      <Field id={id} label={spec.title} help={help} error={error} changed={changed}>
        <select id={id} value={shown} disabled={disabled} aria-invalid={Boolean(error)} aria-describedby={describedBy} onChange={(e) => onChange(TRI_STATE[e.target.value])}>
          <option value="auto">auto</option>
          <option value="on">on</option>
          <option value="off">off</option>
        </select>
      </Field>
    )
  }

  if (spec.kind === 'boolean') {
    return (
      <div className="field" data-field={id}>
        <label className="check" htmlFor={id}>
          <input id={id} type="checkbox" checked={Boolean(value)} disabled={disabled} aria-describedby={describedBy} onChange={(e) => onChange(e.target.checked)} />
          <span>
            <span style={{ fontWeight: 500 }}>{spec.title}</span> {changed && <span className="changed">changed</span>}
            <br />
            <span className="help">{help}</span>
          </span>
        </label>
        {error && <span className="err" id={`${id}-err`} role="alert">{error}</span>}
      </div>
    )
  }

  let control: ReactNode
  if (spec.kind === 'enum') {
    control = (
      <select id={id} value={value === null || value === undefined ? '' : String(value)} disabled={disabled} aria-invalid={Boolean(error)} aria-describedby={describedBy} onChange={(e) => onChange(e.target.value === '' ? null : e.target.value)}>
        {spec.nullable && <option value="">(none)</option>}
        {spec.options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    )
  } else if (numeric) {
    const shown = draft ?? (value === null || value === undefined ? '' : String(value))
    control = (
      <input
        id={id}
        type="text"
        inputMode={spec.kind === 'integer' ? 'numeric' : 'decimal'}
        value={shown}
        placeholder={spec.nullable ? `empty = ${spec.default === null ? 'not set' : fmtDefault(spec.default)}` : undefined}
        disabled={disabled}
        aria-invalid={Boolean(error)}
        aria-describedby={describedBy}
        onChange={(e) => {
          const parsed = parseNumber(spec, e.target.value)
          onChange('error' in parsed ? value : parsed.value, e.target.value)
        }}
      />
    )
  } else if (spec.kind === 'list') {
    const isLiteral = spec.literal !== undefined && value === spec.literal
    const text = draft ?? (isLiteral ? String(value) : Array.isArray(value) ? value.join(', ') : '')
    control = (
      <input
        id={id}
        type="text"
        value={text}
        disabled={disabled}
        placeholder={spec.literal ? `${spec.literal}, or names separated by commas` : 'names separated by commas'}
        aria-invalid={Boolean(error)}
        aria-describedby={describedBy}
        onChange={(e) => {
          const t = e.target.value
          const v = spec.literal && t.trim() === spec.literal ? spec.literal : t.split(',').map((s) => s.trim()).filter(Boolean)
          onChange(v, t)
        }}
      />
    )
  } else if (spec.kind === 'map') {
    const text = draft ?? JSON.stringify(value ?? {})
    let mapError: string | null = null
    try {
      JSON.parse(text || '{}')
    } catch {
      mapError = 'Enter a JSON object, e.g. {"instruction": "question"}.'
    }
    control = (
      <input
        id={id}
        type="text"
        className="mono"
        value={text}
        disabled={disabled}
        aria-invalid={Boolean(mapError ?? error)}
        aria-describedby={describedBy}
        onChange={(e) => {
          try {
            onChange(JSON.parse(e.target.value || '{}'), e.target.value)
          } catch {
            onChange(value, e.target.value)
          }
        }}
      />
    )
  } else {
    const long = spec.key === 'chat_template' || spec.key === 'system_prompt'
    const shown = value === null || value === undefined ? '' : String(value)
    const change = (t: string) => onChange(t === '' && spec.nullable ? null : t)
    control = long ? (
      <textarea id={id} rows={3} value={shown} disabled={disabled} aria-invalid={Boolean(error)} aria-describedby={describedBy} onChange={(e) => change(e.target.value)} />
    ) : (
      <input id={id} type="text" value={shown} disabled={disabled} aria-invalid={Boolean(error)} aria-describedby={describedBy} onChange={(e) => change(e.target.value)} />
    )
  }
  return (
    <Field id={id} label={spec.title} help={help} error={error} changed={changed}>
      {control}
    </Field>
  )
}
