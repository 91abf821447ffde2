"""Scripted outages replayed against a real `--serve` (issue 14, "Must show"): the engine
behind bench/alert_replay.py and tests/integration/test_alert_replay.py.

Each run builds its own world in a temp folder: four stub services from the demo fleet
(`FleetThread`), auth the root, memory and project depending on it, ai-gateway on auth
and memory; a real webhook receiver (`ReplayReceiver`, which also notes when each
notification arrived and how many checks each service had answered by then); and a
`ServeProc` checking every 2 s with failure_threshold 3, success_threshold 1 and a
99.9 % SLO per service (so the burn-rate rules take part, as in the issue's report).
`alerting…group_wait: 5s` is set only where the tree's config accepts it (tried once
with `config check`), so the same harness measures today's tree and the new core.

A page is a webhook notification whose ``kind`` is ``open`` or ``escalation``
(notify/channels.py: `webhook_payload` is the Notification as JSON plus ``summary``).

    run(name, tmp)   -> {scenario: figures}   (one run can give two scenarios)
    judge(scenario, figures) -> {target: {target, value, met}}

Runs (RUNS): quiet, cold_start, cascade (gives cascade and recovery), flapping
(failure_threshold 3: down is never confirmed), flapping_ft1 (failure_threshold 1: the
flap detector is exercised), restart, silence.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from aiohttp import web

from devmentor_monitor.demo.fleet import Behaviour
from support import processes
from support.http import Received, Receiver, ThreadedReceiver
from support.processes import FleetThread, ServeProc
from support.waiting import wait_until

INTERVAL = 2.0
FAILURE_THRESHOLD = 3
SUCCESS_THRESHOLD = 1
GROUP_WAIT = "5s"
# As services.yaml ships them: with an SLO the burn-rate rules run too (issue 14's 7 pages).
SLO = {"uptime": 99.9, "response_time": "500ms", "error_rate": 0.1}
# service -> depends_on; auth is the only root.
SERVICES: dict[str, tuple[str, ...]] = {
    "auth": (),
    "memory": ("auth",),
    "project": ("auth",),
    "ai-gateway": ("auth", "memory"),
}
ROOT = "auth"
DEPENDENTS = ("memory", "project")  # the two that fail 2 s after the root in a cascade
FLAPPER = "project"
CASCADE_S = 40.0
FLAP_S = 40.0
OPERATOR_KEY = "alert-replay-operator-key-0123456789"
PAGE_KINDS = frozenset({"open", "escalation"})
RESOLVE_TARGET_S = SUCCESS_THRESHOLD * INTERVAL + 1.0
# Which run gives which scenarios.
RUNS: dict[str, tuple[str, ...]] = {
    "quiet": ("quiet",),
    "cold_start": ("cold_start",),
    "cascade": ("cascade", "recovery"),
    "flapping": ("flapping",),
    "flapping_ft1": ("flapping_ft1",),
    "restart": ("restart",),
    "silence": ("silence",),
}
SCENARIOS: tuple[str, ...] = tuple(s for names in RUNS.values() for s in names)
# Every `--serve` started and not yet closed, so a bench stopped by SIGTERM can stop them.
LIVE: set[ServeProc] = set()


# --------------------------------------------------------------------------- receiver


@dataclass
class Arrival:
    at: float  # time.monotonic() when it arrived
    checks: dict[str, int]  # /health requests each stub had answered by then
    body: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", ""))

    @property
    def is_page(self) -> bool:
        return self.kind in PAGE_KINDS


@dataclass
class ReplayReceiver(Receiver):
    """A Receiver that also notes, per POST, when it came and the stubs' check counts."""

    counts: Any = None  # () -> dict[str, int]
    arrivals: list[Arrival] = field(default_factory=list)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        at = time.monotonic()
        checks = dict(self.counts()) if self.counts is not None else {}
        self.requests.append(Received(request.path_qs, dict(request.headers), body))
        self.arrivals.append(Arrival(at, checks, body))
        return web.json_response({"status": "success"}, status=202)


# --------------------------------------------------------------------------- config

_group_wait_lock = threading.Lock()
_group_wait: dict[str, Any] = {}


def group_wait_setting() -> tuple[str | None, dict[str, Any]]:
    """The `alerting:` section that sets group_wait on this tree, found by trying each
    spelling with `config check`: (its dotted name, the section), or (None, {})."""
    with _group_wait_lock:
        if "found" not in _group_wait:
            _group_wait["found"] = _try_group_wait()
        found: tuple[str | None, dict[str, Any]] = _group_wait["found"]
        return found


def _try_group_wait() -> tuple[str | None, dict[str, Any]]:
    import tempfile

    candidates = [
        ("alerting.group_wait", {"group_wait": GROUP_WAIT}),
        ("alerting.route.group_wait", {"route": {"group_wait": GROUP_WAIT}}),
    ]
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SERVICES_CONFIG", "MONITORING_PORT", "REDIS_URL")
    }
    with tempfile.TemporaryDirectory(prefix="replay-cfg-") as tmp:
        for name, section in candidates:
            path = Path(tmp) / "services.yaml"
            path.write_text(
                yaml.safe_dump(
                    {
                        "alerting": section,
                        "services": [{"name": "x", "url": "http://127.0.0.1:1/health"}],
                    }
                )
            )
            done = subprocess.run(
                [sys.executable, "-m", "devmentor_monitor", "config", "check", str(path)],
                cwd=processes.REPO,
                env=env,
                capture_output=True,
                timeout=60,
                check=False,
            )
            if done.returncode == 0:
                return name, section
    return None, {}


def write_config(
    path: Path, urls: dict[str, str], receiver: str, *, failure_threshold: int
) -> Path:
    services = [
        {
            "name": name,
            "url": urls[name],
            "interval": f"{INTERVAL:g}s",
            "timeout": "1s",
            "failure_threshold": failure_threshold,
            "success_threshold": SUCCESS_THRESHOLD,
            "expect": {"status": 200},
            "slo": dict(SLO),
            **({"depends_on": list(deps)} if deps else {}),
        }
        for name, deps in SERVICES.items()
    ]
    doc: dict[str, Any] = {
        "auth": {"keys": [{"name": "replay", "key": OPERATOR_KEY, "role": "operator"}]},
        "notifications": {
            "channels": [{"name": "hook", "type": "webhook", "url": receiver + "/hook"}],
            "retry": {"base": "0.1s", "max": "1s"},
        },
    }
    _, alerting = group_wait_setting()
    if alerting:
        doc["alerting"] = alerting
    doc["services"] = services
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


# --------------------------------------------------------------------------- the world


class Rig:
    """One run's stubs, receiver and monitor(s), in ``tmp``; `close()` stops them all."""

    def __init__(
        self,
        tmp: Path,
        *,
        failure_threshold: int = FAILURE_THRESHOLD,
        down_at_start: tuple[str, ...] = (),
    ) -> None:
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self.fleet = FleetThread(list(SERVICES))
        self.receiver: ThreadedReceiver | None = None
        self.procs: list[ServeProc] = []
        try:
            for name in down_at_start:
                self.fleet.behave(name, down=True)
            self._sync()
            self.hook = ReplayReceiver(counts=self.checks)
            self.receiver = ThreadedReceiver(self.hook)
            self.config = write_config(
                tmp / "services.yaml",
                self.fleet.urls,
                self.receiver.base,
                failure_threshold=failure_threshold,
            )
        except BaseException:
            self.close()
            raise

    # ---------------------------------------------------------------- stubs
    def _sync(self) -> None:
        """Wait until the fleet's loop has applied every `behave` asked so far."""

        async def nothing() -> None:
            return None

        self.fleet._call(nothing())

    def behave(self, *names: str, **changes: Any) -> float:
        """Change these stubs' behaviour; returns time.monotonic() once applied."""
        for name in names:
            self.fleet.behave(name, **changes)
        self._sync()
        return time.monotonic()

    def alternate(self, name: str, on: bool) -> float:
        """Make a stub flap (503 on every other /health) or stop; `Behaviour.alternate`
        where the tree's demo fleet has it, else the same toggle put on the stub here."""
        if "alternate" in {f.name for f in fields(Behaviour)}:
            return self.behave(name, alternate=on)
        svc = self.fleet.fleet[name]
        if on:
            plain = type(svc)._in_outage.__get__(svc)
            answers = iter(range(1, 1 << 62))
            svc._in_outage = lambda: plain() or next(answers) % 2 == 1  # type: ignore[method-assign]
        else:
            svc.__dict__.pop("_in_outage", None)
        self._sync()
        return time.monotonic()

    def checks(self) -> dict[str, int]:
        return {n: s.requests for n, s in self.fleet.fleet.services.items()}

    # ---------------------------------------------------------------- monitor
    @property
    def proc(self) -> ServeProc:
        return self.procs[-1]

    def start_monitor(self) -> ServeProc:
        """A `--serve` on this run's config; every one shares tmp/state (the same DB)."""
        proc = ServeProc(["-c", str(self.config)], self.tmp / f"serve-{len(self.procs)}.log")
        self.procs.append(proc)
        LIVE.add(proc)
        proc.wait_ready(30)
        return proc

    def restart_monitor(self) -> ServeProc:
        """SIGTERM the monitor, wait for it to exit, start a new one on the same state."""
        old = self.proc
        old.signal(signal.SIGTERM)
        old.proc.wait(20)
        old.close()
        LIVE.discard(old)
        return self.start_monitor()

    def statuses(self) -> dict[str, str]:
        return {s["name"]: s["status"] for s in self.proc.get("/api/services").json()["services"]}

    def warm_up(self, checks: int = 3) -> None:
        """Every service up, and checked at least ``checks`` times."""
        wait_until(
            lambda: (
                set(self.statuses().values()) == {"up"} and min(self.checks().values()) >= checks
            ),
            30,
            what="every service up",
        )

    def incidents(self, state: str | None = None) -> list[dict[str, Any]]:
        path = "/api/incidents?limit=1000" + (f"&state={state}" if state else "")
        found: list[dict[str, Any]] = self.proc.get(path).json()["incidents"]
        return found

    # ---------------------------------------------------------------- webhook
    def arrivals(self, since: int = 0) -> list[Arrival]:
        return list(self.hook.arrivals[since:])

    def mark(self) -> int:
        return len(self.hook.arrivals)

    def close(self) -> None:
        for proc in self.procs:
            proc.close()
            LIVE.discard(proc)
        if self.receiver is not None:
            self.receiver.close()
        self.fleet.close()


def hold(seconds: float) -> None:
    """Scripted time: the outage lasts this long, whatever happens meanwhile."""
    time.sleep(max(0.0, seconds))


def hold_until(deadline: float) -> None:
    hold(deadline - time.monotonic())


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def page_figures(
    arrivals: list[Arrival], *, since: float, root: str, root_checks_at_start: int
) -> dict[str, Any]:
    """Pages, resolved notifications, and when/at which root check the first page came."""
    pages = [a for a in arrivals if a.is_page]
    first = pages[0] if pages else None
    return {
        "pages": len(pages),
        "resolved": sum(1 for a in arrivals if a.kind == "resolved"),
        "pages_by_service": dict(Counter(str(a.body.get("service")) for a in pages)),
        "pages_by_rule": dict(Counter(str(a.body.get("rule")) for a in pages)),
        "notifications": dict(Counter(a.kind for a in arrivals)),
        "first_page_after_s": None if first is None else round(first.at - since, 1),
        "first_page_check_no": (
            None if first is None else first.checks.get(root, 0) - root_checks_at_start
        ),
    }


def _names_dependents(pages: list[Arrival], dependents: tuple[str, ...]) -> bool:
    """Whether one page about the root mentions every dependent (any field, any text)."""
    for page in pages:
        if page.body.get("service") != ROOT:
            continue
        text = json.dumps({k: v for k, v in page.body.items() if k != "service"})
        if all(d in text for d in dependents):
            return True
    return False


# --------------------------------------------------------------------------- scenarios


def _quiet(rig: Rig) -> dict[str, dict[str, Any]]:
    rig.start_monitor()
    start = time.monotonic()
    rig.warm_up()
    hold_until(start + 20.0)  # ten checks of each service
    figures = page_figures(rig.arrivals(), since=start, root=ROOT, root_checks_at_start=0)
    figures["incidents_opened"] = len(rig.incidents())
    figures["checks_per_service"] = min(rig.checks().values())
    return {"quiet": figures}


def _cold_start(rig: Rig) -> dict[str, dict[str, Any]]:
    start = time.monotonic()
    rig.start_monitor()
    hold_until(start + 25.0)  # 12 checks: threshold (6 s) + group_wait (5 s) + slack
    figures = page_figures(rig.arrivals(), since=start, root=ROOT, root_checks_at_start=0)
    figures["down_roots"] = 1
    figures["incidents_opened"] = len(rig.incidents())
    return {"cold_start": figures}


def _cascade(rig: Rig) -> dict[str, dict[str, Any]]:
    rig.start_monitor()
    rig.warm_up()
    wall0 = time.time()
    root_checks = rig.checks()[ROOT]
    t0 = rig.behave(ROOT, down=True)
    hold_until(t0 + 2.0)
    rig.behave(*DEPENDENTS, down=True)
    hold_until(t0 + CASCADE_S)
    during = rig.arrivals()
    cascade = page_figures(during, since=t0, root=ROOT, root_checks_at_start=root_checks)
    pages = [a for a in during if a.is_page]
    cascade["dependents_named"] = _names_dependents(pages, DEPENDENTS)
    cascade["incidents_opened"] = sum(1 for i in rig.incidents() if i["opened_at"] >= wall0 - 1)
    cascade["open_before_recovery"] = len(rig.incidents("open"))

    mark = rig.mark()
    recovered = rig.behave(ROOT, *DEPENDENTS, down=False)
    paged_ids = {str(a.body.get("incident_id")) for a in pages}

    def resolved_ids() -> dict[str, float]:
        out: dict[str, float] = {}
        for a in rig.arrivals(mark):
            if a.kind == "resolved":
                out.setdefault(str(a.body.get("incident_id")), a.at)
        return out

    hold_until(recovered + 10.0)
    open_10s = len(rig.incidents("open"))
    deadline = recovered + 15.0
    while time.monotonic() < deadline and not paged_ids <= set(resolved_ids()):
        hold(0.2)
    got = resolved_ids()
    latencies = [got[i] - recovered for i in paged_ids if i in got]
    after = rig.arrivals(mark)
    recovery = {
        "paged_incidents": len(paged_ids),
        "resolved": sum(1 for a in after if a.kind == "resolved"),
        "unresolved_paged": len(paged_ids - set(got)),
        "resolve_latency_s": (
            round(max(latencies), 2) if latencies and len(latencies) == len(paged_ids) else None
        ),
        "first_resolve_latency_s": round(min(latencies), 2) if latencies else None,
        "open_10s_after_recovery": open_10s,
        "pages_after_recovery": sum(1 for a in after if a.is_page),
    }
    return {"cascade": cascade, "recovery": recovery}


def _flapping(rig: Rig, name: str) -> dict[str, dict[str, Any]]:
    rig.start_monitor()
    rig.warm_up()
    checks0 = rig.checks()[FLAPPER]
    t0 = rig.alternate(FLAPPER, True)
    hold_until(t0 + FLAP_S / 2)
    flap_view = next(
        (s for s in rig.proc.get("/api/services").json()["services"] if s["name"] == FLAPPER), {}
    )
    hold_until(t0 + FLAP_S)
    flapped = rig.checks()[FLAPPER] - checks0
    api_flapping = flap_view.get("flapping")
    if api_flapping is None:  # not yet shown by the API in the middle: look once more now
        api_flapping = next(
            (
                s.get("flapping")
                for s in rig.proc.get("/api/services").json()["services"]
                if s["name"] == FLAPPER
            ),
            None,
        )
    rig.alternate(FLAPPER, False)
    hold(8.0)  # a page held back by group_wait still counts
    figures = page_figures(rig.arrivals(), since=t0, root=FLAPPER, root_checks_at_start=checks0)
    figures["checks_flapped"] = flapped
    figures["incidents_opened"] = len(rig.incidents())
    figures["api_flapping"] = api_flapping
    return {name: figures}


def _restart(rig: Rig) -> dict[str, dict[str, Any]]:
    rig.start_monitor()
    rig.warm_up()
    t0 = rig.behave(ROOT, down=True)
    # threshold (6 s) + group_wait (5 s): the outage has paged by now, or it never will
    with contextlib.suppress(AssertionError):
        wait_until(lambda: any(a.is_page for a in rig.arrivals()), 20, what="a page")
    hold_until(t0 + 14.0)
    before = rig.arrivals()
    paged_ids = {str(a.body.get("incident_id")) for a in before if a.is_page}
    open_before = {i["id"] for i in rig.incidents("open")}
    mark = rig.mark()
    restarted_at = time.monotonic()
    rig.restart_monitor()
    restart_s = time.monotonic() - restarted_at
    hold(20.0)  # threshold + group_wait again, and more
    after_restart = rig.arrivals(mark)
    open_after = {i["id"] for i in rig.incidents("open")}

    mark2 = rig.mark()
    recovered = rig.behave(ROOT, down=False)

    def resolved() -> set[str]:
        return {str(a.body.get("incident_id")) for a in rig.arrivals(mark2) if a.kind == "resolved"}

    with contextlib.suppress(AssertionError):
        wait_until(lambda: paged_ids and paged_ids <= resolved(), 10, what="resolved")
    got = resolved()
    return {
        "restart": {
            "pages_before_restart": sum(1 for a in before if a.is_page),
            "pages_after_restart": sum(1 for a in after_restart if a.is_page),
            "pages_after_restart_by_rule": dict(
                Counter(str(a.body.get("rule")) for a in after_restart if a.is_page)
            ),
            "restart_s": round(restart_s, 1),
            "open_before_restart": len(open_before),
            "open_after_restart": len(open_after),
            "same_incident_open": bool(open_before) and open_before <= open_after,
            "resolved_after_recovery": len(got),
            "paged_resolved": bool(paged_ids) and paged_ids <= got,
            "resolve_latency_s": None
            if not paged_ids <= got or not paged_ids
            else round(
                max(a.at for a in rig.arrivals(mark2) if a.kind == "resolved") - recovered, 2
            ),
        }
    }


def _silence(rig: Rig) -> dict[str, dict[str, Any]]:
    rig.start_monitor()
    rig.warm_up()
    body = {
        "matchers": [
            {
                "name": "service",
                "value": "|".join(SERVICES),
                "isRegex": True,
                "isEqual": True,
            }
        ],
        "endsAt": _iso(time.time() + 3600),
        "comment": "alert replay: planned outage",
    }
    resp = httpx.post(
        rig.proc.url + "/api/silences",
        json=body,
        headers={"Authorization": f"Bearer {OPERATOR_KEY}"},
        timeout=10,
    )
    if resp.status_code in (404, 405):
        return {"silence": {"unsupported": True, "silence_status": resp.status_code}}
    figures: dict[str, Any] = {"unsupported": False, "silence_status": resp.status_code}
    if resp.status_code >= 300:
        figures["silence_error"] = resp.text[:300]
    wall0 = time.time()
    root_checks = rig.checks()[ROOT]
    t0 = rig.behave(ROOT, down=True)
    hold_until(t0 + 2.0)
    rig.behave(*DEPENDENTS, down=True)
    hold_until(t0 + 25.0)
    opened = [i for i in rig.incidents() if i["opened_at"] >= wall0 - 1]
    rig.behave(ROOT, *DEPENDENTS, down=False)
    hold(6.0)
    figures.update(
        page_figures(rig.arrivals(), since=t0, root=ROOT, root_checks_at_start=root_checks)
    )
    figures["incidents_recorded"] = len(opened)
    return {"silence": figures}


def run(name: str, tmp: Path) -> dict[str, dict[str, Any]]:
    """Run one of RUNS in ``tmp``; {scenario: figures} (figures carry "wall_s")."""
    started = time.monotonic()
    if name == "cold_start":
        rig = Rig(tmp, down_at_start=tuple(SERVICES))
    elif name == "flapping_ft1":
        rig = Rig(tmp, failure_threshold=1)
    else:
        rig = Rig(tmp)
    try:
        if name == "quiet":
            out = _quiet(rig)
        elif name == "cold_start":
            out = _cold_start(rig)
        elif name == "cascade":
            out = _cascade(rig)
        elif name in ("flapping", "flapping_ft1"):
            out = _flapping(rig, name)
        elif name == "restart":
            out = _restart(rig)
        elif name == "silence":
            out = _silence(rig)
        else:
            raise ValueError(f"no run {name!r} (known: {', '.join(RUNS)})")
    finally:
        rig.close()
    wall = round(time.monotonic() - started, 1)
    for figures in out.values():
        figures["wall_s"] = wall
    return out


# --------------------------------------------------------------------------- targets


def _t(target: str, value: Any, met: bool) -> dict[str, Any]:
    return {"target": target, "value": value, "met": bool(met)}


def judge(scenario: str, f: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The issue's targets for one scenario's figures: {name: {target, value, met}}."""
    if "error" in f:
        return {"ran": _t("no error", f["error"], False)}
    if scenario == "quiet":
        return {"pages": _t("0", f["pages"], f["pages"] == 0)}
    if scenario == "cold_start":
        first = f["first_page_check_no"]
        return {
            "pages": _t(
                f"1 per down root ({f['down_roots']})", f["pages"], f["pages"] == f["down_roots"]
            ),
            "first_page_check_no": _t(
                f">= failure_threshold ({FAILURE_THRESHOLD})",
                first,
                first is None or first >= FAILURE_THRESHOLD,
            ),
        }
    if scenario == "cascade":
        return {
            "pages": _t("1", f["pages"], f["pages"] == 1),
            "dependents_named": _t(
                f"the page names {', '.join(DEPENDENTS)}",
                f["dependents_named"],
                f["dependents_named"],
            ),
        }
    if scenario == "recovery":
        lat = f["resolve_latency_s"]
        return {
            "resolve_latency_s": _t(
                f"<= success_threshold x interval + 1 s ({RESOLVE_TARGET_S:g}), all paged resolved",
                lat,
                lat is not None and lat <= RESOLVE_TARGET_S and f["unresolved_paged"] == 0,
            ),
            "open_10s_after_recovery": _t(
                "0", f["open_10s_after_recovery"], f["open_10s_after_recovery"] == 0
            ),
        }
    if scenario in ("flapping", "flapping_ft1"):
        return {"pages": _t("<= 1", f["pages"], f["pages"] <= 1)}
    if scenario == "restart":
        return {
            "pages_after_restart": _t("0", f["pages_after_restart"], f["pages_after_restart"] == 0),
            "same_incident_open": _t(
                "the open incident survives", f["same_incident_open"], f["same_incident_open"]
            ),
            "paged_resolved": _t(
                "resolved sent after recovery", f["paged_resolved"], f["paged_resolved"]
            ),
        }
    if scenario == "silence":
        if f.get("unsupported"):
            return {
                "supported": _t("POST /api/silences exists", f"HTTP {f['silence_status']}", False)
            }
        return {
            "silence_created": _t("201", f["silence_status"], f["silence_status"] == 201),
            "pages": _t("0", f["pages"], f["pages"] == 0),
            "incidents_recorded": _t(
                ">= 1 (silenced, still recorded)",
                f["incidents_recorded"],
                f["incidents_recorded"] >= 1,
            ),
        }
    raise ValueError(f"no scenario {scenario!r}")


def failures(scenario: str, figures: dict[str, Any]) -> list[str]:
    """The targets not met, as readable lines (for assertion messages)."""
    return [
        f"{scenario}.{name}: {t['value']!r}, target {t['target']}"
        for name, t in judge(scenario, figures).items()
        if not t["met"]
    ]
