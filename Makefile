# Dziennik: every set-up step lives here, so a fresh machine needs only `make run` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROTOS := $(shell find protos -name '*.proto')
GEN_STAMP := gen/.generated

.PHONY: run test test-unit test-integration test-e2e test-faults protos venv migrate clean images bench audit

venv: $(STAMP)

# The .pth file puts the repository and the generated code on the venv's path, so every
# process (services, gateway, tests) imports `platform_kit`, `services.*` and `dziennik.*`.
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(BIN)/python -c "import site, pathlib; pathlib.Path(site.getsitepackages()[0], 'dziennik.pth').write_text('$(CURDIR)\n$(CURDIR)/gen\n')"
	touch $@

# Python code for every proto (messages, gRPC stubs and .pyi stubs) under gen/, never edited by hand.
protos: $(GEN_STAMP)

$(GEN_STAMP): $(STAMP) $(PROTOS)
	rm -rf gen && mkdir -p gen
	$(BIN)/python -m grpc_tools.protoc -Iprotos --python_out=gen --pyi_out=gen --grpc_python_out=gen $(PROTOS)
	touch $@

migrate: protos
	for s in identity gradebook attendance messaging billing notify; do $(BIN)/python -m services.$$s migrate || exit 1; done

# Starts RabbitMQ if needed, migrates, then every process from the Procfile (demo data included).
# Demo superadmin unless the environment names another one.
export DZIENNIK_ADMIN_LOGIN ?= admin
export DZIENNIK_ADMIN_PASSWORD ?= Dziennik-admin-2026

run: protos
	tools/ensure-rabbitmq
	$(MAKE) --no-print-directory migrate
	$(BIN)/honcho start -f Procfile

# Everything; the fault suite runs on its own afterwards (it stops RabbitMQ, which nothing else may see).
test: protos
	$(BIN)/python -m pytest --ignore=tests/faults
	$(BIN)/python -m pytest tests/faults

test-unit: protos
	$(BIN)/python -m pytest tests/unit

test-integration: protos
	$(BIN)/python -m pytest tests/integration

test-e2e: protos
	$(BIN)/python -m pytest tests/e2e

# The whole system under load while its parts fail; writes docs/reliability.md.
test-faults: protos
	$(BIN)/python -m pytest tests/faults

# Benchmarks against same-run baselines (bench/README.md): makes its own databases and vhost and
# removes them; writes bench/results/latest.{json,md} and plots. `make bench QUICK=1`: a smoke run.
bench: protos
	tools/ensure-postgresql
	tools/ensure-rabbitmq
	$(BIN)/python -m bench $(if $(filter 1 true yes,$(QUICK)),--quick,) $(BENCH_ARGS)

# Known vulnerabilities of every pinned dependency (and what they pull in), from PyPI's advisory
# data (pip-audit's default service, PyPI's JSON API). A finding fails the build: upgrade to a fixed
# release, or add `--ignore-vuln ID` here with the reason. AUDIT_FLAGS=--strict also fails on a
# dependency that could not be checked.
audit: $(STAMP)
	$(BIN)/pip-audit --progress-spinner off -r requirements.txt -r requirements-dev.txt $(AUDIT_FLAGS)

# One container image per service and the gateway, as deploy/k8s runs them (their Dockerfiles generate
# gen/ themselves). `make images IMAGE_REGISTRY=registry.example.org/dziennik IMAGE_TAG=1.2.0`
images: IMAGE_REGISTRY ?= dziennik
images: IMAGE_TAG ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo dev)
images:
	for s in identity gradebook attendance messaging billing notify; do \
		docker build -f services/$$s/Dockerfile -t $(IMAGE_REGISTRY)/$$s:$(IMAGE_TAG) . || exit 1; \
	done
	docker build -f gateway/Dockerfile -t $(IMAGE_REGISTRY)/gateway:$(IMAGE_TAG) .

clean:
	rm -rf gen $(VENV) var
