// The landing page: create a room, join one from a pasted link or id, reopen a recent one.
import { createRoom } from "./api.js";
import { h } from "./dom.js";
import { roomIdFromInput } from "./ids.js";
import { forgetRoom, recentRooms } from "./storage.js";

// The server's limit on a room name (server/models.py ROOM_NAME_MAX).
export const ROOM_NAME_MAX = 200;

/**
 * @param {HTMLElement} root
 * @param {{notice?: string}} [options] a notice shown above the forms
 */
export function startLanding(root, { notice } = {}) {
  document.title = "Pairpad — collaborative Python";
  const createName = h("input", { id: "room-name", name: "name", maxlength: ROOM_NAME_MAX, placeholder: "e.g. Interview warm-up", autocomplete: "off" });
  const createError = h("p", { class: "form-error", role: "alert", "aria-live": "assertive" });
  const createButton = h("button", { type: "submit", class: "primary" }, "Create a room");
  const createForm = h("form", {
    class: "card",
    "aria-labelledby": "create-heading",
    onsubmit: async (/** @type {SubmitEvent} */ event) => {
      event.preventDefault();
      createButton.disabled = true;
      createError.textContent = "";
      try {
        const room = await createRoom(createName.value.trim());
        location.assign(`/r/${encodeURIComponent(room.roomId)}`);
      } catch (err) {
        createError.textContent = `Could not create the room: ${/** @type {Error} */ (err).message}`;
        createButton.disabled = false;
      }
    },
  },
  h("h2", { id: "create-heading" }, "Start a new room"),
  h("label", { for: "room-name" }, "Room name ", h("span", { class: "muted" }, "(optional)")),
  createName,
  createButton,
  createError);

  const joinInput = h("input", { id: "join-room", name: "room", required: true, placeholder: "Paste a link or a room id", autocomplete: "off" });
  const joinError = h("p", { class: "form-error", role: "alert", "aria-live": "assertive" });
  const joinForm = h("form", {
    class: "card",
    "aria-labelledby": "join-heading",
    onsubmit: (/** @type {SubmitEvent} */ event) => {
      event.preventDefault();
      const roomId = roomIdFromInput(joinInput.value);
      if (!roomId) {
        joinError.textContent = "That is neither a Pairpad room link nor a room id.";
        return;
      }
      location.assign(`/r/${encodeURIComponent(roomId)}`);
    },
  },
  h("h2", { id: "join-heading" }, "Join a room"),
  h("label", { for: "join-room" }, "Room link or id"),
  joinInput,
  h("button", { type: "submit" }, "Join"),
  joinError);

  const recentList = h("ul", { class: "recent" });
  const recentSection = h("section", { class: "card recent-card", "aria-labelledby": "recent-heading" },
    h("h2", { id: "recent-heading" }, "Recent rooms"), recentList);
  const renderRecent = () => {
    const rooms = recentRooms();
    recentSection.hidden = rooms.length === 0;
    recentList.replaceChildren(...rooms.map((room) => h("li", {},
      h("a", { href: `/r/${encodeURIComponent(room.roomId)}` }, room.name || room.roomId),
      h("span", { class: "muted small" }, room.visitedAt ? new Date(room.visitedAt).toLocaleString() : ""),
      h("button", { type: "button", class: "ghost small", "aria-label": `Forget ${room.name || room.roomId}`, onclick: () => { forgetRoom(room.roomId); renderRecent(); } }, "×"))));
  };
  renderRecent();

  root.replaceChildren(h("div", { class: "landing" },
    h("header", { class: "hero" },
      h("h1", {}, h("span", { class: "logo", "aria-hidden": "true" }, "⟨⟩"), " Pairpad"),
      h("p", { class: "muted" }, "Write and run Python together, in real time. Share the link; everyone types in the same file.")),
    notice ? h("p", { class: "notice", role: "alert" }, notice) : null,
    h("main", { class: "landing-grid" }, createForm, joinForm, recentSection)));
}
