"""incidents/explain.py: why an incident paged, or why it did not, in one line."""

from __future__ import annotations

from msgspec.structs import replace

from devmentor_monitor.incidents.explain import alert_reasons, why_paged
from devmentor_monitor.incidents.model import Incident, IncidentState, Severity, TimelineEntry
from devmentor_monitor.incidents.signals import make_signal
from devmentor_monitor.incidents.silences import Matcher, Silence

T = 1_700_000_000.0


def incident(**changes: object) -> Incident:
    down = make_signal("service_down", "auth", "auth", Severity.CRITICAL, True, T, metric="down")
    base = Incident(
        id="inc-1",
        service="auth",
        rule="service_down",
        severity=Severity.CRITICAL,
        title="auth: service down",
        description="down",
        state=IncidentState.OPEN,
        opened_at=T,
        updated_at=T,
        signals=(down,),
        page_at=T + 5,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_paged_says_what_confirmed_it_where_it_went_and_the_dependents():
    inc = incident(paged_at=T + 5, paged_channels=("ops", "pd"), dependents=("memory",))
    assert why_paged(inc, T + 6, failure_threshold=3) == (
        "service_down on auth confirmed after 3 failed checks; routed to ops, pd; "
        "names dependents memory"
    )
    every = incident(paged_at=T + 5, paged_channels=("*",), flapping=True)
    text = why_paged(every, T + 6, failure_threshold=1)
    assert text.startswith("service_down on auth confirmed after 1 failed check; sent to every")
    assert "flapping" in text


def test_not_paged_silenced_inhibited_waiting_resolved():
    silence = Silence("s-1", (Matcher("service", "auth"),), T, T + 3600, "ops", "deploy", T)
    assert (
        why_paged(incident(silenced_by="s-1"), T, silence=silence)
        == "not paged: silenced by s-1 (deploy)"
    )
    assert (
        why_paged(incident(parent_id="inc-0"), T, parent_service="db")
        == "not paged: inhibited by inc-0 (db)"
    )
    assert (
        why_paged(incident(), T + 1) == "not paged: waiting group_wait until 2023-11-14T22:13:25Z"
    )
    assert why_paged(incident(), T + 9, flapping=True).endswith(
        "is flapping and has paged once already"
    )
    gone = incident(state=IncidentState.RESOLVED, resolved_at=T + 2)
    assert why_paged(gone, T + 9) == "not paged: resolved before its page was due (group_wait)"
    merged = incident(
        state=IncidentState.RESOLVED,
        resolved_at=T + 2,
        timeline=(TimelineEntry(T + 2, "resolved", "monitor", "merged into auth's incident x"),),
    )
    assert why_paged(merged, T + 9) == "not paged: merged into auth's incident x"


def test_an_alert_held_by_a_dependencys_incident_is_inhibited_by_it():
    dep = make_signal("service_down", "memory", "memory", Severity.HIGH, True, T, metric="down")
    root = incident(signals=(*incident().signals, dep))
    own = alert_reasons(("service_down", "auth"), {}, [root], lambda _: None, lambda _: None)
    assert own.incident is root
    assert own.inhibited_by is None
    assert own.silence is None
    held = alert_reasons(("service_down", "memory"), {}, [root], lambda _: None, lambda _: None)
    assert held.inhibited_by is root
    none = alert_reasons(("latency_slo", "auth"), {}, [root], lambda _: None, lambda _: None)
    assert none.incident is None
    assert none.inhibited_by is None
