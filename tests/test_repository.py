"""Rules about the repository itself."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pins(*files: str) -> dict[str, str]:
    pins = {}
    for name in files:
        for line in (ROOT / name).read_text().splitlines():
            match = re.match(r"^([A-Za-z0-9_.\[\]-]+)==([^\s;#]+)", line)
            if match:
                pins[match.group(1).lower()] = match.group(2)
    return pins


def test_grpcio_tools_and_the_grpc_plugins_are_pinned_to_the_grpcio_release():
    pins = _pins("requirements.txt", "requirements-dev.txt")
    for package in ("grpcio-tools", "grpcio-health-checking", "grpcio-reflection"):
        assert pins[package] == pins["grpcio"], f"{package} {pins[package]} != grpcio {pins['grpcio']}"


def test_every_proto_lives_in_a_versioned_package_matching_its_folder():
    protos = sorted((ROOT / "protos").rglob("*.proto"))
    assert protos
    for proto in protos:
        folder = proto.parent.relative_to(ROOT / "protos")
        package = re.search(r"^package ([\w.]+);", proto.read_text(), re.M).group(1)
        assert package == ".".join(folder.parts), f"{proto}: package {package} does not match {folder}"
        assert re.fullmatch(r"dziennik\.\w+\.v\d+", package)
