"""api/security.py and the key settings: who may do what, and CORS."""

from __future__ import annotations

import pytest

from api.security import which
from qa.errors import ConfigError
from tests.apps import client, make_app, with_settings

Q = {"question": "Who hosted the talks in Istanbul?"}


def test_asking_is_open_by_default_and_admin_is_refused(fake_service):
    c = client(make_app(fake_service))
    assert c.post("/ask", json=Q).status_code == 200
    assert c.get("/openapi.json").status_code == 200
    no_key = c.post("/admin/reindex")
    assert no_key.status_code == 401 and no_key.headers["WWW-Authenticate"] == "ApiKey"
    disabled = c.post("/admin/reindex", headers={"X-Admin-Key": "anything"})
    assert disabled.status_code == 403
    assert disabled.json()["detail"] == "admin endpoints are disabled: the server has no QA_ADMIN_KEY or QA_ADMIN_KEY_FILE"


@pytest.mark.parametrize("method,path", [("POST", "/ask"), ("GET", "/search?q=talks"), ("GET", "/documents/x"),
                                         ("GET", "/documents/x/original"),
                                         ("POST", "/feedback"), ("GET", "/metrics"), ("GET", "/openapi.json"),
                                         ("GET", "/docs")])
def test_an_api_key_protects_every_endpoint_but_the_probes(fake_service, method, path):
    c = client(make_app(fake_service, api_key="secret-1"))
    missing = c.request(method, path, json=Q if method == "POST" else None)
    wrong = c.request(method, path, json=Q if method == "POST" else None, headers={"X-API-Key": "secret-2"})
    assert (missing.status_code, missing.json()["error"]) == (401, "unauthorized")
    assert (wrong.status_code, wrong.json()["error"]) == (403, "forbidden")
    assert wrong.json()["detail"] == "the X-API-Key header does not hold a valid API key"
    assert c.get("/healthz").status_code == 200 and c.get("/readyz").status_code == 200


def test_any_of_several_api_keys_is_accepted(fake_service):
    c = client(make_app(fake_service, api_key="old-key, new-key"))
    assert [c.post("/ask", json=Q, headers={"X-API-Key": k}).status_code for k in ("old-key", "new-key")] == [200, 200]


def test_admin_key_401_403_200(fake_service, tmp_path):
    key_file = tmp_path / "admin.key"
    key_file.write_text("s3cret-admin\n")
    c = client(make_app(fake_service, admin_key_file=key_file, api_key="user-key"))
    assert c.get("/admin/feedback/export").status_code == 401
    assert c.get("/admin/feedback/export", headers={"X-Admin-Key": "user-key"}).status_code == 403
    ok = c.get("/admin/feedback/export", headers={"X-Admin-Key": "s3cret-admin"})
    assert ok.status_code == 200 and ok.json()["count"] == len(ok.json()["items"])


def test_which_compares_every_key():
    keys = (b"alpha", b"beta")
    assert [which("alpha", keys), which("beta", keys), which("gamma", keys), which("", keys)] == [0, 1, None, None]
    assert which("caf\u00e9", (b"caf\xc3\xa9",)) == 0


def test_keys_come_from_the_environment_or_a_file(fake_service, tmp_path, monkeypatch):
    path = tmp_path / "keys"
    path.write_text("one\ntwo\n")
    assert with_settings(fake_service, api_key_file=path).keys("api_key") == ("one", "two")
    assert with_settings(fake_service, api_key="direct", api_key_file=path).keys("api_key") == ("direct",)
    assert with_settings(fake_service).keys("admin_key") == ()
    with pytest.raises(ConfigError, match="QA_ADMIN_KEY_FILE '.*missing' cannot be read: No such file or directory"):
        with_settings(fake_service, admin_key_file=tmp_path / "missing").keys("admin_key")
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        with_settings(fake_service, admin_key_file=tmp_path / "empty").keys("admin_key")


def test_cors_allows_only_configured_origins(fake_service):
    c = client(make_app(fake_service, cors_origins="https://news.example"))
    pre = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    allowed = c.options("/ask", headers={"Origin": "https://news.example", **pre})
    refused = c.options("/ask", headers={"Origin": "https://evil.example", **pre})
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://news.example"
    assert refused.status_code == 400 and refused.json()["error"] == "cors_refused"
    assert "access-control-allow-origin" not in refused.headers
    simple = c.post("/ask", json=Q, headers={"Origin": "https://evil.example"})
    assert simple.status_code == 200 and "access-control-allow-origin" not in simple.headers


def test_no_cors_headers_when_no_origin_is_configured(fake_service):
    r = client(make_app(fake_service)).post("/ask", json=Q, headers={"Origin": "https://news.example"})
    assert "access-control-allow-origin" not in r.headers
