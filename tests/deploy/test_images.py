"""The images deploy/k8s runs: a Dockerfile per service and the gateway, multi-stage, on a slim
base pinned to a Python release, generating gen/ in a build stage, carrying only that service's
code, running as the numeric non-root user the pods expect; `make images` builds all of them.
Checked statically: no Docker engine is needed (nor, on this machine, reachable)."""
from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

from tests.deploy.manifests import ROOT, RUN_AS_USER, procfile, procfile_services

IMAGES = procfile_services()  # the six services and the gateway


def dockerfile_path(image: str) -> Path:
    return ROOT / ("gateway" if image == "gateway" else f"services/{image}") / "Dockerfile"


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line.strip() else "") for line in text.splitlines() if line.strip()]


def stages(path: Path) -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for instruction in instructions(path):
        if instruction[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def base_image(path: Path) -> str:
    args = dict(a.split("=", 1) for i, a in instructions(path) if i == "ARG" and "=" in a)
    image = stages(path)[-1][0][1].split()[0]
    return re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)


@pytest.mark.parametrize("image", IMAGES)
def test_every_service_and_the_gateway_has_a_multi_stage_dockerfile(image):
    path = dockerfile_path(image)
    assert path.is_file(), f"no {path.relative_to(ROOT)}"
    assert len(stages(path)) >= 2, f"{image}: build tools stay in a build stage"
    base = base_image(path)
    # slim Debian, and an exact Python release: the same build next month gets the same interpreter
    assert re.fullmatch(r"python:3\.\d+\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?", base), f"{image}: base {base} must be a pinned slim image"
    version = tuple(int(n) for n in re.match(r"python:(3)\.(\d+)", base).groups())
    required = tuple(int(n) for n in re.search(r'requires-python = ">=(\d+)\.(\d+)"', (ROOT / "pyproject.toml").read_text()).groups())
    assert version >= required, f"{image}: Python {version} < the project's {required}"


@pytest.mark.parametrize("image", IMAGES)
def test_generated_code_is_made_in_a_build_stage_with_the_pinned_tools(image):
    path = dockerfile_path(image)
    build, final = stages(path)[0], stages(path)[-1]
    runs = " ".join(a for i, a in build if i == "RUN")
    assert "grpc_tools.protoc" in runs and "--grpc_python_out=gen" in runs, f"{image}: gen/ is not in the repository; generate it"
    assert "requirements-dev.txt" in runs and "grpcio-tools==" in runs, f"{image}: grpcio-tools at the version requirements-dev.txt pins"
    assert "-r requirements.txt" in runs, f"{image}: the pinned runtime dependencies"
    copies = [a for i, a in final if i == "COPY"]
    assert any(a.startswith("--from=build") and a.split()[-1] == "gen" for a in copies), f"{image}: copy gen/ from the build stage"
    assert not any(re.search(r"\b(gcc|build-essential|grpcio-tools)\b", a) for i, a in final if i == "RUN"), f"{image}: no build tools at run time"


@pytest.mark.parametrize("image", IMAGES)
def test_images_run_as_the_numeric_non_root_user_the_pods_expect(image):
    final = stages(dockerfile_path(image))[-1]
    users = [a for i, a in final if i == "USER"]
    assert users and users[-1] == f"{RUN_AS_USER}:{RUN_AS_USER}", f"{image}: USER must be {RUN_AS_USER}:{RUN_AS_USER} (runAsNonRoot needs a number)"
    assert "DZIENNIK_VAR_DIR=/var/lib/dziennik" in " ".join(a for i, a in final if i == "ENV")


@pytest.mark.parametrize("image", IMAGES)
def test_each_image_carries_its_own_code_and_what_it_imports(image):
    final = stages(dockerfile_path(image))[-1]
    copied = {a.split()[-2] for i, a in final if i == "COPY" and not a.startswith("--from")}
    if image == "gateway":
        assert copied == {"platform_kit", "gateway"}, copied
    else:
        assert copied == {"platform_kit", "services/__init__.py", f"services/{image}"}, f"{image}: copies {copied}"
    # and the code needs nothing else from the repository: no other service, no tools/
    package = ROOT / ("gateway" if image == "gateway" else f"services/{image}")
    allowed = {"platform_kit", "dziennik", "gateway" if image == "gateway" else f"services.{image}"}
    for source in package.rglob("*.py"):
        for name in re.findall(r"^\s*(?:from|import)\s+([\w.]+)", source.read_text(), re.MULTILINE):
            if name.split(".")[0] in {"platform_kit", "dziennik", "gateway", "services", "tools", "tests"}:
                assert any(name == a or name.startswith(a + ".") for a in allowed), f"{source.relative_to(ROOT)} imports {name}, which the {image} image lacks"


@pytest.mark.parametrize("image", IMAGES)
def test_the_default_command_is_the_procfile_s(image):
    final = stages(dockerfile_path(image))[-1]
    command = [a for i, a in final if i == "CMD"][-1]
    words = ast.literal_eval(command)
    if image == "gateway":
        expected = [w for w in procfile()["gateway"] if not w.startswith("--bind") and ":8080" not in w and "0.0.0.0" not in w]
        assert words == expected, f"gateway CMD {words}, Procfile {procfile()['gateway']}"
    else:
        assert words == procfile()[image], f"{image} CMD {words}, Procfile {procfile()[image]}"


def recipe(text: str, service: str) -> str:
    """A service's Dockerfile with its name replaced and its first comment (what it runs) left out."""
    return "\n".join(line for line in text.replace(service, "<service>").splitlines() if not line.startswith("# Dziennik "))


def test_service_dockerfiles_differ_only_in_the_service():
    """Six copies of one recipe: a change to one must reach all (else they drift)."""
    reference = dockerfile_path("identity").read_text()
    for image in IMAGES:
        if image in ("identity", "gateway"):
            continue
        text = dockerfile_path(image).read_text()
        assert recipe(text, image) == recipe(reference, "identity"), f"services/{image}/Dockerfile drifted from services/identity/Dockerfile"


def test_make_images_builds_every_image_from_the_repository_root():
    result = subprocess.run(["make", "-n", "images", "IMAGE_TAG=1.2.3", "IMAGE_REGISTRY=registry.example.org/dz"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    script = result.stdout.replace("\\\n", " ")
    for image in IMAGES:
        dockerfile = dockerfile_path(image).relative_to(ROOT)
        loop = re.search(r"for s in ([\w ]+); do\s+docker build -f services/\$s/Dockerfile -t registry\.example\.org/dz/\$s:1\.2\.3 \.", script)
        built = (loop and image in loop.group(1).split()) or f"docker build -f {dockerfile} -t registry.example.org/dz/{image}:1.2.3 ." in script
        assert built, f"make images does not build {dockerfile}:\n{script}"


def test_the_build_context_leaves_out_what_images_must_not_carry():
    ignored = {line.strip().rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip() and not line.startswith("#")}
    for entry in (".git", ".venv", "gen", "var", "tests"):
        assert entry in ignored, f".dockerignore: {entry} (local state, secrets of a dev machine, or generated)"
    sources = {w for image in IMAGES for i, a in instructions(dockerfile_path(image)) if i == "COPY" and not a.startswith("--from") for w in a.split()[:-1]}
    for entry in sources:
        assert entry.split("/")[0] not in ignored, f"a Dockerfile copies {entry}, which .dockerignore leaves out"


def test_the_pods_run_the_command_the_image_knows():
    for image in IMAGES:
        final = stages(dockerfile_path(image))[-1]
        env = " ".join(a for i, a in final if i == "ENV")
        # `python` and `gunicorn` in the manifests' commands come from the image's virtualenv
        assert "PATH=/opt/venv/bin:$PATH" in env and "PYTHONPATH=/app:/app/gen" in env, f"{image}: {env}"
        assert any(i == "WORKDIR" and a == "/app" for i, a in final), f"{image}: gateway/gunicorn.conf.py is relative to /app"
