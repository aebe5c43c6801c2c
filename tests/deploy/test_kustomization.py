"""The overlays of deploy/k8s keep the rules the cluster relies on: one Deployment per Procfile
process running the same command, each scaled and disrupted on its own, probes, resources and
locked-down containers, settings in ConfigMaps and credentials only in Secrets, Services that reach
their pods. Reads the rendered manifests only: no cluster."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.deploy.manifests import (
    APP_COMPONENTS,
    GATEWAY_PORT,
    GRPC_PORT,
    METRICS_PORT,
    NAMESPACE,
    OVERLAYS,
    PROCESS_KINDS,
    PROCESSES,
    ROOT,
    RUN_AS_USER,
    SERVERS,
    SERVICES,
    VOLUMES,
    SecretRef,
    container,
    effective_env,
    needs_kustomize,
    of_kind,
    pod_labels,
    pod_spec,
    ports_of,
    procfile,
    procfile_line,
    procfile_services,
    render,
    secret_base_name,
    service_of,
    workloads,
)

pytestmark = needs_kustomize

# A name ending in one of these holds a credential (IDENTITY_ACCESS_TOKEN_TTL_SECONDS does not).
CREDENTIAL_NAME = re.compile(r"(PASSWORD|SECRET|TOKEN|KEY|CREDENTIALS?)$")
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}


def stop_grace_seconds(env: dict) -> float:
    """What a server waits for in-flight RPCs after SIGTERM: <SERVICE>_STOP_GRACE_SECONDS or
    ServiceSettings' default."""
    from platform_kit.config import ServiceSettings

    names = [k for k in env if k.endswith("_STOP_GRACE_SECONDS")]
    return float(env[names[0]]) if names else ServiceSettings().stop_grace_seconds


def gunicorn_graceful_timeout() -> float:
    return float(re.search(r"^graceful_timeout = (\d+)", (ROOT / "gateway" / "gunicorn.conf.py").read_text(), re.MULTILINE).group(1))


def pre_stop_seconds(box: dict) -> float:
    command = box.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    return float(command[1]) if command[:1] == ["sleep"] else 0.0


# -- rendering ---------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlay_renders_into_one_namespace_without_duplicates(overlay):
    objects = render(overlay)
    assert objects, f"{overlay} renders nothing"
    for obj in objects:
        assert {"apiVersion", "kind", "metadata"} <= obj.keys(), f"not a Kubernetes object: {obj}"
        if obj["kind"] not in CLUSTER_SCOPED:
            assert obj["metadata"].get("namespace") == NAMESPACE, f"{obj['kind']} {obj['metadata']['name']} is not in {NAMESPACE}"
    names = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert len(names) == len(set(names)), f"duplicate objects: {sorted(n for n in names if names.count(n) > 1)}"


def test_the_namespace_is_not_part_of_an_overlay():
    # `kubectl delete -k` must never delete the namespace and with it the databases' volumes.
    for overlay in OVERLAYS:
        assert not of_kind(render(overlay), "Namespace"), f"{overlay} renders a Namespace"
    assert (ROOT / "deploy" / "k8s" / "namespace.yaml").is_file()


# -- the Procfile, process by process ----------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("process", PROCESSES)
def test_every_procfile_process_has_a_deployment_running_its_command(overlay, process):
    deployment = of_kind(render(overlay), "Deployment").get(process)
    assert deployment is not None, f"Procfile process {process!r} has no Deployment named {process!r}"
    expected = list(procfile()[process])
    if "--bind" in expected:  # the gateway: same server, listening on the pod's port
        expected[expected.index("--bind") + 1] = f"0.0.0.0:{GATEWAY_PORT}"
    assert container(deployment)["command"] == expected, f"{process}: command differs from the Procfile line\n  {procfile_line(process)}"
    if "METRICS_PORT=" in procfile_line(process):
        assert effective_env(render(overlay), deployment).get("METRICS_PORT") == str(METRICS_PORT), f"{process}: METRICS_PORT must be {METRICS_PORT}"
        assert ports_of(deployment).get("metrics") == METRICS_PORT, f"{process}: needs a container port named metrics"
    if expected[:2] == ["python", "-m"]:  # labelled with its service and process kind, which selectors and policies use
        assert pod_labels(deployment)["app.kubernetes.io/name"] == expected[2].removeprefix("services.")
        assert pod_labels(deployment)["app.kubernetes.io/component"] == PROCESS_KINDS[expected[-1]]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_deployment_without_a_procfile_process(overlay):
    extra = set(of_kind(render(overlay), "Deployment")) - set(PROCESSES)
    assert not extra, f"Deployments without a Procfile process: {sorted(extra)}"


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", procfile_services())
def test_every_service_in_the_procfile_has_its_manifests(overlay, service):
    objects = render(overlay)
    mine = {(o["kind"], o["metadata"]["name"]) for o in objects}
    expected = {("ServiceAccount", service), ("Service", service), ("HorizontalPodAutoscaler", service)}
    if service != "gateway":
        expected |= {("Job", f"{service}-migrate"), ("Cluster", f"{service}-db")}
    assert expected <= mine, f"{service}: missing {sorted(expected - mine)}"
    assert any(name.startswith(f"{service}-config") for kind, name in mine if kind == "ConfigMap"), f"{service}: no ConfigMap {service}-config"
    for name, workload in workloads(objects).items():
        if service_of(workload) == service:
            assert pod_spec(workload).get("serviceAccountName") == service, f"{name}: must run as ServiceAccount {service}"


# -- every Deployment: probes, resources, securityContext, a PodDisruptionBudget ---------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployment_has_probes_resources_security_context_and_a_pdb(overlay):
    objects = render(overlay)
    budgets = of_kind(objects, "PodDisruptionBudget").values()
    problems = []
    for name, deployment in of_kind(objects, "Deployment").items():
        box = container(deployment)
        for probe in ("livenessProbe", "readinessProbe"):
            if not box.get(probe):
                problems.append(f"{name}: no {probe}")
        labels = pod_labels(deployment)
        covering = [b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        if len(covering) != 1:
            problems.append(f"{name}: {len(covering)} PodDisruptionBudgets select its pods (expected 1)")
        elif covering[0]["spec"].get("maxUnavailable") is None and covering[0]["spec"].get("minAvailable") in (None, "100%"):
            problems.append(f"{name}: its PodDisruptionBudget never lets a node drain")
        if covering and covering[0]["spec"]["selector"]["matchLabels"] != deployment["spec"]["selector"]["matchLabels"]:
            problems.append(f"{name}: its PodDisruptionBudget selects other pods than the Deployment")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_has_resources_and_a_locked_down_security_context(overlay):
    problems = []
    for name, workload in workloads(render(overlay)).items():
        pod, box = pod_spec(workload), container(workload)
        for bound in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in box.get("resources", {}).get(bound, {}):
                    problems.append(f"{name}: no resources.{bound}.{resource}")
        security, pod_security = box.get("securityContext", {}), pod.get("securityContext", {})
        if not (security.get("runAsNonRoot") or pod_security.get("runAsNonRoot")):
            problems.append(f"{name}: runAsNonRoot is not true")
        if pod_security.get("runAsUser", security.get("runAsUser")) != RUN_AS_USER:
            problems.append(f"{name}: must run as uid {RUN_AS_USER}, the images' user")
        if security.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{name}: readOnlyRootFilesystem is not true")
        if security.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        if security.get("capabilities", {}).get("drop") != ["ALL"] or security.get("capabilities", {}).get("add"):
            problems.append(f"{name}: capabilities must drop ALL and add none")
        if pod_security.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{name}: seccompProfile must be RuntimeDefault (Pod Security Standard `restricted`)")
        if pod.get("automountServiceAccountToken") is not False:
            problems.append(f"{name}: mounts a ServiceAccount token it never uses")
        if any(v.get("hostPath") for v in pod.get("volumes", [])) or pod.get("hostNetwork") or pod.get("hostPID"):
            problems.append(f"{name}: touches the host")
        empty_dirs = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
        mounted = {m["mountPath"] for m in box.get("volumeMounts", []) if m["name"] in empty_dirs}
        for folder in VOLUMES:
            if folder not in mounted:
                problems.append(f"{name}: no emptyDir mounted at {folder} (the root filesystem is read-only)")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_outlive_their_graceful_stop(overlay):
    """The kubelet kills at terminationGracePeriodSeconds: it must exceed the preStop pause plus the
    time the process itself allows in-flight work after SIGTERM."""
    objects = render(overlay)
    for name, deployment in of_kind(objects, "Deployment").items():
        box, env = container(deployment), effective_env(objects, deployment)
        grace = pod_spec(deployment).get("terminationGracePeriodSeconds", 30)
        kind = pod_labels(deployment)["app.kubernetes.io/component"]
        own_stop = {"gateway": gunicorn_graceful_timeout(), "grpc-server": stop_grace_seconds(env)}.get(kind, 0)
        needed = pre_stop_seconds(box) + own_stop
        assert grace > needed, f"{name}: terminationGracePeriodSeconds {grace} <= preStop {pre_stop_seconds(box)} + stop grace {own_stop}"
        if kind in ("gateway", "grpc-server"):
            assert pre_stop_seconds(box) > 0, f"{name}: needs a preStop pause so its endpoints are gone before SIGTERM"


# -- probes --------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("server", SERVERS)
def test_grpc_servers_listen_on_50051_with_native_grpc_probes(overlay, server):
    from platform_kit.grpc_server import READINESS

    objects = render(overlay)
    deployment = of_kind(objects, "Deployment")[server]
    box = container(deployment)
    service = procfile()[server][2].removeprefix("services.")
    assert effective_env(objects, deployment).get(f"{service.upper()}_GRPC_PORT") == str(GRPC_PORT)
    assert ports_of(deployment).get("grpc") == GRPC_PORT
    assert box.get("livenessProbe", {}).get("grpc") == {"port": GRPC_PORT, "service": ""}, f"{server}: liveness on the overall health"
    assert box.get("readinessProbe", {}).get("grpc") == {"port": GRPC_PORT, "service": READINESS}, f"{server}: readiness on {READINESS!r}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_consumers_and_relays_are_probed_on_their_metrics_endpoint(overlay):
    # They have no health service; /metrics answers once the settings were valid and the loop started.
    for name, deployment in of_kind(render(overlay), "Deployment").items():
        if pod_labels(deployment)["app.kubernetes.io/component"] in ("event-consumer", "outbox-relay"):
            for probe in ("livenessProbe", "readinessProbe"):
                get = container(deployment)[probe].get("httpGet", {})
                assert (get.get("path"), get.get("port")) == ("/metrics", "metrics"), f"{name} {probe}: {get}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_gateway_is_probed_over_http(overlay):
    box = container(of_kind(render(overlay), "Deployment")["gateway"])
    ports = {p["name"]: p["containerPort"] for p in box["ports"]}
    # Readiness is the gateway's own: /readyz fails when any one backend does, which would empty the Service.
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/healthz")):
        get = box.get(probe, {}).get("httpGet", {})
        assert get.get("path") == path, f"gateway {probe} must GET {path}"
        assert ports.get(get.get("port"), get.get("port")) == GATEWAY_PORT, f"gateway {probe} must probe port {GATEWAY_PORT}"


# -- scaling ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_servers_and_the_gateway_scale_on_cpu_and_nothing_fights_the_autoscaler(overlay):
    objects = render(overlay)
    deployments, autoscalers = of_kind(objects, "Deployment"), of_kind(objects, "HorizontalPodAutoscaler")
    targets = {a["spec"]["scaleTargetRef"]["name"]: a for a in autoscalers.values()}
    for name, deployment in deployments.items():
        kind = pod_labels(deployment)["app.kubernetes.io/component"]
        if kind in ("grpc-server", "gateway"):
            autoscaler = targets.get(name)
            assert autoscaler is not None, f"{name}: no HorizontalPodAutoscaler"
            assert autoscaler["spec"]["scaleTargetRef"]["kind"] == "Deployment"
            assert 1 <= autoscaler["spec"]["minReplicas"] <= autoscaler["spec"]["maxReplicas"]
            metrics = [(m["type"], m.get("resource", {}).get("name")) for m in autoscaler["spec"]["metrics"]]
            assert ("Resource", "cpu") in metrics, f"{name}: autoscaler does not watch CPU"
            # HPA utilisation is relative to the request: without one it cannot scale.
            assert "cpu" in container(deployment)["resources"]["requests"]
        else:
            assert name not in targets, f"{name}: only servers and the gateway scale on CPU"
        if name in targets or (overlay.endswith("keda") and kind == "event-consumer"):
            assert "replicas" not in deployment["spec"], f"{name}: replicas would reset the autoscaler's count on every apply"
    assert of_kind(render("prod"), "HorizontalPodAutoscaler")["identity"]["spec"]["minReplicas"] >= 2, "prod servers survive losing one pod"


# -- configuration and credentials -------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_config_maps_hold_no_credentials(overlay):
    for name, config_map in of_kind(render(overlay), "ConfigMap").items():
        data = config_map.get("data", {})
        secret_keys = [k for k in data if CREDENTIAL_NAME.search(k.upper())]
        assert not secret_keys, f"ConfigMap {name}: {secret_keys} belong in a Secret"
        with_userinfo = [k for k, v in data.items() if re.search(r"://[^/@\s]+@", v)]
        assert not with_userinfo, f"ConfigMap {name}: URLs with a user or password belong in a Secret: {with_userinfo}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_credential_comes_from_a_secret(overlay):
    objects = render(overlay)
    for name, workload in workloads(objects).items():
        for key, value in effective_env(objects, workload).items():
            if CREDENTIAL_NAME.search(key) or key.endswith("_DATABASE_URL"):
                assert isinstance(value, SecretRef), f"{name}: {key} must come from a Secret (secretKeyRef), not a literal"
            elif isinstance(value, str) and "://" in value:
                assert not re.search(r"://[^/@\s$]+@", value), f"{name}: {key} holds credentials in plain text"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_process_of_a_service_reads_the_same_configuration(overlay):
    """Every command (serve, consume, relay, migrate) validates the service's whole settings class at
    start, so a setting or credential missing from one of them stops that process."""
    objects = render(overlay)
    seen: dict[str, tuple[str, dict]] = {}
    for name, workload in workloads(objects).items():
        box = container(workload)
        assert box.get("envFrom", [])[:1] == [{"configMapRef": {"name": of_kind_name(objects, "dziennik-config")}}], f"{name}: read dziennik-config first"
        own = f"{service_of(workload)}-config"
        assert [s["configMapRef"]["name"] for s in box["envFrom"]][1:] == [of_kind_name(objects, own)], f"{name}: then {own}"
        env = {k: v for k, v in effective_env(objects, workload).items() if k != "METRICS_PORT"}
        first = seen.setdefault(service_of(workload), (name, env))
        assert env == first[1], f"{name} and {first[0]} see different settings: {sorted(set(env.items()) ^ set(first[1].items()))}"
        assert pod_spec(workload).get("enableServiceLinks") is False, f"{name}: Service links would set GATEWAY_PORT=tcp://…"


def of_kind_name(objects, base: str) -> str:
    """The rendered name (with kustomize's hash) of the generated ConfigMap `base`."""
    names = [n for n in of_kind(objects, "ConfigMap") if re.fullmatch(rf"{re.escape(base)}(-[a-z0-9]{{10}})?", n)]
    assert len(names) == 1, f"ConfigMap {base}: {names}"
    return names[0]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_variable_set_is_one_the_process_reads(overlay):
    """A misspelt name is silently ignored and the code default wins: every variable a container
    gets must be a setting of its process (platform_kit/config.py, services/*/service.py,
    gateway/settings.py), or one the manifests use to build another."""
    known = settings_names()
    objects = render(overlay)
    helpers = {"AMQP_USERNAME", "AMQP_PASSWORD"}  # spliced into AMQP_URL by the kubelet
    shared = of_kind(objects, "ConfigMap")[of_kind_name(objects, "dziennik-config")]["data"]
    unread = set(shared) - set().union(*known.values())
    assert not unread, f"dziennik-config: no process reads {sorted(unread)}"
    for name, workload in workloads(objects).items():
        env = effective_env(objects, workload)
        # dziennik-config is shared: each of its names is read by some processes, not all
        unknown = set(env) - known[service_of(workload)] - helpers - set(shared)
        assert not unknown, f"{name}: no process of {service_of(workload)} reads {sorted(unknown)}"
        for key, value in env.items():
            for used in re.findall(r"\$\((\w+)\)", value if isinstance(value, str) else ""):
                assert used in env and list(env).index(used) < list(env).index(key), f"{name}: {key} uses $({used}) before it is set"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_process_accepts_the_configuration_its_manifests_give_it(overlay, monkeypatch):
    """What a container gets must pass its settings' checks (a bool spelt `yes`, a port out of
    range, a URL of the wrong kind would stop the pod at start). Credentials come from Secrets the
    manifests do not hold in prod: each is a placeholder of its kind."""
    from platform_kit.config import ConfigError, load_settings

    objects = render(overlay)
    read_by = settings_names()
    for name, workload in workloads(objects).items():
        settings = settings_class(service_of(workload))
        values: dict[str, str] = {}
        for key, value in effective_env(objects, workload).items():
            if isinstance(value, SecretRef):
                values[key] = "postgresql://dziennik:placeholder@db:5432/x" if key.endswith("DATABASE_URL") else "placeholder-credential-0123456789"
            else:
                values[key] = re.sub(r"\$\((\w+)\)", lambda m: values.get(m.group(1), ""), value)
        for variable in read_by[service_of(workload)]:
            monkeypatch.delenv(variable, raising=False)
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        try:
            load_settings(settings)
        except ConfigError as exc:
            pytest.fail(f"{overlay}/{name}: {exc}")


def settings_class(service: str) -> type:
    """The settings a service's processes (or the gateway) read."""
    import importlib

    from gateway.settings import GatewaySettings
    from platform_kit.config import ServiceSettings

    if service == "gateway":
        return GatewaySettings
    module = importlib.import_module(f"services.{service}.service")
    found = [c for c in vars(module).values() if isinstance(c, type) and issubclass(c, ServiceSettings) and c is not ServiceSettings]
    assert len(found) == 1, f"services/{service}/service.py: expected one ServiceSettings subclass"
    return found[0]


def settings_names() -> dict[str, set[str]]:
    """Service or gateway -> the environment variables its settings read."""
    from platform_kit.config import DEFAULT_GRPC_PORTS, variables

    targets = {f"{s.upper()}_GRPC_TARGET" for s in DEFAULT_GRPC_PORTS}  # read by CommonSettings.grpc_target
    known = {"gateway": variables(settings_class("gateway")) | targets}
    for service in SERVICES:
        settings = settings_class(service)
        assert settings.env_prefix == f"{service.upper()}_", f"{service}: settings prefix is not {service.upper()}_"
        known[service] = variables(settings) | targets
    return known


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_config_points_every_service_at_its_kubernetes_service(overlay):
    objects = render(overlay)
    services, servers = of_kind(objects, "Service"), of_kind(objects, "Deployment")
    for service in SERVICES:
        env = effective_env(objects, servers[service])
        assert env.get(f"{service.upper()}_GRPC_TARGET") == f"{service}:{GRPC_PORT}"
        assert env.get(f"{service.upper()}_MIGRATE_ON_START") == "false", f"{service}: the migration Job migrates, not the server"
        assert env.get("DZIENNIK_VAR_DIR") == VOLUMES[0]
        assert env.get(f"{service.upper()}_DATABASE_URL") == SecretRef((f"{service}-db-app", "uri")), f"{service}: its own CloudNativePG database"
        broker = of_kind(objects, "RabbitmqCluster")
        assert re.fullmatch(r"amqp://\$\(AMQP_USERNAME\):\$\(AMQP_PASSWORD\)@(\w+):5672/%2F", env.get("AMQP_URL", "")), f"{service}: AMQP_URL"
        assert re.match(r"amqp://.*@(\w+):", env["AMQP_URL"]).group(1) in broker, "AMQP_URL must name the RabbitmqCluster's Service"
        assert env.get("AMQP_USERNAME") == SecretRef(("rabbitmq-default-user", "username"))
        assert env.get("AMQP_PASSWORD") == SecretRef(("rabbitmq-default-user", "password"))
        ports = {p["name"]: p for p in services.get(service, {}).get("spec", {}).get("ports", [])}
        assert ports.get("grpc", {}).get("port") == GRPC_PORT, f"Service {service} must expose grpc on {GRPC_PORT}"
        assert ports.get("metrics", {}).get("port") == METRICS_PORT, f"Service {service} must expose metrics on {METRICS_PORT}"
    assert {p["name"]: p["port"] for p in services["gateway"]["spec"]["ports"]} == {"http": 80}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_selects_the_pods_of_one_deployment(overlay):
    objects = render(overlay)
    deployments = of_kind(objects, "Deployment").values()
    for name, service in of_kind(objects, "Service").items():
        selector = service["spec"]["selector"]
        matches = [d for d in deployments if selector.items() <= pod_labels(d).items()]
        assert len(matches) == 1, f"Service {name} selects {selector}: pods of {[d['metadata']['name'] for d in matches]}"
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            assert target in (ports_of(matches[0]) if isinstance(target, str) else ports_of(matches[0]).values()), (
                f"Service {name} port {port['name']} targets {target!r}, which {matches[0]['metadata']['name']} does not expose"
            )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_reference_to_a_rendered_object_resolves(overlay):
    objects = render(overlay)
    config_maps, claims, accounts = of_kind(objects, "ConfigMap"), of_kind(objects, "PersistentVolumeClaim"), of_kind(objects, "ServiceAccount")
    services = of_kind(objects, "Service")
    for name, workload in workloads(objects).items():
        pod = pod_spec(workload)
        assert pod["serviceAccountName"] in accounts, f"{name}: no ServiceAccount {pod['serviceAccountName']}"
        for volume in pod.get("volumes", []):
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims, f"{name}: no PVC {volume}"
            if "configMap" in volume:
                assert volume["configMap"]["name"] in config_maps
        mounts = {m["name"] for m in container(workload).get("volumeMounts", [])}
        assert mounts <= {v["name"] for v in pod.get("volumes", [])}, f"{name}: mounts a volume it does not have"
    for name, ingress in of_kind(objects, "Ingress").items():
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                assert backend["port"]["name"] in {p["name"] for p in services[backend["name"]]["spec"]["ports"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_generated_secrets_only_in_dev(overlay):
    secrets = of_kind(render(overlay), "Secret")
    if overlay == "dev":
        assert {secret_base_name(render(overlay), n) for n in secrets} >= {"dziennik-service-token", "notify-sms", "billing-payu"}
    else:
        assert not secrets, f"{overlay} must not carry credentials; create them from your secret store: {sorted(secrets)}"


# Written by the operators, not by people: CloudNativePG (per Cluster) and the RabbitMQ Cluster Operator.
OPERATOR_SECRETS = {
    **{f"{s}-db-app": {"uri", "username", "password", "host", "port", "dbname"} for s in SERVICES},
    "rabbitmq-default-user": {"username", "password", "host", "port"},
}


def secret_references(objects) -> list[tuple[str, str, str, bool]]:
    """(who, Secret, key, optional) for every key an object reads from a Secret."""
    refs = []
    for name, workload in workloads(objects).items():
        for entry in container(workload).get("env", []):
            ref = entry.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                refs.append((name, secret_base_name(objects, ref["name"]), ref["key"], bool(ref.get("optional"))))
    for name, store in of_kind(objects, "ObjectStore").items():
        for ref in store["spec"]["configuration"].get("s3Credentials", {}).values():
            refs.append((name, ref["name"], ref["key"], False))
    for name, authentication in of_kind(objects, "TriggerAuthentication").items():
        for ref in authentication["spec"].get("secretTargetRef", []):
            refs.append((name, ref["name"], ref["key"], False))
    return refs


def test_the_secrets_example_documents_every_secret_prod_reads():
    example = {
        doc["metadata"]["name"]: set(doc.get("stringData", {})) | set(doc.get("data", {}))
        for doc in yaml.safe_load_all((ROOT / "deploy/k8s/overlays/prod/secrets.example.yaml").read_text()) if doc
    }
    used = set()
    for overlay in ("prod", "prod+keda"):
        for who, secret, key, _ in secret_references(render(overlay)):
            if secret in OPERATOR_SECRETS:
                assert key in OPERATOR_SECRETS[secret], f"{who}: the operator writes no key {key!r} in {secret}"
            else:
                assert key in example.get(secret, ()), f"{who} reads {secret}/{key}: document it in overlays/prod/secrets.example.yaml"
                used.add(secret)
    assert set(example) == used, f"secrets.example.yaml documents Secrets nothing reads: {sorted(set(example) - used)}"


def test_dev_generates_every_secret_its_pods_need():
    objects = render("dev")
    generated = {secret_base_name(objects, n): set(s.get("data", {})) for n, s in of_kind(objects, "Secret").items()}
    for who, secret, key, optional in secret_references(objects):
        if secret not in OPERATOR_SECRETS and not optional:
            assert key in generated.get(secret, ()), f"{who} reads {secret}/{key}, which overlays/dev does not generate"


INTERNAL_PATHS = ("/healthz", "/readyz", "/metrics")  # the kubelet's and Prometheus', never the public's


def gateway_routes() -> list[str]:
    """Every URL rule the gateway serves, as a concrete path (`<x>` becomes `x`)."""
    from gateway.app import create_app
    from gateway.settings import GatewaySettings

    app = create_app(GatewaySettings())
    rules = [r.rule for r in app.url_map.iter_rules() if r.endpoint != "static"]  # Flask's own, unused
    return [re.sub(r"<(?:\w+:)?(\w+)>", r"\1", rule) for rule in rules]


def published(ingress: dict, path: str) -> bool:
    for rule in ingress["spec"]["rules"]:
        for entry in rule["http"]["paths"]:
            prefix = entry["path"].rstrip("/")
            if entry["pathType"] == "Exact" and path == entry["path"]:
                return True
            if entry["pathType"] == "Prefix" and (path == entry["path"] or path.startswith(prefix + "/")):
                return True
    return False


def test_the_ingress_publishes_every_public_route_and_no_internal_one():
    pytest.importorskip("dziennik", reason="needs the generated gRPC code (make protos)")
    routes = gateway_routes()
    assert set(INTERNAL_PATHS) <= set(routes), "the gateway's health and metrics endpoints moved"
    for overlay in OVERLAYS:
        ingresses = of_kind(render(overlay), "Ingress")
        assert set(ingresses) == {"gateway"}
        ingress = ingresses["gateway"]
        backends = {p["backend"]["service"]["name"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]}
        assert backends == {"gateway"}, f"{overlay}: only the gateway takes traffic from outside"
        hidden = [r for r in routes if r not in INTERNAL_PATHS and not published(ingress, r)]
        assert not hidden, f"{overlay}: the Ingress does not publish {hidden}"
        leaked = [r for r in INTERNAL_PATHS if published(ingress, r)]
        assert not leaked, f"{overlay}: {leaked} must stay inside the cluster"
    assert of_kind(render("prod"), "Ingress")["gateway"]["spec"].get("tls"), "prod serves the API over TLS"


# -- commands and images ---------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_command_names_an_existing_module(overlay):
    for name, workload in workloads(render(overlay)).items():
        command = container(workload)["command"]
        if command[:2] == ["python", "-m"]:
            folder = ROOT / Path(*command[2].split("."))
            assert command[2].startswith("services.") and (folder / "__main__.py").is_file(), f"{name}: no module {command[2]} under services/"
        else:
            assert command[0] == "gunicorn" and (ROOT / command[command.index("-c") + 1]).is_file(), f"{name}: {command}"


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", SERVICES)
def test_every_service_database_has_a_migration_job(overlay, service):
    objects = render(overlay)
    job = of_kind(objects, "Job").get(f"{service}-migrate")
    assert job is not None, f"no Job {service}-migrate"
    assert container(job)["command"] == ["python", "-m", f"services.{service}", "migrate"]
    assert pod_spec(job)["restartPolicy"] in ("Never", "OnFailure")
    assert job["spec"].get("backoffLimit", 6) >= 1 and job["spec"].get("activeDeadlineSeconds"), f"{service}-migrate must retry and give up in time"
    assert effective_env(objects, job).get(f"{service.upper()}_DATABASE_URL") == SecretRef((f"{service}-db-app", "uri"))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_workload_runs_its_own_services_image_at_a_pinned_tag(overlay):
    for name, workload in workloads(render(overlay)).items():
        image = container(workload)["image"]
        repository, _, tag = image.rpartition(":")
        assert repository.endswith(f"dziennik/{service_of(workload)}"), f"{name}: runs {image}, not its service's image"
        assert tag and tag != "latest" and "/" not in tag, f"{name}: {image} must name a tag (the overlay's `images:`)"
    for name, workload in workloads(render("prod")).items():
        assert container(workload)["image"].count("/") >= 2, f"prod {name}: pull from your registry, not Docker Hub's dziennik/…"


def test_every_process_kind_is_known():
    for overlay in OVERLAYS:
        for name, workload in workloads(render(overlay)).items():
            assert pod_labels(workload).get("app.kubernetes.io/component") in APP_COMPONENTS, f"{name}: unknown component"
            assert pod_labels(workload).get("app.kubernetes.io/part-of") == "dziennik"
