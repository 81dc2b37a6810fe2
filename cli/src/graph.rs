//! The stage graph as text (for `plan --explain`) and as Graphviz (`plan --format dot`).
//! Only names, kinds and locations are shown: never connection strings or storage
//! settings, which may hold secrets.

use std::fmt::Write;

use aqueducts_compiler::Spec;
use aqueducts_compiler::dag::Vertex;
use aqueducts_compiler::spec::{Destination, DestinationFileFormat, Source};

fn source_label(source: &Source) -> String {
    match source {
        Source::File(s) => format!("file ({}) {}", s.format.name(), redact(&s.location)),
        Source::Directory(s) => format!("directory ({}) {}", s.format.name(), redact(&s.location)),
        Source::Odbc(_) => "odbc query".into(),
        Source::Delta(s) => format!("delta {}", redact(&s.location)),
        Source::InMemory(_) => "in-memory table".into(),
    }
}

fn destination_label(destination: &Destination) -> String {
    match destination {
        Destination::File(d) => {
            let format = match d.format {
                DestinationFileFormat::Csv(_) => "csv",
                DestinationFileFormat::Parquet(_) => "parquet",
                DestinationFileFormat::Json(_) => "json",
            };
            format!("file ({format}) {}", redact(&d.location))
        }
        Destination::Odbc(d) => format!("odbc table {}", d.name.value),
        Destination::Delta(d) => format!("delta {}", redact(&d.location)),
        Destination::InMemory(_) => "in-memory table".into(),
    }
}

fn redact(location: &str) -> String {
    aqueducts_compiler::plan::redact_location(location)
}

fn input_names(spec: &Spec, stage: usize) -> Vec<String> {
    spec.dag
        .inputs(stage)
        .into_iter()
        .map(|v| match v {
            Vertex::Source(i) => spec.pipeline.sources[i].name().value.clone(),
            Vertex::Stage(i) => spec.pipeline.stages[i].name.value.clone(),
        })
        .collect()
}

pub fn text(spec: &Spec) -> String {
    let p = &spec.pipeline;
    let mut out = String::from("sources:\n");
    for source in &p.sources {
        let _ = writeln!(out, "  {}: {}", source.name().value, source_label(source));
    }
    out.push_str("stages, in run order:\n");
    for &i in &spec.order {
        let stage = &p.stages[i];
        let _ = write!(out, "  {} <- {}", stage.name.value, input_names(spec, i).join(", "));
        if let (Some(d), true) = (&p.destination, spec.final_stage == Some(i)) {
            let _ = write!(out, " -> destination {}: {}", d.name().value, destination_label(d));
        }
        out.push('\n');
    }
    out
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n"))
}

pub fn dot(spec: &Spec) -> String {
    let p = &spec.pipeline;
    let mut out = String::from("digraph pipeline {\n  rankdir=LR;\n");
    for source in &p.sources {
        let id = quote(&format!("source:{}", source.name().value));
        let label = quote(&format!("{}\n{}", source.name().value, source.kind()));
        let _ = writeln!(out, "  {id} [label={label}, shape=box];");
    }
    for stage in &p.stages {
        let id = quote(&format!("stage:{}", stage.name.value));
        let _ = writeln!(out, "  {id} [label={}, shape=ellipse];", quote(&stage.name.value));
    }
    for i in 0..p.stages.len() {
        let to = quote(&format!("stage:{}", p.stages[i].name.value));
        for input in spec.dag.inputs(i) {
            let from = match input {
                Vertex::Source(s) => format!("source:{}", p.sources[s].name().value),
                Vertex::Stage(s) => format!("stage:{}", p.stages[s].name.value),
            };
            let _ = writeln!(out, "  {} -> {to};", quote(&from));
        }
    }
    if let (Some(d), Some(i)) = (&p.destination, spec.final_stage) {
        let id = quote(&format!("destination:{}", d.name().value));
        let _ = writeln!(out, "  {id} [label={}, shape=cylinder];", quote(&d.name().value));
        let _ = writeln!(out, "  {} -> {id};", quote(&format!("stage:{}", p.stages[i].name.value)));
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn credentials_in_urls_are_masked() {
        assert_eq!(super::redact("s3://key:secret@bucket/x.csv"), "s3://***@bucket/x.csv");
        assert_eq!(super::redact("./data/x@2.csv"), "./data/x@2.csv");
        assert_eq!(super::redact("https://host/a@b"), "https://host/a@b");
        assert_eq!(
            super::redact("https://acct.blob.core.windows.net/c/x.csv?sig=abc"),
            "https://acct.blob.core.windows.net/c/x.csv?***"
        );
    }
}
