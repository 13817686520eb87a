// @ts-check
/** The home page's buttons: take the next task or review, create a task for a scene. */
import { post } from "./session.js";

const message = document.querySelector('[data-testid="home-message"]');

for (const button of document.querySelectorAll("button[data-post]")) {
  button.addEventListener("click", async () => {
    const el = /** @type {HTMLElement} */ (button);
    try {
      const task = await post(/** @type {string} */ (el.dataset.post));
      location.href = `/tasks/${task.id}`;
    } catch (e) {
      if (message) message.textContent = String(/** @type {Error} */ (e).message);
    }
  });
}

for (const button of document.querySelectorAll("button[data-new-task]")) {
  button.addEventListener("click", async () => {
    const scene = Number(/** @type {HTMLElement} */ (button).dataset.newTask);
    const select = /** @type {HTMLSelectElement|null} */ (document.querySelector(`[data-assignee-for="${scene}"]`));
    await post("/api/tasks", { scene_id: scene, assignee: select?.value || null });
    location.reload();
  });
}
