"""Scale-out on Ray: the same programs, spread over long-lived actors across a cluster.

Each actor holds its own :class:`~ai_sandbox.Sandbox` (so the zygote and its pool of workers
stay on the actor's node) and runs one program at a time; the driver keeps every actor busy with
a small queue, hands results back (in input order when ``ordered``) and, when an actor or its
node dies, runs that actor's in-flight programs once more on another actor. A program lost
twice comes back as a ``WorkerError`` result. Ray does the placement and transport; results cross
as JSON text (decoded and re-validated by the driver), never as objects built by a worker.

Needs the ``ray`` extra: ``pip install 'ai-sandbox[ray]'``.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ai_sandbox.audit.action import Action, verdict_for_execution
from ai_sandbox.audit.writer import AuditLog
from ai_sandbox.batch.mapping import check_jobs, normalise_program
from ai_sandbox.exceptions import ConfigurationError, SandboxError
from ai_sandbox.policy import SandboxPolicy
from ai_sandbox.results import ErrorInfo, ExecutionResult

__all__ = ["RayUnavailable", "run_on_ray"]

#: Programs queued on one actor beyond the one it is running (hides the round trip).
_QUEUE_PER_ACTOR = 2
#: How many times a program is sent again after its actor died.
_RETRIES = 1


class RayUnavailable(ConfigurationError):
    """Ray is not installed, or the cluster cannot be reached."""


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailable(
            "Ray is not installed: pip install 'ai-sandbox[ray]' (or uv add 'ai-sandbox[ray]')"
        ) from exc
    return ray


class _SandboxActor:
    """The actor's body: one Sandbox for the actor's life (made remote by :func:`_actor_class`)."""

    def __init__(self, root: str, policy_json: str) -> None:
        from ai_sandbox.sandbox import Sandbox

        self._sandbox = Sandbox(root, SandboxPolicy.model_validate_json(policy_json))

    def run(self, code: str, inputs: dict[str, Any] | None) -> str:
        return self._sandbox.run(code, inputs).model_dump_json()

    def close(self) -> None:
        self._sandbox.close()


def _actor_class(ray: Any) -> Any:
    return ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(_SandboxActor)


def _lost(index: int) -> ExecutionResult:
    message = f"program {index} was lost twice with its Ray actor (node or process died)"
    return ExecutionResult(status="error", error=ErrorInfo(type="WorkerError", message=message))


class _Slot:
    """One actor and the programs sent to it that have not come back yet."""

    def __init__(self, handle: Any, name: str) -> None:
        self.handle = handle
        self.name = name
        self.inflight: dict[Any, int] = {}  # object ref -> program index


def run_on_ray(
    programs: Iterable[object],
    *,
    root: str | Path = ".",
    policy: SandboxPolicy | None = None,
    inputs: Mapping[str, Any] | None = None,
    actors: int | None = None,
    address: str | None = None,
    ordered: bool = True,
    audit: AuditLog | None = None,
    namespace: str | None = None,
) -> Iterator[tuple[int, ExecutionResult]]:
    """``(index, result)`` for each program, run on ``actors`` Ray actors.

    ``address`` is passed to ``ray.init`` when Ray is not initialised yet (``None`` starts or
    joins a local cluster, ``"auto"`` joins the running one, ``"ray://host:10001"`` a remote
    one). ``root`` must exist on every node (the same path, or a shared filesystem). Actors are
    named ``ai-sandbox-<batch>-<n>`` in ``namespace``, so an operator can find them.
    """
    ray = _import_ray()
    policy = policy or SandboxPolicy()
    count = check_jobs(actors)
    if not ray.is_initialized():
        try:
            ray.init(address=address, namespace=namespace, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise RayUnavailable(f"cannot reach the Ray cluster {address!r}: {exc}") from exc
    actor_cls = _actor_class(ray)
    batch = uuid.uuid4().hex[:8]
    policy_json = policy.model_dump_json()
    made = 0

    def new_slot() -> _Slot:
        nonlocal made
        name = f"ai-sandbox-{batch}-{made}"
        made += 1
        handle = actor_cls.options(name=name).remote(str(root), policy_json)
        return _Slot(handle, name)

    slots = [new_slot() for _ in range(count)]
    source = enumerate(programs)
    retry: deque[int] = deque()
    tries: dict[int, int] = {}
    work: dict[int, tuple[str, Mapping[str, Any] | None]] = {}
    actions: dict[int, Action] = {}
    done: dict[int, ExecutionResult] = {}
    next_out = 0
    exhausted = False
    last_loss = "no actor could be started"

    def next_program() -> int | None:
        nonlocal exhausted
        if retry:
            return retry.popleft()
        if exhausted:
            return None
        try:
            index, item = next(source)
        except StopIteration:
            exhausted = True
            return None
        work[index] = normalise_program(index, item, inputs)
        tries[index] = 0
        actions[index] = Action(
            audit,
            "run_python",
            {"code": work[index][0], "inputs": work[index][1]},
            via="direct",
            isolation=policy.isolation,
            layers=(),
        )
        return index

    def finish(index: int, result: ExecutionResult) -> None:
        del work[index], tries[index]
        action = actions.pop(index)
        action.finish(
            verdict_for_execution(result),
            payload={"result": result.result, "stdout": result.stdout},
            isolation=result.isolation,
            layers=result.layers,
        )
        done[index] = result

    try:
        while True:
            # Keep each live actor's queue full (bounded: memory does not grow with the input).
            for slot in slots:
                while (
                    len(slot.inflight) < 1 + _QUEUE_PER_ACTOR
                    and (index := next_program()) is not None
                ):
                    code, program_inputs = work[index]
                    ref = slot.handle.run.remote(
                        code, dict(program_inputs) if program_inputs else None
                    )
                    slot.inflight[ref] = index
            while done and (not ordered or next_out in done):
                if ordered:
                    yield next_out, done.pop(next_out)
                    next_out += 1
                else:
                    index = next(iter(done))
                    yield index, done.pop(index)
            refs = [ref for slot in slots for ref in slot.inflight]
            if not refs:
                if exhausted and not retry:
                    return
                if not slots:
                    raise RayUnavailable(
                        f"every Ray actor died and no more are started; last: {last_loss}"
                    )
                continue
            ready, _ = ray.wait(refs, num_returns=1)
            for ref in ready:
                slot = next(s for s in slots if ref in s.inflight)
                index = slot.inflight.pop(ref)
                try:
                    text = ray.get(ref)
                except ray.exceptions.RayActorError as exc:
                    last_loss = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
                    _requeue(slot, index, retry, tries, finish)
                    slots.remove(slot)
                    if made < 2 * count:  # replace it (Ray places it on a live node)
                        slots.append(new_slot())
                    continue
                except ray.exceptions.RayError as exc:
                    raise SandboxError(f"Ray failed to run program {index}: {exc}") from exc
                finish(index, ExecutionResult.model_validate(json.loads(text)))
    finally:
        for slot in slots:
            with contextlib.suppress(Exception):  # best effort: it may already be gone
                ray.kill(slot.handle)


def _requeue(
    slot: _Slot,
    first: int,
    retry: deque[int],
    tries: dict[int, int],
    finish: Any,
) -> None:
    """Send every program the dead actor held once more; a second loss is a result."""
    for index in sorted([first, *slot.inflight.values()]):
        tries[index] += 1
        if tries[index] > _RETRIES:
            finish(index, _lost(index))
        else:
            retry.append(index)
    slot.inflight.clear()
