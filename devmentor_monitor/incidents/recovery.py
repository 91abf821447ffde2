"""Recovery actions: a command or a webhook run when an incident opens for a service.

Dry-run is the default (the timeline says what would have run). Runs are limited per
service per hour, bounded in time, and every run, skipped or not, is audited.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

from devmentor_monitor.config.schema import Recovery
from devmentor_monitor.incidents.model import Incident

OUTPUT_TAIL = 300


class RecoveryRunner:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._runs: dict[str, deque[float]] = {}
        # Container/cluster actions (docker.restart, ...): set by the runtime to
        # WorkloadActions.recover, which runs, audits and answers with one line.
        self.actions: Callable[[Incident, str], Awaitable[str]] | None = None

    async def run(self, incident: Incident, recovery: Recovery) -> str:
        """Run (or pretend to) and return the outcome as one line for timeline and audit."""
        what = (
            " ".join(recovery.command)
            if recovery.command
            else (recovery.action if recovery.action else f"POST {_host(recovery)}")
        )
        if recovery.dry_run:
            return f"dry run: would run {what}"
        now = self.clock()
        runs = self._runs.setdefault(incident.service, deque())
        while runs and now - runs[0] > 3600:
            runs.popleft()
        if len(runs) >= recovery.max_per_hour:
            return (
                f"skipped: {len(runs)} runs in the last hour "
                f"(max_per_hour {recovery.max_per_hour}): {what}"
            )
        runs.append(now)
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel (see
        # sources/base.py in_thread).
        try:
            async with asyncio.timeout(recovery.timeout):
                if recovery.command:
                    return await self._command(recovery)
                if recovery.action:
                    if self.actions is None:
                        return f"failed: no container or cluster source for {what}"
                    return await self.actions(incident, recovery.action)
                return await self._webhook(incident, recovery)
        except TimeoutError:
            return f"failed: timed out after {recovery.timeout:g} s: {what}"
        except OSError as exc:
            return f"failed: {exc.strerror or exc}: {what}"

    async def _command(self, recovery: Recovery) -> str:
        proc = await asyncio.create_subprocess_exec(
            *recovery.command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            out, _ = await proc.communicate()
        except asyncio.CancelledError:
            proc.kill()
            raise
        tail = out.decode(errors="replace").strip()[-OUTPUT_TAIL:]
        verdict = "ok" if proc.returncode == 0 else f"failed: exit {proc.returncode}"
        return f"{verdict}: {' '.join(recovery.command)}" + (f" → {tail}" if tail else "")

    async def _webhook(self, incident: Incident, recovery: Recovery) -> str:
        from devmentor_monitor.aio import aiohttp, tls_ready

        await tls_ready()
        body = {
            "incident": incident.id,
            "service": incident.service,
            "severity": incident.severity.value,
            "title": incident.title,
        }
        async with (
            aiohttp.ClientSession() as session,
            session.post(recovery.webhook or "", json=body) as resp,
        ):
            verdict = "ok" if resp.status < 300 else "failed"
            return f"{verdict}: POST {_host(recovery)} → HTTP {resp.status}"


def _host(recovery: Recovery) -> str:
    """Where a webhook goes, without its user, password, path or query (tokens all)."""
    from urllib.parse import urlsplit

    return urlsplit(recovery.webhook or "").netloc.rpartition("@")[2]
