"""Health, readiness, the OpenAPI document and the pages."""

from flask import Flask
from flask.testing import FlaskClient


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_readyz_reports_database_cache_and_knowledge(client: FlaskClient) -> None:
    response = client.get("/readyz")
    body = response.get_json()
    assert response.status_code == 200 and body["ready"]
    assert body["checks"]["database"]["backend"] == "sqlite"
    assert body["checks"]["cache"]["ok"]
    assert body["checks"]["knowledge"]["version"] == 1
    assert body["checks"]["knowledge"]["chunks"] > 100


def test_readyz_is_503_without_a_database(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from chatdesk import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings(tmp_path, database_url=f"sqlite:///{tmp_path}/none/x.db"))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert not response.get_json()["checks"]["database"]["ok"]


def test_openapi_document_describes_the_customer_api(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1")
    paths = spec["paths"]
    assert {"/api/v1/conversations", "/api/v1/conversations/{conversation_id}",
            "/api/v1/conversations/{conversation_id}/messages",
            "/api/v1/conversations/{conversation_id}/handoff"} <= set(paths)
    post = paths["/api/v1/conversations/{conversation_id}/messages"]["post"]
    assert post["security"] == [{"conversationToken": []}]
    assert "201" in post["responses"] and "422" in post["responses"]
    assert spec["components"]["securitySchemes"]["conversationToken"]["scheme"] == "bearer"


def test_interactive_docs_are_served(client: FlaskClient) -> None:
    assert client.get("/docs/").status_code == 200
    page = client.get("/docs/swagger")
    assert page.status_code == 200 and b"swagger-ui" in page.data


def test_the_chat_page_and_the_articles_it_cites(client: FlaskClient, app: Flask) -> None:
    page = client.get("/")
    assert page.status_code == 200 and b"chat.js" in page.data
    with client.get("/assets/chat.js") as script:
        assert script.status_code == 200 and b"/api/v1/conversations" in script.data
    article = client.get("/kb/international-delivery")
    assert article.status_code == 200
    assert b'id="' in article.data and b"International delivery" in article.data
    # A heading with quotes gets the same anchor as the source links that point at it.
    quoted = client.get("/kb/stock-and-back-in-stock-alerts")
    assert b'id="low-stock-and-only-a-few-left"' in quoted.data
    assert client.get("/kb").status_code == 200
    console = client.get("/console")
    assert console.status_code == 200 and b"console.js" in console.data
    assert client.get("/kb/no-such-article").status_code == 404
