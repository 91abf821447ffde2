"""SQLite's SQL as the PostgreSQL adapter sends it (storage/postgres.py): each quirk the
Database methods use, translated; and where messages say the store is (no password)."""

from __future__ import annotations

from devmentor_monitor.storage.postgres import location, translate


def test_placeholders_and_percent() -> None:
    assert translate("SELECT a FROM t WHERE b = ? AND c LIKE '5%'") == (
        "SELECT a FROM t WHERE b = %s AND c LIKE '5%%'"
    )


def test_insert_or_replace_is_an_upsert_on_the_tables_key() -> None:
    assert translate(
        "INSERT OR REPLACE INTO alert_state (rule, subject, state) VALUES (?, ?, ?)"
    ) == (
        "INSERT INTO alert_state (rule, subject, state) VALUES (%s, %s, %s) "
        "ON CONFLICT (rule, subject) DO UPDATE SET state = EXCLUDED.state"
    )


def test_two_argument_min_is_least() -> None:
    assert translate("UPDATE s SET starts_at = MIN(starts_at, ?)") == (
        "UPDATE s SET starts_at = LEAST(starts_at, %s)"
    )
    assert translate("SELECT MIN(id) FROM audit") == "SELECT MIN(id) FROM audit"


def test_location_never_shows_the_password() -> None:
    assert location("postgresql://u:secret@db.internal:6543/fleet") == "db.internal:6543/fleet"
    assert location("postgres://u@10.0.0.5/monitor") == "10.0.0.5:5432/monitor"
