// The participant list (docs/protocol.md "Presence, runs, completions":
// participant_joined / participant_left). Viewers of read-only links ("Read-only links") are
// marked, and counted apart: "People (2) · 3 watching".
import { h } from "./dom.js";

/** @typedef {import("./wire.js").Participant} Participant */

export class ParticipantList {
  /** @param {string} selfId our own clientId, listed first */
  constructor(selfId) {
    this.selfId = selfId;
    /** @type {Map<string, Participant>} clientId -> participant */
    this.people = new Map();
    this.list = h("ul", { class: "people", "aria-label": "Participants" });
    this.count = h("span", { class: "count" });
    this.watching = h("span", { class: "watching", hidden: true });
    this.element = h(
      "section",
      { class: "people-panel", "aria-labelledby": "people-heading" },
      h("h2", { id: "people-heading" }, "People ", this.count, this.watching),
      this.list,
    );
  }

  /**
   * @param {string} clientId
   * @returns {Participant | undefined}
   */
  get(clientId) {
    return this.people.get(clientId);
  }

  /**
   * @param {Participant[] | null | undefined} participants
   * @param {Participant} [self] added when the list does not have us yet
   */
  reset(participants, self) {
    this.people = new Map();
    for (const p of participants || []) this.people.set(p.clientId, p);
    if (self && !this.people.has(self.clientId)) this.people.set(self.clientId, self);
    this.render();
  }

  /** @param {Participant} participant */
  join(participant) {
    this.people.set(participant.clientId, { ...this.people.get(participant.clientId), ...participant });
    this.render();
  }

  /** @param {string} clientId */
  leave(clientId) {
    this.people.delete(clientId);
    this.render();
  }

  render() {
    const sorted = [...this.people.values()].sort((a, b) => {
      if (a.clientId === this.selfId) return -1;
      if (b.clientId === this.selfId) return 1;
      return (a.name || "").localeCompare(b.name || "");
    });
    this.list.replaceChildren(
      ...sorted.map((p) =>
        h(
          "li",
          { class: "person", dataset: { clientId: p.clientId } },
          h("span", { class: "swatch", style: `--peer-color: ${p.color || "gray"}`, "aria-hidden": "true" }),
          h("span", { class: "person-name" }, p.name || "Anonymous"),
          p.clientId === this.selfId ? h("span", { class: "you" }, "(you)") : null,
          p.role === "viewer" ? h("span", { class: "role-tag", title: "Watching through a read-only link" }, "viewer") : null,
        ),
      ),
    );
    const viewers = sorted.filter((p) => p.role === "viewer").length;
    this.count.textContent = `(${this.people.size - viewers})`;
    this.watching.hidden = viewers === 0;
    this.watching.textContent = viewers ? ` · ${viewers} watching` : "";
  }
}
