"""deploy/k8s against Kubernetes and against the app, offline: every manifest validates strictly
against the pinned Kubernetes version's schemas, probes ask real routes, ports and the user
match the Dockerfile, every STOCKQL_* name is a setting, and the pieces point at each other."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic import ValidationError
from starlette.routing import Route

from app.main import create_app
from app.settings import Settings
from tests.support.deployment import (
    ROOT,
    SETTING_VARIABLES,
    exposed_port,
    image_user_id,
    settings_from_environment,
    variables_named_in,
)

K8S = ROOT / "deploy" / "k8s"
# The oldest Kubernetes the manifests support; deploy/check-manifests (CI) reads the same file.
KUBERNETES_VERSION = (ROOT / "deploy" / "KUBERNETES_VERSION").read_text().strip()
MANIFESTS = sorted(path for path in K8S.glob("*.yaml") if path.name != "kustomization.yaml")
SECRET_EXAMPLE = "secret.example.yaml"
# The components applied (and waited for) before the servers start on a new schema.
MIGRATION_PHASE = {"config", "migrate"}
PLACEHOLDER = "CHANGE-ME"
STRONG_SECRET = "s" * 48
WORKLOADS = [
    ("Deployment", "stockql-api"),
    ("Deployment", "stockql-worker"),
    ("Job", "stockql-migrate"),
]


def load(path: Path) -> dict[str, Any]:
    documents = [document for document in yaml.safe_load_all(path.read_text()) if document]
    assert len(documents) == 1, f"{path.name} holds one resource"
    resource: dict[str, Any] = documents[0]
    return resource


def resource(kind: str, name: str) -> dict[str, Any]:
    found = [r for r in map(load, MANIFESTS) if (r["kind"], r["metadata"]["name"]) == (kind, name)]
    assert len(found) == 1, f"one {kind} {name} in deploy/k8s"
    return found[0]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def only_container(workload: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = pod_spec(workload)["containers"]
    assert len(containers) == 1
    return containers[0]


def api() -> dict[str, Any]:
    return resource("Deployment", "stockql-api")


def configmap_data() -> dict[str, str]:
    data: dict[str, str] = resource("ConfigMap", "stockql-config")["data"]
    return data


def secret_example_data() -> dict[str, str]:
    data: dict[str, str] = load(K8S / SECRET_EXAMPLE)["stringData"]
    return data


def schema_problem(manifest: dict[str, Any]) -> str | None:
    """What the pinned version's strict schema rejects in `manifest`, or None."""
    try:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        return f"{'.'.join(str(part) for part in error.path)}: {error.message}"
    except kubernetes_validate.SchemaNotFoundError as error:  # a typo in kind or apiVersion
        return str(error.message)
    return None


def deployed_settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings of the pods: the ConfigMap and the Secret example with its blanks filled."""
    filled = {key: value.replace(PLACEHOLDER, "pw") for key, value in secret_example_data().items()}
    filled["STOCKQL_JWT_SECRET"] = filled["STOCKQL_METRICS_TOKEN"] = STRONG_SECRET
    return settings_from_environment(monkeypatch, {**configmap_data(), **filled})


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda path: path.name)
def test_manifest_is_valid_for_the_pinned_kubernetes_version(path: Path) -> None:
    assert schema_problem(load(path)) is None


def test_kustomization_lists_every_manifest_but_the_secret_example() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(
        path.name for path in MANIFESTS if path.name != SECRET_EXAMPLE
    )


def test_probes_and_the_scrape_ask_routes_of_the_app() -> None:
    app = create_app(Settings(env="test"))
    routes = {route.path for route in app.routes if isinstance(route, Route)}
    container = only_container(api())
    probes = {kind: container[kind] for kind in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert probes["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert probes["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for kind, probe in probes.items():
        assert probe["httpGet"]["path"] in routes, kind
        assert probe["httpGet"]["port"] in {port["name"] for port in container["ports"]}, kind
    scraped = api()["spec"]["template"]["metadata"]["annotations"]["prometheus.io/path"]
    assert scraped in routes


def test_ports_are_the_one_the_image_exposes() -> None:
    port = exposed_port()
    deployment = api()
    (container_port,) = only_container(deployment)["ports"]
    assert container_port["containerPort"] == port
    assert configmap_data()["STOCKQL_PORT"] == str(port)
    assert deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == str(
        port
    )
    (service_port,) = resource("Service", "stockql-api")["spec"]["ports"]
    assert (service_port["port"], service_port["targetPort"]) == (80, container_port["name"])


def test_every_stockql_variable_is_a_setting() -> None:
    named = set().union(*(variables_named_in(path.read_text()) for path in K8S.iterdir()))
    assert named, "the manifests configure the app"
    assert named <= SETTING_VARIABLES, f"not settings: {sorted(named - SETTING_VARIABLES)}"


def test_api_pods_outlive_the_prestop_sleep_and_the_graceful_shutdown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = pod_spec(api())
    sleep_command = only_container(api())["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep_command[0] == "sleep"
    shutdown = deployed_settings(monkeypatch).shutdown_timeout_seconds
    assert spec["terminationGracePeriodSeconds"] > float(sleep_command[1]) + shutdown


@pytest.mark.parametrize(("kind", "name"), WORKLOADS)
def test_pods_run_as_the_image_user_on_a_read_only_root(kind: str, name: str) -> None:
    workload = resource(kind, name)
    spec = pod_spec(workload)
    container = only_container(workload)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == image_user_id()
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    scratch = {mount["name"] for mount in container["volumeMounts"] if mount["mountPath"] == "/tmp"}
    assert scratch <= {volume["name"] for volume in spec["volumes"] if "emptyDir" in volume}
    assert scratch, "/tmp is writable"
    # Service links would add <SERVICE>_PORT variables, e.g. STOCKQL_PORT=tcp://... for `stockql`.
    assert spec["enableServiceLinks"] is False
    resources = container["resources"]
    assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}


@pytest.mark.parametrize(("kind", "name"), WORKLOADS)
def test_pods_take_their_settings_from_the_configmap_and_the_secret(kind: str, name: str) -> None:
    sources = only_container(resource(kind, name))["envFrom"]
    assert {"configMapRef": {"name": "stockql-config"}} in sources
    assert {"secretRef": {"name": load(K8S / SECRET_EXAMPLE)["metadata"]["name"]}} in sources


def test_api_runs_two_probed_replicas_scraped_by_prometheus() -> None:
    deployment = api()
    assert deployment["spec"]["replicas"] == 2
    assert only_container(deployment)["args"] == ["serve"]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"


def test_autoscaler_scales_the_api_on_cpu_from_two_replicas() -> None:
    spec = resource("HorizontalPodAutoscaler", "stockql-api")["spec"]
    target = spec["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "stockql-api")
    assert spec["minReplicas"] == 2 <= spec["maxReplicas"]
    assert [metric["resource"]["name"] for metric in spec["metrics"]] == ["cpu"]


@pytest.mark.parametrize("kind", ["Service", "PodDisruptionBudget"])
def test_selects_the_api_pods_and_nothing_else(kind: str) -> None:
    spec = resource(kind, "stockql-api")["spec"]
    selector = spec["selector"] if kind == "Service" else spec["selector"]["matchLabels"]

    def selected(workload: dict[str, Any]) -> bool:
        labels = workload["spec"]["template"]["metadata"]["labels"]
        return bool(selector.items() <= labels.items())

    assert selected(api())
    assert not selected(resource("Deployment", "stockql-worker"))
    assert not selected(resource("Job", "stockql-migrate"))


def test_worker_runs_one_replica_without_probes_and_serves_its_metrics() -> None:
    worker = resource("Deployment", "stockql-worker")
    container = only_container(worker)
    assert worker["spec"]["replicas"] == 1  # the Redis leader lock lets one worker run the jobs
    assert container["args"] == ["worker"]
    assert not {"startupProbe", "livenessProbe", "readinessProbe"} & container.keys()
    environment = {variable["name"]: variable["value"] for variable in container["env"]}
    (metrics_port,) = container["ports"]
    annotations = worker["spec"]["template"]["metadata"]["annotations"]
    port = str(metrics_port["containerPort"])
    assert environment["STOCKQL_WORKER_METRICS_PORT"] == annotations["prometheus.io/port"] == port
    assert annotations["prometheus.io/path"] == "/metrics"


def test_migration_job_migrates_with_retries_and_cleans_up() -> None:
    job = resource("Job", "stockql-migrate")
    assert only_container(job)["args"] == ["migrate"]
    assert pod_spec(job)["restartPolicy"] == "Never"
    assert 1 <= job["spec"]["backoffLimit"] <= 5
    assert job["spec"]["ttlSecondsAfterFinished"] > 0


def test_the_migration_phase_applies_the_configmap_and_the_job_only() -> None:
    # README "Deploy": kubectl apply -k deploy/k8s -l 'app.kubernetes.io/component in (...)'
    first = [
        (manifest["kind"], manifest["metadata"]["name"])
        for manifest in map(load, MANIFESTS)
        if manifest["metadata"]["labels"].get("app.kubernetes.io/component") in MIGRATION_PHASE
    ]
    assert sorted(first) == [("ConfigMap", "stockql-config"), ("Job", "stockql-migrate")]


def test_configmap_and_a_filled_in_secret_make_production_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = deployed_settings(monkeypatch)
    assert settings.env == "production"
    assert settings.database_url.startswith("postgresql+asyncpg://")
    assert settings.port == exposed_port()
    assert settings.migrates_on_start is False
    assert settings.runs_worker_in_process is False
    assert settings.serves_metrics is True  # to the scraper with the token


def test_the_unedited_secret_example_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="STOCKQL_JWT_SECRET"):
        settings_from_environment(monkeypatch, {**configmap_data(), **secret_example_data()})


def test_secret_example_holds_placeholders_only() -> None:
    for name, value in secret_example_data().items():
        assert PLACEHOLDER in value, name
