"""The commands a Markdown document tells its reader to run, so that a test can run them in order.

The convention (README.md, docs/deploy.md, notebooks/README.md follow it):

- Only fenced blocks opened with ```bash (or ```sh, ```shell) hold commands; other fences (diagrams,
  output) are never run. Commands in running prose are not run either.
- A command is one line, plus the lines it continues onto with a trailing `\\` or a here-document
  (`<<'EOF'` ... `EOF`). Blank lines and comment lines are not commands.
- Markers go in a trailing comment, each as its own `# name: value` segment, beside ordinary prose
  comments (`stockmind keys create ...   # prints the API key once  # expect: smk_`):
    `# needs: aws` / `# needs: gpu`   not run here (no AWS account, no GPU); reported as skipped
    `# skip: <why>`                   not run by the test (set-up, the test suite itself); reason shown
    `# expect: <regex>`               its output (stdout and stderr) must match (re.MULTILINE)
    `# background`                    left running (a server); stopped when the document's run ends
- A comment line holding markers only (`# needs: aws`) applies them to every command below it in its block.
- Every other command runs, in document order, in one bash shell (so `source` and variables carry
  over) started in a fresh copy of the checkout, and must exit 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SHELL_FENCES = {"bash", "sh", "shell"}
MARKERS = ("needs", "skip", "expect", "background")
_FENCE = re.compile(r"^\s*```\s*(\S*)")
_HEREDOC = re.compile(r"(?<!<)<<(?!<)-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")
_SEGMENT = re.compile(r"(?:^|\s)#\s+")


@dataclass(frozen=True)
class Command:
    line: int  # 1-based line of the document where the command starts
    text: str  # what bash runs: continuations and here-documents included
    markers: dict[str, str] = field(default_factory=dict)

    @property
    def skip_reason(self) -> str | None:
        if "needs" in self.markers:
            return f"needs {self.markers['needs']}"
        return self.markers.get("skip")

    @property
    def expect(self) -> str | None:
        return self.markers.get("expect")

    @property
    def background(self) -> bool:
        return "background" in self.markers


def documented_commands(markdown: str) -> list[Command]:
    """Every command in the document's shell blocks, in order, with its markers."""
    commands = []
    for first_line, lines in _shell_blocks(markdown.splitlines()):
        commands.extend(_commands_in_block(first_line, lines))
    return commands


def _shell_blocks(lines: list[str]):
    """(line number of a block's first line, its lines) for each shell fence."""
    block, start, language = None, 0, ""
    for number, line in enumerate(lines, 1):
        fence = _FENCE.match(line)
        if block is None and fence:
            block, start, language = [], number + 1, fence.group(1).lower()
        elif block is not None and fence and not fence.group(1):
            if language in SHELL_FENCES:
                yield start, block
            block = None
        elif block is not None:
            block.append(line)
    if block is not None:
        raise ValueError(f"the code block opened on line {start - 1} is never closed")


def _commands_in_block(first_line: int, lines: list[str]) -> list[Command]:
    commands, block_markers, index = [], {}, 0
    while index < len(lines):
        line = lines[index]
        if not line.strip():
            index += 1
            continue
        if line.lstrip().startswith("#"):
            block_markers.update(_markers(line.lstrip()) if _markers_only(line.lstrip()) else {})
            index += 1
            continue
        start, markers = index, dict(block_markers)
        code, comment = split_comment(line)
        markers.update(_markers(comment))
        heredoc = _HEREDOC.search(code)
        while code.rstrip().endswith("\\") and index + 1 < len(lines):
            index += 1
            code, comment = split_comment(lines[index])
            markers.update(_markers(comment))
            heredoc = heredoc or _HEREDOC.search(code)
        if heredoc:
            terminator = heredoc.group(2)
            while index + 1 < len(lines) and lines[index].strip() != terminator:
                index += 1
            if lines[index].strip() != terminator:
                raise ValueError(f"line {first_line + start}: here-document {terminator} is never closed")
        commands.append(Command(first_line + start, "\n".join(lines[start:index + 1]), markers))
        index += 1
    return commands


def split_comment(line: str) -> tuple[str, str]:
    """(code, trailing comment) of a shell line: the first `#` outside quotes that starts a word."""
    quote = None
    for position, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (position == 0 or line[position - 1].isspace()):
            return line[:position], line[position:]
    return line, ""


def _segments(comment: str) -> list[str]:
    return [segment.strip() for segment in _SEGMENT.split(comment) if segment.strip()]


def _markers(comment: str) -> dict[str, str]:
    markers = {}
    for segment in _segments(comment):
        name, colon, value = segment.partition(":")
        if name.strip() in MARKERS and (colon or name.strip() == "background"):
            markers[name.strip()] = value.strip()
    return markers


def _markers_only(comment: str) -> bool:
    segments = _segments(comment)
    return bool(segments) and len(_markers(comment)) == len(segments)
