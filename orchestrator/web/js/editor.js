// The spec editor: CodeMirror (vendored, global `AqueductsEditor`) with YAML, JSON and
// TOML highlighting, and diagnostics from `POST /api/check` drawn at their line and
// column as the user types.

const FORMATS = {
  yaml: () => AqueductsEditor.yaml(),
  json: () => AqueductsEditor.json(),
  toml: () => AqueductsEditor.StreamLanguage.define(AqueductsEditor.toml),
};

/** The CodeMirror position of a 1-based line and column (in characters). */
export function position(doc, line, column) {
  if (!line || line < 1) return 0;
  if (line > doc.lines) return doc.length;
  const target = doc.line(line);
  let offset = 0;
  let characters = 1;
  // Columns count characters; CodeMirror counts UTF-16 units.
  for (const character of target.text) {
    if (characters >= column) break;
    offset += character.length;
    characters += 1;
  }
  return target.from + offset;
}

/** CodeMirror diagnostics for the API's located diagnostics. */
export function toEditorDiagnostics(doc, located) {
  return located.map((d) => {
    const label = d.labels && d.labels[0];
    let from = position(doc, label ? label.line : d.line, label ? label.column : d.column);
    let to = label ? position(doc, label.end_line, label.end_column) : from;
    if (to <= from) to = Math.min(doc.length, from + 1);
    if (from >= doc.length && doc.length > 0) from = doc.length - 1;
    const severity = d.severity === "error" ? "error" : d.severity === "warning" ? "warning" : "info";
    const help = d.help ? `\nhelp: ${d.help}` : "";
    return { from, to, severity, message: `${d.code}: ${d.message}${help}` };
  });
}

/**
 * Makes an editor in `parent`. `check(text)` answers the API's located diagnostics (or
 * throws); `onChecked(located, error)` hears each answer.
 */
export function createEditor(parent, { text, format, check, onChecked }) {
  const { EditorView, EditorState, Compartment, basicSetup, linter, lintGutter, forceLinting } = AqueductsEditor;
  const language = new Compartment();
  // What the last answered check found: kept while a check cannot be answered.
  let lastLocated = [];
  const lint = linter(
    async (view) => {
      const doc = view.state.doc;
      try {
        const located = await check(doc.toString());
        if (view.state.doc !== doc) return [];
        lastLocated = located;
        onChecked(located, null);
        return toEditorDiagnostics(doc, located);
      } catch (error) {
        onChecked(null, error);
        return toEditorDiagnostics(view.state.doc, lastLocated);
      }
    },
    { delay: 500 },
  );
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: text,
      extensions: [basicSetup, language.of(FORMATS[format]()), lintGutter(), lint, EditorView.lineWrapping],
    }),
  });
  return {
    view,
    text: () => view.state.doc.toString(),
    setFormat: (name) => view.dispatch({ effects: language.reconfigure(FORMATS[name]()) }),
    setText: (value) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: value } }),
    recheck: () => forceLinting(view),
    destroy: () => view.destroy(),
  };
}
