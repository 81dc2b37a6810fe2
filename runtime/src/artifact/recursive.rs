//! Recursive queries (`WITH RECURSIVE`) in artifacts: DataFusion's `RecursiveQueryExec`
//! and the `WorkTableExec` its recursive term reads, which datafusion-proto cannot carry.
//!
//! The two nodes share in-process state (the work table the recursion fills and reads),
//! so neither can be rebuilt on its own: a work table is decoded as a placeholder with
//! its name and columns, and the recursive query, decoded after its terms, rebuilds
//! every placeholder of its own name over the full row it produces and then links them
//! to one new work table (`RecursiveQueryExec::try_new` does that).
//!
//! Layouts: `AQR1` name, is-distinct (`u32` 0 or 1), output schema; `AQT1` name, the
//! work table's columns (a schema).

use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, Result};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::recursive_query::RecursiveQueryExec;
use datafusion::physical_plan::work_table::WorkTableExec;

use super::layout::{NodeReader, put_schema, put_text, put_u32};

pub(crate) const RECURSIVE_TAG: &[u8] = b"AQR1";
pub(crate) const WORK_TABLE_TAG: &[u8] = b"AQT1";

pub(crate) fn encode_recursive(node: &RecursiveQueryExec, buf: &mut Vec<u8>) -> Result<()> {
    buf.extend_from_slice(RECURSIVE_TAG);
    put_text(buf, node.name());
    put_u32(buf, u32::from(node.is_distinct()));
    put_schema(buf, &node.schema())
}

pub(crate) fn encode_work_table(node: &WorkTableExec, buf: &mut Vec<u8>) -> Result<()> {
    buf.extend_from_slice(WORK_TABLE_TAG);
    put_text(buf, node.name());
    put_schema(buf, &node.schema())
}

/// A work table placeholder: the columns its readers see, no projection yet.
pub(crate) fn decode_work_table(buf: &[u8]) -> Result<WorkTableExec> {
    let mut reader = NodeReader::new(buf, b"AQT1", "work table")?;
    let name = reader.text()?;
    WorkTableExec::new(name, reader.schema()?, None)
}

pub(crate) fn decode_recursive(buf: &[u8], inputs: &[Arc<dyn ExecutionPlan>]) -> Result<RecursiveQueryExec> {
    let mut reader = NodeReader::new(buf, b"AQR1", "recursive query")?;
    let name = reader.text()?;
    let is_distinct = match reader.u32()? {
        0 => false,
        1 => true,
        _ => return Err(DataFusionError::Internal("malformed recursive query node".into())),
    };
    let schema = reader.schema()?;
    let [static_term, recursive_term] = inputs else {
        return Err(DataFusionError::Internal("a recursive query node needs its two terms".into()));
    };
    let recursive_term = rebuild_work_tables(recursive_term.clone(), &name, &schema)?;
    RecursiveQueryExec::try_new(name, schema, static_term.clone(), recursive_term, is_distinct)
}

/// The recursive term with each of `name`'s work tables reading the query's full row
/// and projecting its own columns out of it (by name: a CTE's columns are unique).
fn rebuild_work_tables(term: Arc<dyn ExecutionPlan>, name: &str, full: &SchemaRef) -> Result<Arc<dyn ExecutionPlan>> {
    term.transform_down(|node| {
        // A recursive query inside has work tables of its own, whatever their names.
        if node.downcast_ref::<RecursiveQueryExec>().is_some() {
            return Ok(Transformed::new(node, false, TreeNodeRecursion::Jump));
        }
        let Some(work_table) = node.downcast_ref::<WorkTableExec>().filter(|w| w.name() == name) else {
            return Ok(Transformed::no(node));
        };
        let wanted = work_table.schema();
        let projection = wanted
            .fields()
            .iter()
            .map(|field| {
                let found =
                    full.index_of(field.name()).ok().filter(|&i| full.field(i).data_type() == field.data_type());
                found.ok_or_else(|| {
                    DataFusionError::Internal(format!(
                        "work table {name} reads a column {} its recursive query does not produce",
                        field.name()
                    ))
                })
            })
            .collect::<Result<Vec<usize>>>()?;
        let all_columns =
            projection.len() == full.fields().len() && projection.iter().enumerate().all(|(i, &c)| i == c);
        let projection = (!all_columns).then_some(projection);
        Ok(Transformed::yes(Arc::new(WorkTableExec::new(name.to_string(), full.clone(), projection)?) as _))
    })
    .data()
}
