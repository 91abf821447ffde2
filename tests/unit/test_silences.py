"""Silences: matchers (eq / neq / regex / not-regex, anchored), activity and expiry,
persistence across a Database reopen, and maintenance windows from alerting.maintenance."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from devmentor_monitor.config.schema import ConfigError, parse_text
from devmentor_monitor.incidents.silences import (
    MAX_REGEX,
    Maintenance,
    Matcher,
    Silence,
    Silences,
    matchers_from,
    parse_clock,
    parse_instant,
)
from devmentor_monitor.storage.db import Database

LABELS = {"service": "auth", "rule": "service_down", "severity": "critical", "team": "core"}
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def silence(*matchers: Matcher, start: float = T0, end: float = T0 + 3600) -> Silence:
    return Silence("s1", tuple(matchers), start, end, "alice", "deploy", T0)


# --------------------------------------------------------------------------- matchers


@pytest.mark.parametrize(
    ("matcher", "hit"),
    [
        (Matcher("service", "auth"), True),
        (Matcher("service", "memory"), False),
        (Matcher("service", "auth", is_equal=False), False),
        (Matcher("service", "memory", is_equal=False), True),
        (Matcher("service", "au.*", is_regex=True), True),
        (Matcher("service", "auth|memory", is_regex=True), True),
        (Matcher("service", "mem.*", is_regex=True), False),
        (Matcher("service", "au.*", is_regex=True, is_equal=False), False),
        (Matcher("service", "mem.*", is_regex=True, is_equal=False), True),
        (Matcher("team", "", is_equal=False), True),  # team is set
        (Matcher("region", ""), True),  # a missing label reads as ""
        (Matcher("region", "eu"), False),
        (Matcher("region", ".+", is_regex=True), False),
    ],
    ids=str,
)
def test_matcher_kinds(matcher, hit):
    assert matcher.matches(LABELS) is hit


@pytest.mark.parametrize("pattern", ["ut", "aut", "uth", "a", "auth.", ".auth"])
def test_regex_is_anchored_at_both_ends(pattern):
    assert not Matcher("service", pattern, is_regex=True).matches(LABELS)
    assert Matcher("service", pattern, is_regex=True, is_equal=False).matches(LABELS)


def test_regex_is_compiled_at_creation_and_bounded():
    with pytest.raises(ValueError, match=r"bad regex '\(auth': missing \)"):
        Matcher("service", "(auth", is_regex=True)
    with pytest.raises(ValueError, match=f"at most {MAX_REGEX}"):
        Matcher("service", "a" * (MAX_REGEX + 1), is_regex=True)
    Matcher("service", "(auth", is_regex=False)  # a plain value is not a regex
    with pytest.raises(ValueError, match="label name"):
        Matcher("", "x")


def test_matcher_json_is_alertmanager_v2():
    m = Matcher("service", "a.*", is_regex=True, is_equal=False)
    assert m.to_json() == {"name": "service", "value": "a.*", "isRegex": True, "isEqual": False}
    assert Matcher.from_json(m.to_json()) == m
    assert Matcher.from_json({"name": "service", "value": "auth", "isRegex": False}).is_equal
    with pytest.raises(ValueError, match="string name"):
        Matcher.from_json({"name": "service", "value": 3})
    with pytest.raises(ValueError, match="bad regex"):
        Matcher.from_json({"name": "service", "value": "[", "isRegex": True})


# --------------------------------------------------------------------------- silences


def test_all_matchers_must_match():
    s = silence(Matcher("service", "auth"), Matcher("severity", "critical"))
    assert s.matches(LABELS)
    assert not s.matches({**LABELS, "severity": "low"})


def test_active_window_and_expiry():
    s = silence(Matcher("service", "auth"))
    assert not s.active(T0 - 1)
    assert s.active(T0)
    assert s.active(T0 + 3599)
    assert not s.active(T0 + 3600)  # ends_at is exclusive
    ended = s.expired(T0 + 60)
    assert (ended.starts_at, ended.ends_at) == (T0, T0 + 60)
    assert not ended.active(T0 + 60)
    assert ended.expired(T0 + 120) is ended  # already over: unchanged
    pending = silence(Matcher("service", "auth"), start=T0 + 600, end=T0 + 900)
    assert (pending.expired(T0).starts_at, pending.expired(T0).ends_at) == (T0, T0)


def test_silence_validation():
    with pytest.raises(ValueError, match="at least one matcher"):
        silence()
    with pytest.raises(ValueError, match="must not match an empty"):
        silence(Matcher("service", ".*", is_regex=True))
    with pytest.raises(ValueError, match="end after it starts"):
        silence(Matcher("service", "auth"), start=T0, end=T0 - 1)
    with pytest.raises(ValueError, match="end in the future"):
        Silence.create([Matcher("service", "auth")], ends_at=T0, created_by="a", comment="", now=T0)
    made = Silence.create(
        [Matcher("service", "auth")], ends_at=T0 + 60, created_by="bob", comment="x", now=T0
    )
    assert (made.starts_at, made.created_at, made.created_by) == (T0, T0, "bob")
    assert len(made.id) == 32


def test_silences_set_add_match_expire_purge():
    ss = Silences()
    a = ss.add(silence(Matcher("service", "auth")))
    b = ss.add(Silence("s2", (Matcher("severity", "low"),), T0, T0 + 60, "bob", "", T0 + 1))
    assert [s.id for s in ss.active(T0 + 10)] == ["s2", "s1"]
    assert ss.match(LABELS, T0 + 10) == a
    assert ss.match({"service": "memory", "severity": "low"}, T0 + 10) == b
    assert ss.match({"service": "memory"}, T0 + 10) is None
    assert ss.match(LABELS, T0 - 1) is None  # not started
    expired = ss.expire("s1", T0 + 20)
    assert expired.ends_at == T0 + 20
    assert ss.match(LABELS, T0 + 20) is None
    assert ss.get("s1") == expired
    with pytest.raises(KeyError):
        ss.expire("nope", T0)
    assert ss.purge(T0 + 30) == ["s1"]
    assert [s.id for s in ss.all()] == ["s2"]


def test_silences_survive_a_database_reopen(tmp_path):
    path = tmp_path / "state.db"
    db = Database(path)
    db.open()
    one = Silence.create(
        [Matcher("service", "auth"), Matcher("rule", "burn_.*", is_regex=True, is_equal=False)],
        ends_at=T0 + 3600,
        created_by="alice",
        comment="deploying auth",
        now=T0,
    )
    two = Silence.create(
        [Matcher("team", "core")], ends_at=T0 + 7200, created_by="bob", comment="", now=T0 + 5
    )
    db.save_silence(one)
    db.save_silence(two)
    assert db.expire_silence(two.id, T0 + 10)
    assert not db.expire_silence(two.id, T0 + 20)  # ended already
    assert not db.expire_silence("nope", T0 + 20)
    db.close()

    again = Database(path)
    again.open()
    loaded = again.load_silences()
    assert [s.id for s in loaded] == [two.id, one.id]
    assert loaded[1] == one
    assert loaded[1].matchers[1].is_regex
    assert not loaded[1].matchers[1].matches({"rule": "burn_rate_fast"})
    assert loaded[0].ends_at == T0 + 10
    assert [s.id for s in again.load_silences(ended_after=T0 + 60)] == [one.id]
    ss = Silences(loaded)
    assert ss.match({"service": "auth", "rule": "service_down"}, T0 + 30) == one
    assert again.purge_silences(T0 + 60) == 1
    assert [s.id for s in again.load_silences()] == [one.id]
    again.close()


# --------------------------------------------------------------------------- maintenance

PARIS = ZoneInfo("Europe/Paris")


def at(text: str, tz: ZoneInfo = PARIS) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def test_recurring_window_across_midnight_in_a_time_zone():
    # Saturdays 22:00 → Sunday 02:00, Paris time (UTC+1 in January). 2026-01-03 is a Saturday.
    m = Maintenance("nightly", (Matcher("service", "auth"),), days=frozenset({5}),
                    start_min=22 * 60, end_min=2 * 60, tz="Europe/Paris")  # fmt: skip
    assert m.window_at(at("2026-01-03T21:59")) is None
    start, end = m.window_at(at("2026-01-03T22:00"))
    assert (start, end) == (at("2026-01-03T22:00"), at("2026-01-04T02:00"))
    assert start == datetime(2026, 1, 3, 21, 0, tzinfo=UTC).timestamp()
    assert m.window_at(at("2026-01-04T01:30")) == (start, end)  # Sunday, begun Saturday
    assert m.window_at(at("2026-01-04T02:00")) is None
    assert m.window_at(at("2026-01-04T22:30")) is None  # Sunday does not open one
    assert m.window_at(at("2026-01-10T23:00")) is not None  # next Saturday
    s = m.silence_at(at("2026-01-04T01:30"))
    assert s is not None
    assert s.created_by == "maintenance:nightly"
    assert s.id == f"maintenance:nightly:{int(start)}"
    assert s.matches({"service": "auth"})
    # In UTC the same wall times are an hour later.
    utc = Maintenance("u", (Matcher("service", "auth"),), days=frozenset({5}),
                      start_min=22 * 60, end_min=2 * 60)  # fmt: skip
    assert utc.window_at(at("2026-01-03T22:30")) is None  # 21:30 UTC
    assert utc.window_at(at("2026-01-03T23:30")) is not None  # 22:30 UTC


def test_recurring_window_same_day_and_one_off():
    weekdays = Maintenance("backup", (Matcher("service", "memory"),),
                           days=frozenset(range(5)), start_min=120, end_min=240)  # fmt: skip
    assert weekdays.window_at(at("2026-01-05T03:00", ZoneInfo("UTC"))) is not None  # Monday
    assert weekdays.window_at(at("2026-01-03T03:00", ZoneInfo("UTC"))) is None  # Saturday
    once = Maintenance("move", (Matcher("service", "auth"),), start=T0, end=T0 + 60)
    assert once.window_at(T0 - 1) is None
    assert once.window_at(T0) == (T0, T0 + 60)
    assert once.window_at(T0 + 60) is None


def test_maintenance_silences_join_the_set():
    once = Maintenance("move", (Matcher("service", "auth"),), start=T0, end=T0 + 60)
    ss = Silences(maintenance=[once])
    assert ss.match(LABELS, T0 + 1).created_by == "maintenance:move"
    assert ss.match(LABELS, T0 + 61) is None
    assert ss.all() == []  # virtual: nothing stored


def test_maintenance_from_config():
    cfg = parse_text(
        textwrap.dedent(
            """\
            alerting:
              maintenance:
                - name: weekend
                  match: {service: auth}
                  match_re: {rule: "burn_.*"}
                  every: {days: [sat, sun], from: "02:00", to: "04:00", tz: Europe/Paris}
                - name: move
                  match: {team: core}
                  at: {start: "2026-01-01T00:00:00Z", end: "2026-01-01T02:00:00+01:00"}
                - name: daily
                  match_re: {service: "auth|memory"}
                  every: {from: "23:30", to: "00:30"}
            """
        )
    )
    weekend, move, daily = (Maintenance.from_config(w) for w in cfg.alerting.maintenance)
    assert weekend.days == {5, 6}
    assert (weekend.start_min, weekend.end_min, weekend.tz) == (120, 240, "Europe/Paris")
    assert weekend.matchers == matchers_from([("service", "auth")], [("rule", "burn_.*")])
    assert (move.start, move.end) == (T0, T0 + 3600)  # 02:00+01:00 is 01:00 UTC
    assert daily.days == set(range(7))
    assert daily.window_at(T0) is not None  # 00:00 UTC, inside 23:30 → 00:30


def test_clock_and_instant_parsing():
    assert parse_clock("02:00") == 120
    assert parse_clock("23:59") == 23 * 60 + 59
    for bad in ("24:00", "2", "02:60", "noon"):
        with pytest.raises(ValueError, match="HH:MM"):
            parse_clock(bad)
    assert parse_instant("2026-01-01T00:00:00Z") == T0
    assert parse_instant(datetime(2026, 1, 1, tzinfo=UTC)) == T0
    with pytest.raises(ValueError, match="UTC offset"):
        parse_instant("2026-01-01T00:00:00")
    with pytest.raises(ValueError, match="ISO date-time"):
        parse_instant("tomorrow")


MAINT = "alerting:\n  maintenance:\n    - name: w\n"


@pytest.mark.parametrize(
    ("text", "line", "key", "fragment"),
    [
        (MAINT + "      match: {service: auth}\n", 3, "alerting.maintenance.w", "exactly one"),
        (
            MAINT + '      every: {from: "02:00", to: "03:00"}\n',
            3,
            "alerting.maintenance.w",
            "give 'match' or 'match_re'",
        ),
        (
            MAINT
            + '      match_re: {service: "(auth"}\n      every: {from: "02:00", to: "03:00"}\n',
            4,
            "alerting.maintenance.w.match_re.service",
            "bad regex '(auth'",
        ),
        (
            MAINT + "      match: {service: auth}\n      every:\n        from: 22:00\n"
            '        to: "03:00"\n',
            6,
            "alerting.maintenance.w.every.from",
            "in quotes",
        ),
        (
            MAINT + '      match: {service: auth}\n      every:\n        from: "2am"\n'
            '        to: "03:00"\n',
            6,
            "alerting.maintenance.w.every.from",
            "HH:MM",
        ),
        (
            MAINT + "      match: {service: auth}\n      every:\n"
            '        from: "02:00"\n        to: "03:00"\n        tz: Mars/Olympus\n',
            8,
            "alerting.maintenance.w.every.tz",
            "unknown time zone 'Mars/Olympus'",
        ),
        (
            MAINT + "      match: {service: auth}\n      every:\n"
            '        from: "02:00"\n        to: "03:00"\n        days:\n          - sat\n'
            "          - caturday\n",
            10,
            "alerting.maintenance.w.every.days[1]",
            "unknown day 'caturday'",
        ),
        (
            MAINT + "      match: {service: auth}\n      every:\n"
            '        from: "02:00"\n        to: "02:00"\n',
            5,
            "alerting.maintenance.w.every",
            "from and to must differ",
        ),
        (
            MAINT + "      match: {service: auth}\n      at:\n"
            '        start: "2026-01-02T00:00:00Z"\n        end: "2026-01-01T00:00:00Z"\n',
            5,
            "alerting.maintenance.w.at",
            "end must be after start",
        ),
        (
            MAINT + "      match: {service: auth}\n      at:\n"
            '        start: "2026-01-02T00:00:00"\n        end: "2026-01-03T00:00:00Z"\n',
            6,
            "alerting.maintenance.w.at.start",
            "UTC offset",
        ),
        (
            MAINT + '      match: {service: auth}\n      at: {start: "2026-01-02T00:00:00Z"}\n',
            5,
            "alerting.maintenance.w.at",
            "missing end",
        ),
        (
            MAINT + '      match_re: {service: ".*"}\n      every: {from: "02:00", to: "03:00"}\n',
            3,
            "alerting.maintenance.w",
            "must not match an empty",
        ),
        (
            MAINT + '      match: {service: auth}\n      every: {from: "02:00", to: "03:00"}\n'
            "    - name: w\n      match: {service: auth}\n",
            6,
            "alerting.maintenance.w",
            "duplicate maintenance window (first defined on line 3)",
        ),
    ],
)
def test_maintenance_config_errors_name_line_and_key(text, line, key, fragment):
    with pytest.raises(ConfigError) as info:
        parse_text(text, "services.yaml")
    err = info.value
    assert (err.source, err.line, err.key) == ("services.yaml", line, key), str(err)
    assert fragment in err.message
    assert str(err).startswith(f"services.yaml:{line}: {key}: ")
