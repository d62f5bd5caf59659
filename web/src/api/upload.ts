// File upload with progress. fetch() cannot report upload progress, so this one call uses
// XMLHttpRequest; its response is still the generated `Dataset` type.
import { ApiError, networkProblem, toProblem } from './problem'
import type { Dataset } from './types'

export interface UploadHandle {
  promise: Promise<Dataset>
  abort: () => void
}

export function uploadDataset(file: File, onProgress: (fraction: number) => void, name?: string): UploadHandle {
  const xhr = new XMLHttpRequest()
  const promise = new Promise<Dataset>((resolve, reject) => {
    xhr.open('POST', '/api/datasets/upload') // same origin: the token cookie goes along
    xhr.upload.onprogress = (ev) => {
      if (ev.lengthComputable) onProgress(ev.loaded / ev.total)
    }
    xhr.onload = () => {
      let body: unknown = xhr.responseText
      try {
        body = JSON.parse(xhr.responseText)
      } catch {
        /* keep the text */
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body as Dataset)
      else reject(new ApiError(toProblem(body, xhr.status, 'The upload failed.')))
    }
    xhr.onerror = () => reject(new ApiError(networkProblem()))
    xhr.onabort = () => reject(new ApiError({ status: 0, code: 'aborted', detail: 'Upload cancelled.' }))
    const form = new FormData()
    form.append('file', file)
    if (name) form.append('name', name)
    xhr.send(form)
  })
  return { promise, abort: () => xhr.abort() }
}
