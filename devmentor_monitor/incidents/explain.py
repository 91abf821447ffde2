"""Why an incident paged (or did not), and why an alert stays quiet.

One wording for every view: `GET /api/incidents/{id}` (`why_paged`), `/api/alerts`
(`inhibited_by`, `silenced_by`) and the TUI's incident detail. Pure functions: the caller
hands in what it knows (the silence, the parent incident's service, the service's
`failure_threshold`, whether it flaps now). No I/O here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from devmentor_monitor.incidents.dispatch import EVERY_CHANNEL
from devmentor_monitor.incidents.model import Incident, Signal
from devmentor_monitor.incidents.silence_book import iso
from devmentor_monitor.incidents.silences import Silence


def why_paged(
    inc: Incident,
    now: float,
    *,
    silence: Silence | None = None,
    parent_service: str | None = None,
    failure_threshold: int | None = None,
    flapping: bool = False,
) -> str:
    """One line: what paged and where, or why nothing was sent.

    ``silence``: the silence named by ``inc.silenced_by`` (for its comment);
    ``parent_service``: the service of ``inc.parent_id``'s incident; ``failure_threshold``:
    the service's (a down signal is confirmed after that many failed checks);
    ``flapping``: the service flaps now (the dispatcher pages it at most once)."""
    if inc.paged_at is not None:
        parts = [_cause(inc, failure_threshold), _where(inc)]
        if inc.dependents:
            parts.append(f"names dependents {', '.join(inc.dependents)}")
        if inc.flapping:
            parts.append("paged while flapping: no further page while it flaps")
        if inc.silenced_by is not None:
            parts.append(f"silenced since by {inc.silenced_by}")
        return "; ".join(parts)
    if inc.silenced_by is not None:
        text = f"not paged: silenced by {inc.silenced_by}"
        if silence is not None and silence.comment:
            text += f" ({silence.comment})"
        return text
    if inc.parent_id is not None:
        text = f"not paged: inhibited by {inc.parent_id}"
        return f"{text} ({parent_service})" if parent_service else text
    if not inc.is_open:
        merged = next(
            (e.text for e in reversed(inc.timeline) if e.text.startswith("merged into")), None
        )
        if merged is not None:
            return f"not paged: {merged}"
        return "not paged: resolved before its page was due (group_wait)"
    if inc.page_at is None:
        return "not paged: no page due"
    if now < inc.page_at:
        return f"not paged: waiting group_wait until {iso(inc.page_at)}"
    if flapping:
        return f"not paged: {inc.service} is flapping and has paged once already"
    return f"not paged yet: due since {iso(inc.page_at)}"


def opening_signal(inc: Incident) -> Signal | None:
    """The incident's own signal for the rule that opened it (else its first own one)."""
    own = [s for s in inc.signals if s.service == inc.service]
    return next((s for s in own if s.rule == inc.rule), own[0] if own else None)


def _cause(inc: Incident, failure_threshold: int | None) -> str:
    if inc.rule == "manual":
        who = inc.timeline[0].actor if inc.timeline else "an operator"
        return f"opened by hand by {who} ({inc.severity.value})"
    sig = opening_signal(inc)
    if sig is None:
        return f"{inc.rule} on {inc.service} ({inc.severity.value})"
    where = f"{sig.rule} on {sig.subject}"
    if sig.kind == "down":
        if failure_threshold:
            checks = "check" if failure_threshold == 1 else "checks"
            return f"{where} confirmed after {failure_threshold} failed {checks}"
        return f"{where} confirmed down"
    if sig.kind == "flapping" and sig.value is not None:
        return f"{sig.service} flapping ({sig.value:.0%} state change)"
    if sig.kind == "event":
        return f"{where}: a platform event ({sig.severity.value})"
    if sig.value is not None and sig.threshold is not None:
        return f"{where} at {sig.value:.3g} (threshold {sig.threshold:.3g})"
    return f"{where} fired"


def _where(inc: Incident) -> str:
    channels = [c for c in inc.paged_channels if c != EVERY_CHANNEL]
    if not channels:
        return "sent to every channel"
    return f"routed to {', '.join(channels)}"


@dataclass(frozen=True, slots=True)
class AlertReasons:
    """Why an alert is quiet: the open incident holding its signal, the dependency's
    incident inhibiting it (that incident, when the signal is a dependent's), the silence
    muting it."""

    incident: Incident | None
    inhibited_by: Incident | None
    silence: Silence | None


def alert_reasons(
    key: tuple[str, str],
    labels: Mapping[str, str],
    open_incidents: Iterable[Incident],
    silence_for: Callable[[Mapping[str, str]], Silence | None],
    silence_by_id: Callable[[str], Silence | None],
) -> AlertReasons:
    """``key``: the alert's (rule, subject); ``labels``: its labels (service, rule,
    severity, kind, subject), matched against the silences."""
    holder: Incident | None = None
    held: Signal | None = None
    for inc in open_incidents:
        sig = next((s for s in inc.signals if s.key == key), None)
        if sig is not None:
            holder, held = inc, sig
            break
    inhibited = holder if holder is not None and held is not None else None
    if inhibited is not None and held is not None and held.service == inhibited.service:
        inhibited = None
    silence = silence_for(labels)
    if silence is None and holder is not None and holder.silenced_by is not None:
        silence = silence_by_id(holder.silenced_by)
    return AlertReasons(holder, inhibited, silence)


__all__ = ["AlertReasons", "alert_reasons", "opening_signal", "why_paged"]
