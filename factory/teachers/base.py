"""The teacher interface: one class per backend, one async `generate`, a capability flag
(`max_concurrency`) and a strict Options model.

A backend is found by the `rfactory.teachers` entry point group, so built-in backends register
exactly the way an outside plugin does (see pyproject.toml).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class ChatRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    messages: list[dict[str, str]]
    temperature: float
    top_p: float
    max_tokens: int
    seed: int
    stop: list[str] = []


class Completion(BaseModel):
    """What came back for one request: text plus the accounting a dataset user audits."""

    content: str
    reasoning_content: str | None = None
    finish_reason: str | None = None
    model: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cached_prompt_tokens: int | None = None
    attempts: int = 1


class TeacherFailure(Exception):
    """A request that did not succeed. Recorded against its (problem, sample) and retried on the
    next run; `fatal` ones (bad key, unknown model) would fail every request alike and stop the run."""

    def __init__(self, reason: str, detail: str, attempts: int = 1, fatal: bool = False):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.attempts = attempts
        self.fatal = fatal

    def __reduce__(self):  # noqa: ANN204 - crosses process boundaries (Ray workers) whole
        return type(self), (self.reason, self.detail, self.attempts, self.fatal)


class TeacherOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Teacher(ABC):
    """Subclasses set the capability flags and Options, and implement `generate`."""

    Options: ClassVar[type[TeacherOptions]] = TeacherOptions
    #: Requests the backend can usefully serve at once; None means no limit of its own.
    max_concurrency: ClassVar[int | None] = None
    #: Requests in flight when the recipe does not say: an API wants a few, an engine a full batch.
    default_concurrency: ClassVar[int] = 16
    #: Whether the backend takes a provider's Batch API (`submit_batch`, `batch`, `batch_file`, …).
    supports_batch: ClassVar[bool] = False

    def __init__(self, model: str, options: TeacherOptions):
        self.model = model
        self.options = options
        #: A model shipped to exercise the pipeline offline, not to reason (the embedded SmolLM2):
        #: its traces are kept without a thought section, so the demo still yields a dataset.
        self.demo_model = False
        #: Cores of this machine the engine computes on (llama.cpp's threads); None when it computes
        #: elsewhere (an API, GPUs). An executor gives each worker that many, so no two engines share one.
        self.cpu_threads: int | None = None
        #: GPUs one instance needs (vLLM's tensor x pipeline parallel size), for an executor to place it.
        self.gpus = 0

    @abstractmethod
    async def generate(self, request: ChatRequest) -> Completion:
        """Answer one request, or raise TeacherFailure with a short reason code."""

    def identity(self) -> dict[str, Any]:
        """What determines this teacher's answers; stored in the run and compared on resume. No secrets."""
        return {"model": self.model}

    def engine(self) -> str:
        """The engine that computes the answers and its version, for a score's record: numbers
        move with it. An API says which; an in-process engine names its package."""
        return type(self).__name__

    def price_key(self) -> tuple[str, str] | None:
        """(API host, model) to look this teacher's price up by; None for an engine that bills
        nothing per token (it runs here)."""
        return None

    def public_options(self) -> dict[str, Any]:
        """The options as stored in the run folder: every value, with secrets removed."""
        return self.options.model_dump(mode="json")

    async def aclose(self) -> None:
        """Release connections or engines."""
