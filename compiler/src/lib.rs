//! The Aqueducts compiler: from a pipeline spec file to a checked, planned pipeline.
//!
//! It parses YAML, JSON or TOML into a spanned tree ([`node`]), renders template
//! parameters in each string ([`template`]), reads the spec types ([`spec`] through
//! [`spec::de`]), then validates names, data types, SQL, the stage graph ([`dag`]) and
//! every stage's DataFusion plan ([`check`]), producing a [`checked::Spec`] that
//! [`lower`] turns into the runtime's physical plans. Every problem becomes a
//! [`Diagnostic`] that points into the original file. Start at [`check::check`].

pub mod check;
pub mod checked;
pub mod dag;
pub mod datatype;
pub mod diagnostic;
pub mod failure;
pub mod formats;
pub mod lower;
pub mod node;
mod parse;
pub mod plan;
pub mod remote;
pub mod source;
pub mod spec;
pub mod sql;
mod suggest;
pub mod template;

pub use check::{CheckOptions, CheckReport, check};
pub use checked::Spec;
pub use diagnostic::{Code, Diagnostic, Severity};
pub use source::{SourceFile, SpecFormat};

/// Parses and templates a spec file into plain JSON (no validation beyond syntax and
/// templating), for tools such as JSON-schema validation.
pub fn spec_to_json(
    file: &SourceFile,
    params: &std::collections::BTreeMap<String, String>,
) -> Result<serde_json::Value, Vec<Diagnostic>> {
    let mut root = parse::parse(file)?;
    let errors: Vec<Diagnostic> =
        template::render_tree(&mut root, params).into_iter().filter(Diagnostic::is_error).collect();
    if errors.is_empty() { Ok(root.to_json()) } else { Err(errors) }
}

/// The JSON schema of the pipeline format (what `json_schema/aqueducts.schema.json` holds).
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(spec::Pipeline);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}
