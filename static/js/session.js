// @ts-check
/** The logged-in session in the page: its CSRF token and the log-out button.
 *  State-changing requests send the token as X-CSRF-Token (docs/security.md). */

/** The session's CSRF token, from the page's <meta name="csrf-token">. */
export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.getAttribute("content") ?? "";
}

/** POST JSON with the CSRF header; the parsed answer, or an Error with the server's message.
 *  @param {string} url @param {any} [body] @returns {Promise<any>} */
export async function post(url, body) {
  const r = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: JSON.stringify(body ?? {}),
  });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.message || `HTTP ${r.status}`);
  return data;
}

document.getElementById("logout")?.addEventListener("click", async () => {
  await post("/logout").catch(() => undefined);
  location.href = "/login";
});
