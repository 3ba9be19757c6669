"""`openai:<model>`: any OpenAI-compatible chat API (OpenAI, DeepSeek, `vllm serve`, llama.cpp)."""

from __future__ import annotations

import asyncio
import email.utils
import json
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

    def engine(self) -> str:
        return f"OpenAI-compatible API at {public_url(self.base_url)}"

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
        # The body goes out as plain JSON through the client's public post(): the typed create()
        # spends about a quarter of its CPU transforming TypedDict params and building pydantic
        # models per request, which at thousands of requests a minute is the client's main cost.
        # Transport, auth, timeouts and status errors stay the client's.
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
        params.update(opts.extra_body)
        last = ("", "")
        for attempt in range(1, opts.max_attempts + 1):
            if self.rpm:
                await self.rpm.take(1)
            if self.tpm:
                await self.tpm.take(estimate)
            try:
                text = await self.client.post("/chat/completions", body=params, cast_to=str)
                completion = _to_completion(json.loads(text), attempt)
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


def _to_completion(data: Any, attempt: int) -> Completion:
    """The fields we keep from a chat.completion body; anything off-schema is a malformed response."""
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list) or not data["choices"]:
        raise ValueError("response has no choices")
    choice = data["choices"][0]
    message = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(message, dict):
        raise ValueError("response choice has no message")
    # DeepSeek and vLLM's reasoning parsers use reasoning_content; newer vLLM and OpenRouter use reasoning.
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    usage = data.get("usage") or {}
    details = usage.get("completion_tokens_details") or {}
    return Completion(
        content=message.get("content") or "",
        reasoning_content=reasoning if isinstance(reasoning, str) and reasoning else None,
        finish_reason=choice.get("finish_reason"),
        model=data.get("model"),
        prompt_tokens=usage.get("prompt_tokens") or 0,
        completion_tokens=usage.get("completion_tokens") or 0,
        reasoning_tokens=details.get("reasoning_tokens") or 0,
        attempts=attempt,
    )
