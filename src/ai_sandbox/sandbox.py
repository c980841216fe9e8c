"""``Sandbox``: the single front door (validate -> run -> report).

Every tool call goes through :meth:`Sandbox.call`, which validates the arguments against the
tool's pydantic input model, runs the tool, and turns the model's mistakes into a
:class:`ToolResult` it can read. The direct methods (``run``, ``read_file``, ``write_file``,
``list_dir``) are the same operations for host code.

With ``audit=AuditLog(...)`` every call, direct operation and session run writes a
``requested`` record before it acts and an outcome record after; if a record cannot be written
the action does not run and ``AuditError`` is raised (also from ``call``: it is the host's
problem, not the model's).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import json
import math
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from pydantic import BaseModel, ValidationError

from ai_sandbox._arguments import MIN_TEXT_CAP, parse_arguments, shorten
from ai_sandbox._file_view import FileView, big_file_view, describe_entries, view_file
from ai_sandbox._media import SNIFF_BYTES, looks_binary, media_type
from ai_sandbox.audit.action import (
    COMPLETED,
    Action,
    Via,
    verdict_for_exception,
    verdict_for_execution,
    verdict_for_tool_result,
)
from ai_sandbox.audit.writer import AuditLog
from ai_sandbox.backend_protocol import ExecutionBackend
from ai_sandbox.batch.mapping import Program, check_jobs, iter_results
from ai_sandbox.exceptions import (
    MISTAKE_RULES,
    ConfigurationError,
    ExecutionError,
    InvalidInputs,
    ResourceLimitExceeded,
    SandboxError,
    SecurityError,
    ToolInputError,
)
from ai_sandbox.pathlayer.names import to_text, type_label
from ai_sandbox.policy import SandboxPolicy
from ai_sandbox.results import DirEntry, ErrorInfo, ExecutionResult, ToolResult
from ai_sandbox.security import MAX_DIR_ENTRIES, SafeFS
from ai_sandbox.session import Session
from ai_sandbox.tools import (
    TOOL_SPECS,
    ListDirectory,
    ReadFile,
    RunPython,
    ToolSpec,
    WriteFile,
    specs_for,
)

__all__ = ["Sandbox"]

#: How audit records describe file operations: they run in the host, guarded by the path layer.
_FILE_ISOLATION = "host"
_FILE_LAYERS: tuple[str, ...] = ("path_layer",)
#: Longest tool name echoed back or recorded (real ones are short).
_MAX_TOOL_NAME = 64
#: How much of a file over ``max_file_bytes`` is read to tell whether it is binary.
_HEAD_BYTES = 4096
#: How many validation problems one error message lists.
_MAX_PROBLEMS = 5
#: How many of a call's arguments its audit record lists.
_MAX_SHOWN_ARGUMENTS = 16


class Sandbox:
    """Run AI code and file operations confined to ``root`` under ``policy``.

    ``Sandbox()`` uses the current directory and the default (strict) policy. It is thread-safe;
    close it (or use it as a context manager) to stop its worker processes.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        policy: SandboxPolicy | None = None,
        *,
        audit: AuditLog | None = None,
    ) -> None:
        raw_root = Path.cwd() if root is None else Path(root)
        try:
            resolved = raw_root.resolve(strict=True)
        except (OSError, RuntimeError) as exc:
            raise ConfigurationError(f"sandbox root {str(raw_root)!r} does not exist") from exc
        if not resolved.is_dir():
            raise ConfigurationError(f"sandbox root {str(resolved)!r} is not a directory")
        if policy is not None and not isinstance(policy, SandboxPolicy):
            raise ConfigurationError("policy must be a SandboxPolicy")
        if audit is not None and not isinstance(audit, AuditLog):
            raise ConfigurationError("audit must be an ai_sandbox.audit.AuditLog")
        self.root: Path = resolved
        self.policy: SandboxPolicy = policy or SandboxPolicy()
        self.fs = SafeFS(self.root, self.policy)
        self._audit: AuditLog | None = audit
        self._lock = threading.Lock()
        self._backend: ExecutionBackend | None = None
        self._closed = False
        self._sessions: weakref.WeakSet[Session] = weakref.WeakSet()
        # Build the backend now so a missing isolation layer fails at construction (fail closed).
        self._get_backend()

    # -- lifecycle -------------------------------------------------------------------------
    def _get_backend(self) -> ExecutionBackend:
        with self._lock:
            if self._closed:
                raise ConfigurationError("this Sandbox is closed")
            if self._backend is None:
                from ai_sandbox.isolation import create_backend

                self._backend = create_backend(self.root, self.policy)
            return self._backend

    @property
    def layers(self) -> tuple[str, ...]:
        """The isolation layers every run of this sandbox has active."""
        return self._get_backend().layers

    @property
    def audit(self) -> AuditLog | None:
        """The audit log every action is recorded in (``None``: not audited)."""
        return self._audit

    def audit_caller(self, caller_id: str) -> contextlib.AbstractContextManager[None]:
        """Tag the audit records of actions inside this ``with`` block with ``caller_id``
        (e.g. the agent's run id). Per thread and task; a no-op without an audit log."""
        if self._audit is None:
            return contextlib.nullcontext()
        return self._audit.caller(caller_id)

    def close(self) -> None:
        """End every session and stop worker processes (the audit log stays open: the host
        owns it). Idempotent."""
        with self._lock:
            backend, self._backend, self._closed = self._backend, None, True
            sessions = list(self._sessions)
        for session in sessions:
            session.close()
        if backend is not None:
            backend.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- direct operations -----------------------------------------------------------------
    def run(
        self,
        code: str,
        inputs: Mapping[str, Any] | None = None,
        *,
        timeout_s: float | None = None,
        on_output: Callable[[str], None] | None = None,
    ) -> ExecutionResult:
        """Run ``code``; the outcome is in ``status``. Never raises for the AI's mistakes.

        ``on_output`` gets what the code prints in chunks while it runs (in-process: once, at
        the end), within ``max_output_bytes``; ``stdout`` still holds all of it. An exception
        from it stops further calls and does not stop the run.

        ``timeout_s`` shortens the policy's wall-clock limit for this run; a value above it (or
        not a positive number) is the developer's mistake: ``ConfigurationError``. So are
        ``inputs`` that are not JSON data with identifier names: ``InvalidInputs`` (a
        ``ConfigurationError`` and a ``TypeError``), raised, not returned as the AI's run."""
        self._check_timeout(timeout_s)
        _check_host_inputs(inputs)
        with self._action("run_python", {"code": code, "inputs": inputs}) as act:
            res = _execute(self._get_backend(), code, inputs, timeout_s, on_output)
            _finish_run(act, res)
            return res

    def map(
        self,
        programs: Iterable[Program],
        *,
        inputs: Mapping[str, Any] | None = None,
        timeout_s: float | None = None,
        ordered: bool = True,
        jobs: int | None = None,
    ) -> Iterator[ExecutionResult]:
        """Run many programs, each in its own fresh worker exactly as :meth:`run` would.

        ``programs`` holds source texts (run with ``inputs``) or ``(code, inputs)`` pairs and may
        be an endless generator: at most ``2 * jobs`` programs are in flight or waiting to be
        handed back, so memory stays bounded. ``jobs`` defaults to the CPUs this process may
        use; ``timeout_s`` shortens the policy's limit for every program. Results come in input
        order (``ordered=False``: as they finish; use :meth:`map_indexed` to know which is
        which). A bad *item* (not text or a pair) raises ``TypeError``; a bad *program* is a
        result like any other.
        """
        pairs = self.map_indexed(
            programs, inputs=inputs, timeout_s=timeout_s, ordered=ordered, jobs=jobs
        )
        return (result for _, result in pairs)

    def map_indexed(
        self,
        programs: Iterable[Program],
        *,
        inputs: Mapping[str, Any] | None = None,
        timeout_s: float | None = None,
        ordered: bool = True,
        jobs: int | None = None,
    ) -> Iterator[tuple[int, ExecutionResult]]:
        """Like :meth:`map`, yielding ``(index, result)`` with the program's position."""
        self._get_backend()  # a closed sandbox, a bad limit or job count fail now, not later
        self._check_timeout(timeout_s)
        check_jobs(jobs)

        def run_one(code: str, program_inputs: Mapping[str, Any] | None) -> ExecutionResult:
            return self.run(code, program_inputs, timeout_s=timeout_s)

        return iter_results(run_one, programs, inputs=inputs, jobs=jobs, ordered=ordered)

    async def arun(
        self,
        code: str,
        inputs: Mapping[str, Any] | None = None,
        *,
        timeout_s: float | None = None,
        on_output: Callable[[str], None] | None = None,
    ) -> ExecutionResult:
        """:meth:`run` for asyncio. With an isolated backend no thread waits for the worker:
        the event loop watches its channel. (``isolation="none"`` runs the code in a thread,
        since it runs in this process.) ``on_output`` is called on the event loop's thread."""
        self._check_timeout(timeout_s)
        _check_host_inputs(inputs)
        with self._action("run_python", {"code": code, "inputs": inputs}) as act:
            res = await _aexecute(self._get_backend(), code, inputs, timeout_s, on_output)
            _finish_run(act, res)
            return res

    def session(self) -> Session:
        """A conversation whose Python state (variables, imports, functions, classes) persists
        between runs and ``run_python`` calls; see :class:`~ai_sandbox.session.Session`."""
        self._get_backend()  # a closed Sandbox says so now
        now = time.monotonic()
        session = Session(self)
        with self._lock:
            others = list(self._sessions)
            self._sessions.add(session)
        for other in others:  # end the state of sessions idle past the policy's limits
            other._sweep(now)
        return session

    def _check_timeout(self, timeout_s: float | None) -> None:
        """A per-call limit must be a positive number no higher than the policy's."""
        if timeout_s is None:
            return
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float):
            raise ConfigurationError(f"timeout_s must be a number of seconds, not {timeout_s!r}")
        if not math.isfinite(timeout_s) or timeout_s <= 0:
            raise ConfigurationError(f"timeout_s must be a positive number, not {timeout_s!r}")
        if timeout_s > self.policy.timeout_s:
            raise ConfigurationError(
                f"timeout_s={timeout_s:g} is above the policy's limit of "
                f"{self.policy.timeout_s:g} s; a call may only shorten it"
            )

    @staticmethod
    def _check_inputs(inputs: object) -> None:
        _check_host_inputs(inputs)

    @staticmethod
    def _finish_run(act: Action, res: ExecutionResult) -> None:
        _finish_run(act, res)

    def read_file(self, path: str | os.PathLike[str]) -> str:
        """Read a text file beneath the root. Raises ``SecurityError`` if the policy forbids."""
        raw = _path_once(path)
        with self._action("read_file", {"path": self._relative(raw)}) as act:
            text = self.fs.read_text(_usable(raw))
            act.finish(COMPLETED, payload=text)
            return text

    def write_file(self, path: str | os.PathLike[str], content: str) -> int:
        """Atomically create or replace a text file beneath the root; returns bytes written."""
        raw = _path_once(path)
        with self._action("write_file", {"path": self._relative(raw), "content": content}) as act:
            written = self.fs.write_text(_usable(raw), content)
            act.finish(COMPLETED, payload={"bytes": written})
            return written

    def list_dir(self, path: str | os.PathLike[str] = ".", *, recursive: int = 0) -> list[DirEntry]:
        """List a directory beneath the root (and ``recursive`` levels of subdirectories, at
        most ``policy.list_max_depth``); each link says where it leads (``outside_root``).
        More than ``MAX_DIR_ENTRIES`` entries raise ``ResourceLimitExceeded``."""
        raw = _path_once(path)
        args = {"path": self._relative(raw), "recursive": recursive} if recursive else None
        with self._action("list_directory", args or {"path": self._relative(raw)}) as act:
            depth = max(0, min(recursive, self.policy.list_max_depth))
            entries, truncated = self.fs.list_tree(
                _usable(raw), depth=depth, max_entries=MAX_DIR_ENTRIES
            )
            if truncated:
                raise ResourceLimitExceeded(
                    "dir_entries", f"the listing has more than {MAX_DIR_ENTRIES} entries"
                )
            act.finish(COMPLETED, payload=[e.model_dump(mode="json") for e in entries])
            return entries

    # -- auditing ----------------------------------------------------------------------------
    def _action(
        self, tool: str, args: Any, via: Via = "direct", *, python_session: str | None = None
    ) -> Action:
        """Write the ``requested`` record (``AuditError`` if impossible: do not act)."""
        return Action(
            self._audit,
            tool,
            args,
            via=via,
            isolation=_FILE_ISOLATION,
            layers=_FILE_LAYERS,
            python_session=python_session,
        )

    def _relative(self, path: object) -> object:
        """``path`` relative to the root for the audit record, or as given if it is not one.

        ``path`` is already text read once (or the refusal of what was given): the record
        must name the path the operation then uses."""
        if self._audit is None:
            return None
        if isinstance(path, SecurityError):
            return path.path
        if not isinstance(path, str):
            return type_label(path)  # JSON data from a call: the tool will refuse it
        try:
            return self.fs.relative(path)
        except (SandboxError, ValueError, TypeError, OSError):
            return path

    def _call_arguments(self, parsed: dict[str, Any] | ToolInputError, arguments: object) -> object:
        """The arguments of a call as the audit record shows them (the parsed copy the call
        runs with; the raw text if it did not parse)."""
        if self._audit is None:
            return None
        if isinstance(parsed, ToolInputError):
            if isinstance(arguments, bytes | bytearray):
                return bytes(arguments).decode("utf-8", "replace")
            if isinstance(arguments, str):
                return str.__str__(arguments)  # the audit keeps only its digest
            return {"unparsed": type_label(arguments)}
        shown = dict(list(parsed.items())[:_MAX_SHOWN_ARGUMENTS])
        if len(parsed) > _MAX_SHOWN_ARGUMENTS:  # real calls have two or three; a flood is noise
            shown["..."] = f"{len(parsed) - _MAX_SHOWN_ARGUMENTS} more arguments not shown"
        if "path" in shown:
            shown["path"] = self._relative(shown["path"])
        return shown

    def _max_argument_chars(self) -> int:
        """The longest JSON argument text a call accepts (room for a maximal file, escaped)."""
        return max(MIN_TEXT_CAP, 6 * self.policy.max_file_bytes + 64 * 1024)

    # -- the single dispatch point -----------------------------------------------------------
    def tool_specs(self) -> tuple[ToolSpec, ...]:
        """The tools ``call`` dispatches to, for adapters to expose (``run_python``'s
        description names this sandbox's language)."""
        return specs_for(self.policy.language)

    def call(
        self,
        tool_name: str,
        arguments: Mapping[str, Any] | str | None = None,
        *,
        session: Session | None = None,
        on_output: Callable[[str], None] | None = None,
    ) -> ToolResult:
        """Validate ``arguments`` (a dict or a JSON string) for ``tool_name`` and run the tool.

        With ``session`` (one of this sandbox's, see :meth:`session`), ``run_python`` runs in
        it and keeps its state (``Session.call`` is the same); without, every run starts fresh.
        ``on_output`` gets ``run_python``'s printed output as it happens (see :meth:`run`).

        The model's mistakes (unknown tool, bad arguments, refused path, failing code) come back
        as a ``ToolResult`` with ``ok=False`` and a message the model can act on. Arguments are
        read once into a copy of plain JSON data (see :mod:`ai_sandbox._arguments`): duplicate
        keys, ``NaN``, absurd nesting and non-JSON objects are refused. A failure of the sandbox
        itself is a result too (``error.type == "InternalError"``), never a traceback.
        """
        tool = _tool_label(tool_name)
        # Read once: the audit record and the tool see the same copy of plain JSON data.
        parsed: dict[str, Any] | ToolInputError
        try:
            parsed = parse_arguments(arguments, tool, max_chars=self._max_argument_chars())
        except ToolInputError as exc:
            parsed = exc
        self._check_session(session)
        python_session = session.id if session is not None else None
        with self._action(
            tool, self._call_arguments(parsed, arguments), "call", python_session=python_session
        ) as act:
            try:
                spec, args = self._validate(tool, parsed)
            except ToolInputError as exc:
                result = _error_result(tool, exc)
                act.finish(verdict_for_exception(exc), payload=result.content)
                return result
            handler = self._handlers()[spec.name]
            if spec.name == "run_python":
                handler = functools.partial(
                    self._tool_run_python, session=session, on_output=on_output
                )
            try:
                result = handler(args)
            except SandboxError as exc:
                result = _error_result(spec.name, exc)
                act.finish(verdict_for_exception(exc), payload=result.content)
                return result
            except Exception as exc:  # our bug, but the model must not be able to crash the host
                result = _internal_error_result(spec.name, exc)
                act.finish(verdict_for_exception(exc), payload=result.content)
                return result
            _finish_call(act, result)
            return result

    async def acall(
        self,
        tool_name: str,
        arguments: Mapping[str, Any] | str | None = None,
        *,
        session: Session | None = None,
        on_output: Callable[[str], None] | None = None,
    ) -> ToolResult:
        """:meth:`call` for asyncio: ``run_python`` waits for its worker on the event loop (no
        parked thread); the file tools, which answer at once, run as in :meth:`call`."""
        tool = _tool_label(tool_name)
        if tool != "run_python":
            return self.call(tool_name, arguments, session=session)
        self._check_session(session)
        parsed: dict[str, Any] | ToolInputError
        try:
            parsed = parse_arguments(arguments, tool, max_chars=self._max_argument_chars())
        except ToolInputError as exc:
            parsed = exc
        python_session = session.id if session is not None else None
        with self._action(
            tool, self._call_arguments(parsed, arguments), "call", python_session=python_session
        ) as act:
            try:
                _spec, args = self._validate(tool, parsed)
            except ToolInputError as exc:
                result = _error_result(tool, exc)
                act.finish(verdict_for_exception(exc), payload=result.content)
                return result
            assert isinstance(args, RunPython)  # nosec B101 - the spec of run_python
            try:
                if session is None:
                    res = await _aexecute(
                        self._get_backend(), args.code, args.inputs, None, on_output
                    )
                else:
                    if args.reset:
                        session.reset()
                    res = await session._arun(args.code, args.inputs, None, on_output)
                result = _run_python_result(res)
            except SandboxError as exc:
                result = _error_result(tool, exc)
                act.finish(verdict_for_exception(exc), payload=result.content)
                return result
            except Exception as exc:  # our bug: the model must not crash the host
                result = _internal_error_result(tool, exc)
                act.finish(verdict_for_exception(exc), payload=result.content)
                return result
            _finish_call(act, result)
            return result

    def _check_session(self, session: object) -> None:
        if session is not None and (
            not isinstance(session, Session) or session._sandbox is not self
        ):
            raise ConfigurationError("session must be a Session of this Sandbox")

    def _validate(
        self, tool: str, parsed: dict[str, Any] | ToolInputError
    ) -> tuple[ToolSpec, BaseModel]:
        spec = next((s for s in TOOL_SPECS if s.name == tool), None)
        if spec is None:
            known = ", ".join(s.name for s in TOOL_SPECS)
            raise ToolInputError(f"unknown tool {tool!r}; available tools: {known}")
        if isinstance(parsed, ToolInputError):
            raise parsed
        try:
            return spec, spec.input_model.model_validate(parsed)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            problems = [
                f"{shorten('.'.join(str(p) for p in err['loc'])) or 'arguments'}: {err['msg']}"
                for err in errors[:_MAX_PROBLEMS]
            ]
            if len(errors) > _MAX_PROBLEMS:
                problems.append(f"and {len(errors) - _MAX_PROBLEMS} more")
            raise ToolInputError(
                f"invalid arguments for {spec.name}: {'; '.join(problems)}"
            ) from None

    def _handlers(self) -> dict[str, Callable[[Any], ToolResult]]:
        return {
            "run_python": self._tool_run_python,
            "read_file": self._tool_read_file,
            "write_file": self._tool_write_file,
            "list_directory": self._tool_list_directory,
        }

    def _tool_run_python(
        self,
        args: RunPython,
        session: Session | None = None,
        on_output: Callable[[str], None] | None = None,
    ) -> ToolResult:
        if session is None:
            res = _execute(self._get_backend(), args.code, args.inputs, None, on_output)
        else:
            if args.reset:
                session.reset()
            res = session._run(args.code, args.inputs, None, on_output)
        return _run_python_result(res)

    def _tool_read_file(self, args: ReadFile) -> ToolResult:
        try:
            raw = self.fs.read_bytes(args.path)
        except ResourceLimitExceeded as exc:
            view = self._big_file(args.path, exc)
        else:
            view = view_file(
                args.path,
                raw,
                offset=args.offset,
                limit=args.limit,
                page_lines=self.policy.read_page_lines,
                page_bytes=self.policy.read_page_bytes,
            )
        return ToolResult(
            tool="read_file", ok=True, content=view.content, data=view.data, images=view.images
        )

    def _big_file(self, path: str, too_big: ResourceLimitExceeded) -> FileView:
        """A file over ``max_file_bytes``: a known binary format is described (kind, size);
        anything else keeps the size refusal (text is read only up to the cap)."""
        if too_big.limit != "file_size":
            raise too_big
        head, size = self.fs.read_head(path, _HEAD_BYTES)
        if not looks_binary(head):
            raise too_big
        return big_file_view(path, media_type(head[:SNIFF_BYTES]), size, self.policy.max_file_bytes)

    def _tool_write_file(self, args: WriteFile) -> ToolResult:
        written = self.fs.write_text(args.path, args.content)
        return ToolResult(
            tool="write_file",
            ok=True,
            content=f"wrote {written} bytes to {args.path}",
            data={"path": args.path, "bytes": written},
        )

    def _tool_list_directory(self, args: ListDirectory) -> ToolResult:
        depth = min(args.recursive, self.policy.list_max_depth)
        entries, truncated = self.fs.list_tree(
            args.path, depth=depth, max_entries=self.policy.list_max_entries
        )
        notes: list[str] = []
        if depth < args.recursive:
            notes.append(f"recursive is capped at {depth} levels by the policy")
        if truncated:
            notes.append(
                f"the listing stops at {len(entries)} entries; list a subdirectory to see more"
            )
        return ToolResult(
            tool="list_directory",
            ok=True,
            content=describe_entries(entries, notes),
            data=[e.model_dump(mode="json") for e in entries],
        )


def _check_host_inputs(inputs: object) -> None:
    """Refuse the host's own ``inputs`` that cannot cross into the sandbox, as the developer's
    mistake (:class:`InvalidInputs`), with the reason; ``None`` costs nothing."""
    if inputs is None:
        return
    from ai_sandbox.executor.inputs import copy_inputs

    try:
        copied = copy_inputs(inputs)  # type: ignore[arg-type]  # checked by it
    except SecurityError as exc:
        raise InvalidInputs(f"inputs: {exc.reason}") from None
    except RecursionError:
        raise InvalidInputs("inputs: nested too deeply") from None
    try:
        json.dumps(copied, allow_nan=False)
    except ValueError:
        raise InvalidInputs(
            "inputs: NaN and infinity are not JSON numbers; pass None or a string instead"
        ) from None


def _tool_label(tool_name: object) -> str:
    """The tool name as exact, bounded text (for lookup, messages and the audit record)."""
    if not isinstance(tool_name, str):
        return type_label(tool_name)
    return shorten(str.__str__(tool_name), _MAX_TOOL_NAME)


def _path_once(path: object) -> str | SecurityError:
    """``path`` as text, read once (an ``os.PathLike`` may answer differently each time);
    or the refusal, raised inside the audited action by :func:`_usable`."""
    try:
        return to_text(path)
    except SecurityError as exc:
        return exc


def _usable(raw: str | SecurityError) -> str:
    if isinstance(raw, SecurityError):
        raise raw
    return raw


def _internal_error_result(tool: str, exc: Exception) -> ToolResult:
    """What the model reads when the sandbox itself failed (no traceback, no internals)."""
    message = (
        f"the sandbox hit an internal error ({type(exc).__name__}) and did not complete the "
        "call; try a different request"
    )
    info = ErrorInfo(type="InternalError", message=message)
    return ToolResult(tool=tool, ok=False, content=f"Error: InternalError: {message}", error=info)


def _finish_call(act: Action, result: ToolResult) -> None:
    """The outcome record of a call that returned: its verdict, and for ``run_python`` the
    layers, language and the files the code touched (``call`` and ``acall`` alike)."""
    data = result.data if isinstance(result.data, Mapping) else {}
    act.finish(
        verdict_for_tool_result(result),
        payload=result.content,
        isolation=data.get("isolation"),
        layers=tuple(data["layers"]) if "layers" in data else None,
        files=result.files,
        files_omitted=result.files_omitted,
        language=data.get("language"),
    )


def _finish_run(act: Action, res: ExecutionResult) -> None:
    act.finish(
        verdict_for_execution(res),
        payload={"result": res.result, "stdout": res.stdout},
        isolation=res.isolation,
        layers=res.layers,
        files=res.files,
        files_omitted=res.files_omitted,
        language=res.language,
    )


def _error_info(exc: SandboxError) -> ErrorInfo:
    if isinstance(exc, SecurityError) and exc.rule in MISTAKE_RULES:  # a typo, not a refusal
        return ErrorInfo(type=MISTAKE_RULES[exc.rule], message=str(exc), rule=exc.rule)
    if isinstance(exc, SecurityError):
        return ErrorInfo(type="SecurityError", message=str(exc), rule=exc.rule)
    if isinstance(exc, ExecutionError):
        return ErrorInfo(type=exc.type_name, message=exc.message, line=exc.line)
    return ErrorInfo(type=type(exc).__name__, message=str(exc))


def _error_result(tool: str, exc: SandboxError) -> ToolResult:
    info = _error_info(exc)
    return ToolResult(
        tool=tool, ok=False, content=f"Error: {info.type}: {info.message}", error=info
    )


def _run_python_result(res: ExecutionResult) -> ToolResult:
    return ToolResult(
        tool="run_python",
        ok=res.ok,
        content=_describe_execution(res),
        data=res.model_dump(mode="json"),
        error=res.error,
        images=res.images,
        files=res.files,
        files_omitted=res.files_omitted,
    )


async def _aexecute(
    backend: ExecutionBackend,
    code: str,
    inputs: Mapping[str, Any] | None,
    timeout_s: float | None,
    on_output: Callable[[str], None] | None,
) -> ExecutionResult:
    """Run on the backend without blocking the event loop: isolated backends wait on the
    worker's channel in the loop; the in-process one runs the code in a thread (it runs here)."""
    aexecute = getattr(backend, "aexecute", None)
    if aexecute is not None:
        result: ExecutionResult = await aexecute(
            code, inputs, timeout_s=timeout_s, on_output=on_output
        )
        return result
    return await asyncio.to_thread(_execute, backend, code, inputs, timeout_s, on_output)


def _execute(
    backend: ExecutionBackend,
    code: str,
    inputs: Mapping[str, Any] | None,
    timeout_s: float | None,
    on_output: Callable[[str], None] | None,
) -> ExecutionResult:
    """``backend.execute``, passing the per-call options only when they are used and taken (a
    backend written for the one-method protocol takes ``(code, inputs)`` only: it gets no
    time limit of its own, and its output goes to ``on_output`` when the run ends)."""
    options: dict[str, Any] = {}
    taken = inspect.signature(backend.execute).parameters if timeout_s or on_output else {}
    if timeout_s is not None and "timeout_s" in taken:
        options["timeout_s"] = timeout_s
    if on_output is not None and "on_output" in taken:
        options["on_output"] = on_output
    result = backend.execute(code, inputs, **options)
    if on_output is not None and "on_output" not in options and result.stdout:
        on_output(result.stdout)
    return result


def _describe_execution(res: ExecutionResult) -> str:
    """The text a model reads back from run_python."""
    parts: list[str] = []
    if res.notice is not None:
        parts.append(f"note: {res.notice}")
    if res.status == "ok":
        parts.append("result: " + json.dumps(res.result, ensure_ascii=False, default=str))
    elif res.error is not None:
        where = f" (line {res.error.line})" if res.error.line is not None else ""
        parts.append(f"{res.status}: {res.error.type}: {res.error.message}{where}")
    else:
        parts.append(res.status)
    if res.images:
        shown = ", ".join(
            f"{image.name or 'image'} ({image.media_type}, {image.width}x{image.height} pixels)"
            for image in res.images
        )
        parts.append(f"images: {shown}")
    if res.stdout:
        parts.append("stdout:\n" + res.stdout)
    return "\n".join(parts)
