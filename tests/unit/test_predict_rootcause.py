"""Root-cause ranking on small, hand-made incidents."""

from __future__ import annotations

from devmentor_monitor.predictions.rootcause import (
    Anomaly,
    Change,
    Restart,
    dependency_paths,
    rank_causes,
)

T0 = 1_700_000_000.0
DEPS = {
    "project": ("memory", "ai-gateway"),
    "memory": ("auth",),
    "ai-gateway": ("auth",),
    "auth": (),
}


def test_root_of_a_failure_chain_outranks_its_dependents() -> None:
    health = {"project": "down", "memory": "down", "ai-gateway": "degraded", "auth": "down"}
    causes = rank_causes("project", T0, depends_on=DEPS, health=health)
    assert causes[0].subject == "auth"
    by = {c.subject: c for c in causes}
    assert by["auth"].score > by["memory"].score
    assert by["auth"].score > by["ai-gateway"].score
    assert "root of the chain" in by["auth"].evidence[0]
    assert "project -> memory -> auth" in by["auth"].evidence[0]


def test_deploy_on_the_root_strengthens_it_and_a_deploy_on_the_service_ranks_high() -> None:
    health = {"project": "down", "memory": "degraded", "ai-gateway": "up", "auth": "up"}
    changes = [
        Change(T0 - 240, "deploy", "memory", "memory v2.3.1"),
        (T0 - 600, "config-change", "project", "raised pool size"),
        (T0 - 3 * 3600, "deploy", "auth", "too old to matter"),
        (T0 + 60, "deploy", "ai-gateway", "after onset: ignored"),
        (T0 - 120, "deploy", "billing", "unrelated service: ignored"),
    ]
    causes = rank_causes("project", T0, depends_on=DEPS, health=health, changes=changes)
    subjects = [c.subject for c in causes]
    assert subjects[:2] == ["memory", "project"]
    memory = causes[0]
    assert set(memory.kinds) == {"dependency", "deploy"}
    assert any("deploy on dependency memory 4 m before onset" in e for e in memory.evidence)
    assert "auth" not in subjects
    assert "ai-gateway" not in subjects
    assert "billing" not in subjects


def test_deploy_of_the_service_alone_is_the_top_hint() -> None:
    health = dict.fromkeys(DEPS, "up")
    causes = rank_causes(
        "auth",
        T0,
        depends_on=DEPS,
        health=health,
        changes=[(T0 - 300, "deploy", "auth", "auth v9")],
        restarts=[Restart(T0 - 200, "auth", "auth-7f9c", "OOMKilled")],
        anomalies=[
            Anomaly("auth latency", "auth", T0 - 100, 0.9),
            Anomaly("host cpu", None, T0 - 50, 0.8),
            Anomaly("auth latency", "auth", T0 - 7200, 1.0),
        ],
    )
    assert causes[0].subject == "auth"
    assert causes[0].kinds == ("deploy", "restart", "anomaly")
    assert len(causes[0].evidence) == 3  # the 2 h old anomaly is ignored
    assert causes[0].first_seen == T0 - 300
    assert [c.subject for c in causes] == ["auth", "host"]


def test_recent_evidence_counts_more_than_old() -> None:
    health = dict.fromkeys(DEPS, "up")
    near = rank_causes(
        "auth", T0, depends_on=DEPS, health=health, changes=[(T0 - 60, "deploy", "auth", "v1")]
    )
    far = rank_causes(
        "auth", T0, depends_on=DEPS, health=health, changes=[(T0 - 1700, "deploy", "auth", "v1")]
    )
    assert near[0].score > far[0].score


def test_dependency_paths_handle_cycles() -> None:
    paths = dependency_paths("a", {"a": ("b",), "b": ("c",), "c": ("a", "b")})
    assert paths == {"b": ("a", "b"), "c": ("a", "b", "c")}


def test_nothing_known_gives_no_causes() -> None:
    assert rank_causes("auth", T0, depends_on=DEPS, health={}) == []
