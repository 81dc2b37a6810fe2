// What the orchestrator's web page takes from CodeMirror 6: one global, `AqueductsEditor`.
export { EditorView, keymap } from "@codemirror/view";
export { EditorState, Compartment } from "@codemirror/state";
export { basicSetup } from "codemirror";
export { yaml } from "@codemirror/lang-yaml";
export { json } from "@codemirror/lang-json";
export { StreamLanguage } from "@codemirror/language";
export { toml } from "@codemirror/legacy-modes/mode/toml";
export { linter, lintGutter, setDiagnostics, forceLinting } from "@codemirror/lint";
