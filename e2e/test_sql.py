"""The SQL console in real Chromium: a lead opens it from the home page, runs a query,
sees the rows, gets a refusal for a write, and downloads the result as CSV."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from e2e.conftest import Server


def test_lead_runs_a_query_sees_rows_is_refused_a_write_and_downloads_csv(
    page: Page, server: Server, tmp_path: Path
) -> None:
    page.goto(f"{server.url}/")
    page.get_by_test_id("sql-link").click()
    expect(page.get_by_role("heading", name="SQL console")).to_be_visible()

    box = page.get_by_label("Statement", exact=True)
    box.fill("SELECT name, role FROM user WHERE name = 'e2e'")
    page.get_by_role("button", name="Run").click()
    result = page.get_by_role("table", name="Query result")
    expect(page.get_by_test_id("sql-status")).to_have_text("1 rows")
    expect(result.locator("th")).to_have_text(["name", "role"])
    expect(result.locator("tbody tr td")).to_have_text(["e2e", "lead"])

    box.fill("DELETE FROM user")
    page.get_by_role("button", name="Run").click()
    expect(page.get_by_test_id("sql-status")).to_have_text(
        "DELETE is not allowed: the console is read-only"
    )
    expect(result.locator("tr")).to_have_count(0)

    box.fill("SELECT name FROM user WHERE name = 'e2e'")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    path = tmp_path / "query.csv"
    download.value.save_as(path)
    assert path.read_text() == "name\ne2e\n"
