"""The web app: the page, its static files, and a small JSON API over the job queue.

    GET  /                          the page (static/index.html)
    GET  /api/config                limits, tasks and restorators, for the page
    POST /api/jobs                  multipart: image + form fields (see options.py) -> 202 + job status
    GET  /api/jobs/{id}             status: queued (with position), running (with progress), done, error;
                                    an iterative job's estimated seconds, and the seconds it took once finished
    GET  /api/jobs/{id}/result.png  the result; /input.png is the decoded input, for the comparison, and
                                    /uncertainty.png the heatmap of a diffusion job's samples' std (2 or more)

Errors are JSON ``{"error": "one readable line"}`` with 400, 404, 413 or 503.
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import tempfile
from functools import partial
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..checkpoint import CheckpointError
from ..io import ImageReadError, Picture, read_image, to_pil
from ..parsing import MAX_NOISE
from ..pipeline import ColourInput, Job, Models, restore_picture
from ..uncertainty import heatmap
from . import DEFAULT_MAX_PIXELS
from .jobs import JobQueue, QueueFull, Task
from .options import LIMITS, MAX_SEED, STEP_SECONDS_PER_MEGAPIXEL, TASKS, estimate_seconds, job_from_form, restorators

STATIC = Path(__file__).parent / "static"
FORM_ROOM = 64 * 1024  # bytes allowed past the upload limit for the form's other fields
LOOPBACK = ["127.0.0.1", "localhost"]


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _png(picture: Picture, compress_level: int = 6) -> bytes:
    buffer = io.BytesIO()
    to_pil(picture.rgb, picture.alpha, picture.gray).save(buffer, "PNG", compress_level=compress_level,
                                                           **picture.info)
    return buffer.getvalue()


def _read_upload(file, name: str, max_pixels: int) -> Picture:
    """Decode an uploaded file with read_image (its checks and messages), naming it as uploaded."""
    with tempfile.TemporaryDirectory(prefix="frannet-serve-") as tmp:
        path = Path(tmp) / "upload"
        with open(path, "wb") as out:
            shutil.copyfileobj(file, out)
        try:
            return read_image(path, max_pixels=max_pixels)
        except ImageReadError as exc:
            raise ImageReadError(str(exc).replace(str(path), name)) from None


def _restore(picture: Picture, job: Job, models: Models, progress) -> dict[str, bytes]:
    """Runs on a worker thread: the result, the input and, from several samples, their std's heatmap, as PNG."""
    done, total = 0, job.width * job.height

    def count(pixels: int) -> None:
        nonlocal done
        done += pixels
        progress(done / total)

    try:
        result = restore_picture(picture, job, models, progress=count)
    except CheckpointError as exc:
        raise CheckpointError(f"could not load a model: {exc}") from None
    except ColourInput:
        raise ValueError("the photo is in colour, and colorize colours gray photos: choose a gray one") from None
    files = {"result.png": _png(result), "input.png": _png(picture, compress_level=1)}
    if job.sampling.samples > 1 and result.std is not None:
        files["uncertainty.png"] = _png(Picture(rgb=heatmap(result.std)[0]))
    return files


def _download_name(upload_name: str, task: str, job: Job) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(upload_name).stem).strip("._") or "image"
    return f"{stem}-{task}-{job.width}x{job.height}.png"


async def _read_body(request: Request, limit: int) -> tuple[bytes | None, int]:
    """(body, size), with body None if it is over ``limit`` bytes; an oversized body is still
    read to its end (and dropped), so the client gets to read the 413 answer."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
    return (b"".join(chunks) if size <= limit else None), size


def create_app(models: Models | None = None, max_upload_mb: float = 50, max_pixels: int = DEFAULT_MAX_PIXELS,
               workers: int = 1, max_queue: int = 8, allowed_hosts: list[str] | None = None) -> Starlette:
    """The app; ``models`` defaults to the bundled ones, ``allowed_hosts`` (Host header) to any."""
    models = models or Models()
    offered = restorators(models)
    queue = JobQueue(workers=workers, max_queue=max_queue)
    max_upload = int(max_upload_mb * 1_000_000)

    def status(task: Task) -> dict:
        out = {"id": task.id, "status": task.status, "progress": task.progress,
               "position": queue.position(task), "error": task.error, "seconds": task.seconds, **task.info}
        if task.status == "done":
            out.update({name.removesuffix(".png"): f"/api/jobs/{task.id}/{name}" for name in task.result})
        return out

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    async def config(request: Request) -> Response:
        return JSONResponse({
            "max_upload_bytes": max_upload, "max_upload_mb": max_upload_mb, "max_pixels": max_pixels,
            "max_noise": MAX_NOISE, "tasks": TASKS, "limits": LIMITS, "max_seed": MAX_SEED,
            "restorators": [{"id": key, **value} for key, value in offered.items()],
            "step_seconds_per_megapixel": STEP_SECONDS_PER_MEGAPIXEL,
        })

    async def submit(request: Request) -> Response:
        body, size = await _read_body(request, max_upload + FORM_ROOM)
        if body is None:
            return _error(f"the upload is {size / 1e6:.1f} MB, over the limit of {max_upload_mb:g} MB "
                          f"(frannet serve --max-upload-mb)", 413)

        async def replay() -> dict:
            return {"type": "http.request", "body": body, "more_body": False}

        async with Request(request.scope, replay).form(max_files=1, max_fields=16) as form:
            upload = form.get("image")
            if not isinstance(upload, UploadFile) or not upload.filename:
                return _error("choose an image file first", 400)
            fields = {key: value for key, value in form.items() if isinstance(value, str)}
            try:
                picture = await run_in_threadpool(_read_upload, upload.file, upload.filename, max_pixels)
                job = job_from_form(fields, *picture.size, max_pixels=max_pixels, offered=offered)
                info = {"width": job.width, "height": job.height, "input_width": picture.size[0],
                        "input_height": picture.size[1], "estimate_seconds": estimate_seconds(job),
                        "filename": _download_name(upload.filename, fields.get("task", "upscale"), job)}
                task = queue.submit(partial(_restore, picture, job, models), info)
            except ValueError as exc:  # includes ImageReadError
                return _error(str(exc), 400)
            except QueueFull as exc:
                return _error(str(exc), 503)
        return JSONResponse(status(task), status_code=202)

    def find(request: Request) -> Task:
        task = queue.get(request.path_params["job_id"])
        if task is None:
            raise HTTPException(404, f"no such job (only the {queue.keep} most recent finished jobs are kept)")
        return task

    async def job_status(request: Request) -> Response:
        return JSONResponse(status(find(request)))

    async def job_file(request: Request) -> Response:
        task, name = find(request), request.url.path.rsplit("/", 1)[1]
        if task.status != "done":
            raise HTTPException(404, f"the job is {task.status}: it has no images yet")
        if name not in task.result:
            raise HTTPException(404, "the job has no uncertainty map: diffusion with 2 or more samples makes one")
        headers = {"Content-Disposition": f'inline; filename="{task.info["filename"]}"'} \
            if name == "result.png" else {}
        return Response(task.result[name], media_type="image/png", headers=headers)

    async def http_error(request: Request, exc: HTTPException) -> Response:
        return _error(str(exc.detail), exc.status_code)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        yield
        queue.close()

    routes = [
        Route("/", page),
        Route("/api/config", config),
        Route("/api/jobs", submit, methods=["POST"]),
        Route("/api/jobs/{job_id}", job_status),
        Route("/api/jobs/{job_id}/result.png", job_file),
        Route("/api/jobs/{job_id}/input.png", job_file),
        Route("/api/jobs/{job_id}/uncertainty.png", job_file),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)] if allowed_hosts else []
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                     exception_handlers={HTTPException: http_error})


def run(host: str = "127.0.0.1", port: int = 8000, **options) -> None:
    """Serve until interrupted. On a loopback address only requests naming it are answered
    (against DNS rebinding: another web site cannot read the results)."""
    allowed = LOOPBACK if host in LOOPBACK else None
    uvicorn.run(create_app(allowed_hosts=allowed, **options), host=host, port=port, access_log=False)
