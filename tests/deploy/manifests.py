"""What the deploy tests read: the rendered overlays of deploy/k8s (through `kubectl kustomize`, or
`kustomize build`, rendered once per session), the Procfile, and what the code says about its
processes (settings, ports, call graph). No cluster is needed."""
from __future__ import annotations

import ast
import re
import shlex
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
NAMESPACE = "dziennik"

GRPC_PORT = 50051
METRICS_PORT = 9100
GATEWAY_PORT = 8080
RUN_AS_USER = 10001
VOLUMES = ("/var/lib/dziennik", "/tmp")  # the writable folders of a read-only root filesystem
PROCESS_KINDS = {"serve": "grpc-server", "consume": "event-consumer", "relay": "outbox-relay", "migrate": "migration"}
APP_COMPONENTS = ("gateway", "grpc-server", "event-consumer", "outbox-relay", "migration")

# What can be rendered: the overlays, and prod with the optional KEDA component switched on the
# way its kustomization.yaml says (uncommenting the component's line).
OVERLAYS = {
    "dev": ("overlays/dev", ()),
    "prod": ("overlays/prod", ()),
    "prod+keda": ("overlays/prod", ("components/keda-consumers",)),
}


# -- rendering ---------------------------------------------------------------------------------


def _kustomize_command() -> list[str] | None:
    if kubectl := shutil.which("kubectl"):
        return [kubectl, "kustomize"]
    if kustomize := shutil.which("kustomize"):
        return [kustomize, "build"]
    return None


KUSTOMIZE = _kustomize_command()
needs_kustomize = pytest.mark.skipif(KUSTOMIZE is None, reason="needs kubectl (kustomize built in) or kustomize on PATH")


def render(name: str) -> tuple[dict, ...]:
    """The objects of one entry of OVERLAYS, as `kubectl apply -k` would send them."""
    return _rendered()[name]


@cache
def _rendered() -> dict[str, tuple[dict, ...]]:
    with ThreadPoolExecutor(len(OVERLAYS)) as pool:  # kustomize runs are independent: render them at once
        return dict(zip(OVERLAYS, pool.map(_render, OVERLAYS)))


def _render(name: str) -> tuple[dict, ...]:
    overlay, components = OVERLAYS[name]
    if not components:
        return _build(K8S / overlay)
    with tempfile.TemporaryDirectory() as folder:  # a copy of deploy/k8s with the components switched on
        copy = Path(folder) / "k8s"
        shutil.copytree(K8S, copy)
        kustomization = copy / overlay / "kustomization.yaml"
        text = kustomization.read_text()
        for component in components:
            line = re.search(rf"^(\s*)#\s*(- \.\./\.\./{re.escape(component)})\b.*$", text, re.MULTILINE)
            assert line, f"{overlay}/kustomization.yaml no longer offers {component} as a commented-out line"
            text = text.replace(line.group(0), line.group(1) + line.group(2))
        kustomization.write_text(text)
        return _build(copy / overlay)


def _build(path: Path) -> tuple[dict, ...]:
    result = subprocess.run([*KUSTOMIZE, str(path)], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"{path} does not render:\n{result.stderr}"
    return tuple(doc for doc in yaml.load_all(result.stdout, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) if doc is not None)


def of_kind(objects, kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def workloads(objects) -> dict[str, dict]:
    """Deployments and Jobs, by name."""
    return {**of_kind(objects, "Deployment"), **of_kind(objects, "Job")}


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def pod_labels(workload: dict) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"].get("labels", {})


def container(workload: dict) -> dict:
    containers = pod_spec(workload)["containers"]
    assert len(containers) == 1, f"{workload['metadata']['name']}: expected one container, found {len(containers)}"
    return containers[0]


def ports_of(workload: dict) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in container(workload).get("ports", [])}


def service_of(workload: dict) -> str:
    """The service (or `gateway`) a workload belongs to."""
    return pod_labels(workload)["app.kubernetes.io/name"]


class SecretRef(tuple):
    """An environment variable taken from a Secret: (secret name, key)."""


def effective_env(objects, workload: dict) -> dict[str, str | SecretRef]:
    """The environment the container's process sees: its ConfigMaps (envFrom, in order), then its
    `env` entries (which win); a value from a Secret is a SecretRef. $(VAR) is left unexpanded."""
    config_maps = of_kind(objects, "ConfigMap")
    env: dict[str, str | SecretRef] = {}
    box = container(workload)
    for source in box.get("envFrom", []):
        assert "configMapRef" in source, f"{workload['metadata']['name']}: envFrom {source} (credentials come one by one, through secretKeyRef)"
        name = source["configMapRef"]["name"]
        assert name in config_maps, f"{workload['metadata']['name']}: no ConfigMap {name}"
        env.update(config_maps[name].get("data", {}))
    for entry in box.get("env", []):
        if "valueFrom" in entry:
            ref = entry["valueFrom"].get("secretKeyRef")
            assert ref, f"{workload['metadata']['name']}: {entry['name']} comes from {entry['valueFrom']}"
            env[entry["name"]] = SecretRef((ref["name"], ref["key"]))
        else:
            env[entry["name"]] = entry.get("value", "")
    return env


def secret_base_name(objects, name: str) -> str:
    """A generated Secret's name without kustomize's hash suffix (dev generates its Secrets)."""
    for secret in of_kind(objects, "Secret").values():
        if secret["metadata"]["name"] == name:
            return re.sub(r"-[a-z0-9]{10}$", "", name)
    return name


# -- what the repository says ------------------------------------------------------------------


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


def procfile_services() -> list[str]:
    """Every service the Procfile runs (`python -m services.<name> …`), and the gateway."""
    names = {words[2].split(".")[1] for words in (procfile()[p] for p in PROCESSES) if words[:2] == ["python", "-m"]}
    names |= {"gateway" for p in PROCESSES if procfile()[p][0] == "gunicorn"}
    return sorted(names)


def consumer_queues(service: str) -> list[str]:
    """The queue names a service's consumers declare (`Consumer("<queue>", …)` in service.py)."""
    return re.findall(r'Consumer\(\s*"([\w.-]+)"', (ROOT / "services" / service / "service.py").read_text())


@cache
def grpc_calls() -> dict[tuple[str, str], set[str]]:
    """(service, process kind) -> the services it calls over gRPC, read from the code.

    A service's gRPC server calls what its `grpc=` wiring opens channels to, plus identity for the
    public keys that verify access tokens (platform_kit.service; identity uses its own keys). Its
    consumer process calls what `consumers=` and `background=` open. The gateway calls every
    service in gateway/backends.py."""
    calls: dict[tuple[str, str], set[str]] = {}
    for service in SERVICES:
        tree = ast.parse((ROOT / "services" / service / "service.py").read_text())
        functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}

        def opened(node: ast.AST, seen: frozenset = frozenset(), functions: dict = functions) -> set[str]:
            """Services `node` opens channels to, following the module's functions it names."""
            found = set()
            for inner in ast.walk(node):
                if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute) and inner.func.attr == "channel":
                    if inner.args and isinstance(inner.args[0], ast.Constant):
                        found.add(inner.args[0].value)
                elif isinstance(inner, ast.Name) and inner.id in functions and inner.id not in seen:
                    found |= opened(functions[inner.id], seen | {inner.id}, functions)
            return found

        definition = next(
            node.value for node in tree.body
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "DEFINITION" for t in node.targets)
        )
        wiring = {keyword.arg: keyword.value for keyword in definition.keywords}
        server = opened(wiring["grpc"])
        if "jwks_source" not in wiring:
            server.add("identity")
        consumer = set()
        for key in ("consumers", "background"):
            if key in wiring:
                consumer |= opened(wiring[key])
        calls[(service, "grpc-server")] = server - {service}
        calls[(service, "event-consumer")] = consumer - {service}
        calls[(service, "outbox-relay")] = set()
        calls[(service, "migration")] = set()
    backends = (ROOT / "gateway" / "backends.py").read_text()
    assert "SERVICES = tuple(DEFAULT_GRPC_PORTS)" in backends, "gateway/backends.py changed how it lists its backends"
    from platform_kit.config import DEFAULT_GRPC_PORTS

    calls[("gateway", "gateway")] = set(DEFAULT_GRPC_PORTS)
    return calls


def uses_broker(service: str, kind: str) -> bool:
    """Does this process talk AMQP? Relays publish and consumers consume by nature; a gRPC server
    if `serve` (platform_kit/service.py) touches the broker, e.g. to check it for readiness, or if
    its service follows another's changes (platform_kit/bus/follower.py) when it wires its
    servicer; the gateway if its workers follow them (gateway/wsgi.py)."""
    if kind in ("event-consumer", "outbox-relay"):
        return True
    if kind == "gateway":
        return re.search(r"\bfollow_\w*changes\(", (ROOT / "gateway" / "wsgi.py").read_text()) is not None
    if kind != "grpc-server":
        return False
    tree = ast.parse((ROOT / "platform_kit" / "service.py").read_text())
    serve = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "serve")
    names = {n.id for n in ast.walk(serve) if isinstance(n, ast.Name)} | {n.attr for n in ast.walk(serve) if isinstance(n, ast.Attribute)}
    if names & {"check_broker", "connect", "Publisher", "amqp_url"}:
        return True
    tree = ast.parse((ROOT / "services" / service / "service.py").read_text())
    wiring = next((node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "grpc_services"), None)
    return wiring is not None and any(
        isinstance(n, ast.Call) and re.fullmatch(r"follow_\w*changes", getattr(n.func, "id", "")) for n in ast.walk(wiring)
    )
