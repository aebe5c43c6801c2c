"""The kustomize base in deploy/k8s/base keeps the rules the cluster relies on: one Deployment per
Procfile process running the same command, probes, locked-down containers, no credentials in the
ConfigMap, Services that reach their pods. Reads the YAML only: no cluster, no kubectl."""
from __future__ import annotations

import re
import shlex
from functools import cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "deploy" / "k8s" / "base"
SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN")
GRPC_PORT = 50051
METRICS_PORT = 9100
GATEWAY_PORT = 8080
STOP_GRACE_SECONDS = 10  # ServiceSettings.stop_grace_seconds and gunicorn's graceful_timeout
VOLUMES = ("/var/lib/dziennik", "/tmp")  # the writable folders of a read-only root filesystem


# -- what the repository says -----------------------------------------------------------------


@cache
def procfile() -> dict[str, list[str]]:
    """Process name -> its command as the container should run it (no env prefix, `exec`, venv path)."""
    processes = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, command = line.partition(":")
        words = [w for w in shlex.split(command) if w != "exec"]
        words = [re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", w) for w in words if not re.fullmatch(r"\w+=.*", w)]
        words[0] = Path(words[0]).name  # .venv/bin/python -> python
        processes[name.strip()] = words
    return processes


def procfile_line(name: str) -> str:
    return next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith(f"{name}:"))


# Local-only processes: the demo loader and the PayU simulator (production talks to PayU itself).
PROCESSES = sorted(set(procfile()) - {"demo", "payu-simulator"})
SERVERS = sorted(name for name in PROCESSES if procfile()[name][-1] == "serve")
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "__main__.py").is_file())


# -- what the base says -----------------------------------------------------------------------


@cache
def kustomization() -> dict:
    return yaml.safe_load((BASE / "kustomization.yaml").read_text())


@cache
def documents() -> list[dict]:
    docs = []
    for name in kustomization()["resources"]:
        path = BASE / name
        assert path.is_file(), f"kustomization.yaml lists {name}, which does not exist"
        docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    return docs


def of_kind(kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in documents() if doc["kind"] == kind}


def workloads() -> dict[str, dict]:
    """Deployments and Jobs, by name."""
    return {**of_kind("Deployment"), **of_kind("Job")}


def container(workload: dict) -> dict:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, f"{workload['metadata']['name']}: expected one container, found {len(containers)}"
    return containers[0]


def config_literals() -> dict[str, str]:
    literals = {}
    for generator in kustomization().get("configMapGenerator", []):
        for literal in generator.get("literals", []):
            key, _, value = literal.partition("=")
            literals[key] = value
    return literals


def env_of(workload: dict) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container(workload).get("env", [])}


def ports_of(workload: dict) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in container(workload).get("ports", [])}


# -- the rules --------------------------------------------------------------------------------


def test_every_listed_resource_exists_and_parses():
    assert kustomization()["namespace"] == "dziennik"
    assert "secret.example.yaml" not in kustomization()["resources"], "the example Secret must never be applied"
    for doc in documents():
        assert {"apiVersion", "kind", "metadata"} <= doc.keys(), f"not a Kubernetes object: {doc}"
    names = [(doc["kind"], doc["metadata"]["name"]) for doc in documents()]
    assert len(names) == len(set(names)), f"duplicate objects: {sorted(n for n in names if names.count(n) > 1)}"


@pytest.mark.parametrize("process", PROCESSES)
def test_every_procfile_process_has_a_deployment_running_its_command(process):
    deployment = of_kind("Deployment").get(process)
    assert deployment is not None, f"Procfile process {process!r} has no Deployment named {process!r}"
    expected = list(procfile()[process])
    if "--bind" in expected:  # the gateway: same server, listening on the pod's port
        expected[expected.index("--bind") + 1] = f"0.0.0.0:{GATEWAY_PORT}"
    assert container(deployment)["command"] == expected, f"{process}: command differs from the Procfile line\n  {procfile_line(process)}"
    if "METRICS_PORT=" in procfile_line(process):
        assert env_of(deployment).get("METRICS_PORT") == str(METRICS_PORT), f"{process}: METRICS_PORT must be {METRICS_PORT}"
        assert ports_of(deployment).get("metrics") == METRICS_PORT, f"{process}: needs a container port named metrics"


def test_no_deployment_without_a_procfile_process():
    extra = set(of_kind("Deployment")) - set(PROCESSES)
    assert not extra, f"Deployments without a Procfile process: {sorted(extra)}"


def test_every_container_has_resources_and_a_locked_down_security_context():
    problems = []
    for name, workload in workloads().items():
        pod, box = workload["spec"]["template"]["spec"], container(workload)
        for bound in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in box.get("resources", {}).get(bound, {}):
                    problems.append(f"{name}: no resources.{bound}.{resource}")
        security = box.get("securityContext", {})
        if not (security.get("runAsNonRoot") or pod.get("securityContext", {}).get("runAsNonRoot")):
            problems.append(f"{name}: runAsNonRoot is not true")
        if security.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{name}: readOnlyRootFilesystem is not true")
        if security.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        if security.get("capabilities", {}).get("drop") != ["ALL"]:
            problems.append(f"{name}: capabilities do not drop ALL")
        empty_dirs = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
        mounted = {m["mountPath"] for m in box.get("volumeMounts", []) if m["name"] in empty_dirs}
        for folder in VOLUMES:
            if folder not in mounted:
                problems.append(f"{name}: no emptyDir mounted at {folder} (the root filesystem is read-only)")
    assert not problems, "\n".join(problems)


def test_every_pod_reads_the_config_map_then_the_secret():
    problems = []
    for name, workload in workloads().items():
        pod, box = workload["spec"]["template"]["spec"], container(workload)
        sources = [
            ("configMap", s["configMapRef"]["name"]) if "configMapRef" in s else ("secret", s["secretRef"]["name"])
            for s in box.get("envFrom", [])
        ]
        # The Secret comes last so its AMQP_URL (with credentials) wins over the ConfigMap's.
        if sources != [("configMap", "dziennik-config"), ("secret", "dziennik-secrets")]:
            problems.append(f"{name}: envFrom is {sources}, expected dziennik-config then dziennik-secrets")
        # A Service named gateway would otherwise set GATEWAY_PORT=tcp://… and the gateway would not start.
        if pod.get("enableServiceLinks") is not False:
            problems.append(f"{name}: enableServiceLinks must be false")
        if workload["kind"] == "Deployment" and not pod.get("terminationGracePeriodSeconds", 30) > STOP_GRACE_SECONDS:
            problems.append(f"{name}: terminationGracePeriodSeconds must exceed the {STOP_GRACE_SECONDS} s stop grace")
    assert not problems, "\n".join(problems)


def test_every_workload_uses_the_one_dziennik_image():
    images = {name: container(w)["image"] for name, w in workloads().items()}
    assert set(images.values()) == {"dziennik"}, f"images other than `dziennik`: {images}"
    assert [i["name"] for i in kustomization().get("images", [])] == ["dziennik"]


@pytest.mark.parametrize("server", SERVERS)
def test_grpc_servers_listen_on_50051_with_native_grpc_probes(server):
    deployment = of_kind("Deployment")[server]
    box = container(deployment)
    service = procfile()[server][2].removeprefix("services.")
    assert env_of(deployment).get(f"{service.upper()}_GRPC_PORT") == str(GRPC_PORT)
    assert ports_of(deployment).get("grpc") == GRPC_PORT
    assert box.get("livenessProbe", {}).get("grpc") == {"port": GRPC_PORT, "service": ""}, f"{server}: liveness"
    assert box.get("readinessProbe", {}).get("grpc") == {"port": GRPC_PORT, "service": "readiness"}, f"{server}: readiness"


def test_gateway_is_probed_over_http():
    box = container(of_kind("Deployment")["gateway"])
    ports = {p["name"]: p["containerPort"] for p in box["ports"]}
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = box.get(probe, {}).get("httpGet", {})
        assert get.get("path") == path, f"gateway {probe} must GET {path}"
        assert ports.get(get.get("port"), get.get("port")) == GATEWAY_PORT, f"gateway {probe} must probe port {GATEWAY_PORT}"


def test_config_map_holds_no_credentials():
    literals = config_literals()
    for doc in of_kind("ConfigMap").values():
        literals.update(doc.get("data", {}))
    secret_keys = [k for k in literals if any(word in k.upper() for word in SECRET_WORDS)]
    assert not secret_keys, f"belongs in the Secret dziennik-secrets, not a ConfigMap: {secret_keys}"
    with_userinfo = [k for k, v in literals.items() if re.search(r"://[^/@\s]+@", v)]
    assert not with_userinfo, f"URLs with a user or password belong in the Secret: {with_userinfo}"


def test_config_points_every_service_at_its_kubernetes_service():
    literals, services = config_literals(), of_kind("Service")
    assert literals.get("DZIENNIK_VAR_DIR") == VOLUMES[0]
    assert re.match(r"amqps?://rabbitmq[:/]", literals.get("AMQP_URL", "")), "AMQP_URL must point at the Service rabbitmq"
    for service in SERVICES:
        assert literals.get(f"{service.upper()}_GRPC_TARGET") == f"{service}:{GRPC_PORT}"
        assert literals.get(f"{service.upper()}_MIGRATE_ON_START") == "false", f"{service}: the migration Job migrates"
        ports = {p["name"]: p for p in services.get(service, {}).get("spec", {}).get("ports", [])}
        assert ports.get("grpc", {}).get("port") == GRPC_PORT, f"Service {service} must expose grpc on {GRPC_PORT}"
        assert ports.get("metrics", {}).get("port") == METRICS_PORT, f"Service {service} must expose metrics on {METRICS_PORT}"
    assert {p["name"]: p["port"] for p in services["gateway"]["spec"]["ports"]} == {"http": 80}


def test_every_service_selects_the_pods_of_a_deployment():
    deployments = of_kind("Deployment").values()
    for name, service in of_kind("Service").items():
        selector = service["spec"]["selector"]
        matches = [d for d in deployments if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert matches, f"Service {name} selects {selector}, which no Deployment's pods carry"
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            for deployment in matches:
                assert target in (ports_of(deployment) if isinstance(target, str) else ports_of(deployment).values()), (
                    f"Service {name} port {port['name']} targets {target!r}, which {deployment['metadata']['name']} does not expose"
                )


def test_every_command_names_an_existing_service_module():
    for name, workload in workloads().items():
        command = container(workload)["command"]
        if command[:2] == ["python", "-m"]:
            module = command[2]
            folder = ROOT / Path(*module.split("."))
            assert module.startswith("services.") and (folder / "__main__.py").is_file(), f"{name}: no module {module} under services/"


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_database_has_a_migration_job(service):
    job = of_kind("Job").get(f"{service}-migrate")
    assert job is not None, f"no Job {service}-migrate"
    assert container(job)["command"] == ["python", "-m", f"services.{service}", "migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] in ("Never", "OnFailure")


def test_secret_example_documents_every_key():
    secret = yaml.safe_load((BASE / "secret.example.yaml").read_text())
    assert (secret["kind"], secret["metadata"]["name"]) == ("Secret", "dziennik-secrets")
    keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
    expected = {f"{s.upper()}_DATABASE_URL" for s in SERVICES} | {"DZIENNIK_SERVICE_TOKEN", "DZIENNIK_ADMIN_PASSWORD", "AMQP_URL"}
    assert expected <= keys, f"secret.example.yaml does not document {sorted(expected - keys)}"
