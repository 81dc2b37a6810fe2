//! [`SharedTable`]: a shared stage as a table its readers are planned against.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{Result, Statistics};
use datafusion::datasource::TableType;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;

use super::scan::SharedStageExec;

/// A table that reads a shared stage's output.
#[derive(Debug)]
pub struct SharedTable {
    id: u32,
    stage: String,
    schema: SchemaRef,
    statistics: Statistics,
}

impl SharedTable {
    pub fn new(id: u32, stage: impl Into<String>, schema: SchemaRef) -> Self {
        let statistics = Statistics::new_unknown(&schema);
        SharedTable { id, stage: stage.into(), schema, statistics }
    }

    /// What the stage's own plan estimates of its output. Readers are planned before the
    /// stage runs, and joins choose their build side by these estimates: without them a
    /// join would hash a large shared stage rather than the small table it meets.
    pub fn with_statistics(mut self, statistics: Statistics) -> Self {
        self.statistics = statistics.to_inexact();
        self
    }
}

#[async_trait]
impl TableProvider for SharedTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    fn statistics(&self) -> Option<Statistics> {
        Some(self.statistics.clone())
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let scan = SharedStageExec::new(self.id, self.stage.clone(), self.schema.clone(), projection.cloned())?;
        Ok(Arc::new(scan.with_statistics(self.statistics.clone().project(projection))))
    }
}
