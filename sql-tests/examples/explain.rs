//! Shows how Aqueducts plans one query over the corpus tables: the query after the
//! front end's rewrites, the logical plan before and after optimization, and the
//! physical plan. For finding where a case goes wrong:
//!
//! ```sh
//! python sql-tests/reference.py prepare /tmp/sqldata
//! cargo run -p aqueducts-sql-tests --example explain -- /tmp/sqldata "SELECT ..."
//! ```
//!
//! With `--datafusion` after the query, DataFusion plans it alone (no front end, no
//! rules, none of our functions), to see what the front end changes.

use aqueducts_compiler::sql::{compile_context, parse_query};
use aqueducts_runtime::RunSettings;
use aqueducts_sql_tests::TABLES;
use datafusion::physical_plan::displayable;
use datafusion::prelude::ParquetReadOptions;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(data), Some(sql)) = (args.next(), args.next()) else {
        return Err("usage: explain DATA_DIR SQL".into());
    };
    let plain = args.next().as_deref() == Some("--datafusion");
    let ctx =
        if plain { datafusion::prelude::SessionContext::new() } else { compile_context(&RunSettings::default())? };
    for table in TABLES {
        ctx.register_parquet(table, format!("{data}/{table}.parquet"), ParquetReadOptions::default()).await?;
    }
    let state = ctx.state();
    let plan = if plain {
        state.create_logical_plan(&sql).await?
    } else {
        let parsed = parse_query(&sql, &state).map_err(|e| format!("{e:?}"))?;
        println!("-- rewritten:\n{}\n-- hidden: {:?}\n", parsed.statement, parsed.hidden);
        parsed.plan(&state).await?
    };
    println!("-- logical:\n{}\n", plan.display_indent());
    let optimized = state.optimize(&plan)?;
    println!("-- optimized:\n{}\n", optimized.display_indent());
    let physical = state.create_physical_plan(&plan).await?;
    println!("-- physical:\n{}", displayable(physical.as_ref()).indent(true));
    let batches = ctx.execute_logical_plan(plan).await?.collect().await?;
    println!("-- result:\n{}", datafusion::arrow::util::pretty::pretty_format_batches(&batches)?);
    Ok(())
}
