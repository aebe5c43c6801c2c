"""Every rendered object is valid before it reaches a cluster: built-in kinds against the
Kubernetes OpenAPI schemas shipped by kubernetes-validate (strict: an unknown or misspelt field
fails), for the oldest Kubernetes release the manifests support and the newest the package knows.

The operators' kinds (RabbitmqCluster, CloudNativePG, Prometheus Operator, KEDA) have no schema
package on PyPI or npm, so they get the checks below: the fields their operators require, the
values they accept, and that every reference between objects resolves."""
from __future__ import annotations

import json
import re
from functools import cache

import pytest

from tests.deploy.manifests import (
    NAMESPACE,
    OVERLAYS,
    ROOT,
    consumer_queues,
    container,
    needs_kustomize,
    of_kind,
    pod_labels,
    render,
    workloads,
)

kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate (requirements-dev.txt)")
import jsonschema
from kubernetes_validate import utils as kv
from referencing import Registry, Resource

pytestmark = needs_kustomize

OLDEST_SUPPORTED = "1.30"  # native gRPC probes (GA in 1.27), PodDisruptionBudget/HPA v2, sidecar-free jobs
KUBERNETES_VERSIONS = (OLDEST_SUPPORTED, kv.major_minor(kv.latest_version()))

CRD_KINDS = {
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"),
    ("postgresql.cnpg.io/v1", "Cluster"),
    ("postgresql.cnpg.io/v1", "ScheduledBackup"),
    ("barmancloud.cnpg.io/v1", "ObjectStore"),
    ("monitoring.coreos.com/v1", "PodMonitor"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("keda.sh/v1alpha1", "TriggerAuthentication"),
}


# -- built-in kinds: kubernetes-validate's schemas --------------------------------------------


@cache
def _registry(version: str) -> Registry:
    folder = _schema_folder(version)
    return Resource.from_contents(kv.schema_contents(f"kubernetes-json-schema/{folder}/_definitions.json", version)) @ Registry()


@cache
def _schema_folder(version: str) -> str:
    schema_version = [v for v in kv.all_versions() if kv.major_minor(v) <= version][-1]
    return f"v{schema_version}-local-strict"


@cache
def _validator(version: str, api_version: str, kind: str):
    """kubernetes_validate.validate() reads the 1 MB definitions file on every call; this keeps one
    validator per (release, kind) for the session, on the same files."""
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = f"kubernetes-json-schema/{_schema_folder(version)}/{kind.lower()}-{group_version}.json"
    try:
        schema = kv.schema_contents(path, version)
    except FileNotFoundError:
        return None
    return jsonschema.Draft202012Validator(schema, registry=_registry(version))


@cache
def _problems(version: str, document: str) -> tuple[str, ...]:
    """Validation errors of one object (as JSON: the overlays share many identical objects)."""
    obj = json.loads(document)
    name = f"{obj['kind']} {obj['metadata']['name']}"
    validator = _validator(version, obj["apiVersion"], obj["kind"])
    if validator is None:
        return (f"{name}: Kubernetes {version} has no {obj['apiVersion']} {obj['kind']}",)
    return tuple(
        f"{name}: {'/'.join(str(p) for p in error.absolute_path)}: {error.message[:200]}" for error in validator.iter_errors(obj)
    )


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_built_in_objects_validate_against_the_kubernetes_schemas(overlay, version):
    problems = [
        problem
        for obj in render(overlay)
        if (obj["apiVersion"], obj["kind"]) not in CRD_KINDS
        for problem in _problems(version, json.dumps(obj, sort_keys=True))
    ]
    assert not problems, f"Kubernetes {version}:\n" + "\n".join(problems)


def test_the_validator_rejects_what_a_cluster_would():
    """The strict schemas catch a misspelt field and a wrong type (else the test above proves nothing)."""
    deployment = json.loads(json.dumps(of_kind(render("dev"), "Deployment")["gateway"]))
    validator = _validator(OLDEST_SUPPORTED, "apps/v1", "Deployment")
    assert not list(validator.iter_errors(deployment))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    assert list(validator.iter_errors(deployment)), "a misspelt field passed"
    del deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"]
    deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = "30"
    assert list(validator.iter_errors(deployment)), "a string where an integer belongs passed"


# -- operators' kinds: their required fields and references ------------------------------------


def test_every_kind_rendered_has_a_check():
    for overlay in OVERLAYS:
        for obj in render(overlay):
            key = (obj["apiVersion"], obj["kind"])
            if "." in obj["apiVersion"].split("/")[0] and not obj["apiVersion"].endswith(".k8s.io/v1"):
                assert key in CRD_KINDS, f"{key}: a custom resource without checks; add them in {__file__}"


QUANTITY = re.compile(r"^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")


def field(obj: dict, path: str):
    value = obj
    for part in path.split("."):
        assert isinstance(value, dict) and part in value, f"{obj['kind']} {obj['metadata']['name']}: no {path}"
        value = value[part]
    return value


def unknown_keys(obj: dict, path: str, allowed: set[str]) -> set[str]:
    return set(field(obj, path)) - allowed


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rabbitmq_cluster(overlay):
    objects = render(overlay)
    clusters = of_kind(objects, "RabbitmqCluster")
    assert len(clusters) == 1, "one broker for every service"
    for name, cluster in clusters.items():
        spec = cluster["spec"]
        assert not unknown_keys(cluster, "spec", {
            "replicas", "image", "imagePullSecrets", "service", "persistence", "resources", "affinity", "tolerations",
            "rabbitmq", "tls", "override", "skipPostDeploySteps", "terminationGracePeriodSeconds", "secretBackend",
            "delayStartSeconds", "autoEnableAllFeatureFlags",
        }), f"{name}: unknown spec fields"
        assert isinstance(spec["replicas"], int) and spec["replicas"] % 2 == 1, f"{name}: an odd number of nodes keeps a quorum"
        assert QUANTITY.match(str(field(cluster, "spec.persistence.storage")))
        assert re.fullmatch(r"rabbitmq:\d+\.\d+\.\d+-management", spec["image"]), f"{name}: pin the image to a release"
        lines = [line.strip() for line in field(cluster, "spec.rabbitmq.additionalConfig").splitlines()]
        config = {key.strip(): value.strip() for key, _, value in (line.partition("=") for line in lines if line and not line.startswith("#"))}
        # platform_kit.bus declares consumer and dead-letter queues as quorum queues; the retry
        # queues carry no type, so the broker's default decides theirs.
        assert config.get("default_queue_type") == "quorum", f"{name}: rabbitmq.conf must make quorum the default queue type"
    assert field(clusters["rabbitmq"], "spec.replicas") >= (3 if overlay.startswith("prod") else 1)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_postgresql_cluster_per_service(overlay):
    from tests.deploy.manifests import SERVICES

    objects = render(overlay)
    clusters = of_kind(objects, "Cluster")
    assert set(clusters) == {f"{s}-db" for s in SERVICES}, "one database per service, and no shared one"
    stores = of_kind(objects, "ObjectStore")
    for service in SERVICES:
        cluster = clusters[f"{service}-db"]
        assert not unknown_keys(cluster, "spec", {
            "instances", "imageName", "primaryUpdateStrategy", "bootstrap", "postgresql", "storage", "resources", "affinity",
            "plugins", "monitoring", "walStorage", "backup", "enablePDB", "description", "inheritedMetadata",
        }), f"{service}-db: unknown spec fields"
        assert isinstance(field(cluster, "spec.instances"), int) and cluster["spec"]["instances"] >= 1
        assert QUANTITY.match(str(field(cluster, "spec.storage.size")))
        initdb = field(cluster, "spec.bootstrap.initdb")
        # CloudNativePG writes <cluster>-app (key `uri`) for this owner and database; the services read it.
        assert initdb == {"database": service, "owner": service}, f"{service}-db: initdb {initdb}"
        assert re.fullmatch(r"ghcr\.io/cloudnative-pg/postgresql:\d+\.\d+.*", field(cluster, "spec.imageName"))
        for plugin in cluster["spec"].get("plugins", []):
            assert plugin["name"] == "barman-cloud.cloudnative-pg.io"
            assert plugin["parameters"]["barmanObjectName"] in stores, f"{service}-db: no ObjectStore {plugin['parameters']}"
        if overlay.startswith("prod"):
            assert cluster["spec"]["instances"] >= 3, f"{service}-db: prod survives losing an instance"
            assert any(p.get("isWALArchiver") for p in cluster["spec"].get("plugins", [])), f"{service}-db: prod archives WAL continuously"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_backups(overlay):
    objects = render(overlay)
    clusters, backups, stores = of_kind(objects, "Cluster"), of_kind(objects, "ScheduledBackup"), of_kind(objects, "ObjectStore")
    if not overlay.startswith("prod"):
        assert not backups and not stores, "dev keeps nothing worth backing up"
        return
    backed_up = {field(b, "spec.cluster.name") for b in backups.values()}
    assert backed_up == set(clusters), f"no nightly backup for {sorted(set(clusters) - backed_up)}"
    for name, backup in backups.items():
        assert len(field(backup, "spec.schedule").split()) == 6, f"{name}: CloudNativePG schedules have six fields, seconds first"
        assert field(backup, "spec.method") in ("barmanObjectStore", "volumeSnapshot", "plugin")
        if backup["spec"]["method"] == "plugin":
            assert field(backup, "spec.pluginConfiguration.name") == "barman-cloud.cloudnative-pg.io"
    for name, store in stores.items():
        assert re.match(r"^(s3|gs|https)://", field(store, "spec.configuration.destinationPath"))
        assert re.fullmatch(r"\d+[dwm]", field(store, "spec.retentionPolicy")), f"{name}: retention like 30d"
        credentials = field(store, "spec.configuration.s3Credentials")
        assert {v["name"] for v in credentials.values()} == {"backup-s3"}, "S3 keys come from the Secret backup-s3"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_monitors_scrape_ports_that_exist(overlay):
    objects = render(overlay)
    pod_monitors, service_monitors = of_kind(objects, "PodMonitor"), of_kind(objects, "ServiceMonitor")
    if overlay == "dev":
        assert not pod_monitors and not service_monitors, "dev needs no Prometheus Operator"
        return
    deployments = of_kind(objects, "Deployment")
    scraped = set()
    for name, monitor in pod_monitors.items():
        selector = field(monitor, "spec.selector")
        endpoints = field(monitor, "spec.podMetricsEndpoints")
        assert endpoints and all(isinstance(e.get("port"), str) for e in endpoints), f"{name}: named ports"
        for deployment in deployments.values():
            if selects(selector, pod_labels(deployment)):
                ports = {p["name"] for p in container(deployment).get("ports", [])}
                for endpoint in endpoints:
                    assert endpoint["port"] in ports, f"{name}: {deployment['metadata']['name']} has no port {endpoint['port']}"
                scraped.add(deployment["metadata"]["name"])
    assert scraped == set(deployments), f"never scraped: {sorted(set(deployments) - scraped)}"
    assert selects(field(pod_monitors["dziennik-databases"], "spec.selector"), {"cnpg.io/podRole": "instance", "cnpg.io/cluster": "identity-db"})
    rabbitmq = service_monitors["rabbitmq"]
    # the Service the RabbitMQ Cluster Operator creates: name = cluster name, Prometheus port `prometheus`
    assert selects(field(rabbitmq, "spec.selector"), {"app.kubernetes.io/name": "rabbitmq", "app.kubernetes.io/component": "rabbitmq"})
    paths = {e.get("path") for e in field(rabbitmq, "spec.endpoints") if e["port"] == "prometheus"}
    assert "/metrics/detailed" in paths, "per-queue depth and dead letters need the detailed endpoint"


def selects(selector: dict, labels: dict) -> bool:
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        value = labels.get(expression["key"])
        operator = expression["operator"]
        if operator == "In" and value not in expression["values"]:
            return False
        if operator == "NotIn" and value in expression["values"]:
            return False
        if operator == "Exists" and expression["key"] not in labels:
            return False
        if operator == "DoesNotExist" and expression["key"] in labels:
            return False
    return True


@pytest.mark.parametrize("overlay", ["prod"])
def test_alerts_watch_metrics_the_code_exports(overlay):
    rules = of_kind(render(overlay), "PrometheusRule")
    assert rules, "prod ships its alerts"
    exported = set()
    for path in [*(ROOT / "platform_kit").rglob("*.py"), *(ROOT / "services").rglob("*.py"), *(ROOT / "gateway").rglob("*.py")]:
        exported |= set(re.findall(r'(?:Counter|Gauge|Histogram)\(\s*"(\w+)"', path.read_text()))
    alerts = set()
    for rule in rules.values():
        for group in field(rule, "spec.groups"):
            for item in group["rules"]:
                assert item.get("alert") and item.get("expr"), f"{group['name']}: {item}"
                alerts.add(item["alert"])
                for metric in metric_names(item["expr"]):
                    if metric.startswith(("rabbitmq_", "cnpg_")):  # the broker's and the databases' exporters
                        continue
                    assert metric in exported or re.sub(r"_(total|bucket|count|sum)$", "", metric) in exported, (
                        f"{item['alert']}: no process exports {metric}"
                    )
    assert {"DziennikOutboxBacklog", "DziennikQueueBacklog", "DziennikDeadLetters", "DziennikSmsFailures", "DziennikGateway5xx"} <= alerts


PROMQL_WORDS = {"sum", "max", "min", "avg", "count", "rate", "increase", "by", "without", "on", "ignoring", "and", "or", "unless", "bool"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (label matchers, groupings and functions removed)."""
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)
    return set(re.findall(r"\b[a-z_][a-z0-9_]*\b", expr)) - PROMQL_WORDS


@pytest.mark.parametrize("overlay", ["prod+keda"])
def test_keda_scales_each_consumer_on_its_own_queue(overlay):
    objects = render(overlay)
    deployments, scaled = of_kind(objects, "Deployment"), of_kind(objects, "ScaledObject")
    consumers = {n for n, d in deployments.items() if pod_labels(d)["app.kubernetes.io/component"] == "event-consumer"}
    assert {field(s, "spec.scaleTargetRef.name") for s in scaled.values()} == consumers
    authentications = of_kind(objects, "TriggerAuthentication")
    for name, scaled_object in scaled.items():
        target = deployments[scaled_object["spec"]["scaleTargetRef"]["name"]]
        service = pod_labels(target)["app.kubernetes.io/name"]
        assert 1 <= field(scaled_object, "spec.minReplicaCount") <= field(scaled_object, "spec.maxReplicaCount")
        for trigger in field(scaled_object, "spec.triggers"):
            assert trigger["type"] == "rabbitmq"
            metadata = trigger["metadata"]
            assert metadata["queueName"] in consumer_queues(service), f"{name}: {service} consumes {consumer_queues(service)}"
            assert metadata["mode"] == "QueueLength" and metadata["value"].isdigit()
            # KEDA runs in its own namespace: the broker's name must be fully qualified, in ours.
            assert re.fullmatch(rf"amqp://rabbitmq\.{NAMESPACE}\.svc:5672/", metadata["host"]), metadata["host"]
            assert trigger["authenticationRef"]["name"] in authentications
    for name, authentication in authentications.items():
        for ref in field(authentication, "spec.secretTargetRef"):
            assert {"parameter", "name", "key"} <= ref.keys() and ref["name"] == "rabbitmq-default-user"


def test_workloads_of_every_overlay_are_checked():
    # guards the parametrisations above against an overlay silently rendering no workloads
    for overlay in OVERLAYS:
        assert len(workloads(render(overlay))) >= 20
