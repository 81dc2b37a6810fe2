//! Benchmark: `check` on a generated spec with 200 stages and declared schemas.
//!
//! Run with `cargo run --release -p aqueducts-compiler --example check_bench [STAGES] [RUNS]`.
//! It prints the spec size and the min / median / max wall time of `check` (parsing,
//! templating, validation and DataFusion planning of every stage). Goal: under 100 ms.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::{Duration, Instant};

use aqueducts_compiler::{CheckOptions, SourceFile, SpecFormat, check};

/// A spec with `stages` stages over four sources with declared schemas. Each stage
/// reads one or two earlier stages or sources: filters, aggregates and joins.
fn generate(stages: usize) -> String {
    let mut spec = String::from("version: v2\nsources:\n");
    for s in 0..4 {
        write!(
            spec,
            "  - type: file\n    name: src{s}\n    location: s3://bench/src{s}.parquet\n    format:\n      type: parquet\n      options:\n        schema:\n          - {{name: id, data_type: int64}}\n          - {{name: key, data_type: string}}\n          - {{name: amount, data_type: \"decimal<12,2>\"}}\n          - {{name: at, data_type: \"timestamp<millisecond, UTC>\"}}\n          - {{name: tags, data_type: \"list<string>\"}}\n"
        )
        .unwrap();
    }
    spec.push_str("stages:\n");
    for i in 0..stages {
        let input = |k: usize| if k < 4 || i < 4 { format!("src{}", k % 4) } else { format!("stage{}", k) };
        let query = match i % 4 {
            0 => format!("SELECT id, key, amount, at, tags FROM {} WHERE amount > {}", input(i.saturating_sub(1)), i),
            1 => format!(
                "SELECT a.id, a.key, a.amount + b.amount AS amount, a.at, a.tags\n      FROM {} a JOIN {} b ON a.id = b.id AND a.key = b.key",
                input(i - 1),
                input(i.saturating_sub(3) % 4)
            ),
            2 => format!(
                "SELECT id, key, sum(amount) OVER (PARTITION BY key ORDER BY at) AS amount, at, tags\n      FROM {}",
                input(i - 1)
            ),
            _ => format!(
                "SELECT id, max(key) AS key, CAST(sum(amount) AS decimal(12,2)) AS amount, max(at) AS at, array_agg(key) AS tags\n      FROM {}\n      GROUP BY id",
                input(i - 1)
            ),
        };
        write!(spec, "  - name: stage{i}\n    query: |\n      {query}\n").unwrap();
    }
    write!(
        spec,
        "destination:\n  type: file\n  name: out\n  location: s3://bench/out.parquet\n  format:\n    type: parquet\n    options: {{}}\n"
    )
    .unwrap();
    spec
}

fn main() {
    let mut args = std::env::args().skip(1);
    let stages: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let text = generate(stages);
    let file = SourceFile::new("bench.yml", text, SpecFormat::Yaml);
    let options = CheckOptions::new(BTreeMap::new(), std::env::temp_dir());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio");

    let first = runtime.block_on(check(&file, &options));
    let errors: Vec<_> = first.diagnostics.iter().filter(|d| d.is_error()).collect();
    if !errors.is_empty() {
        eprint!("{}", aqueducts_compiler::diagnostic::render_plain(&first.diagnostics, &file));
        std::process::exit(1);
    }

    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let report = runtime.block_on(check(&file, &options));
            assert!(report.spec.is_some());
            start.elapsed()
        })
        .collect();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "check: {stages} stages, {} lines, {} runs: min {:.1} ms, median {:.1} ms, max {:.1} ms",
        file.text.lines().count(),
        runs,
        ms(times[0]),
        ms(times[runs / 2]),
        ms(times[runs - 1])
    );
}
