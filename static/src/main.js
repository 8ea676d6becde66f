// Entry point: one page for `/` (landing), `/r/{roomId}` (room) and `/v/{linkId}` (a room
// through a read-only link), chosen by the path.
import "./theme.css";
import { linkIdFromPath, roomIdFromPath } from "./ids.js";
import { startLanding } from "./landing.js";
import { startRoom } from "./room.js";

// index.html always has it.
const root = /** @type {HTMLElement} */ (document.getElementById("app"));
root.removeAttribute("aria-busy");
const path = location.pathname;
const roomId = roomIdFromPath(path);
const linkId = linkIdFromPath(path);
if (roomId) {
  void startRoom(root, roomId);
} else if (linkId) {
  void startRoom(root, "", linkId);
} else if (path === "/" || path === "/index.html") {
  startLanding(root);
} else {
  startLanding(root, { notice: `Nothing lives at ${path}. Create a room or join one.` });
}
