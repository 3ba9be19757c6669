"""A fault-injecting OpenAI-compatible server for tests and benchmarks, on 127.0.0.1 only.

Hand-written on asyncio streams rather than a web framework because the faults it must inject
(dropped connections, hangs, half-written JSON) are exactly what frameworks prevent.

Faults are keyed by tags in the problem text so a test can mix them in one run:
  [429]        first attempt: 429 with Retry-After: 1
  [500]        first two attempts: 500
  [hang]       first attempt: no answer for `hang_s` seconds (past the client's timeout)
  [drop]       first attempt: the connection is closed without a response
  [garbage]    every attempt: 200 with a body that is not JSON
  [always500]  every attempt: 500
  [length]     answers with finish_reason "length" and no closing box
  [answer=X]   answers \\boxed{X}; without it the answer is \\boxed{0}
  [answers=X|Y|…]  the k-th distinct seed asking this text answers the k-th item (cycling), so
               a problem's samples give exactly these answers, in arrival order
  [think]      puts the reasoning in <think>…</think> inside content instead of reasoning_content
  [nothink]    answers with no reasoning at all (a model that does not think)
  [emptythink] an empty <think></think> before the answer (a model that skipped its thinking)
  [code]       the answer is a Python program (a literal \\n in it a newline), sent in a
               ```python block instead of a box: [code][answers=print(1)|print(2)]
Run it alone: python -m rfactory.testing.fake_openai --port 8000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import threading
from collections import Counter

_ANSWER = re.compile(r"\[answer=([^\]]*)\]")
_ANSWERS = re.compile(r"\[answers=([^\]]*)\]")


class FakeOpenAI:
    def __init__(self, hang_s: float = 30.0, delay_s: float = 0.0):
        self.hang_s = hang_s
        self.delay_s = delay_s
        self.handlers: set[asyncio.Task] = set()
        self.attempts: Counter[str] = Counter()
        self.seeds: dict[str, list[int]] = {}
        self.requests = 0
        self.auth_headers: list[str] = []
        self.server: asyncio.AbstractServer | None = None
        self.port = 0

    def _completion(self, body: dict) -> tuple[int, dict[str, str], bytes] | str:
        text = " ".join(m.get("content", "") for m in body.get("messages", []))
        key = f"{text}\x00{body.get('seed')}"
        self.attempts[key] += 1
        attempt = self.attempts[key]
        if "[429]" in text and attempt == 1:
            return 429, {"Retry-After": "1"}, b'{"error": {"message": "slow down", "type": "rate_limit"}}'
        if ("[500]" in text and attempt <= 2) or "[always500]" in text:
            return 500, {}, b'{"error": {"message": "internal error"}}'
        if "[hang]" in text and attempt == 1:
            return "hang"
        if "[drop]" in text and attempt == 1:
            return "drop"
        if "[garbage]" in text:
            return 200, {}, b'{"id": "x", "choices": [{"message": {"content": "unterminated'
        answer = m.group(1) if (m := _ANSWER.search(text)) else "0"
        if m := _ANSWERS.search(text):
            seeds = self.seeds.setdefault(text, [])
            if body.get("seed") not in seeds:
                seeds.append(body.get("seed"))
            choices = m.group(1).split("|")
            answer = choices[seeds.index(body.get("seed")) % len(choices)]
        reasoning = "Let me work through this carefully.\n\nThe key step gives the result."
        if "[code]" in text:
            content, finish = "```python\n" + answer.replace("\\n", "\n") + "\n```", "stop"
        elif "[length]" in text:
            content, finish = "So the answer is \\boxed{" + answer, "length"
        else:
            content, finish = f"The answer is $\\boxed{{{answer}}}$.", "stop"
        message: dict = {"role": "assistant", "content": content}
        if "[think]" in text:
            message["content"] = f"<think>{reasoning}</think>\n\n{content}"
        elif "[emptythink]" in text:
            message["content"] = f"<think>\n\n</think>\n\n{content}"
        elif "[nothink]" not in text:
            message["reasoning_content"] = reasoning
        payload = {
            "id": f"chatcmpl-{self.requests}",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": len(text) // 4, "completion_tokens": 20, "total_tokens": len(text) // 4 + 20},
        }
        return 200, {}, json.dumps(payload).encode()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        task.add_done_callback(self.handlers.discard)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                raw = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests += 1
                self.auth_headers.append(headers.get("authorization", ""))
                if method == "GET" and path == "/v1/models":
                    result = (200, {}, b'{"object": "list", "data": [{"id": "fake", "object": "model"}]}')
                elif method == "POST" and path == "/v1/chat/completions":
                    result = self._completion(json.loads(raw))
                else:
                    result = (404, {}, b'{"error": {"message": "not found"}}')
                if result == "drop":
                    writer.close()
                    return
                if result == "hang":
                    await asyncio.sleep(self.hang_s)
                    writer.close()
                    return
                status, extra, body = result
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)
                reason = {200: "OK", 404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error"}[status]
                out = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/json", f"Content-Length: {len(body)}"]
                out += [f"{k}: {v}" for k, v in extra.items()]
                writer.write(("\r\n".join(out) + "\r\n\r\n").encode() + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in list(self.handlers):
            task.cancel()
        await asyncio.gather(*self.handlers, return_exceptions=True)

    async def start(self, port: int = 0) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", port, backlog=4096)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port


class FakeOpenAIThread:
    """The server on its own event loop in a daemon thread; `base_url` once started."""

    def __init__(self, hang_s: float = 30.0, delay_s: float = 0.0):
        self.fake = FakeOpenAI(hang_s, delay_s)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> "FakeOpenAIThread":
        self._thread.start()
        port = asyncio.run_coroutine_threadsafe(self.fake.start(), self.loop).result(10)
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--hang-s", type=float, default=30.0)
    parser.add_argument("--delay-s", type=float, default=0.0, help="added to every answer")
    args = parser.parse_args()

    async def serve() -> None:
        fake = FakeOpenAI(args.hang_s, args.delay_s)
        port = await fake.start(args.port)
        print(f"listening on http://127.0.0.1:{port}/v1", flush=True)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
