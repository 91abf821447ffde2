"""deploy/kubernetes as an operator applies it: rendered by `kubectl kustomize`, every
object validated offline against the Kubernetes schemas (kubernetes-validate), and the
points an operator relies on checked on the rendered objects: the namespace, two replicas
as one fleet with a disruption budget, the probes, the security context, the Secrets
referenced and never inlined (no credential in a ConfigMap), RBAC that is exactly what
devmentor_monitor/workloads/kube_source.py calls, a services.yaml the monitor's own loader
and command line accept, and the example PostgreSQL and Redis the README points the
monitor at (the Redis command run with a real redis-server)."""

from __future__ import annotations

import ast
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from support.waiting import wait_until

from devmentor_monitor import cli
from devmentor_monitor.config.schema import load_config
from devmentor_monitor.demo.fleet import free_port
from devmentor_monitor.workloads import kube_source

ROOT = Path(__file__).resolve().parents[2]
KUBE = ROOT / "deploy" / "kubernetes"
TREES = {  # the base, the two add-ons an operator applies after it, the example backing
    "base": KUBE,
    "recovery-actions": KUBE / "recovery-actions",
    "prometheus-operator": KUBE / "prometheus-operator",
    "backing": KUBE / "examples" / "backing",
}
NS = "devmentor"
SECRET = "devmentor-monitor-secrets"
BACKING_SECRET = "devmentor-backing"  # the example PostgreSQL's and Redis's passwords
PORT = 3006
# The oldest Kubernetes still commonly run and the newest the package knows: an object
# must be valid in both (e.g. policy/v1 PodDisruptionBudget needs 1.21).
VERSIONS = ("1.27.0", kubernetes_validate.latest_version())
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
READ_VERBS = {"get", "list", "watch"}
API_KEYS = "ops:admin:0123456789abcdef0123"  # name:role:key, as README.md's command makes
# What the operator's Secret holds (README.md), with passwords in both URLs, as the example
# backing's commands make them.
SECRET_ENV = {
    "DEVMENTOR_API_KEYS": API_KEYS,
    "DEVMENTOR_SESSION_SECRET": "5e55105e55105e55105e55105e55105e",
    "DATABASE_URL": "postgresql://devmentor:pgpass0123456789@devmentor-postgres.devmentor.svc:5432/devmentor",
    "REDIS_URL": "redis://:redispass0123456789@devmentor-redis.devmentor.svc:6379/0",
}
# Variables of the monitor's pod that are credentials: each must come from the Secret.
CREDENTIAL_VAR = re.compile(r"KEY|TOKEN|PASSWORD|SECRET|WEBHOOK|DATABASE_URL|REDIS_URL")

# The Python client's method -> the RBAC rule it needs: (API group, resource, verb).
# A call kube_source.py makes that is not here fails test_rbac_*: add it here and to the
# Role (reads) or recovery-actions/role.yaml (writes).
CLIENT_CALLS = {
    "list_namespaced_pod": ("", "pods", "list"),
    "list_namespaced_deployment": ("apps", "deployments", "list"),
    "list_namespaced_event": ("", "events", "list"),
    "list_node": ("", "nodes", "list"),
    "read_namespaced_pod": ("", "pods", "get"),
    "read_namespaced_deployment": ("apps", "deployments", "get"),
    "patch_namespaced_deployment": ("apps", "deployments", "patch"),
    "patch_namespaced_deployment_scale": ("apps", "deployments/scale", "patch"),
    "delete_namespaced_pod": ("", "pods", "delete"),
}
CLUSTER_RESOURCES = {"nodes"}
# GET /version (VersionApi.get_code, the connect check) is a non-resource URL every
# authenticated user may read (system:discovery): no rule needed.
KNOWN_APIS = {"CoreV1Api", "AppsV1Api", "VersionApi"}

# ServiceMonitor is a CRD, not in the core schemas: the fields we write, as
# prometheus-operator's CRD (monitoring.coreos.com/v1) types them, and nothing else.
DURATION = r"^(0|([0-9]+(y|w|d|h|m|s|ms))+)$"  # a Prometheus duration: 30s, 1m30s
SERVICE_MONITOR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {"type": "object", "required": ["name", "namespace"]},
        "spec": {
            "type": "object",
            "required": ["selector", "endpoints"],
            "additionalProperties": False,
            "properties": {
                "selector": {
                    "type": "object",
                    "required": ["matchLabels"],
                    "properties": {
                        "matchLabels": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                        }
                    },
                },
                "namespaceSelector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "any": {"type": "boolean"},
                        "matchNames": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["port"],
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string", "pattern": "^/"},
                            "scheme": {"enum": ["http", "https"]},
                            "interval": {"type": "string", "pattern": DURATION},
                            "scrapeTimeout": {"type": "string", "pattern": DURATION},
                            "authorization": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["credentials"],
                                "properties": {
                                    "type": {"type": "string"},
                                    "credentials": {
                                        "type": "object",
                                        "additionalProperties": False,
                                        "required": ["name", "key"],
                                        "properties": {
                                            "name": {"type": "string"},
                                            "key": {"type": "string"},
                                            "optional": {"type": "boolean"},
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("kubectl") is None,
        reason="kubectl not installed (scripts/setup --test installs kubernetes-client)",
    ),
]


def render(tree: Path) -> list[dict[str, Any]]:
    """What `kubectl apply -k tree` would send."""
    out = subprocess.run(
        ["kubectl", "kustomize", str(tree)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return [o for o in yaml.safe_load_all(out.stdout) if o]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {name: render(tree) for name, tree in TREES.items()}


@pytest.fixture(scope="module")
def base(rendered: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return rendered["base"]


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    containers = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


# ------------------------------------------------------------------ schema
@pytest.mark.parametrize(
    ("tree", "kinds"),
    [
        (
            "base",
            {
                "Namespace",
                "ServiceAccount",
                "Role",
                "RoleBinding",
                "ClusterRole",
                "ClusterRoleBinding",
                "ConfigMap",
                "Deployment",
                "Service",
                "PodDisruptionBudget",
            },
        ),
        ("recovery-actions", {"Role", "RoleBinding"}),
        ("prometheus-operator", {"ServiceMonitor"}),
        ("backing", {"StatefulSet", "Deployment", "Service", "NetworkPolicy"}),
    ],
)
def test_every_object_is_valid_against_the_schemas(
    rendered: dict[str, list[dict[str, Any]]], tree: str, kinds: set[str]
) -> None:
    objects = rendered[tree]
    assert {o["kind"] for o in objects} == kinds
    for obj in objects:
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            jsonschema.validate(obj, SERVICE_MONITOR_SCHEMA)
            continue
        for version in VERSIONS:  # strict: an unknown (misspelt) field is an error
            kubernetes_validate.validate(obj, version, strict=True)


def test_the_schema_check_catches_a_misspelt_field(base: list[dict[str, Any]]) -> None:
    """The validation above is not vacuous: a typo in a probe is refused."""
    deployment = yaml.safe_load(yaml.safe_dump(one(base, "Deployment")))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProb"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="livenessProb"):
        kubernetes_validate.validate(deployment, VERSIONS[-1], strict=True)


def test_every_namespaced_object_is_in_devmentor(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    assert one(rendered["base"], "Namespace")["metadata"]["name"] == NS
    for objects in rendered.values():
        for obj in objects:
            meta = obj["metadata"]
            if obj["kind"] in CLUSTER_SCOPED:
                assert "namespace" not in meta, obj["kind"]
            else:
                assert meta.get("namespace") == NS, f"{obj['kind']}/{meta['name']}"
            for subject in obj.get("subjects", []):
                assert subject["namespace"] == NS


# ------------------------------------------------------------------ the Deployment
def test_two_replicas_as_one_fleet_rolled_one_at_a_time(base: list[dict[str, Any]]) -> None:
    """Two replicas that share the store and split the checks (cluster.enabled), replaced
    one at a time, preferably on two nodes."""
    spec = one(base, "Deployment")["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    pod = spec["template"]["spec"]
    (spread,) = pod["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ]
    term = spread["podAffinityTerm"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert (
        term["labelSelector"]["matchLabels"].items()
        <= spec["template"]["metadata"]["labels"].items()
    )
    configmap = yaml.safe_load(one(base, "ConfigMap")["data"]["services.yaml"])
    assert configmap["cluster"]["enabled"] is True


@pytest.mark.parametrize("probe", ["readinessProbe", "livenessProbe"])
def test_probes_on_health(base: list[dict[str, Any]], probe: str) -> None:
    c = container(base)
    assert c[probe]["httpGet"] == {"path": "/health", "port": PORT}
    assert {"containerPort": PORT, "name": "http", "protocol": "TCP"} in c["ports"]


def test_resources_requested_and_limited(base: list[dict[str, Any]]) -> None:
    resources = container(base)["resources"]
    for bound in ("requests", "limits"):
        assert set(resources[bound]) == {"cpu", "memory"}, bound


def test_non_root_and_read_only(base: list[dict[str, Any]]) -> None:
    pod = one(base, "Deployment")["spec"]["template"]["spec"]
    c = container(base)
    security = pod["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] > 0
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    cs = c["securityContext"]
    assert cs["allowPrivilegeEscalation"] is False
    assert cs["readOnlyRootFilesystem"] is True
    assert cs["capabilities"] == {"drop": ["ALL"]}
    assert "privileged" not in cs
    # With a read-only root, what it writes must be volumes: /data (kept) and /tmp.
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    # Both scratch: what is kept, the history too, is in PostgreSQL (a ReadWriteOnce
    # claim would pin both replicas to one node).
    assert "emptyDir" in volumes[mounts["/data"]["name"]]
    assert "emptyDir" in volumes[mounts["/tmp"]["name"]]
    assert not [o for o in base if o["kind"] == "PersistentVolumeClaim"]
    assert not mounts["/data"].get("readOnly")
    assert not mounts["/tmp"].get("readOnly")
    assert "--data-dir=/data" in c["args"]
    # Service links off: a Service named "monitoring" would inject MONITORING_PORT.
    assert pod["enableServiceLinks"] is False
    sa = one(base, "ServiceAccount")["metadata"]["name"]
    assert pod["serviceAccountName"] == sa


def test_the_secret_is_referenced_never_inlined(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    for objects in rendered.values():
        assert not [o for o in objects if o["kind"] == "Secret"], "a Secret in the tree"
    c = container(rendered["base"])
    env = {e["name"]: e for e in c["env"]}
    for name in SECRET_ENV:  # the API keys, the session secret, the store's and Redis's URLs
        assert "value" not in env[name], name
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert (ref["name"], ref["key"]) == (SECRET, name)
        assert ref.get("optional") is not True, name  # required: no start without it
    assert {"secretRef": {"name": SECRET, "optional": True}} in c["envFrom"]
    for e in c["env"]:  # no literal credential in the environment either
        assert not CREDENTIAL_VAR.search(e["name"]) or "value" not in e, e["name"]
    assert "--insecure" not in c["args"]


def literal_credentials(text: str) -> list[str]:
    """What in a services.yaml is a credential written out rather than taken from the
    environment: a URL with a password, a secret-named key with a literal value, or the
    store's or Redis's URL at all (they carry passwords: DATABASE_URL, REDIS_URL)."""
    found: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else str(key))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")
        elif isinstance(node, str) and not re.fullmatch(r"\$\{[A-Z0-9_]+\}", node):
            leaf = path.rsplit(".", 1)[-1]
            if re.search(r"://[^/@\s:]*:[^/@\s]+@", node):
                found.append(f"{path}: a URL with a password")
            elif re.search(r"password|secret|token|(^|_)key$|routing_key", leaf, re.I):
                found.append(f"{path}: a literal {leaf}")
            elif path in ("storage.url", "redis.url"):
                found.append(f"{path}: written in the file")

    walk(yaml.safe_load(text), "")
    return found


def test_no_credential_in_a_configmap(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """A ConfigMap is readable by anyone who may read the namespace's config: the store's
    and Redis's passwords, keys and tokens stay in the Secret, and none of the Secret's
    values appears in any rendered object."""
    configmaps = [o for objects in rendered.values() for o in objects if o["kind"] == "ConfigMap"]
    assert configmaps
    for cm in configmaps:
        for name, text in cm["data"].items():
            assert literal_credentials(text) == [], f"{cm['metadata']['name']}/{name}"
    everything = yaml.safe_dump_all([o for objects in rendered.values() for o in objects])
    for value in SECRET_ENV.values():
        assert value not in everything
    # The check is not vacuous: a password in the store's URL or a literal key is caught.
    leaky = "storage: {url: 'postgresql://devmentor:hunter2@db/devmentor'}\n"
    leaky += "redis: {url: 'redis://redis:6379'}\n"
    leaky += "auth: {keys: [{name: ops, role: admin, key: 0123456789abcdef}]}\n"
    assert literal_credentials(leaky) == [
        "storage.url: a URL with a password",
        "redis.url: written in the file",
        "auth.keys[0].key: a literal key",
    ]


def test_every_variable_the_config_uses_is_set_in_the_pod(base: list[dict[str, Any]]) -> None:
    """A ${VAR} without a default and without a value stops the monitor at start: each one
    in the ConfigMap is set by the Deployment (explicitly or as a required Secret key)."""
    text = one(base, "ConfigMap")["data"]["services.yaml"]
    used = set(re.findall(r"^[^#\n]*?\$\{([A-Z0-9_]+)\}", text, re.M))
    assert "POD_IP" in used  # cluster.advertise
    env = {e["name"]: e for e in container(base)["env"]}
    assert env["POD_IP"]["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    assert used <= env.keys(), used - env.keys()


def test_service_and_disruption_budget_select_the_pod(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    base = rendered["base"]
    labels = one(base, "Deployment")["spec"]["template"]["metadata"]["labels"]
    service = one(base, "Service")
    assert service["spec"]["ports"] == [
        {"name": "http", "port": PORT, "targetPort": PORT, "protocol": "TCP"}
    ]
    assert service["metadata"]["name"] != "monitoring"  # see enableServiceLinks
    assert service["spec"]["selector"].items() <= labels.items()
    pdb = one(base, "PodDisruptionBudget")["spec"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items()
    # One replica always up through a drain, and a drain still possible: fewer than all.
    assert pdb == {"minAvailable": 1, "selector": pdb["selector"]}
    assert pdb["minAvailable"] < one(base, "Deployment")["spec"]["replicas"]
    monitor = one(rendered["prometheus-operator"], "ServiceMonitor")["spec"]
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert NS in monitor["namespaceSelector"]["matchNames"]
    assert [e["port"] for e in monitor["endpoints"]] == ["http"]
    assert [e["path"] for e in monitor["endpoints"]] == ["/metrics"]
    # off loopback /metrics needs a credential: the scrape token from the monitor's Secret
    assert [e["authorization"]["credentials"] for e in monitor["endpoints"]] == [
        {"name": SECRET, "key": "DEVMENTOR_SCRAPE_TOKEN"}
    ]


# ------------------------------------------------------------------ RBAC
def kube_source_calls() -> tuple[set[tuple[str, str, str]], set[str]]:
    """The API rules kube_source.py needs, read from its code: each `self.core.X(...)` /
    `self.apps.X(...)` call, and a watch for a list method handed to `Watch.stream`; and
    the client API classes it builds."""
    tree = ast.parse(Path(kube_source.__file__).read_text())
    rules: set[tuple[str, str, str]] = set()
    apis: set[str] = set()
    streamed: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "stream" and node.args:
                streamed.add(id(node.args[0]))
            if node.func.attr.endswith("Api"):
                apis.add(node.func.attr)
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr in ("core", "apps")
        ):
            continue
        assert node.attr in CLIENT_CALLS, f"kube_source calls {node.attr}: map it in CLIENT_CALLS"
        group, resource, verb = CLIENT_CALLS[node.attr]
        rules.add((group, resource, verb))
        if id(node) in streamed:
            rules.add((group, resource, "watch"))
    return rules, apis


def granted(objects: list[dict[str, Any]], kinds: set[str]) -> set[tuple[str, str, str]]:
    out = set()
    for obj in objects:
        if obj["kind"] in kinds:
            for rule in obj["rules"]:
                for group in rule["apiGroups"]:
                    for resource in rule["resources"]:
                        out |= {(group, resource, verb) for verb in rule["verbs"]}
    return out


def test_the_code_scan_finds_the_known_calls() -> None:
    """The scan below is not vacuous: it sees the pod watch and the scale patch."""
    rules, apis = kube_source_calls()
    assert ("", "pods", "watch") in rules
    assert ("apps", "deployments/scale", "patch") in rules
    assert apis <= KNOWN_APIS, f"a new API class: {apis - KNOWN_APIS}"


def test_rbac_base_reads_exactly_what_the_kube_source_calls(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    calls, _ = kube_source_calls()
    reads = {r for r in calls if r[2] in READ_VERBS}
    base = rendered["base"]
    assert granted(base, {"Role", "ClusterRole"}) == reads
    # Cluster-wide only what is cluster-scoped; the rest in the namespace's Role.
    assert {r[1] for r in granted(base, {"ClusterRole"})} == CLUSTER_RESOURCES
    assert not {r[1] for r in granted(base, {"Role"})} & CLUSTER_RESOURCES


def test_rbac_writes_only_in_the_optional_role(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    calls, _ = kube_source_calls()
    writes = {r for r in calls if r[2] not in READ_VERBS}
    assert writes, "the kube source's actions write"
    assert not {v for _, _, v in granted(rendered["base"], {"Role", "ClusterRole"})} - READ_VERBS
    assert granted(rendered["recovery-actions"], {"Role", "ClusterRole"}) == writes


def test_rbac_bindings_bind_the_pods_service_account(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    sa = one(rendered["base"], "ServiceAccount")["metadata"]["name"]
    for objects in (rendered["base"], rendered["recovery-actions"]):
        roles = {(o["kind"], o["metadata"]["name"]) for o in objects if "rules" in o}
        bindings = [o for o in objects if o["kind"].endswith("Binding")]
        assert len(bindings) == len(roles)
        for b in bindings:
            assert (b["roleRef"]["kind"], b["roleRef"]["name"]) in roles
            assert b["subjects"] == [{"kind": "ServiceAccount", "name": sa, "namespace": NS}]


# ------------------------------------------------------------------ services.yaml
@pytest.fixture
def config_file(base: list[dict[str, Any]], tmp_path: Path) -> Path:
    """The rendered ConfigMap's services.yaml, where the pod would read it."""
    configmap = one(base, "ConfigMap")
    path = tmp_path / "services.yaml"
    path.write_text(configmap["data"]["services.yaml"])
    return path


POD_IP = "10.244.1.7"


def pod_env() -> dict[str, str]:
    """The environment the pod starts with: the Secret's keys, the downward API's pod IP,
    the in-cluster variables."""
    return SECRET_ENV | {"POD_IP": POD_IP, "KUBERNETES_SERVICE_HOST": "10.96.0.1"}


def test_configmap_is_mounted_where_the_args_read_it(base: list[dict[str, Any]]) -> None:
    c = container(base)
    configmap = one(base, "ConfigMap")["metadata"]["name"]
    assert configmap.startswith("devmentor-monitor-config-")  # with kustomize's hash
    volumes = one(base, "Deployment")["spec"]["template"]["spec"]["volumes"]
    name = next(v["name"] for v in volumes if v.get("configMap", {}).get("name") == configmap)
    mount = next(m for m in c["volumeMounts"] if m["name"] == name)
    assert f"--config={mount['mountPath']}/services.yaml" in c["args"]


def test_configmap_services_yaml_passes_the_loader(config_file: Path) -> None:
    cfg = load_config(config_file, env=pod_env())
    assert (cfg.server.host, cfg.server.port) == ("0.0.0.0", PORT)
    assert [k.role for k in cfg.api_keys] == ["admin"]  # from the Secret
    # One fleet: the store and Redis from the Secret, reached by the others at the pod IP.
    assert cfg.cluster.enabled is True
    assert cfg.cluster.advertise == f"http://{POD_IP}:{PORT}"
    assert cfg.redis_url == SECRET_ENV["REDIS_URL"]
    assert cfg.storage_url == SECRET_ENV["DATABASE_URL"]
    assert cfg.session_secret == SECRET_ENV["DEVMENTOR_SESSION_SECRET"]
    kube = cfg.kubernetes
    assert (kube.enabled, kube.in_cluster, kube.namespace) == (True, True, NS)
    watched = {s.name for s in cfg.services if ".svc:" in s.url}
    assert watched == {"auth", "memory", "ai-gateway", "project"}
    for s in cfg.services:  # cluster DNS names in the namespace, or the pod itself
        assert f".{NS}.svc:" in s.url or s.url.startswith("http://127.0.0.1:"), s.url
    assert {name for name, _ in kube.selectors} == watched


def test_the_pods_command_line_is_accepted(
    base: list[dict[str, Any]], config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Deployment's args through the real parser and start-up checks: the 0.0.0.0
    bind passes the no-API-keys guard because the Secret supplies them, and only then."""
    c = container(base)
    assert c["command"] == ["devmentor-monitor"]
    args = [re.sub(r"^--config=.*", f"--config={config_file}", a) for a in c["args"]]
    monkeypatch.delenv("SERVICES_CONFIG", raising=False)
    for name, value in pod_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DEVMENTOR_API_KEYS")
    parsed = cli.build_parser().parse_args(args)
    with pytest.raises(cli.UsageError, match="no API keys"):
        cli._load(parsed)
    monkeypatch.setenv("DEVMENTOR_API_KEYS", API_KEYS)
    cfg = cli._load(parsed)
    assert (cfg.server.host, cfg.data_dir) == ("0.0.0.0", "/data")


def test_the_commented_channel_example_works_with_its_secret_keys(config_file: Path) -> None:
    """The notifications example at the end of services.yaml, uncommented, loads with
    the Secret keys the README tells the operator to add."""
    text = config_file.read_text()
    example = text[text.index("# notifications:") :].split("\n#\n")[0]
    uncommented = "\n".join(line[2:] for line in example.splitlines())
    config_file.write_text(text + "\n" + uncommented + "\n")
    env = pod_env() | {
        "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/x",
        "PD_ROUTING_KEY": "0123456789abcdef0123456789abcdef",
    }
    cfg = load_config(config_file, env=env)
    assert [c.type for c in cfg.notifications.channels] == ["slack", "pagerduty"]


# ------------------------------------------------------------------ the example backing
BACKING = {  # workload kind, name (= its Service's), port
    "postgres": ("StatefulSet", "devmentor-postgres", 5432),
    "redis": ("Deployment", "devmentor-redis", 6379),
}


def named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def backing_container(backing: list[dict[str, Any]], what: str) -> dict[str, Any]:
    kind, name, _ = BACKING[what]
    (c,) = named(backing, kind, name)["spec"]["template"]["spec"]["containers"]
    return c


@pytest.mark.parametrize("what", sorted(BACKING))
def test_backing_services_reach_their_pods_where_the_urls_point(
    rendered: dict[str, list[dict[str, Any]]], what: str
) -> None:
    """The Service of each example selects its pod on its port, and that host:port is
    where the README's DATABASE_URL / REDIS_URL point the monitor."""
    kind, name, port = BACKING[what]
    backing = rendered["backing"]
    workload = named(backing, kind, name)["spec"]
    labels = workload["template"]["metadata"]["labels"]
    assert workload["selector"]["matchLabels"].items() <= labels.items()
    service = named(backing, "Service", name)["spec"]
    assert service["selector"].items() <= labels.items()
    assert [(p["port"], p["targetPort"]) for p in service["ports"]] == [(port, port)]
    assert [p["containerPort"] for p in backing_container(backing, what)["ports"]] == [port]
    host = f"@{name}.{NS}.svc:{port}/"
    assert host in (KUBE / "README.md").read_text(), f"README.md's URL to {name}"
    url = SECRET_ENV["DATABASE_URL" if what == "postgres" else "REDIS_URL"]
    assert host in url
    if kind == "StatefulSet":  # its governing Service: headless
        assert workload["serviceName"] == name
        assert service["clusterIP"] == "None"


@pytest.mark.parametrize("what", sorted(BACKING))
def test_backing_runs_unprivileged_with_its_password_from_the_secret(
    rendered: dict[str, list[dict[str, Any]]], what: str
) -> None:
    kind, name, _ = BACKING[what]
    pod = named(rendered["backing"], kind, name)["spec"]["template"]["spec"]
    c = backing_container(rendered["backing"], what)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["enableServiceLinks"] is False
    assert pod["automountServiceAccountToken"] is False
    cs = c["securityContext"]
    assert (cs["allowPrivilegeEscalation"], cs["readOnlyRootFilesystem"]) == (False, True)
    assert cs["capabilities"] == {"drop": ["ALL"]}
    passwords = [e for e in c["env"] if "PASSWORD" in e["name"]]
    assert [e["valueFrom"]["secretKeyRef"]["name"] for e in passwords] == [BACKING_SECRET]
    assert not [e for e in c["env"] if "value" in e and "PASSWORD" in e["name"]]
    assert set(c["resources"]) == {"requests", "limits"}
    assert {"readinessProbe", "livenessProbe"} <= c.keys()


def test_only_the_monitor_reaches_the_backing(rendered: dict[str, list[dict[str, Any]]]) -> None:
    policy = one(rendered["backing"], "NetworkPolicy")["spec"]
    (expr,) = policy["podSelector"]["matchExpressions"]
    assert (expr["key"], expr["operator"]) == ("app.kubernetes.io/name", "In")
    for what, (kind, name, _) in BACKING.items():
        labels = named(rendered["backing"], kind, name)["spec"]["template"]["metadata"]["labels"]
        assert labels[expr["key"]] in expr["values"], what
    (rule,) = policy["ingress"]
    monitor = one(rendered["base"], "Deployment")["spec"]["template"]["metadata"]["labels"]
    (source,) = rule["from"]
    assert source["podSelector"]["matchLabels"].items() <= monitor.items()
    assert sorted(p["port"] for p in rule["ports"]) == sorted(p for _, _, p in BACKING.values())


def resp(port: int, *commands: str) -> bytes:
    """The raw replies of Redis to inline commands, one connection."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall("".join(f"{c}\r\n" for c in commands).encode())
        sock.shutdown(socket.SHUT_WR)
        return b"".join(iter(lambda: sock.recv(4096), b""))


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_the_example_redis_needs_the_password_it_keeps_off_its_command_line(
    rendered: dict[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    """The Redis container's own command, run by a real sh with a real redis-server (on a
    free loopback port instead of 6379): it refuses a client without the password from the
    Secret, accepts one with it, and the password is not in its command line."""
    c = backing_container(rendered["backing"], "redis")
    assert c["command"] == ["sh", "-c"]
    (script,) = c["args"]
    port = free_port()
    here = f"redis-server - --port {port} --bind 127.0.0.1 --dir {tmp_path}"
    assert script.count("redis-server -") == 1
    password = "redispass0123456789"
    env = {"PATH": os.environ["PATH"], "REDIS_PASSWORD": password}
    proc = subprocess.Popen(
        ["sh", "-c", script.replace("redis-server -", here)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        refused = wait_until(lambda: resp(port, "PING"), 10, what="redis-server to answer")
        assert refused.startswith(b"-NOAUTH")
        assert resp(port, f"AUTH {password}", "PING") == b"+OK\r\n+PONG\r\n"
        assert resp(port, "AUTH wrong-password", "PING").startswith(b"-WRONGPASS")
        # `exec`: the container's process is redis-server itself, the password not in argv
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        assert b"redis-server" in cmdline
        assert password.encode() not in cmdline
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
