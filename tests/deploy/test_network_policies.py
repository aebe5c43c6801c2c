"""The NetworkPolicies, evaluated the way a CNI enforces them, allow exactly Dziennik's real call
graph (read from services/*/service.py and gateway/backends.py): only the gateway takes traffic
from outside, each gRPC server accepts only its callers, each process reaches its own database and
the broker (if it uses one), and nothing else leaves but DNS and the HTTPS of PayU and the SMS
providers."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import pytest

from tests.deploy.manifests import (
    NAMESPACE,
    OVERLAYS,
    SERVICES,
    uses_broker,
    grpc_calls,
    needs_kustomize,
    of_kind,
    pod_labels,
    ports_of,
    render,
    workloads,
)

pytestmark = needs_kustomize


@dataclass(frozen=True)
class Endpoint:
    """A pod (or an address outside the cluster) that traffic goes from or to."""

    name: str
    namespace: str | None
    labels: dict = field(default_factory=dict, hash=False)
    ports: dict = field(default_factory=dict, hash=False)  # named ports
    ip: str = "10.244.1.10"  # pods get addresses from the cluster's private range

    def __repr__(self) -> str:
        return self.name


def namespace(name: str) -> dict:
    return {"kubernetes.io/metadata.name": name}


OUTSIDE = Endpoint("internet", None, ip="203.0.113.10")
INGRESS_CONTROLLER = Endpoint("ingress-controller", "ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"})
PROMETHEUS = Endpoint("prometheus", "monitoring", {"app.kubernetes.io/name": "prometheus"})
CNPG_OPERATOR = Endpoint("cnpg-operator", "cnpg-system", {"app.kubernetes.io/name": "cloudnative-pg"})
RABBITMQ_OPERATOR = Endpoint("rabbitmq-operator", "rabbitmq-system", {"app.kubernetes.io/name": "rabbitmq-cluster-operator"})
KEDA = Endpoint("keda-operator", "keda", {"app": "keda-operator"})
KUBE_DNS = Endpoint("kube-dns", "kube-system", {"k8s-app": "kube-dns"}, {"dns": 53})
OTHER_APP = Endpoint("someone-elses-pod", "default", {"app": "other"}, {"http": 8080})
# The operators' pods, with the labels the operators give them.
BROKER = Endpoint(
    "rabbitmq-server-0", NAMESPACE,
    {"app.kubernetes.io/name": "rabbitmq", "app.kubernetes.io/component": "rabbitmq", "app.kubernetes.io/part-of": "rabbitmq"},
    {"amqp": 5672, "management": 15672, "prometheus": 15692, "epmd": 4369, "cluster-rpc": 25672},
)


def database(service: str, instance: int = 1) -> Endpoint:
    return Endpoint(
        f"{service}-db-{instance}", NAMESPACE, {"cnpg.io/cluster": f"{service}-db", "cnpg.io/podRole": "instance"},
        {"postgresql": 5432, "status": 8000, "metrics": 9187},
    )


def app_pods(objects) -> dict[tuple[str, str], Endpoint]:
    """One pod per (service, process kind), with its Deployment's or Job's labels and ports."""
    pods = {}
    for name, workload in workloads(objects).items():
        labels = pod_labels(workload)
        key = (labels["app.kubernetes.io/name"], labels["app.kubernetes.io/component"])
        pods[key] = Endpoint(name, NAMESPACE, labels, ports_of(workload))
    return pods


# -- the evaluator ---------------------------------------------------------------------------


def _selects(selector: dict, labels: dict) -> bool:
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        value, values = labels.get(expression["key"]), expression.get("values", [])
        if {"In": value not in values, "NotIn": value in values, "Exists": expression["key"] not in labels,
                "DoesNotExist": expression["key"] in labels}[expression["operator"]]:
            return False
    return True


def _peer_matches(peer: dict, other: Endpoint, policy_namespace: str) -> bool:
    if "ipBlock" in peer:
        address = ipaddress.ip_address(other.ip)
        block = peer["ipBlock"]
        return address in ipaddress.ip_network(block["cidr"]) and not any(address in ipaddress.ip_network(e) for e in block.get("except", []))
    if other.namespace is None:  # outside the cluster: only ipBlocks match
        return False
    if "namespaceSelector" in peer:
        if not _selects(peer["namespaceSelector"], namespace(other.namespace)):
            return False
    elif other.namespace != policy_namespace:
        return False
    return _selects(peer.get("podSelector", {}), other.labels)


def _port_matches(rule: dict, port: int, protocol: str, destination: Endpoint) -> bool:
    ports = rule.get("ports")
    if not ports:
        return True
    for entry in ports:
        number = entry.get("port")
        if isinstance(number, str):
            number = destination.ports.get(number)
        if entry.get("protocol", "TCP") == protocol and (entry.get("port") is None or number == port):
            return True
    return False


def _allowed(policies, pod: Endpoint, other: Endpoint, direction: str, port: int, protocol: str, destination: Endpoint) -> bool:
    """Whether `pod`'s policies let traffic go to (Egress) or come from (Ingress) `other`."""
    if pod.namespace is None:
        return True  # the outside world is not ours to police
    mine = [p for p in policies if p["metadata"]["namespace"] == pod.namespace and _selects(p["spec"]["podSelector"], pod.labels)
            and direction in p["spec"].get("policyTypes", ["Ingress"])]
    if not mine:
        return True  # not isolated in this direction
    peers_key, rules_key = ("to", "egress") if direction == "Egress" else ("from", "ingress")
    for policy in mine:
        for rule in policy["spec"].get(rules_key, []):
            peers = rule.get(peers_key)
            if (not peers or any(_peer_matches(peer, other, policy["metadata"]["namespace"]) for peer in peers)) and _port_matches(rule, port, protocol, destination):
                return True
    return False


def sends(objects, source: Endpoint, destination: Endpoint, port: int, protocol: str = "TCP") -> bool:
    """The source's own policies let this traffic leave it."""
    policies = list(of_kind(objects, "NetworkPolicy").values())
    return _allowed(policies, source, destination, "Egress", port, protocol, destination)


def accepts(objects, destination: Endpoint, source: Endpoint, port: int, protocol: str = "TCP") -> bool:
    """The destination's own policies let this traffic in."""
    policies = list(of_kind(objects, "NetworkPolicy").values())
    return _allowed(policies, destination, source, "Ingress", port, protocol, destination)


def reaches(objects, source: Endpoint, destination: Endpoint, port: int, protocol: str = "TCP") -> bool:
    return sends(objects, source, destination, port, protocol) and accepts(objects, destination, source, port, protocol)


# -- the rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_grpc_server_accepts_exactly_its_callers(overlay):
    objects = render(overlay)
    pods, calls = app_pods(objects), grpc_calls()
    wrong = []
    for (service, kind), source in pods.items():
        for callee in SERVICES:
            server = pods[(callee, "grpc-server")]
            expected = callee in calls[(service, kind)]
            # each side on its own: a server accepts only its callers, a caller sends only to its callees
            if accepts(objects, server, source, 50051) != expected:
                wrong.append(f"{callee} {'refuses' if expected else 'accepts'} {source} on 50051")
            if sends(objects, source, server, 50051) != expected:
                wrong.append(f"{source} {'cannot send' if expected else 'may send'} to {callee}:50051")
    assert not wrong, "the policies differ from the call graph in the code:\n" + "\n".join(wrong)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_process_reaches_its_own_database_and_no_other(overlay):
    objects = render(overlay)
    wrong = []
    for (service, kind), source in app_pods(objects).items():
        for owner in SERVICES:
            expected = owner == service  # the gateway owns no data
            if accepts(objects, database(owner), source, 5432) != expected:
                wrong.append(f"{owner}-db {'refuses' if expected else 'accepts'} {source}")
            if sends(objects, source, database(owner), 5432) != expected:
                wrong.append(f"{source} {'cannot send' if expected else 'may send'} to {owner}-db")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_broker_takes_the_processes_that_use_it(overlay):
    objects = render(overlay)
    for (service, kind), source in app_pods(objects).items():
        # relays publish, consumers consume; servers and the gateway only if they check the broker
        # or follow identity's changes; the migrations never do
        expected = uses_broker(service, kind)
        assert accepts(objects, BROKER, source, 5672) == expected, f"rabbitmq:5672 <- {source}"
        assert sends(objects, source, BROKER, 5672) == expected, f"{source} -> rabbitmq:5672"
        assert not reaches(objects, source, BROKER, 15672), f"{source} -> the management API"
    assert reaches(objects, KEDA, BROKER, 5672), "components/keda-consumers reads queue depth over AMQP"
    assert reaches(objects, RABBITMQ_OPERATOR, BROKER, 15672), "the operator manages the cluster over the management API"
    assert reaches(objects, BROKER, BROKER, 25672), "broker nodes cluster with each other"
    assert not reaches(objects, OTHER_APP, BROKER, 5672)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_gateway_takes_traffic_from_outside(overlay):
    objects = render(overlay)
    for (service, kind), pod in app_pods(objects).items():
        for port in pod.ports.values():
            expected = kind == "gateway"
            assert reaches(objects, INGRESS_CONTROLLER, pod, port) == expected, f"ingress controller -> {pod}:{port}"
            assert not reaches(objects, OTHER_APP, pod, port) or expected, f"another namespace's pod -> {pod}:{port}"
    for owner in SERVICES:
        assert not reaches(objects, INGRESS_CONTROLLER, database(owner), 5432)
        assert not reaches(objects, OTHER_APP, database(owner), 5432)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_nothing_leaves_but_dns_and_the_providers_https(overlay):
    objects = render(overlay)
    # billing calls PayU from its server; notify's consumer sends SMS through SMSAPI or Twilio
    to_internet = {("billing", "grpc-server"), ("notify", "event-consumer")}
    for key, pod in app_pods(objects).items():
        assert reaches(objects, pod, KUBE_DNS, 53, "UDP") and reaches(objects, pod, KUBE_DNS, 53, "TCP"), f"{pod}: DNS"
        assert reaches(objects, pod, OUTSIDE, 443) == (key in to_internet), f"{pod} -> internet:443"
        assert not reaches(objects, pod, OUTSIDE, 80), f"{pod} -> internet:80"
        assert not reaches(objects, pod, OTHER_APP, 8080), f"{pod} -> another namespace"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_operators_and_prometheus_reach_what_they_manage(overlay):
    objects = render(overlay)
    for pod in app_pods(objects).values():
        if "metrics" in pod.ports:
            assert reaches(objects, PROMETHEUS, pod, pod.ports["metrics"]), f"prometheus -> {pod} metrics"
        if "grpc" in pod.ports:
            assert not reaches(objects, PROMETHEUS, pod, pod.ports["grpc"]), f"prometheus -> {pod} gRPC"
    assert reaches(objects, PROMETHEUS, BROKER, 15692)
    for owner in SERVICES:
        assert reaches(objects, PROMETHEUS, database(owner), 9187)
        assert reaches(objects, CNPG_OPERATOR, database(owner), 8000), "the operator asks each instance's manager"
        assert reaches(objects, database(owner, 2), database(owner, 1), 5432), "standbys replicate from the primary"
        other = next(s for s in SERVICES if s != owner)
        assert not reaches(objects, database(other), database(owner), 5432), f"{other}-db -> {owner}-db"


def test_the_evaluator_notices_a_missing_policy():
    """Drop the policy of identity's callers: the gateway can no longer sign anyone in."""
    objects = render("dev")
    pods = app_pods(objects)
    without = tuple(o for o in objects if not (o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "identity-grpc"))
    assert reaches(objects, pods[("gateway", "gateway")], pods[("identity", "grpc-server")], 50051)
    assert not reaches(without, pods[("gateway", "gateway")], pods[("identity", "grpc-server")], 50051)
