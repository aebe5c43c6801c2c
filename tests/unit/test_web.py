"""The web front end as the gateway serves it: public, with strict security headers, every asset
from the gateway itself, and both languages complete. No backend is needed for any of this."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gateway import create_app
from gateway.web import CONTENT_SECURITY_POLICY, STATIC_DIR
from platform_kit.config import DEFAULT_GRPC_PORTS

pytestmark = pytest.mark.timeout(30)

SVG_NAMESPACE = "http://www.w3.org/2000/svg"  # an XML name, never fetched
TEXT_ASSETS = sorted(p for p in STATIC_DIR.rglob("*") if p.suffix in {".html", ".js", ".css", ".json", ".svg"})
SCRIPTS = sorted(STATIC_DIR.rglob("*.js"))


@pytest.fixture
def client(monkeypatch):
    for service in DEFAULT_GRPC_PORTS:  # no backend answers: the web app must not need one
        monkeypatch.setenv(f"{service.upper()}_GRPC_PORT", "1")
    monkeypatch.setenv("DZIENNIK_GRPC_DEADLINE", "0.5")
    return create_app().test_client()


def _directives(policy: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in policy.split(";") if part.strip())}


# -- serving ------------------------------------------------------------------------------------


def test_the_app_page_is_public_html(client):
    response = client.get("/")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert b'<html lang="pl">' in response.data  # Polish by default
    assert b'<script type="module" src="/app/js/main.js">' in response.data


def test_the_page_and_its_assets_need_no_token(client):
    for path in ("/", "/app/js/main.js", "/app/app.css", "/app/i18n/pl.json", "/app/i18n/en.json", "/app/icon.svg"):
        response = client.get(path)
        assert response.status_code == 200, path


@pytest.mark.parametrize(
    ("path", "mimetype"),
    [("/app/js/main.js", "text/javascript"), ("/app/app.css", "text/css"), ("/app/i18n/pl.json", "application/json"), ("/app/icon.svg", "image/svg+xml")],
)
def test_assets_come_with_their_exact_type(client, path, mimetype):
    # With nosniff a browser runs a module script only when it is served as JavaScript.
    assert client.get(path).mimetype == mimetype


@pytest.mark.parametrize("path", ["/app/nothing.js", "/app/../__init__.py", "/app/%2e%2e/__init__.py", "/app/index.html", "/app/js/main.py"])
def test_anything_but_an_asset_is_not_found(client, path):
    response = client.get(path)

    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_every_file_the_page_and_modules_load_exists(client):
    index = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    for reference in re.findall(r'(?:src|href)="(/app/[^"]+)"', index):
        assert client.get(reference).status_code == 200, reference
    for script in SCRIPTS:
        for target in re.findall(r"""(?:from|import)\s*\(?\s*['"](\.{1,2}/[^'"]+)['"]""", script.read_text(encoding="utf-8")):
            assert (script.parent / target).resolve().is_file(), f"{script.name} imports a missing {target}"


def test_the_payu_return_address_opens_the_orders_page(client):
    response = client.get("/platnosci/0b6f1c1e-2f4a-4a55-9d1e-3c1f6d2f9a10")

    assert response.status_code == 302
    assert response.headers["Location"] == "/#/payments/0b6f1c1e-2f4a-4a55-9d1e-3c1f6d2f9a10"
    assert client.get("/platnosci/<script>").status_code == 404


def test_the_web_routes_stay_out_of_the_api_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]

    assert not [p for p in paths if not p.startswith("/api/v1/")]


# -- security headers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/app/js/main.js", "/app/nothing.js", "/platnosci/abc"])
def test_every_web_response_carries_the_security_headers(client, path):
    headers = client.get(path).headers

    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"


def test_the_content_security_policy_allows_only_our_own_origin():
    directives = _directives(CONTENT_SECURITY_POLICY)

    assert directives["default-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    for name, values in directives.items():
        assert set(values) <= {"'self'", "'none'"}, f"{name} allows {values}"  # no inline, no eval, no hosts, no data:


def test_the_web_policy_stays_on_the_web_app(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.headers.get("Content-Security-Policy") != CONTENT_SECURITY_POLICY


# -- what the assets may contain ---------------------------------------------------------------------------


@pytest.mark.parametrize("asset", TEXT_ASSETS, ids=lambda p: str(p.relative_to(STATIC_DIR)))
def test_no_asset_points_at_another_origin(asset: Path):
    text = asset.read_text(encoding="utf-8").replace(SVG_NAMESPACE, "")

    assert not re.findall(r"https?://[^\s'\"`)]+", text)
    assert not re.search(r"""(?:src|href|url)\s*[=(]\s*['"]?//""", text)  # protocol-relative


def test_the_page_has_no_inline_script_or_style():
    index = (STATIC_DIR / "index.html").read_text(encoding="utf-8")

    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", index)
    assert "<style" not in index
    assert not re.search(r"\sstyle=", index)
    assert not re.search(r"\son[a-z]+=", index)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(STATIC_DIR)))
def test_scripts_build_the_page_without_markup_strings_or_eval(script: Path):
    code = script.read_text(encoding="utf-8")

    for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setAttribute('style'", "localhost"):
        assert forbidden not in code, forbidden


# -- languages ----------------------------------------------------------------------------------------------


def _dictionary(language: str) -> dict[str, str]:
    return json.loads((STATIC_DIR / "i18n" / f"{language}.json").read_text(encoding="utf-8"))


def test_polish_and_english_have_the_same_texts():
    polish, english = _dictionary("pl"), _dictionary("en")

    assert set(polish) == set(english)
    assert all(value.strip() for value in [*polish.values(), *english.values()])
    for key in polish:  # the same placeholders in both
        assert set(re.findall(r"\{(\w+)\}", polish[key])) == set(re.findall(r"\{(\w+)\}", english[key])), key


def test_every_text_the_scripts_ask_for_exists():
    polish = _dictionary("pl")
    asked = set()
    for script in SCRIPTS:
        asked |= set(re.findall(r"\bt\(\s*'([a-z_]+\.[a-z_0-9]+)'", script.read_text(encoding="utf-8")))

    assert asked, "no t('...') calls found"
    assert sorted(asked - set(polish)) == []
