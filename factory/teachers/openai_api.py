"""`openai:<model>`: any OpenAI-compatible chat API (OpenAI, DeepSeek, `vllm serve`, llama.cpp)."""

from __future__ import annotations

import asyncio
import email.utils
import os
import random
import time
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import openai
from pydantic import Field

from .base import ChatRequest, Completion, Teacher, TeacherFailure, TeacherOptions
from .ratelimit import TokenBucket

RETRIABLE_STATUS = {408, 409, 429, 500, 502, 503, 504, 520, 522, 524, 529}
# Statuses that will fail every request the same way: stop the run instead of recording
# thousands of identical failures.
FATAL_STATUS = {401, 403, 404}


class OpenAIOptions(TeacherOptions):
    base_url: str | None = Field(None, description="defaults to $OPENAI_BASE_URL, then api.openai.com")
    api_key_env: str = Field("OPENAI_API_KEY", description="name of the environment variable holding the key")
    timeout_s: float = Field(600.0, gt=0, description="per request")
    max_attempts: int = Field(6, ge=1, le=50)
    backoff_base_s: float = Field(1.0, gt=0)
    backoff_max_s: float = Field(60.0, gt=0, description="cap on any single wait, Retry-After included")
    requests_per_minute: float | None = Field(None, gt=0)
    tokens_per_minute: float | None = Field(None, gt=0)
    extra_body: dict[str, Any] = Field(default_factory=dict, description="sent as-is, e.g. vLLM's top_k")
    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = Field(
        "max_tokens", description="OpenAI's reasoning models take only max_completion_tokens"
    )


def public_url(url: str) -> str:
    """The URL without credentials or query string, safe to store and print."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def retry_after_s(headers: Any) -> float | None:
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        when = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, when.timestamp() - time.time()) if when else None


def _classify(err: Exception) -> tuple[str, bool, float | None]:
    """(reason code, retriable, server-requested wait)."""
    if isinstance(err, openai.APITimeoutError):
        return "timeout", True, None
    if isinstance(err, openai.APIConnectionError):
        return "connection_error", True, None
    if isinstance(err, openai.APIStatusError):
        status = err.status_code
        wait = retry_after_s(err.response.headers)
        if status == 429:
            return "rate_limited", True, wait
        if status in RETRIABLE_STATUS or status >= 500:
            return f"http_{status}", True, wait
        return f"http_{status}", False, None
    # A 200 whose body is not the JSON the schema promises (proxies, overloaded servers).
    return "malformed_response", True, None


class OpenAITeacher(Teacher):
    Options = OpenAIOptions
    max_concurrency = None

    def __init__(self, model: str, options: OpenAIOptions):
        super().__init__(model, options)
        self.base_url = options.base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        # Local servers take any key; a real API answers 401 and we stop with a clear message.
        self.client = openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=os.environ.get(options.api_key_env) or "not-set",
            timeout=options.timeout_s,
            max_retries=0,  # retries are ours: they must honour Retry-After and be counted per sample
        )
        self.rpm = TokenBucket(options.requests_per_minute) if options.requests_per_minute else None
        self.tpm = TokenBucket(options.tokens_per_minute) if options.tokens_per_minute else None

    def identity(self) -> dict[str, Any]:
        return {"model": self.model, "base_url": public_url(self.base_url)}

    def public_options(self) -> dict[str, Any]:
        options = super().public_options()
        if options["base_url"]:
            options["base_url"] = public_url(options["base_url"])
        return options

    def _backoff(self, attempt: int, server_wait: float | None) -> float:
        opts = self.options
        jittered = random.uniform(0.5, 1.0) * min(opts.backoff_max_s, opts.backoff_base_s * 2 ** (attempt - 1))
        if server_wait is not None:
            return min(opts.backoff_max_s, max(server_wait, jittered))
        return jittered

    async def generate(self, request: ChatRequest) -> Completion:
        opts = self.options
        estimate = sum(len(m["content"]) for m in request.messages) / 4 + request.max_tokens
        # Only parameters that are set: the client transforms every one it is given, per request.
        params: dict[str, Any] = {
            "model": self.model,
            "messages": request.messages,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "seed": request.seed,
            opts.max_tokens_param: request.max_tokens,
        }
        if request.stop:
            params["stop"] = request.stop
        if opts.extra_body:
            params["extra_body"] = opts.extra_body
        last = ("", "")
        for attempt in range(1, opts.max_attempts + 1):
            if self.rpm:
                await self.rpm.take(1)
            if self.tpm:
                await self.tpm.take(estimate)
            try:
                response = await self.client.chat.completions.create(**params)
                completion = _to_completion(response, attempt)
            except Exception as err:  # every failure is classified; the unknown ones count as malformed
                if self.tpm:
                    self.tpm.give_back(estimate)
                reason, retriable, wait = _classify(err)
                detail = _one_line(err)
                if isinstance(err, openai.APIStatusError) and err.status_code in FATAL_STATUS:
                    raise TeacherFailure(reason, f"{detail} (from {public_url(self.base_url)})", attempt, fatal=True) from None
                last = (reason, detail)
                if not retriable or attempt == opts.max_attempts:
                    break
                await asyncio.sleep(self._backoff(attempt, wait))
                continue
            if self.tpm:
                self.tpm.give_back(estimate - completion.prompt_tokens - completion.completion_tokens)
            return completion
        raise TeacherFailure(last[0], last[1], attempt)

    async def aclose(self) -> None:
        await self.client.close()


def _one_line(err: Exception) -> str:
    text = f"{type(err).__name__}: {err}".strip()
    return text.splitlines()[0][:300] if text else type(err).__name__


def _to_completion(response: Any, attempt: int) -> Completion:
    if not getattr(response, "choices", None):
        raise ValueError("response has no choices")
    choice = response.choices[0]
    message = choice.message
    extra = message.model_extra or {}
    # DeepSeek and vLLM's reasoning parsers use reasoning_content; newer vLLM and OpenRouter use reasoning.
    reasoning = extra.get("reasoning_content") or extra.get("reasoning")
    usage = response.usage
    details = getattr(usage, "completion_tokens_details", None) if usage else None
    return Completion(
        content=message.content or "",
        reasoning_content=reasoning if isinstance(reasoning, str) and reasoning else None,
        finish_reason=choice.finish_reason,
        model=response.model,
        prompt_tokens=(usage.prompt_tokens or 0) if usage else 0,
        completion_tokens=(usage.completion_tokens or 0) if usage else 0,
        reasoning_tokens=(getattr(details, "reasoning_tokens", None) or 0) if details else 0,
        attempts=attempt,
    )
