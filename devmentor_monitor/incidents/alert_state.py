"""Pending and firing alerts survive a restart.

The evaluator (incidents/rules.py) keeps its alerts in memory. `AlertStateKeeper.sync`
writes the pending and firing ones to SQLite (`alert_state`) when one starts, changes
state or goes quiet (not on every new value), and `restore` puts them back at start: a
pending alert's `for` timer carries on from its `since`, and a firing one stays firing, so
it neither fires again (no second page) nor is forgotten (its clearing still resolves the
incident restored with it).
"""

from __future__ import annotations

from collections.abc import Iterable

from devmentor_monitor.incidents.model import Signal
from devmentor_monitor.incidents.rules import Alert, AlertState, Evaluator
from devmentor_monitor.storage.db import Database

Row = tuple[str, str, str, float, float | None, float]  # rule, subject, state, since, value, thr
KEPT = (AlertState.PENDING, AlertState.FIRING)


class AlertStateKeeper:
    def __init__(self, evaluator: Evaluator, db: Database) -> None:
        self.evaluator = evaluator
        self.db = db
        self._written: dict[tuple[str, str], tuple[str, float, float]] = {}

    def _current(self) -> dict[tuple[str, str], Row]:
        return {
            key: (a.rule.name, a.subject, a.state.value, a.since, a.value, a.threshold)
            for key, a in self.evaluator.alerts.items()
            if a.state in KEPT
        }

    async def sync(self) -> int:
        """Write what changed since the last sync; the number of rows written or deleted."""
        current = self._current()
        upserts = [row for key, row in current.items() if self._written.get(key) != _identity(row)]
        deletes = [key for key in self._written if key not in current]
        if upserts or deletes:
            await self.db.run(self.db.save_alert_states, upserts, deletes)
            self._written = {key: _identity(row) for key, row in current.items()}
        return len(upserts) + len(deletes)

    async def restore(self) -> int:
        """Put the persisted alerts back in the evaluator (rules no longer configured
        are skipped); how many."""
        rows = await self.db.run(self.db.load_alert_states)
        rules = {r.name: r for r in self.evaluator.rules}
        waiting = getattr(self.evaluator, "_waiting", None)  # pending: their `for` timers
        restored = 0
        for name, subject, state, since, value, threshold in rows:
            rule = rules.get(name)
            if rule is None or state not in {s.value for s in KEPT}:
                continue
            alert = Alert(rule, subject, AlertState(state), since, value, threshold)
            self.evaluator.alerts[(name, subject)] = alert
            if alert.state is AlertState.PENDING and isinstance(waiting, set):
                waiting.add((name, subject))
            self._written[(name, subject)] = (state, since, threshold)
            restored += 1
        return restored


def adopt(evaluator: Evaluator, signals: Iterable[Signal]) -> int:
    """Firing signals of open incidents that the evaluator has no alert for (an incident
    migrated from a database written before alert state was kept) become firing alerts, so
    the first evaluation either keeps them (no second page) or clears them, which resolves
    the incident. Without this such an incident stayed open for ever once its condition was
    over: nothing was firing to clear. How many were adopted."""
    rules = {r.name: r for r in evaluator.rules}
    adopted = 0
    for sig in signals:
        rule = rules.get(sig.rule)
        known = evaluator.alerts.get(sig.key)
        if not sig.firing or rule is None or (known is not None and known.state in KEPT):
            continue
        evaluator.alerts[sig.key] = Alert(
            rule, sig.subject, AlertState.FIRING, sig.first_at, sig.value, sig.threshold or 0.0
        )
        adopted += 1
    return adopted


def _identity(row: Row) -> tuple[str, float, float]:
    """What makes a row worth writing again: its state, since and threshold (a new value
    alone is not)."""
    return (row[2], row[3], row[5])


__all__ = ["AlertStateKeeper", "adopt"]
