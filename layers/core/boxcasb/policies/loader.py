"""Policy YAML to checked models, with errors that name the file, the line and the field.

YAML is parsed to a node tree first (it keeps each value's line), then built into plain data and
validated by pydantic; an error's location (a path of keys and indexes) is walked back through
the node tree to its line. Anchors and aliases are refused: a few lines of aliases can expand to
billions of values (the YAML form of the billion laughs), and policies have no need for them.
Duplicate keys are refused too; YAML loaders usually keep the last one silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from boxcasb.errors import InvalidRequest
from boxcasb.policies.model import ActivityPolicy, FilePolicy, PolicyId

MAX_DOCUMENT_BYTES = 1024 * 1024
MAX_NODES = 200_000

Policy = Annotated[FilePolicy | ActivityPolicy, Field(discriminator="kind")]


class PolicyDocument(BaseModel):
    """One YAML file: its policies, and (in a connection's overrides) deployed ids to switch off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policies: list[Policy] = []
    disable: list[PolicyId] = []


@dataclass(frozen=True)
class PolicyProblem:
    source: str
    line: int | None  # 1-based; None when the problem is the whole document
    field: str  # "policies[2].filters.size.min_bytes", "" for the document
    message: str

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class InvalidPolicies(InvalidRequest):
    def __init__(self, problems: Sequence[PolicyProblem]) -> None:
        self.problems = tuple(problems)
        self.details = [asdict(p) for p in self.problems]  # every problem, in the API's 400 answer
        shown = "; ".join(str(p) for p in self.problems[:10])
        more = f" (and {len(self.problems) - 10} more)" if len(self.problems) > 10 else ""
        super().__init__(f"invalid policies: {shown}{more}")


@dataclass(frozen=True)
class LoadedDocument:
    source: str
    document: PolicyDocument
    lines: dict[str, int]  # policy id -> the line its entry starts on


def load_text(text: str, source: str) -> LoadedDocument:
    if len(text.encode("utf-8", "replace")) > MAX_DOCUMENT_BYTES:
        raise InvalidPolicies([PolicyProblem(source, None, "", f"larger than {MAX_DOCUMENT_BYTES} bytes")])
    root = _compose(text, source)
    _check_tree(root, source)
    data = _construct(root)
    if data is None:
        data = {}
    try:
        document = PolicyDocument.model_validate(data)
    except ValidationError as exc:
        raise InvalidPolicies(_problems(exc, root, source)) from None
    return LoadedDocument(source, document, _policy_lines(root, document))


def load_file(path: Path) -> LoadedDocument:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidPolicies([PolicyProblem(str(path), None, "", exc.strerror or str(exc))]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidPolicies([PolicyProblem(str(path), None, "", "not UTF-8 text")]) from None
    return load_text(text, str(path))


def policy_files(directory: Path) -> list[Path]:
    """The YAML files of a policies folder, in name order (the order never changes the result,
    but errors come out the same way every time)."""
    return sorted(p for p in directory.iterdir() if p.suffix in {".yaml", ".yml"} and p.is_file())


def load_directory(directory: Path) -> list[LoadedDocument]:
    documents: list[LoadedDocument] = []
    problems: list[PolicyProblem] = []
    for path in policy_files(directory):
        try:
            documents.append(load_file(path))
        except InvalidPolicies as exc:
            problems.extend(exc.problems)
    if problems:
        raise InvalidPolicies(problems)
    return documents


# --- YAML nodes ---------------------------------------------------------------------------


def _compose(text: str, source: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "not valid YAML"
        raise InvalidPolicies([PolicyProblem(source, line, "", f"not valid YAML: {problem}")]) from None
    except yaml.YAMLError as exc:
        raise InvalidPolicies([PolicyProblem(source, None, "", f"not valid YAML: {exc}")]) from None


def _check_tree(root: yaml.Node | None, source: str) -> None:
    """Aliases (a node reached twice), duplicate keys, non-string keys, and sheer size."""
    seen: set[int] = set()
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            raise InvalidPolicies([_at(source, node, "anchors and aliases are not allowed in policies")])
        seen.add(id(node))
        if len(seen) > MAX_NODES:
            raise InvalidPolicies([PolicyProblem(source, None, "", f"more than {MAX_NODES} values")])
        if isinstance(node, yaml.MappingNode):
            keys: set[str] = set()
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode) or key.tag != "tag:yaml.org,2002:str":
                    raise InvalidPolicies([_at(source, key, "keys must be plain strings")])
                if key.value in keys:
                    raise InvalidPolicies([_at(source, key, f"duplicate key {key.value!r}")])
                keys.add(key.value)
                stack.extend((key, value))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def _construct(root: yaml.Node | None) -> Any:
    if root is None:
        return None
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(root)
    finally:
        loader.dispose()


def _at(source: str, node: yaml.Node, message: str) -> PolicyProblem:
    return PolicyProblem(source, node.start_mark.line + 1, "", message)


def _child(node: yaml.Node, part: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == str(part):
                return value  # type: ignore[no-any-return]
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return node.value[part]  # type: ignore[no-any-return]
    return None


def _locate(root: yaml.Node | None, loc: Iterable[str | int]) -> tuple[int | None, str]:
    """The deepest node of `loc` the document has (a missing field is reported on its parent), and
    the field path written the way a reader looks for it. Pydantic adds the tag of a union's
    member ("file") to the path: it is no key of the document, so it is skipped."""
    node, line, path = root, None, ""
    for part in loc:
        child = _child(node, part) if node is not None else None
        if child is None and isinstance(part, str) and part in {"file", "activity"}:
            continue
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        if node is not None:
            line = node.start_mark.line + 1
        node = child
    if node is not None:
        line = node.start_mark.line + 1
    return line, path


def _problems(exc: ValidationError, root: yaml.Node | None, source: str) -> list[PolicyProblem]:
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        line, field = _locate(root, error["loc"])
        problems.append(PolicyProblem(source, line, field, error["msg"]))
    return problems


def _policy_lines(root: yaml.Node | None, document: PolicyDocument) -> dict[str, int]:
    lines = {}
    for index, policy in enumerate(document.policies):
        line, _ = _locate(root, ("policies", index))
        if line is not None:
            lines[policy.id] = line
    return lines
