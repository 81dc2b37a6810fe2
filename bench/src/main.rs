//! Helpers of the TPC-H benchmark (`scripts/bench-tpch.sh`, driven by `bench/tpch/bench.py`).
//!
//! `generate` writes TPC-H tables as Parquet with the `tpchgen` crates, one directory per
//! table. `query` is the baseline the pipeline is measured against: the pipeline's stages
//! as one SQL statement, run by DataFusion with its defaults, the result written as one
//! Parquet file. Both run as their own processes so that the harness can measure each
//! one's wall time and peak memory alone.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use clap::{Parser, Subcommand};
use datafusion::arrow::record_batch::RecordBatchReader;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::error::Result;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use tpchgen::generators::{
    CustomerGenerator, LineItemGenerator, NationGenerator, OrderGenerator, PartGenerator, PartSuppGenerator,
    RegionGenerator, SupplierGenerator,
};
use tpchgen_arrow::{
    CustomerArrow, LineItemArrow, NationArrow, OrderArrow, PartArrow, PartSuppArrow, RegionArrow, SupplierArrow,
};

#[derive(Parser)]
#[command(name = "aqueducts-bench", about = "TPC-H data and the single-query DataFusion baseline")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write the eight TPC-H tables as Parquet under OUT/<table>/part-N.parquet.
    Generate {
        #[arg(long, default_value_t = 1.0)]
        scale_factor: f64,
        #[arg(long)]
        out: PathBuf,
    },
    /// Run one SQL statement over the tables in DATA and write its result to OUT (Parquet).
    Query {
        #[arg(long)]
        data: PathBuf,
        #[arg(long)]
        sql: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

const TABLES: [&str; 8] = ["nation", "region", "part", "supplier", "partsupp", "customer", "orders", "lineitem"];

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Generate { scale_factor, out } => generate(scale_factor, &out),
        Command::Query { data, sql, out } => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(query(&data, &sql, &out))
        }
    }
}

/// Files per table: the big tables are split so that a scan has parts to share out.
fn parts(table: &str, scale_factor: f64) -> i32 {
    let per_sf = match table {
        "lineitem" => 4.0,
        "orders" | "partsupp" => 2.0,
        "customer" | "part" => 1.0,
        _ => return 1,
    };
    (scale_factor * per_sf).ceil().max(1.0) as i32
}

fn reader(table: &str, sf: f64, part: i32, parts: i32) -> Box<dyn RecordBatchReader + Send> {
    match table {
        "nation" => Box::new(NationArrow::new(NationGenerator::new(sf, part, parts))),
        "region" => Box::new(RegionArrow::new(RegionGenerator::new(sf, part, parts))),
        "part" => Box::new(PartArrow::new(PartGenerator::new(sf, part, parts))),
        "supplier" => Box::new(SupplierArrow::new(SupplierGenerator::new(sf, part, parts))),
        "partsupp" => Box::new(PartSuppArrow::new(PartSuppGenerator::new(sf, part, parts))),
        "customer" => Box::new(CustomerArrow::new(CustomerGenerator::new(sf, part, parts))),
        "orders" => Box::new(OrderArrow::new(OrderGenerator::new(sf, part, parts))),
        "lineitem" => Box::new(LineItemArrow::new(LineItemGenerator::new(sf, part, parts))),
        other => unreachable!("not a TPC-H table: {other}"),
    }
}

/// Generates into `out`, unless a previous generation of the same scale factor finished
/// there (marked by a file written last).
fn generate(scale_factor: f64, out: &Path) -> Result<()> {
    let done_marker = out.join(format!(".complete-sf{scale_factor}"));
    if done_marker.exists() {
        eprintln!("TPC-H SF{scale_factor} already in {}", out.display());
        return Ok(());
    }
    let started = Instant::now();
    let mut jobs = Vec::new();
    for table in TABLES {
        let dir = out.join(table);
        if dir.exists() {
            fs::remove_dir_all(&dir)?;
        }
        fs::create_dir_all(&dir)?;
        let count = parts(table, scale_factor);
        jobs.extend((1..=count).map(|part| (table, part, count)));
    }
    // Biggest first, so that the last job to finish is a small one.
    jobs.reverse();
    let jobs = Mutex::new(jobs);
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    loop {
                        let Some((table, part, count)) = jobs.lock().unwrap().pop() else { return Ok(()) };
                        let path = out.join(table).join(format!("part-{part}.parquet"));
                        write_parquet(reader(table, scale_factor, part, count), &path)?;
                    }
                })
            })
            .collect();
        handles.into_iter().try_for_each(|handle| handle.join().expect("generator thread panicked"))
    })?;
    File::create(&done_marker)?;
    eprintln!("generated TPC-H SF{scale_factor} in {} in {:.1?}", out.display(), started.elapsed());
    Ok(())
}

fn write_parquet(mut batches: Box<dyn RecordBatchReader + Send>, path: &Path) -> Result<()> {
    let properties = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
    let mut writer = ArrowWriter::try_new(File::create(path)?, batches.schema(), Some(properties))?;
    for batch in &mut batches {
        writer.write(&batch?)?;
    }
    writer.close()?;
    Ok(())
}

async fn query(data: &Path, sql: &Path, out: &Path) -> Result<()> {
    let ctx = SessionContext::new();
    for table in TABLES {
        let dir = data.join(table);
        ctx.register_parquet(table, &format!("{}/", dir.display()), ParquetReadOptions::default()).await?;
    }
    let sql = fs::read_to_string(sql)?;
    let frame = ctx.sql(&sql).await?;
    frame
        .write_parquet(out.to_string_lossy().as_ref(), DataFrameWriteOptions::new().with_single_file_output(true), None)
        .await?;
    Ok(())
}
