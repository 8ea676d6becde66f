// The editor's extensions: CodeMirror 6 with Python, collab, remote cursors and our keys.
// Colors come from CSS variables (theme.css), so light and dark follow prefers-color-scheme.
import { EditorState, Prec } from "@codemirror/state";
import {
  EditorView, crosshairCursor, drawSelection, dropCursor, highlightActiveLine,
  highlightActiveLineGutter, highlightSpecialChars, keymap, lineNumbers, placeholder, rectangularSelection,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import {
  HighlightStyle, bracketMatching, foldGutter, foldKeymap, indentOnInput, indentUnit, syntaxHighlighting,
} from "@codemirror/language";
import { python } from "@codemirror/lang-python";
import { autocompletion, closeBrackets, closeBracketsKeymap, completionKeymap } from "@codemirror/autocomplete";
import { highlightSelectionMatches, searchKeymap } from "@codemirror/search";
import { collab } from "@codemirror/collab";
import { tags as t } from "@lezer/highlight";
import { h } from "./dom.js";
import { presenceField } from "./presence.js";

/** @typedef {import("@codemirror/autocomplete").CompletionSource} CompletionSource */
/** @typedef {import("@codemirror/state").Extension} Extension */
/** @typedef {import("@codemirror/view").ViewUpdate} ViewUpdate */

// What an empty room shows until someone types (docs/editor.md "What a person can do"): short
// lines, so that it fits a phone's editor without scrolling sideways.
const EMPTY_HINT = [
  "Type Python here: everyone in the room edits this file.",
  "Ctrl/Cmd+Enter or Run runs it for everyone.",
  "Copy link invites others to type along.",
];

/** @returns {HTMLElement} */
function emptyHint() {
  return h("span", {}, EMPTY_HINT.map((line) => h("span", { class: "cm-placeholder-line" }, line)));
}

const highlight = HighlightStyle.define([
  { tag: [t.keyword, t.controlKeyword, t.definitionKeyword, t.moduleKeyword, t.operatorKeyword], color: "var(--tok-keyword)" },
  { tag: [t.string, t.special(t.string)], color: "var(--tok-string)" },
  { tag: [t.number, t.bool, t.null, t.atom], color: "var(--tok-number)" },
  { tag: [t.comment, t.lineComment, t.blockComment], color: "var(--tok-comment)", fontStyle: "italic" },
  { tag: [t.function(t.variableName), t.function(t.definition(t.variableName))], color: "var(--tok-function)" },
  { tag: [t.definition(t.className), t.className], color: "var(--tok-class)" },
  { tag: [t.self, t.special(t.variableName)], color: "var(--tok-self)" },
  { tag: [t.propertyName, t.function(t.propertyName)], color: "var(--tok-property)" },
  { tag: [t.operator, t.punctuation, t.bracket], color: "var(--tok-operator)" },
  { tag: t.meta, color: "var(--tok-meta)" },
  { tag: t.invalid, color: "var(--tok-invalid)" },
]);

const theme = EditorView.theme({
  "&": { height: "100%", color: "var(--fg)", backgroundColor: "var(--editor-bg)" },
  ".cm-scroller": { fontFamily: "var(--mono)", lineHeight: "1.55" },
  ".cm-content": { caretColor: "var(--caret)", padding: "8px 0" },
  ".cm-cursor, .cm-dropCursor": { borderLeftColor: "var(--caret)", borderLeftWidth: "2px" },
  "&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground, .cm-selectionBackground, .cm-content ::selection":
    { backgroundColor: "var(--selection)" },
  ".cm-gutters": { backgroundColor: "var(--gutter-bg)", color: "var(--muted)", border: "none", borderRight: "1px solid var(--border)" },
  ".cm-activeLine": { backgroundColor: "var(--active-line)" },
  ".cm-activeLineGutter": { backgroundColor: "var(--active-line)", color: "var(--fg)" },
  "&.cm-focused .cm-matchingBracket": { backgroundColor: "var(--bracket-match)", outline: "1px solid var(--accent)" },
  "&.cm-focused .cm-nonmatchingBracket": { backgroundColor: "var(--bracket-bad)" },
  ".cm-selectionMatch": { backgroundColor: "var(--selection-match)" },
  ".cm-searchMatch": { backgroundColor: "var(--search-match)", outline: "1px solid var(--accent)" },
  ".cm-panels": { backgroundColor: "var(--panel-bg)", color: "var(--fg)" },
  ".cm-panels.cm-panels-bottom": { borderTop: "1px solid var(--border)" },
  ".cm-panel.cm-search": { padding: "6px 28px 6px 8px", fontFamily: "var(--sans)", fontSize: "0.85rem" },
  ".cm-panel.cm-search label": { color: "var(--muted)", marginRight: "0.6em" },
  ".cm-textfield": {
    backgroundColor: "var(--editor-bg)", color: "var(--fg)", border: "1px solid var(--border)",
    borderRadius: "5px", padding: "3px 6px", fontSize: "0.85rem",
  },
  ".cm-textfield:focus": { outline: "2px solid var(--accent)", outlineOffset: "0" },
  ".cm-button": {
    backgroundImage: "none", backgroundColor: "var(--surface)", color: "var(--fg)",
    border: "1px solid var(--border)", borderRadius: "5px", padding: "3px 8px", fontSize: "0.82rem",
  },
  ".cm-button:active": { backgroundImage: "none", backgroundColor: "var(--active-line)" },
  ".cm-panel button[name=close]": { color: "var(--muted)", fontSize: "1.1rem" },
  ".cm-tooltip": { backgroundColor: "var(--panel-bg)", color: "var(--fg)", border: "1px solid var(--border)", borderRadius: "6px" },
  ".cm-tooltip-autocomplete > ul > li[aria-selected]": { backgroundColor: "var(--accent)", color: "var(--accent-fg)" },
  ".cm-completionDetail": { color: "var(--muted)", fontStyle: "normal", marginLeft: "1em" },
  ".cm-tooltip-autocomplete > ul > li[aria-selected] .cm-completionDetail": { color: "inherit", opacity: "0.8" },
  ".cm-placeholder": { color: "var(--muted)", fontFamily: "var(--sans)" },
  ".cm-placeholder-line": { display: "block" },
  ".cm-foldPlaceholder": { backgroundColor: "var(--active-line)", border: "1px solid var(--border)", color: "var(--muted)" },
});

/** The editor's colours and fonts, for other editors on the page (the history's preview). */
export const editorLook = [syntaxHighlighting(highlight), theme];

/**
 * `readOnly`: a viewer's editor (docs/protocol.md "Read-only links"): it selects, scrolls and
 * searches, but no keystroke changes the document.
 * @param {{doc: string, version: number, clientId: string, onRun: () => void,
 *          completionSource: CompletionSource, language: Extension,
 *          onUpdate: (update: ViewUpdate) => void, readOnly?: boolean}} options
 *   `language`: diagnostics, signatures, hover, definition (language.js)
 * @returns {EditorState}
 */
export function createEditorState({ doc, version, clientId, onRun, completionSource, language, onUpdate, readOnly = false }) {
  return EditorState.create({
    doc,
    extensions: [
      lineNumbers(),
      highlightActiveLineGutter(),
      highlightSpecialChars(),
      history(),
      foldGutter(),
      drawSelection(),
      dropCursor(),
      EditorState.allowMultipleSelections.of(true),
      indentOnInput(),
      indentUnit.of("    "),
      EditorState.tabSize.of(4),
      syntaxHighlighting(highlight),
      bracketMatching(),
      closeBrackets(),
      // Before autocompletion: its Escape runs first among the highest-precedence keys.
      language,
      // A completion applies a change: none in a read-only editor.
      readOnly ? [] : autocompletion({ override: [completionSource], icons: true }),
      rectangularSelection(),
      crosshairCursor(),
      highlightActiveLine(),
      highlightSelectionMatches(),
      Prec.highest(keymap.of([{ key: "Mod-Enter", run: () => (onRun(), true), preventDefault: true }])),
      keymap.of([
        ...closeBracketsKeymap, ...defaultKeymap, ...searchKeymap, ...historyKeymap,
        ...foldKeymap, ...completionKeymap, indentWithTab,
      ]),
      python(),
      theme,
      collab({ startVersion: version, clientID: clientId }),
      presenceField,
      placeholder(emptyHint()),
      EditorView.contentAttributes.of({ "aria-label": "Python code", "aria-placeholder": EMPTY_HINT.join(" ") }),
      EditorView.updateListener.of(onUpdate),
      EditorState.readOnly.of(readOnly),
    ],
  });
}
