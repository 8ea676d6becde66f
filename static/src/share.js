// "Share read-only link": make, copy and revoke a room's read-only links (docs/protocol.md
// "Read-only links"). A link opens `/v/{linkId}`, which names neither the room nor its id;
// revoking one closes its viewers at once.
import { ApiError, createLink, listLinks, revokeLink } from "./api.js";
import { copyText, h } from "./dom.js";

/** @typedef {import("./wire.js").Link} Link */

/**
 * Open the dialog for `roomId`; it lists the links that are not revoked.
 * @param {string} roomId
 */
export function openShareDialog(roomId) {
  const status = h("p", { class: "muted small", role: "status", "aria-live": "polite" });
  const list = h("ul", { class: "share-links", "aria-label": "Read-only links" });
  const make = h("button", { type: "button", class: "primary", onclick: () => add() }, "New read-only link");
  const dialog = h("dialog", { class: "share-dialog", "aria-labelledby": "share-heading" },
    h("h2", { id: "share-heading" }, "Share read-only link"),
    h("p", {}, "People with a read-only link watch the room live (code, cursors, runs) but cannot edit, run or stop. Revoke a link to close it for everyone using it."),
    list,
    status,
    h("div", { class: "row" }, make, h("button", { type: "button", onclick: () => dialog.close() }, "Close")));
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();

  /** @param {unknown} err */
  const failed = (err) => {
    status.textContent = err instanceof ApiError ? err.message : "Something went wrong.";
  };

  /** @param {Link[]} links */
  const render = (links) => {
    list.replaceChildren(...links.map((link) => row(link)));
    if (!links.length) status.textContent = "No read-only links yet.";
  };

  /** @param {Link} link */
  const row = (link) => {
    const url = `${location.origin}${link.url}`;
    const field = h("input", { type: "text", readonly: true, value: url, "aria-label": "Read-only link", onfocus: () => field.select() });
    const copy = h("button", { type: "button", onclick: async () => {
      copy.textContent = (await copyText(url)) ? "Copied" : "Copy failed";
    } }, "Copy");
    const revoke = h("button", { type: "button", class: "danger", onclick: async () => {
      revoke.disabled = true;
      try {
        await revokeLink(roomId, link.linkId);
        item.remove();
        status.textContent = "Revoked: its viewers were disconnected.";
      } catch (err) {
        revoke.disabled = false;
        failed(err);
      }
    } }, "Revoke");
    const item = h("li", { class: "share-link", dataset: { linkId: link.linkId } }, field, copy, revoke);
    return item;
  };

  const add = async () => {
    make.disabled = true;
    try {
      const link = await createLink(roomId);
      list.append(row(link));
      status.textContent = "New link made: copy it and send it to whoever should watch.";
      const field = list.lastElementChild?.querySelector("input");
      if (field) field.select();
    } catch (err) {
      failed(err);
    } finally {
      make.disabled = false;
    }
  };

  listLinks(roomId).then((answer) => render(answer.links), failed);
}
