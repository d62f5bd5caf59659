import { api, unwrap } from '../../api/client'
import { useResource } from '../../lib/useResource'
import { ErrorState, SkeletonRows } from '../States'
import { fmtInt } from '../../lib/format'

interface Segment {
  text: string
  trained: boolean
}

function Segments({ segments }: { segments: Segment[] }) {
  return (
    <>
      {segments.map((s, i) => (
        <span key={i} className={s.trained ? 'trained' : 'ctx'}>
          {s.text}
        </span>
      ))}
    </>
  )
}

interface Props {
  datasetId: string
  /** A model reference (hub id or model:<id>) whose chat template and tokenizer render the samples. */
  modelRef: string | null
  /** Changes when the dataset was edited, so the preview is fetched again. */
  version?: string
  n?: number
  maxSeqLength?: number | null
}

/** Samples as the model will see them, with the trained-on tokens highlighted. */
export function SamplePreview({ datasetId, modelRef, version, n = 3, maxSeqLength }: Props) {
  const preview = useResource(
    () =>
      unwrap(
        api.GET('/api/datasets/{dataset_id}/preview', {
          params: { path: { dataset_id: datasetId }, query: { n, ...(modelRef ? { model: modelRef } : {}), ...(maxSeqLength ? { max_seq_length: maxSeqLength } : {}) } as { n: number; model?: string } },
        }),
      ),
    [datasetId, modelRef, version, n, maxSeqLength],
  )
  if (preview.loading) return <SkeletonRows rows={5} />
  if (preview.error) return <ErrorState problem={preview.error} onRetry={preview.reload} title="No preview" />
  const samples = preview.data?.samples ?? []
  if (!samples.length) return <p className="muted">No valid rows to preview.</p>
  return (
    <div className="stack-sm" data-testid="sample-preview">
      <div className="row small muted">
        <span>
          <span className="sample" style={{ display: 'inline', padding: '0 4px' }}><span className="trained">highlighted</span></span> = tokens the loss is computed on
        </span>
        <span className="right">Template: {preview.data?.template ?? samples[0].template}</span>
      </div>
      {samples.map((s, i) => (
        <figure key={i} style={{ margin: 0 }} className="stack-sm">
          <figcaption className="row small muted" style={{ gap: 10 }}>
            <span>Row {s.line}</span>
            {s.num_tokens !== null && s.num_tokens !== undefined && <span>{fmtInt(s.num_tokens)} tokens</span>}
            {s.num_trained_tokens !== null && s.num_trained_tokens !== undefined && <span>{fmtInt(s.num_trained_tokens)} trained</span>}
            {s.label !== null && s.label !== undefined && (
              <span className={`badge ${s.label ? 'ok' : 'bad'}`} data-label={s.label ? 'good' : 'bad'} title={s.label ? 'A good reply: KTO makes it more likely' : 'A bad reply: KTO makes it less likely'}>
                {s.label ? 'good reply' : 'bad reply'}
              </span>
            )}
            {s.truncated && <span className="badge warn">truncated at the limit</span>}
          </figcaption>
          <div className="sample">
            <Segments segments={s.segments} />
          </div>
          {s.rejected_segments && (
            <>
              <span className="small muted">Rejected answer</span>
              <div className="sample">
                <Segments segments={s.rejected_segments} />
              </div>
            </>
          )}
        </figure>
      ))}
    </div>
  )
}
