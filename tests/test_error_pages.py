"""Errors are HTML pages for people's browsers and JSON for API clients (docs/workspace.md)."""

from __future__ import annotations

from fastapi.testclient import TestClient

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def test_a_task_that_does_not_exist_is_a_page_for_a_browser(client: TestClient) -> None:
    r = client.get("/tasks/99999", headers=HTML)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert 'data-testid="error-page"' in r.text and 'data-code="task_not_found"' in r.text
    assert "task 99999 does not exist" in r.text
    assert 'href="/static/css/app.css"' in r.text  # the workspace's look


def test_a_bad_id_is_a_page_that_says_which_part_is_wrong(client: TestClient) -> None:
    r = client.get("/tasks/abc", headers=HTML)
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert "task_id" in r.text and "invalid_request" in r.text


def test_an_unknown_page_is_a_page(client: TestClient) -> None:
    r = client.get("/no/such/page", headers=HTML)
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")


def test_api_clients_get_json_even_when_they_accept_html(client: TestClient) -> None:
    for url, code in [("/api/tasks/99999", "task_not_found"), ("/tasks/99999", "task_not_found")]:
        headers = HTML if url.startswith("/api/") else {"Accept": "application/json"}
        r = client.get(url, headers=headers)
        assert r.status_code == 404 and r.json()["code"] == code
    assert client.get("/tasks/abc").json()["code"] == "invalid_request"  # no Accept: JSON
