"""`openai:<model>`: any OpenAI-compatible chat API (OpenAI, DeepSeek, `vllm serve`, llama.cpp)."""

from __future__ import annotations

import asyncio
import base64
import email.utils
import ipaddress
import json
import os
import random
import socket
import ssl
import time
from typing import Any, Literal
from urllib.parse import unquote, urlsplit, urlunsplit

import aiohttp
import openai
from pydantic import Field

from ..errors import UserError
from .base import ChatRequest, Completion, Teacher, TeacherFailure, TeacherOptions
from .ratelimit import TokenBucket

RETRIABLE_STATUS = {408, 409, 429, 500, 502, 503, 504, 520, 522, 524, 529}
# Statuses that will fail every request the same way: stop the run instead of recording
# thousands of identical failures.
FATAL_STATUS = {401, 403, 404}
# Failures that say the endpoint cannot be reached at all. Until it has answered once they are
# not retried: a wrong URL or host would otherwise cost every request its whole retry schedule.
UNREACHABLE = {"connection_refused", "dns_error", "tls_error", "connect_timeout"}


class OpenAIOptions(TeacherOptions):
    base_url: str | None = Field(None, description="defaults to $OPENAI_BASE_URL, then api.openai.com")
    api_key_env: str = Field("OPENAI_API_KEY", description="name of the environment variable holding the key")
    timeout_s: float = Field(600.0, gt=0, description="per request")
    connect_timeout_s: float = Field(15.0, gt=0, description="to open a connection; a firewall that drops packets shows here")
    max_attempts: int = Field(6, ge=1, le=50)
    backoff_base_s: float = Field(1.0, gt=0)
    backoff_max_s: float = Field(60.0, gt=0, description="cap on any single wait, Retry-After included")
    requests_per_minute: float | None = Field(None, gt=0)
    tokens_per_minute: float | None = Field(None, gt=0)
    extra_body: dict[str, Any] = Field(default_factory=dict, description="sent as-is, e.g. vLLM's top_k")
    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = Field(
        "max_tokens", description="OpenAI's reasoning models take only max_completion_tokens"
    )
    # The Batch API (`generate --batch`); OpenAI's limits per batch are 50,000 requests and 200 MB.
    batch_max_requests: int = Field(50_000, ge=1)
    batch_max_bytes: int = Field(190_000_000, ge=1024)
    batch_poll_s: float = Field(60.0, gt=0, description="how often a running batch's status is read")
    batch_window: Literal["24h"] = "24h"
    batch_search_limit: int = Field(1000, ge=1, description="batches listed to find one whose id was not saved")


def public_url(url: str) -> str:
    """The URL without credentials or query string, safe to store and print."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _without_credentials(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its user:password, and those as the Basic auth header httpx made of them
    (aiohttp refuses credentials in the URL beside the SDK's own Authorization header)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, {}
    pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
    bare = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    return bare, {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}


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


def is_local(url: str) -> bool:
    """A server on this machine or its network (`vllm serve` on a GPU box), which may take no key."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or "." not in host or host.endswith((".local", ".internal", ".lan", ".localhost")):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_private or ip.is_link_local


def _causes(err: BaseException):  # noqa: ANN202
    seen = 0
    while err is not None and seen < 10:
        yield err
        err, seen = err.__cause__ or err.__context__, seen + 1


def _connection_reason(err: Exception) -> str:
    """What the client's "Connection error." or timeout was underneath: refused, unknown host, TLS,
    connect or read timeout. Read from the innermost cause out, because the SDK's aiohttp adapter
    turns every aiohttp connection error (a server that hung up included) into a connect timeout."""
    for cause in reversed(list(_causes(err))):
        if isinstance(cause, ssl.SSLError):
            return "tls_error"
        if isinstance(cause, (socket.gaierror, aiohttp.ClientConnectorDNSError)):  # the latter from aiodns
            return "dns_error"
        if isinstance(cause, ConnectionRefusedError):
            return "connection_refused"
        if isinstance(cause, aiohttp.ConnectionTimeoutError):
            return "connect_timeout"
        if isinstance(cause, aiohttp.ServerTimeoutError):  # reading the answer
            return "timeout"
        if isinstance(cause, aiohttp.ClientError):
            return "connection_error"
    return "timeout" if isinstance(err, openai.APITimeoutError) else "connection_error"


def _classify(err: Exception) -> tuple[str, bool, float | None]:
    """(reason code, retriable, server-requested wait)."""
    if isinstance(err, openai.APIConnectionError):  # timeouts included
        return _connection_reason(err), True, None
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
    supports_batch = True

    def __init__(self, model: str, options: OpenAIOptions):
        super().__init__(model, options)
        self.base_url = options.base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        key = os.environ.get(options.api_key_env)
        if not key and not is_local(self.base_url):
            raise UserError(f"openai:{model}: ${options.api_key_env} is not set, and {public_url(self.base_url)} needs "
                            f"a key (a server that takes none: set it to any value, or pass --base-url)")
        url, auth = _without_credentials(self.base_url)
        self.client = openai.AsyncOpenAI(
            base_url=url,
            default_headers=auth,
            api_key=key or "not-set",  # local servers take any key
            timeout=openai.Timeout(options.timeout_s, connect=min(options.connect_timeout_s, options.timeout_s)),
            max_retries=0,  # retries are ours: they must honour Retry-After and be counted per sample
            # aiohttp under the SDK instead of httpx's own pool: at thousands of requests a minute
            # httpcore's scan of its connection pool was the client's largest cost, and aiohttp
            # spends about half the CPU per request in all. The SDK's auth, status errors and
            # timeouts are unchanged above the transport.
            http_client=openai.DefaultAioHttpClient(),
        )
        self.answered = False  # whether the endpoint has answered once: unreachable then is an outage
        self.rpm = TokenBucket(options.requests_per_minute) if options.requests_per_minute else None
        self.tpm = TokenBucket(options.tokens_per_minute) if options.tokens_per_minute else None

    def identity(self) -> dict[str, Any]:
        return {"model": self.model, "base_url": public_url(self.base_url)}

    def engine(self) -> str:
        return f"OpenAI-compatible API at {public_url(self.base_url)}"

    def price_key(self) -> tuple[str, str] | None:
        return None if is_local(self.base_url) else ((urlsplit(self.base_url).hostname or "").lower(), self.model)

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

    def _body(self, request: ChatRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "messages": request.messages,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "seed": request.seed,
            self.options.max_tokens_param: request.max_tokens,
        }
        if request.stop:
            params["stop"] = request.stop
        params.update(self.options.extra_body)
        return params

    async def generate(self, request: ChatRequest) -> Completion:
        opts = self.options
        estimate = sum(len(m["content"]) for m in request.messages) / 4 + request.max_tokens
        # The body goes out as plain JSON through the client's public post(): the typed create()
        # spends about a quarter of its CPU transforming TypedDict params and building pydantic
        # models per request, which at thousands of requests a minute is the client's main cost.
        # Transport, auth, timeouts and status errors stay the client's.
        params = self._body(request)
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
                if isinstance(err, openai.APIConnectionError):  # its own text is only "Connection error."
                    detail = _one_line(list(_causes(err))[-1])
                if reason == "connect_timeout":  # underneath is a bare cancellation; aiohttp's own text has the URL
                    detail = f"no connection within {min(opts.connect_timeout_s, opts.timeout_s):g} s"
                if isinstance(err, openai.APIStatusError) and err.status_code in FATAL_STATUS:
                    raise TeacherFailure(reason, f"{detail} (from {public_url(self.base_url)})", attempt, fatal=True) from None
                last = (reason, detail)
                if not retriable or attempt == opts.max_attempts or (reason in UNREACHABLE and not self.answered):
                    break
                await asyncio.sleep(self._backoff(attempt, wait))
                continue
            if self.tpm:
                self.tpm.give_back(estimate - completion.prompt_tokens - completion.completion_tokens)
            self.answered = True
            return completion
        raise TeacherFailure(last[0], last[1], attempt)

    # -- the Batch API (`generate --batch`) ---------------------------------------------------------

    def batch_line(self, custom_id: str, request: ChatRequest) -> dict[str, Any]:
        return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": self._body(request)}

    async def _batch_call(self, what: str, call, before_retry=None):  # noqa: ANN001, ANN202 - () -> awaitables
        """One Batch API call, retried like a request (a status read may meet a 503 in a 24 h wait).
        `before_retry`, if it finds what the failed try may have made after all, is returned instead."""
        for attempt in range(1, self.options.max_attempts + 1):
            if attempt > 1 and before_retry is not None and (made := await before_retry()) is not None:
                return made
            try:
                return await call()
            except openai.APIError as err:
                reason, retriable, wait = _classify(err)
                if not retriable or attempt == self.options.max_attempts:
                    hint = (" (does this provider have a Batch API?)"
                            if isinstance(err, openai.APIStatusError) and err.status_code in (404, 405) else "")
                    raise UserError(f"Batch API at {public_url(self.base_url)}: {what} failed: "
                                    f"{_one_line(err)}{hint}") from None
                await asyncio.sleep(self._backoff(attempt, wait))

    async def submit_batch(self, data: bytes, metadata: dict[str, str]) -> dict[str, Any]:
        """Upload the JSONL and start its batch; `metadata` finds it again if we die before saving its id."""
        file = await self._batch_call("upload", lambda: self.client.files.create(
            file=("rfactory-batch.jsonl", data), purpose="batch"))
        # a create that timed out may have been made all the same: look before trying again, so one
        # chunk is never paid for twice
        batch = await self._batch_call("create", lambda: self.client.batches.create(
            input_file_id=file.id, endpoint="/v1/chat/completions", completion_window=self.options.batch_window,
            metadata=metadata), before_retry=lambda: self._made(metadata))
        return batch.model_dump()

    async def _made(self, metadata: dict[str, str]) -> Any:
        seen = 0
        async for batch in await self._batch_call("list", lambda: self.client.batches.list(limit=100)):
            if batch.metadata and all(batch.metadata.get(k) == v for k, v in metadata.items()):
                return batch
            seen += 1
            if seen >= self.options.batch_search_limit:
                break
        return None

    async def find_batch(self, metadata: dict[str, str]) -> dict[str, Any] | None:
        batch = await self._made(metadata)
        return None if batch is None else batch.model_dump()

    async def batch(self, batch_id: str) -> dict[str, Any]:
        return (await self._batch_call("status", lambda: self.client.batches.retrieve(batch_id))).model_dump()

    async def batch_file(self, file_id: str) -> bytes:
        return (await self._batch_call("download", lambda: self.client.files.content(file_id))).content

    @staticmethod
    def batch_result(line: dict[str, Any]) -> Completion | TeacherFailure:
        """One line of a batch's output or error file, as the online path would have answered it."""
        response = line.get("response") or {}
        error = line.get("error") or {}
        status = response.get("status_code")
        if status == 200:
            try:
                return _to_completion(response.get("body"), 1)
            except ValueError as e:
                return TeacherFailure("malformed_response", str(e))
        if error:
            code = str(error.get("code") or "error")
            return TeacherFailure(code if code.startswith("batch_") else f"batch_{code}", str(error.get("message") or "")[:300])
        message = ((response.get("body") or {}).get("error") or {}).get("message", "")
        return TeacherFailure(f"http_{status}", str(message)[:300])

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
    # OpenAI reports cached prompt tokens in prompt_tokens_details; DeepSeek as prompt_cache_hit_tokens.
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
    if cached is None:
        cached = usage.get("prompt_cache_hit_tokens")
    return Completion(
        content=message.get("content") or "",
        reasoning_content=reasoning if isinstance(reasoning, str) and reasoning else None,
        finish_reason=choice.get("finish_reason"),
        model=data.get("model"),
        prompt_tokens=usage.get("prompt_tokens") or 0,
        completion_tokens=usage.get("completion_tokens") or 0,
        reasoning_tokens=details.get("reasoning_tokens") or 0,
        cached_prompt_tokens=cached if isinstance(cached, int) else None,
        attempts=attempt,
    )
