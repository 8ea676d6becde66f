// What the page's environment adds to the DOM's types, for tsc only (esbuild ignores this file).

// esbuild bundles main.js's `import "./theme.css"` into app.css.
declare module "*.css";

// room.js's read-only handle for the browser tests and the console (docs/editor.md).
interface Window {
  pairpad?: Readonly<{
    roomId: string | null; // null for a viewer of a read-only link
    role: "editor" | "viewer";
    clientId: string;
    doc: () => string | null;
    version: () => number | null;
    pending: () => number | null;
    settled: () => boolean;
    selection: () => [number, number] | null;
  }>;
}

// The timers are kept as `null` when none is set. HTML's clearTimeout/clearInterval take
// `optional long id = 0` and null converts to 0, which no timer has: a safe no-op.
declare function clearTimeout(id: number | null | undefined): void;
declare function clearInterval(id: number | null | undefined): void;
