"""A bounded job queue: a fixed number of worker threads, a cap on waiting jobs, and a
short memory of finished ones (their results are held in memory until evicted)."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Callable

log = logging.getLogger("frannet.serve")


class QueueFull(Exception):
    """No room for another job."""


@dataclass
class Task:
    """One job: ``work(progress)`` runs on a worker thread; ``progress`` takes a fraction in [0, 1]."""

    work: Callable[[Callable[[float], None]], Any] | None
    info: dict = field(default_factory=dict)  # shown as is in the job's status
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    status: str = "queued"  # queued, running, done, error
    progress: float = 0.0
    result: Any = None
    error: str | None = None
    seconds: float | None = None  # how long it ran, once finished


class JobQueue:
    def __init__(self, workers: int = 1, max_queue: int = 8, keep: int = 8):
        if workers < 1 or max_queue < 0:
            raise ValueError(f"need at least 1 worker and a queue length >= 0, got {workers} and {max_queue}")
        self.workers, self.max_queue, self.keep = workers, max_queue, keep
        self._cond = threading.Condition()
        self._waiting: deque[Task] = deque()
        self._tasks: OrderedDict[str, Task] = OrderedDict()  # oldest first
        self._running = 0
        self._closed = False
        for i in range(workers):
            threading.Thread(target=self._work, name=f"frannet-worker-{i}", daemon=True).start()

    def submit(self, work, info: dict | None = None) -> Task:
        with self._cond:
            if len(self._waiting) + self._running >= self.workers + self.max_queue:
                raise QueueFull(f"the queue is full ({self._running} running, {len(self._waiting)} waiting); "
                                f"try again when a job has finished")
            task = Task(work, info or {})
            self._tasks[task.id] = task
            self._waiting.append(task)
            self._cond.notify()
            return task

    def get(self, task_id: str) -> Task | None:
        with self._cond:
            return self._tasks.get(task_id)

    def position(self, task: Task) -> int:
        """1 for the next job to start, 2 for the one after, ...; 0 once it has started."""
        with self._cond:
            return self._waiting.index(task) + 1 if task.status == "queued" else 0

    def close(self) -> None:
        """Let the workers exit once their current job (if any) is done."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._waiting and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                task = self._waiting.popleft()
                task.status, self._running = "running", self._running + 1
            start = time.monotonic()
            try:
                result = task.work(lambda fraction: setattr(task, "progress", min(1.0, fraction)))
                # the status last: a poll that sees "done" finds everything else in place
                task.seconds, task.result, task.progress, task.status = time.monotonic() - start, result, 1.0, "done"
            except Exception as exc:  # reported in the job's status; the server keeps going
                if not isinstance(exc, ValueError):  # not a plain bad-input error: keep the traceback
                    log.exception("job %s failed", task.id)
                task.seconds, task.error = time.monotonic() - start, str(exc) or type(exc).__name__
                task.status = "error"
            finally:
                task.work = None  # frees the input
                with self._cond:
                    self._running -= 1
                    self._forget_finished()

    def _forget_finished(self) -> None:
        finished = [t for t in self._tasks.values() if t.status in ("done", "error")]
        for task in finished[:max(0, len(finished) - self.keep)]:
            del self._tasks[task.id]
