"""``/api/jobs/{id}/results``: download what a batch test or an evaluation answered."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query, Response

from loralab.api.deps import DbDep
from loralab.services import job_results as service
from loralab.services.job_results import ResultFormat

router = APIRouter(prefix="/api/jobs", tags=["jobs"])


@router.get(
    "/{job_id}/results",
    response_class=Response,
    responses={
        200: {
            "content": {"application/json": {}, "text/csv": {}},
            "description": "The rows, as a file to save.",
        }
    },
)
def job_results(
    db: DbDep,
    job_id: str = Path(description="The job's id.", max_length=64),
    format: ResultFormat = Query(default="json", description="json or csv."),  # noqa: A002
) -> Response:
    """A batch test's answers or an evaluation's samples as JSON or CSV (409
    `results_not_ready` until the job completes)."""
    download = service.job_results(db, job_id, format)
    return Response(
        download.body,
        media_type=download.media_type,
        headers={"Content-Disposition": f'attachment; filename="{download.filename}"'},
    )
