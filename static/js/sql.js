// @ts-check
/** The SQL console page: run one read-only statement, show the rows, download them as CSV. */
import { csrfToken, post } from "./session.js";

const form = /** @type {HTMLFormElement} */ (document.getElementById("sql-form"));
const text = /** @type {HTMLTextAreaElement} */ (document.getElementById("sql-text"));
const maxRows = /** @type {HTMLInputElement} */ (document.getElementById("sql-max-rows"));
const status = /** @type {HTMLElement} */ (document.getElementById("sql-status"));
const table = /** @type {HTMLTableElement} */ (document.querySelector('[data-testid="sql-result"]'));

/** The request body for the statement in the text box. @param {"json"|"csv"} format */
function body(format) {
  return { sql: text.value, max_rows: Math.max(1, Number(maxRows.value) || 1000), format };
}

/** Fill the result table. @param {{columns: string[], rows: any[][]}} result */
function render(result) {
  table.replaceChildren();
  const head = table.createTHead().insertRow();
  for (const name of result.columns) {
    const th = document.createElement("th");
    th.textContent = name;
    head.appendChild(th);
  }
  const rows = table.createTBody();
  for (const row of result.rows) {
    const tr = rows.insertRow();
    for (const value of row) {
      const td = tr.insertCell();
      if (value === null) td.className = "null";
      td.textContent = value === null ? "NULL" : typeof value === "object" ? JSON.stringify(value) : String(value);
    }
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  status.textContent = "running…";
  try {
    const result = await post("/api/sql", body("json"));
    render(result);
    const more = result.truncated ? ` (cut at ${result.max_rows}; there are more)` : "";
    status.textContent = `${result.row_count} rows${more}`;
  } catch (e) {
    table.replaceChildren();
    status.textContent = String(/** @type {Error} */ (e).message);
  }
});

document.getElementById("sql-csv")?.addEventListener("click", async () => {
  const r = await fetch("/api/sql", {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: JSON.stringify(body("csv")),
  });
  if (!r.ok) {
    const data = await r.json().catch(() => ({}));
    status.textContent = data.message || `HTTP ${r.status}`;
    return;
  }
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await r.blob());
  link.download = "query.csv";
  link.click();
  URL.revokeObjectURL(link.href);
});
