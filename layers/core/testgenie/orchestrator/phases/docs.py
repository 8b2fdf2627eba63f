"""docs: Markdown health — relative links resolve, code fences are closed, mermaid blocks are not empty."""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from testgenie.orchestrator.models import Classification
from testgenie.orchestrator.phases.base import PhaseContext, PhaseReport
from testgenie.orchestrator.phases.commands import run_commands_and_tests
from testgenie.orchestrator.planning.testing_config import DocsConfig

# Folders that hold other people's Markdown (dependencies, caches), never the scenario's docs.
IGNORED_DIRS = {"node_modules", "venv", "__pycache__", "vendor", "dist", "build", "coverage"}
MAX_PROBLEMS_SHOWN = 20

_FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)")
_LINK_RE = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'(][^)]*)?\)")
_REFERENCE_RE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
_INLINE_CODE_RE = re.compile(r"`+[^`]*`+")
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


@dataclass
class DocProblem:
    file: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.text}"


def markdown_files(root: Path, patterns: list[str], exclude: list[str]) -> list[Path]:
    found: set[Path] = set()
    for pattern in patterns:
        for path in root.glob(pattern):
            relative = path.relative_to(root)
            if not path.is_file() or any(
                part.startswith(".") or part in IGNORED_DIRS for part in relative.parts[:-1]
            ):
                continue
            if any(
                relative.match(ex) or relative.as_posix().startswith(ex.rstrip("/") + "/") for ex in exclude
            ):
                continue
            found.add(path)
    return sorted(found)


def _link_problem(target: str, source: Path, root: Path) -> str | None:
    if _SCHEME_RE.match(target) or target.startswith(("#", "//")):
        return None  # external links and in-page anchors are not checked offline
    path_part = urllib.parse.unquote(target.split("#", 1)[0].split("?", 1)[0])
    if not path_part:
        return None
    resolved = (root / path_part.lstrip("/")) if path_part.startswith("/") else (source.parent / path_part)
    try:
        resolved.resolve().relative_to(root.resolve())
    except ValueError:
        return f"link '{target}' points outside the scenario"
    if not resolved.exists():
        return f"broken link '{target}'"
    return None


def check_markdown(path: Path, root: Path) -> list[DocProblem]:
    relative = path.relative_to(root).as_posix()
    problems: list[DocProblem] = []
    fence: tuple[str, int, str, int] | None = None  # (char, length, info, opening line)
    mermaid_has_content = False
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        match = _FENCE_RE.match(line)
        if fence is not None:
            char, length, info, opened = fence
            closing = match and match.group(1)[0] == char and len(match.group(1)) >= length
            if closing and not line.strip().strip(char):
                if info == "mermaid" and not mermaid_has_content:
                    problems.append(DocProblem(relative, opened, "mermaid block is empty"))
                fence = None
            elif line.strip():
                mermaid_has_content = True
            continue
        if match:
            fence = (match.group(1)[0], len(match.group(1)), match.group(2).lower(), number)
            mermaid_has_content = False
            continue
        text = _INLINE_CODE_RE.sub("", line)
        targets = [m.group(1) for m in _LINK_RE.finditer(text)]
        if reference := _REFERENCE_RE.match(text):
            targets.append(reference.group(1))
        for target in targets:
            if problem := _link_problem(target, path, root):
                problems.append(DocProblem(relative, number, problem))
    if fence is not None:
        problems.append(DocProblem(relative, fence[3], f"code fence {fence[0] * fence[1]} is never closed"))
    return problems


def run(ctx: PhaseContext, report: PhaseReport) -> None:
    report.skip_reason = "no Markdown files found"
    config = ctx.config if isinstance(ctx.config, DocsConfig) else DocsConfig()
    files = markdown_files(ctx.scenario_dir, config.paths, config.exclude)
    problems: list[DocProblem] = []
    for path in files:
        ctx.check_deadline()
        problems.extend(check_markdown(path, ctx.scenario_dir))
    ctx.log.line(f"[docs] {len(files)} Markdown files checked, {len(problems)} problems")
    for problem in problems:
        ctx.log.line(f"[docs] {problem}")
    if files:
        if problems:
            for problem in problems[:MAX_PROBLEMS_SHOWN]:
                report.fail(
                    str(problem),
                    Classification.TEST_FAILURE,
                    "Fix the link or the code block at the reported line.",
                )
            if len(problems) > MAX_PROBLEMS_SHOWN:
                report.warn(f"{len(problems) - MAX_PROBLEMS_SHOWN} more problems are in the log")
        else:
            report.ok(f"{len(files)} Markdown files: links, code fences and mermaid blocks are fine")
    run_commands_and_tests(ctx, report)
