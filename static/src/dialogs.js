// The page's dialogs and cards: the name prompt, the edits handed back before a reload, and
// the card that replaces the editor when the room is gone for good.
import { CloseCode } from "./close_codes.js";
import { copyText, h } from "./dom.js";

const NAME_MAX = 64;

/** @type {Record<number, [heading: string, text: string]>} */
const FATAL = {
  [CloseCode.BAD_REQUEST]: ["The server refused this name", "Your display name or this page's client id was not accepted. Pick another name and join again."],
  [CloseCode.NOT_FOUND]: ["Room not found", "There is no room at this address. Check the link, or create a new room."],
  [CloseCode.REPLACED]: ["Opened somewhere else", "This editor was replaced by a newer connection with the same id. Reload to join again here."],
  [CloseCode.DELETED]: ["This room was deleted", "An administrator deleted this room. Its code is no longer on the server."],
  [CloseCode.REVOKED]: ["This link was revoked", "The room's editors revoked this read-only link. Ask them for a new one."],
};

// The server refuses (CloseCode.BAD_REQUEST) empty names, control characters and more than
// 64 characters.
/**
 * @param {string} text
 * @returns {string}
 */
export function cleanName(text) {
  return Array.from(text.replace(/\p{C}/gu, "").trim()).slice(0, NAME_MAX).join("").trim();
}

/**
 * @param {HTMLElement} root
 * @param {string | null} roomName the room's name, "" for an unnamed room, null when unknown
 * @param {(name: string) => void} done
 */
export function askName(root, roomName, done) {
  const input = h("input", { id: "display-name", name: "name", required: true, maxlength: NAME_MAX, autocomplete: "nickname" });
  const form = h(
    "form",
    {
      class: "card name-card",
      onsubmit: (/** @type {SubmitEvent} */ event) => {
        event.preventDefault();
        const value = cleanName(input.value);
        if (value) done(value);
      },
    },
    h("h1", {}, "Join the room"),
    roomName ? h("p", { class: "join-room-name", title: roomName }, roomName) : null,
    h("p", { class: "muted" }, "Pick the name the others will see next to your cursor."),
    h("label", { for: "display-name" }, "Your name"),
    input,
    h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, "Join"), h("a", { href: "/" }, "Back to Pairpad")),
  );
  document.title = `Join ${roomName || "a room"} · Pairpad`;
  root.replaceChildren(h("main", { class: "center" }, form));
  input.focus();
}

// Our unsent edits could not be merged (history_gone) or were refused (too_large,
// invalid_update...): hand them over before the editor reloads from the server.
/**
 * @param {string} text
 * @param {string} reason the error code that dropped them
 */
export function showKeptText(text, reason) {
  /** @type {Record<string, string | undefined>} */
  const reasons = {
    history_gone: "The server no longer has the history needed to merge them",
    too_large: "They would make the document larger than this server allows",
  };
  const why = reasons[reason] || `The server refused them (${reason})`;
  const area = h("textarea", { id: "kept-text", readonly: true, rows: 14, spellcheck: "false" });
  area.value = text;
  const copy = h("button", { type: "button", class: "primary", onclick: async () => {
    copy.textContent = (await copyText(text)) ? "Copied" : "Copy failed";
  } }, "Copy my text");
  const dialog = h("dialog", { class: "kept-dialog", "aria-labelledby": "kept-heading" },
    h("h2", { id: "kept-heading" }, "Your latest edits could not be synced"),
    h("p", {}, `${why}, so the room was reloaded from the server's copy. Here is your text as you had it: copy what you need.`),
    h("label", { for: "kept-text" }, "Your text"),
    area,
    h("div", { class: "row" }, copy, h("button", { type: "button", onclick: () => dialog.close() }, "Close")));
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}

// The card shown instead of the editor after a final close code; `code` is the editor's text
// when there is one worth offering to copy (the room was deleted).
/**
 * @param {number} closeCode
 * @param {string | null} code
 * @returns {{heading: string, card: HTMLElement}}
 */
export function fatalCard(closeCode, code) {
  const [heading, text] = FATAL[closeCode] || ["Disconnected", `The connection was closed (code ${closeCode}).`];
  /** @type {HTMLElement[]} */
  const actions = [h("a", { class: "button primary", href: "/" }, "Back to Pairpad")];
  if (closeCode === CloseCode.REPLACED || closeCode === CloseCode.BAD_REQUEST) {
    actions.push(h("button", { type: "button", onclick: () => location.reload() }, "Reload"));
  }
  if (code !== null && closeCode === CloseCode.DELETED) {
    const copy = h("button", { type: "button", onclick: async () => {
      copy.textContent = (await copyText(code)) ? "Copied" : "Copy failed";
    } }, "Copy the code");
    actions.push(copy);
  }
  const card = h("div", { class: "card fatal", role: "alert", dataset: { code: String(closeCode) } },
    h("h2", {}, heading), h("p", {}, text), h("div", { class: "row" }, ...actions));
  return { heading, card };
}
