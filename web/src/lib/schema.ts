// Reading the RunConfig JSON schema (`/api/schema/run-config`): every form field, its help text,
// default and bounds come from there, so a field added on the server shows up in the UI.

export interface JsonSchema {
  type?: string | string[]
  title?: string
  description?: string
  default?: unknown
  enum?: unknown[]
  const?: unknown
  anyOf?: JsonSchema[]
  oneOf?: JsonSchema[]
  allOf?: JsonSchema[]
  $ref?: string
  $defs?: Record<string, JsonSchema>
  properties?: Record<string, JsonSchema>
  required?: string[]
  items?: JsonSchema
  additionalProperties?: boolean | JsonSchema
  minimum?: number
  maximum?: number
  exclusiveMinimum?: number
  exclusiveMaximum?: number
  minLength?: number
  maxLength?: number
  examples?: unknown[]
  discriminator?: { propertyName: string; mapping?: Record<string, string> }
}

export type FieldKind = 'integer' | 'number' | 'boolean' | 'enum' | 'string' | 'list' | 'map' | 'other'

export interface FieldSpec {
  path: string
  key: string
  title: string
  description: string
  kind: FieldKind
  nullable: boolean
  required: boolean
  default: unknown
  options: string[]
  min?: number
  max?: number
  exclusiveMin?: number
  exclusiveMax?: number
  minLength?: number
  maxLength?: number
  /** For a list that may also be one literal string, e.g. target_modules: list | 'all-linear'. */
  literal?: string
  /** A field of some members of a discriminated union only: it applies while `path` is one of `values`. */
  onlyWhen?: { path: string; values: string[] }
}

/** One member of a discriminated union (a training method): its tag, label, help and own fields. */
export interface Variant {
  tag: string
  title: string
  description: string
  /** Every property of the member, the discriminator included. */
  keys: string[]
  /** The member's own fields: those not every member has. */
  fields: FieldSpec[]
}

/** A section that is a discriminated union (`train`, by `method`). */
export interface VariantUnion {
  section: string
  /** The discriminator's path, e.g. `train.method`, and its key, `method`. */
  path: string
  key: string
  description: string
  /** In the schema's order; the first is the default (a section without the key is the first). */
  variants: Variant[]
  /** The keys every member has (the discriminator left out), in the first member's order. */
  shared: string[]
}

export function deref(root: JsonSchema, node: JsonSchema | undefined): JsonSchema {
  let cur = node ?? {}
  for (let i = 0; i < 10; i++) {
    if (cur.$ref) {
      const name = cur.$ref.split('/').pop() as string
      cur = { ...(root.$defs?.[name] ?? {}), ...withoutRef(cur) }
      continue
    }
    // A union of one model (not a discriminated one: see unionOf) reads as that model.
    const union = cur.oneOf ?? (cur.anyOf && cur.anyOf.filter((s) => s.type !== 'null'))
    if (!cur.discriminator && union && union.length === 1 && (union[0].$ref || union[0].properties)) {
      cur = { ...union[0], description: cur.description ?? union[0].description }
      continue
    }
    break
  }
  return cur
}

function withoutRef(node: JsonSchema): JsonSchema {
  const { $ref: _ref, ...rest } = node
  void _ref
  return rest
}

function humanTitle(key: string): string {
  const words = key.replace(/_/g, ' ')
  return words.charAt(0).toUpperCase() + words.slice(1)
}

const TITLES: Record<string, string> = {
  r: 'Rank (r)', alpha: 'Alpha', name_or_path: 'Model', num_epochs: 'Epochs', max_steps: 'Max steps',
  lr_scheduler: 'LR scheduler', use_rslora: 'rsLoRA', use_dora: 'DoRA', max_seq_length: 'Max sequence length',
  cpu_threads: 'CPU threads', attn_implementation: 'Attention', dtype: 'Precision (dtype)',
  fused_lora: 'Fused LoRA',
  fused_layers: 'Fused norm and MLP layers',
}

export function fieldFromSchema(root: JsonSchema, path: string, raw: JsonSchema, required: boolean): FieldSpec {
  const key = path.split('.').pop() as string
  let node = deref(root, raw)
  let nullable = false
  let literal: string | undefined
  const variants = node.anyOf ?? node.oneOf
  let kind: FieldKind = 'other'
  let base: JsonSchema = node
  if (variants) {
    const nonNull = variants.filter((v) => v.type !== 'null')
    nullable = nonNull.length < variants.length
    const list = nonNull.find((v) => v.type === 'array')
    const lit = nonNull.find((v) => v.const !== undefined || (v.enum && v.enum.length === 1))
    if (list && lit) {
      kind = 'list'
      literal = String(lit.const ?? lit.enum?.[0])
      base = list
    } else if (nonNull.length === 1) {
      base = deref(root, nonNull[0])
    }
  }
  node = { ...base, description: node.description ?? base.description, default: raw.default ?? node.default, title: node.title }
  if (kind === 'other' && node.const !== undefined && !node.enum) node = { ...node, enum: [node.const] }
  if (kind === 'other') {
    if (node.enum) kind = 'enum'
    else if (node.type === 'integer') kind = 'integer'
    else if (node.type === 'number') kind = 'number'
    else if (node.type === 'boolean') kind = 'boolean'
    else if (node.type === 'string') kind = 'string'
    else if (node.type === 'array') kind = 'list'
    else if (node.type === 'object') kind = 'map'
  }
  return {
    path,
    key,
    title: TITLES[key] ?? humanTitle(key),
    description: node.description ?? '',
    kind,
    nullable,
    required: required && node.default === undefined,
    default: raw.default !== undefined ? raw.default : node.default,
    options: (node.enum ?? []).map(String),
    min: node.minimum,
    max: node.maximum,
    exclusiveMin: node.exclusiveMinimum,
    exclusiveMax: node.exclusiveMaximum,
    minLength: node.minLength,
    maxLength: node.maxLength,
    literal,
  }
}

/**
 * The section as a discriminated union (`oneOf` + `discriminator: {propertyName, mapping}`), or null
 * when it is a plain section. Each member's tag is its discriminator `const` (or its mapping key).
 */
export function unionOf(root: JsonSchema, section: string): VariantUnion | null {
  const node = deref(root, root.properties?.[section])
  const disc = node.discriminator
  if (!disc?.propertyName || !node.oneOf?.length) return null
  const key = disc.propertyName
  const byRef = new Map(Object.entries(disc.mapping ?? {}).map(([tag, ref]) => [ref, tag]))
  const members = node.oneOf.map((raw) => {
    const member = deref(root, raw)
    const prop = deref(root, member.properties?.[key])
    const tag = String(prop.const ?? prop.enum?.[0] ?? (raw.$ref ? byRef.get(raw.$ref) : undefined) ?? prop.default ?? '')
    return { raw: member, tag }
  })
  const keys = members.map((m) => Object.keys(m.raw.properties ?? {}))
  const shared = keys[0].filter((k) => k !== key && keys.every((ks) => ks.includes(k)))
  const path = `${section}.${key}`
  const variants: Variant[] = members.map((m, i) => {
    const required = new Set(m.raw.required ?? [])
    const fields = keys[i]
      .filter((k) => k !== key && !shared.includes(k))
      .map((k) => ({
        ...fieldFromSchema(root, `${section}.${k}`, m.raw.properties?.[k] ?? {}, required.has(k)),
        onlyWhen: { path, values: members.filter((_, j) => keys[j].includes(k)).map((o) => o.tag) },
      }))
    return { tag: m.tag, title: m.raw.title ?? m.tag, description: m.raw.description ?? '', keys: keys[i], fields }
  })
  return { section, path, key, description: node.description ?? '', variants, shared }
}

/** The discriminator as a field (an enum of the tags, the first as default), then the shared and own fields. */
function unionFields(root: JsonSchema, union: VariantUnion): FieldSpec[] {
  const first = deref(root, deref(root, root.properties?.[union.section]).oneOf?.[0])
  const required = new Set(first.required ?? [])
  const pick: FieldSpec = {
    ...fieldFromSchema(root, union.path, first.properties?.[union.key] ?? {}, false),
    title: TITLES[union.key] ?? humanTitle(union.key),
    description: union.description,
    kind: 'enum',
    options: union.variants.map((v) => v.tag),
    default: union.variants[0].tag,
    required: false,
    nullable: false,
  }
  const shared = union.shared.map((k) => fieldFromSchema(root, `${union.section}.${k}`, first.properties?.[k] ?? {}, required.has(k)))
  const own = new Map<string, FieldSpec>()
  for (const v of union.variants) for (const f of v.fields) if (!own.has(f.path)) own.set(f.path, f)
  return [pick, ...shared, ...own.values()]
}

/** Whether a field applies to the config as it is (a method's own field applies to that method only). */
export function applies(spec: FieldSpec, config: unknown): boolean {
  if (!spec.onlyWhen) return true
  return spec.onlyWhen.values.includes(String(getPath(config, spec.onlyWhen.path)))
}

/**
 * The config with `tag` chosen in a union section: the shared fields keep their values, the
 * fields of the other members go (the server refuses unknown keys), the new member's own fields
 * start at their defaults unless already set, and the discriminator is set.
 */
export function selectVariant<T extends object>(root: JsonSchema, config: T, section: string, tag: string): T {
  const union = unionOf(root, section)
  const target = union?.variants.find((v) => v.tag === tag)
  if (!union || !target) return config
  const cfg = config as Record<string, unknown>
  const current: Record<string, unknown> = { ...((cfg[section] as Record<string, unknown> | undefined) ?? {}) }
  const memberKeys = new Set(union.variants.flatMap((v) => v.keys))
  for (const k of Object.keys(current)) if (memberKeys.has(k) && !target.keys.includes(k)) delete current[k]
  for (const f of target.fields) if (current[f.key] === undefined && f.default !== undefined) current[f.key] = structuredClone(f.default)
  current[union.key] = tag
  return { ...cfg, [section]: current } as T
}

/** Every union section made consistent with the member it names (the first when it names none). */
export function fitVariants<T extends object>(root: JsonSchema, config: T): T {
  let out = config
  for (const section of Object.keys(root.properties ?? {})) {
    const union = unionOf(root, section)
    if (!union) continue
    const tag = getPath(out, union.path)
    if (tag === undefined || tag === null) out = selectVariant(root, out, section, union.variants[0].tag)
    else if (union.variants.some((v) => v.tag === tag)) out = selectVariant(root, out, section, String(tag))
  }
  return out
}

/** The fields of one section (`model`, `data`, `lora`, `train`, `output`), in schema order. */
export function sectionFields(root: JsonSchema, section: string): FieldSpec[] {
  const union = unionOf(root, section)
  if (union) return unionFields(root, union)
  const sect = deref(root, root.properties?.[section])
  const required = new Set(sect.required ?? [])
  return Object.entries(sect.properties ?? {}).map(([key, node]) =>
    fieldFromSchema(root, `${section}.${key}`, node, required.has(key)),
  )
}

/**
 * Every field of the config, by path. A union section lists its discriminator, its shared fields
 * and every member's own fields (each with `onlyWhen`; see `applies`).
 */
export function allFields(root: JsonSchema): Map<string, FieldSpec> {
  const out = new Map<string, FieldSpec>()
  for (const [key, node] of Object.entries(root.properties ?? {})) {
    const resolved = deref(root, node)
    if (resolved.properties || unionOf(root, key)) {
      for (const f of sectionFields(root, key)) out.set(f.path, f)
    } else {
      out.set(key, fieldFromSchema(root, key, node, (root.required ?? []).includes(key)))
    }
  }
  return out
}

/**
 * A config holding every default the schema declares (required fields without one stay empty).
 * A union section gets its first member: its tag and its own fields' defaults.
 */
export function defaultConfig(root: JsonSchema): Record<string, Record<string, unknown> | unknown> {
  let out: Record<string, unknown> = {}
  const fields = allFields(root)
  for (const f of fields.values()) {
    if (f.onlyWhen && !f.onlyWhen.values.includes(String(fields.get(f.onlyWhen.path)?.default))) continue
    const val = f.default !== undefined ? structuredClone(f.default) : f.kind === 'string' ? '' : undefined
    if (val !== undefined) out = setPath(out, f.path, val)
  }
  return out as Record<string, Record<string, unknown>>
}

export function getPath(obj: unknown, path: string): unknown {
  let cur = obj as Record<string, unknown> | undefined
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = cur[part] as Record<string, unknown> | undefined
  }
  return cur
}

export function setPath<T extends object>(obj: T, path: string, value: unknown): T {
  const parts = path.split('.')
  const root: Record<string, unknown> = { ...(obj as Record<string, unknown>) }
  let cur = root
  for (let i = 0; i < parts.length - 1; i++) {
    const next = cur[parts[i]]
    cur[parts[i]] = next && typeof next === 'object' && !Array.isArray(next) ? { ...(next as object) } : {}
    cur = cur[parts[i]] as Record<string, unknown>
  }
  cur[parts[parts.length - 1]] = value
  return root as T
}

/** Parse what was typed into a number field: the value, null for empty, or an error. */
export function parseNumber(spec: FieldSpec, text: string): { value: number | null } | { error: string } {
  const t = text.trim()
  if (t === '') {
    if (spec.nullable) return { value: null }
    return { error: 'A value is needed here.' }
  }
  const v = Number(t)
  if (!Number.isFinite(v)) return { error: 'Enter a number (e.g. 2e-4 or 0.0002).' }
  return { value: v }
}

/** The inline check for a value against the schema's bounds; null when it is fine. */
export function checkValue(spec: FieldSpec, value: unknown): string | null {
  if (value === null || value === undefined || value === '') {
    if (spec.required || (!spec.nullable && (spec.kind === 'number' || spec.kind === 'integer'))) {
      return spec.required ? 'Required.' : 'A value is needed here.'
    }
    return null
  }
  if (spec.kind === 'integer' || spec.kind === 'number') {
    const v = Number(value)
    if (!Number.isFinite(v)) return 'Enter a number.'
    if (spec.kind === 'integer' && !Number.isInteger(v)) return 'Must be a whole number.'
    if (spec.min !== undefined && v < spec.min) return `Must be at least ${spec.min}.`
    if (spec.exclusiveMin !== undefined && v <= spec.exclusiveMin) return `Must be greater than ${spec.exclusiveMin}.`
    if (spec.max !== undefined && v > spec.max) return `Must be at most ${spec.max}.`
    if (spec.exclusiveMax !== undefined && v >= spec.exclusiveMax) return `Must be less than ${spec.exclusiveMax}.`
  }
  if (spec.kind === 'string' && typeof value === 'string') {
    if (spec.minLength && value.trim().length < spec.minLength) return 'Required.'
    if (spec.maxLength && value.length > spec.maxLength) return `At most ${spec.maxLength} characters.`
  }
  return null
}

/** Bounds as people read them: "1 – 1024", "> 0, ≤ 1". */
export function boundsText(spec: FieldSpec): string {
  const lo = spec.min !== undefined ? `${spec.min}` : spec.exclusiveMin !== undefined ? `> ${spec.exclusiveMin}` : null
  const hi = spec.max !== undefined ? `${spec.max}` : spec.exclusiveMax !== undefined ? `< ${spec.exclusiveMax}` : null
  if (lo !== null && hi !== null) return spec.min !== undefined && spec.max !== undefined ? `${lo} – ${hi}` : `${lo}, ${hi.startsWith('<') ? hi : `≤ ${hi}`}`
  if (lo !== null) return lo.startsWith('>') ? lo : `≥ ${lo}`
  if (hi !== null) return hi.startsWith('<') ? hi : `≤ ${hi}`
  return ''
}

export function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null)
}
