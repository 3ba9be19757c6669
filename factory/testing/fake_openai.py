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
  [inputs=X|Y] a request for test inputs (its text says "test inputs") answers each item in an
               ```input block (a literal \\n a newline), as `eval --select distinguish` asks
  [right=X|Y]  a request to judge two outputs (its text has "Output A:" and "Output B:") answers
               `Answer: B` when only B's output is among the items, else `Answer: A`
  [trace=S1|S2|…]  answers the steps, one paragraph each (a literal \\n a newline)
  [continue=X] a request to continue a partial solution (its text has "Solution so far:") answers
               \\boxed{X}, or \\boxed{0} when a step shown so far says "(wrong)"
  [firstwrong=N] a request to find a solution's first wrong step answers `Answer: N`

The Batch API (`/v1/files`, `/v1/batches`) answers each batch's lines with the same completions,
a batch moving validating → in_progress → finalizing → completed one step per status read; a line
answered with a non-200 goes to the error file. Whole-batch faults, by a tag in any of its lines:
  [batchexpire] the batch ends `expired` with only its first half answered
  [batchfail]   the batch fails validation (`failed`, no output)
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
_INPUTS = re.compile(r"\[inputs=((?:[^\[\]]|\[[^\[\]]*\])*)\]")  # an item may hold one level of [] (a JSON list)
_RIGHT = re.compile(r"\[right=([^\]]*)\]")
_TRACE = re.compile(r"\[trace=([^\]]*)\]")
_CONTINUE = re.compile(r"\[continue=([^\]]*)\]")
_FIRSTWRONG = re.compile(r"\[firstwrong=([^\]]*)\]")
_SHOWN = re.compile(r"Output ([AB]):\n```\n(.*?)\n```", re.S)


class FakeOpenAI:
    def __init__(self, hang_s: float = 30.0, delay_s: float = 0.0):
        self.hang_s = hang_s
        self.delay_s = delay_s
        self.handlers: set[asyncio.Task] = set()
        self.attempts: Counter[str] = Counter()
        self.seeds: dict[str, list[int]] = {}
        self.requests = 0
        self.auth_headers: list[str] = []
        self.usages: list[dict] = []  # every usage block answered, to check cost accounting against
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict] = {}
        self.batch_lines: dict[str, list[dict]] = {}
        self.batch_answers: Counter[str] = Counter()  # custom_id → times a batch answered it
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
        if (m := _RIGHT.search(text)) and "Output A:" in text and "Output B:" in text:
            shown = dict(_SHOWN.findall(text))
            right = m.group(1).split("|")
            letter = "B" if shown.get("B") in right and shown.get("A") not in right else "A"
            content, finish = f"Comparing the two outputs.\nAnswer: {letter}", "stop"
        elif (m := _CONTINUE.search(text)) and "Solution so far:" in text:
            wrong = "(wrong)" in text.split("Solution so far:", 1)[1]
            content, finish = f"Continuing from there.\n\nSo the answer is \\boxed{{{'0' if wrong else m.group(1)}}}.", "stop"
        elif (m := _FIRSTWRONG.search(text)) and "first wrong step" in text:
            content, finish = f"Checking each step.\nAnswer: {m.group(1)}", "stop"
        elif (m := _TRACE.search(text)) and "Solution so far:" not in text:
            content, finish = "\n\n".join(x.replace("\\n", "\n") for x in m.group(1).split("|")), "stop"
        elif (m := _INPUTS.search(text)) and "test inputs" in text:
            blocks = (x.replace("\\n", "\n") for x in m.group(1).split("|"))
            content, finish = "".join(f"```input\n{b}\n```\n" for b in blocks), "stop"
        elif "[code]" in text:
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
        prompt = len(text) // 4
        usage = {"prompt_tokens": prompt, "completion_tokens": 20, "total_tokens": prompt + 20,
                 # as OpenAI reports them: a cached prefix of the prompt, reasoning inside the completion
                 "prompt_tokens_details": {"cached_tokens": prompt // 2},
                 "completion_tokens_details": {"reasoning_tokens": 0 if "[nothink]" in text else 12}}
        self.usages.append(usage)
        payload = {
            "id": f"chatcmpl-{self.requests}",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": usage,
        }
        return 200, {}, json.dumps(payload).encode()

    # -- the Batch API -------------------------------------------------------------------------

    def _batch_api(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, str], bytes]:
        route, _, query = path.partition("?")
        parts = route.strip("/").split("/")  # v1, files|batches, [id], [content|cancel]
        if method == "POST" and route == "/v1/files":
            file_id = f"file-{len(self.files)}"
            self.files[file_id] = _multipart_file(headers.get("content-type", ""), raw)
            return _json(200, {"id": file_id, "object": "file", "bytes": len(self.files[file_id]), "created_at": 0,
                               "filename": "batch.jsonl", "purpose": "batch", "status": "processed"})
        if method == "GET" and len(parts) == 4 and parts[1] == "files" and parts[3] == "content":
            if parts[2] not in self.files:
                return _json(404, {"error": {"message": f"no file {parts[2]}"}})
            return 200, {}, self.files[parts[2]]
        if method == "POST" and route == "/v1/batches":
            body = json.loads(raw)
            if body.get("input_file_id") not in self.files:
                return _json(400, {"error": {"message": "input_file_id not found"}})
            batch_id = f"batch_{len(self.batches)}"
            lines = [json.loads(x) for x in self.files[body["input_file_id"]].decode().splitlines() if x.strip()]
            self.batches[batch_id] = batch = {
                "id": batch_id, "object": "batch", "endpoint": body["endpoint"], "errors": None,
                "input_file_id": body["input_file_id"], "completion_window": body["completion_window"],
                "status": "validating", "output_file_id": None, "error_file_id": None, "created_at": len(self.batches),
                "metadata": body.get("metadata"), "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            }
            self.batch_lines[batch_id] = lines
            return _json(200, batch)
        if method == "GET" and route == "/v1/batches":
            data = sorted(self.batches.values(), key=lambda b: -b["created_at"])
            return _json(200, {"object": "list", "data": data, "has_more": False})
        if method == "GET" and len(parts) == 3 and parts[1] == "batches":
            batch = self.batches.get(parts[2])
            if batch is None:
                return _json(404, {"error": {"message": f"no batch {parts[2]}"}})
            self._advance(batch)
            return _json(200, batch)
        return _json(404, {"error": {"message": "not found"}})

    def _advance(self, batch: dict) -> None:
        lines = self.batch_lines[batch["id"]]
        text = json.dumps(lines)
        step = {"validating": "in_progress", "in_progress": "finalizing", "finalizing": "completed"}
        if batch["status"] == "validating" and "[batchfail]" in text:
            batch["status"] = "failed"
            batch["errors"] = {"object": "list", "data": [{"code": "invalid_request", "message": "line 1: bad model"}]}
            return
        if batch["status"] not in step:
            return
        batch["status"] = step[batch["status"]]
        if batch["status"] != "completed":
            return
        if "[batchexpire]" in text:
            batch["status"] = "expired"
            answered, expired = lines[: len(lines) // 2], lines[len(lines) // 2:]
        else:
            answered, expired = lines, []
        out, err = [], []
        for line in answered:
            self.batch_answers[line["custom_id"]] += 1
            result = self._completion(line["body"])
            status, body = (result[0], json.loads(result[2])) if isinstance(result, tuple) else (500, {"error": {"message": "dropped"}})
            entry = {"id": f"batch_req_{len(out) + len(err)}", "custom_id": line["custom_id"],
                     "response": {"status_code": status, "request_id": "req", "body": body}, "error": None}
            (out if status == 200 else err).append(entry)
        for line in expired:
            err.append({"id": "batch_req_x", "custom_id": line["custom_id"], "response": None,
                        "error": {"code": "batch_expired", "message": "This request could not be executed before the completion window expired."}})
        for name, rows in (("output_file_id", out), ("error_file_id", err)):
            if rows:
                file_id = f"file-{len(self.files)}"
                self.files[file_id] = "".join(json.dumps(r) + "\n" for r in rows).encode()
                batch[name] = file_id
        batch["request_counts"] = {"total": len(lines), "completed": len(out), "failed": len(err)}

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
                elif path.startswith(("/v1/files", "/v1/batches")):
                    result = self._batch_api(method, path, headers, raw)
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
                reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests",
                          500: "Internal Server Error"}[status]
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


def _json(status: int, payload: dict) -> tuple[int, dict[str, str], bytes]:
    return status, {}, json.dumps(payload).encode()


def _multipart_file(content_type: str, raw: bytes) -> bytes:
    """The `file` field of a multipart/form-data upload (what the openai client sends to /v1/files)."""
    boundary = content_type.partition("boundary=")[2].strip('"').encode()
    for part in raw.split(b"--" + boundary):
        head, _, body = part.partition(b"\r\n\r\n")
        if b'name="file"' in head:
            return body[: -2] if body.endswith(b"\r\n") else body
    return b""


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
