"""The READMEs' examples, run as written against `callgate serve --demo`, so the docs cannot
drift from what the gateway answers.

Every block fenced ```sh in README.md and in the dialects' READMEs is an example meant to run
against the demo (blocks that set up, test, benchmark or talk to another platform are fenced
```shell and only shown). A file's `sh` blocks run in order in one bash, with the demo's
address in place of `http://127.0.0.1:8000`. Each command (a line, with its `\\`
continuations) must exit 0; every HTTP answer it gets must be below 400 (only the last one, for
a command that polls with `until`) unless its expected output names the status; an expected
output must match the shape of the last answer. An expected output is a comment, at the end of
the command's last line or alone on the next line, of the form `# [STATUS] {...}` (also
`[...]`, `"..."`, `<tag>...`): JSON where `...` (or `..`) stands for any value, or, as the last
member, for more members; `<word>` inside a string stands for any text. An XML expectation
names the root element and elements the answer must hold.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
READMES = ["README.md", "dialects/kazoo/README.md", "dialects/webitel/README.md",
           "dialects/mor/README.md", "dialects/callflow/README.md"]
DOC_BASE = "http://127.0.0.1:8000"
FENCE = re.compile(r"^```sh\n(.*?)^```", re.M | re.S)
#: `# [STATUS] SHAPE`, the shape possibly after some words and a colon ("rings phone 203: {...}")
EXPECT = re.compile(r"(?:^|:\s+)(?:(\d{3})\s+)?([\[{<\"].*)$")
STATUS_MARK = "@@HTTP "
POLL = re.compile(r"\buntil\b")  # a command that polls: only its last answer must succeed

pytestmark = pytest.mark.skipif(not (shutil.which("bash") and shutil.which("curl")),
                                reason="the examples need bash and curl")


# ------------------------------------------------------------------ reading the blocks

@dataclass
class Command:
    text: str
    line: int  # where it starts in the file, for the failure message
    status: int | None = None
    expect: str | None = None


def _trailing_comment(line: str) -> str | None:
    """The text of a ` # ...` comment ending `line`, outside quotes; None without one."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[i + 1:].strip()
    return None


def _expectation(cmd: Command, comment: str) -> None:
    m = EXPECT.search(comment)
    if m:
        cmd.status = int(m.group(1)) if m.group(1) else None
        cmd.expect = m.group(2)


def commands(markdown: str) -> list[Command]:
    """The `sh` blocks' commands in order, each with the output its comment promises."""
    out: list[Command] = []
    for block in FENCE.finditer(markdown):
        first_line = markdown.count("\n", 0, block.start(1)) + 1
        pending: list[str] = []
        start = 0
        last: Command | None = None
        for offset, line in enumerate(block.group(1).splitlines()):
            if not pending:
                stripped = line.strip()
                if not stripped:
                    last = None
                    continue
                if stripped.startswith("#"):
                    if last is not None and last.expect is None:
                        _expectation(last, stripped[1:].strip())
                    continue
                start = first_line + offset
            pending.append(line)
            if line.rstrip().endswith("\\"):
                continue
            last = Command("\n".join(pending), start)
            comment = _trailing_comment(line)
            if comment is not None:
                _expectation(last, comment)
            out.append(last)
            pending = []
    return out


# ------------------------------------------------------------------ matching the answers

class _Any:
    def __repr__(self) -> str:
        return "..."


ANY = _Any()


@dataclass
class Obj:
    members: dict[str, Any] = field(default_factory=dict)
    open: bool = False


@dataclass
class Arr:
    items: list[Any] = field(default_factory=list)
    open: bool = False


class Pattern:
    """JSON with `...`/`..` for "anything" and, last in an object or array, "and more"."""

    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def parse(self) -> Any:
        value = self._value()
        self._ws()
        return value

    def _ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\n":
            self.pos += 1

    def _ellipsis(self) -> bool:
        self._ws()
        for token in ("...", ".."):
            if self.text.startswith(token, self.pos):
                self.pos += len(token)
                return True
        return False

    def _value(self) -> Any:
        if self._ellipsis():
            return ANY
        ch = self.text[self.pos]
        if ch == "{":
            return self._object()
        if ch == "[":
            return self._array()
        decoder = json.JSONDecoder()
        value, end = decoder.raw_decode(self.text, self.pos)
        self.pos = end
        return value

    def _object(self) -> Obj:
        obj = Obj()
        self.pos += 1
        while True:
            self._ws()
            if self.text[self.pos] == "}":
                self.pos += 1
                return obj
            if self._ellipsis():
                obj.open = True
            else:
                key = self._value()
                self._ws()
                assert self.text[self.pos] == ":", self.text
                self.pos += 1
                obj.members[key] = self._value()
            self._ws()
            if self.text[self.pos] == ",":
                self.pos += 1

    def _array(self) -> Arr:
        arr = Arr()
        self.pos += 1
        while True:
            self._ws()
            if self.text[self.pos] == "]":
                self.pos += 1
                return arr
            if self._ellipsis():
                self._ws()
                if self.text[self.pos] in ",]":
                    arr.open = True
                else:
                    arr.items.append(ANY)
            else:
                arr.items.append(self._value())
            self._ws()
            if self.text[self.pos] == ",":
                self.pos += 1


def _string_re(expected: str) -> re.Pattern[str]:
    parts = re.split(r"<[a-z_ ]+>", expected)
    return re.compile(".+?".join(re.escape(p) for p in parts) + r"\Z", re.S)


def mismatch(expected: Any, actual: Any, where: str = "$") -> str | None:
    """Why `actual` does not have the shape `expected` describes; None when it does."""
    if expected is ANY:
        return None
    if isinstance(expected, Obj):
        if not isinstance(actual, dict):
            return f"{where}: expected an object, got {actual!r:.80}"
        for key, value in expected.members.items():
            if key not in actual:
                return f"{where}: no key {key!r} in {sorted(actual)}"
            why = mismatch(value, actual[key], f"{where}.{key}")
            if why:
                return why
        extra = set(actual) - set(expected.members)
        if extra and not expected.open:
            return f"{where}: unexpected keys {sorted(extra)}"
        return None
    if isinstance(expected, Arr):
        if not isinstance(actual, list):
            return f"{where}: expected an array, got {actual!r:.80}"
        if len(actual) < len(expected.items) or (
                len(actual) > len(expected.items) and not expected.open):
            return f"{where}: {len(actual)} items, expected {len(expected.items)}"
        for i, value in enumerate(expected.items):
            why = mismatch(value, actual[i], f"{where}[{i}]")
            if why:
                return why
        return None
    if isinstance(expected, str):
        if isinstance(actual, str) and _string_re(expected).match(actual):
            return None
        return f"{where}: {actual!r:.80} is not {expected!r}"
    if expected != actual:
        return f"{where}: {actual!r:.80} != {expected!r}"
    return None


def shape_mismatch(expected: str, body: str) -> str | None:
    if expected.startswith("<"):
        tags = re.findall(r"<([A-Za-z_][\w-]*)>", expected)
        try:
            doc = etree.fromstring(body.encode())
        except etree.XMLSyntaxError as exc:
            return f"not XML ({exc}): {body[:200]!r}"
        if doc.tag != tags[0]:
            return f"root <{doc.tag}>, expected <{tags[0]}>"
        missing = [t for t in tags[1:] if doc.find(f".//{t}") is None]
        return f"no <{'>, <'.join(missing)}> in {body[:300]!r}" if missing else None
    try:
        actual = json.loads(body)
    except ValueError:
        return f"not JSON: {body[:200]!r}"
    return mismatch(Pattern(expected).parse(), actual)


# ------------------------------------------------------------------ the demo and the run

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def demo() -> Iterator[str]:
    """`callgate serve --demo` in a process of its own, as a reader starts it."""
    base = f"http://127.0.0.1:{_free_port()}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--demo", "--listen", base[7:]],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log = proc.stdout.read() if proc.stdout else ""
                pytest.fail(f"the demo did not come up:\n{log}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def script(cmds: list[Command], base: str, out: Path) -> str:
    """One bash script: every command in the current shell (variables carry over), its output
    and status kept apart; curl writes each answer's HTTP status to stderr."""
    lines = [
        "set -o pipefail",
        f"curl() {{ command curl -w '%{{stderr}}{STATUS_MARK}%{{http_code}}\\n' \"$@\"; }}",
    ]
    for i, cmd in enumerate(cmds):
        text = cmd.text.replace(DOC_BASE, base)
        lines.append(f"{{ {text}\n}} >'{out}/{i}.out' 2>'{out}/{i}.err' </dev/null; "
                     f"echo $? >'{out}/{i}.rc'")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("readme", READMES)
def test_examples_run_as_written(demo: str, readme: str, tmp_path: Path) -> None:
    cmds = commands((ROOT / readme).read_text())
    if not cmds:
        pytest.skip(f"{readme} has no sh examples")
    (tmp_path / "run.sh").write_text(script(cmds, demo, tmp_path))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(["bash", str(tmp_path / "run.sh")], cwd=tmp_path, env=env, timeout=120,
                   check=False)
    failures = [why for i, cmd in enumerate(cmds) if (why := check(cmd, i, readme, tmp_path))]
    assert not failures, "\n\n".join(failures)


def check(cmd: Command, i: int, readme: str, out: Path) -> str | None:
    """What is wrong with the `i`th command's run; None when nothing is."""
    where = f"{readme}:{cmd.line}: {cmd.text.splitlines()[0][:100]}"
    rc_file = out / f"{i}.rc"
    if not rc_file.exists():
        return f"{where}: did not run"
    err = (out / f"{i}.err").read_text()
    body = (out / f"{i}.out").read_text()
    rc = int(rc_file.read_text())
    if rc != 0:
        return f"{where}: exit {rc}\n{body[:500]}\n{err[-1500:]}"
    statuses = [int(s) for s in re.findall(rf"{STATUS_MARK}(\d+)", err)]
    if cmd.status is not None:
        if not statuses or statuses[-1] != cmd.status:
            return f"{where}: HTTP {statuses}, expected {cmd.status}\n{body[:500]}"
    elif any(s >= 400 or s == 0 for s in (statuses[-1:] if POLL.search(cmd.text) else statuses)):
        return f"{where}: HTTP {statuses}\n{body[:500]}"
    if cmd.expect is not None:
        why = shape_mismatch(cmd.expect, body.strip())
        if why is not None:
            return f"{where}: {why}\nexpected {cmd.expect}\ngot {body[:800]}"
    return None


def test_the_parser_reads_commands_and_expectations() -> None:
    text = ("```sh\nA=1   # a note\ncurl -s $B/x \\\n"
            "  -d '{\"a\": \"#x\"}'   # 201 {\"data\": ..., ...}\n"
            "curl -s $B/healthz\n# {\"backends\": [...]}\n```\n```shell\nnot run\n```\n")
    cmds = commands(text)
    assert [c.text.split()[0] for c in cmds] == ["A=1", "curl", "curl"]
    assert (cmds[1].status, cmds[1].expect) == (201, '{"data": ..., ...}')
    assert cmds[0].expect is None and cmds[2].expect == '{"backends": [...]}'
    cmds = commands('```sh\nx   # rings a phone: 403 {"a": 1}\ny   # see: the list\n```\n')
    assert (cmds[0].status, cmds[0].expect) == (403, '{"a": 1}') and cmds[1].expect is None


@pytest.mark.parametrize("expected, actual, ok", [
    ('{"data": "transfer initiated", ...}', {"data": "transfer initiated", "status": "x"}, True),
    ('{"data": "transfer initiated"}', {"data": "transfer initiated", "status": "x"}, False),
    ('{"status":"OK","info":"+OK <uuid>\\n"}', {"status": "OK", "info": "+OK 1-2\n"}, True),
    ('{"status":"OK","info":"+OK <uuid>\\n"}', {"status": "OK", "info": "-ERR x\n"}, False),
    ('{"rows": [...], "n": ..}', {"rows": [], "n": 3}, True),
    ('{"rows": [{"a": 1, ...}, ...]}', {"rows": [{"a": 1, "b": 2}, {"c": 3}]}, True),
    ('{"rows": [{"a": 1, ...}, ...]}', {"rows": []}, False),
])
def test_the_shape_matcher(expected: str, actual: Any, ok: bool) -> None:
    assert (shape_mismatch(expected, json.dumps(actual)) is None) is ok
