//! The destination against what it receives: partition columns must be columns of the
//! final stage.

use datafusion::arrow::datatypes::SchemaRef;

use super::context::Checker;
use crate::diagnostic::{Code, Diagnostic};
use crate::spec::Pipeline;
use crate::spec::de::quoted_list;
use crate::suggest;

impl Checker<'_> {
    pub(super) fn check_destination(
        &mut self,
        pipeline: &Pipeline,
        final_stage: Option<usize>,
        schemas: &[Option<SchemaRef>],
    ) {
        let Some(destination) = &pipeline.destination else { return };
        let Some(stage) = final_stage else { return };
        let Some(schema) = &schemas[stage] else { return };
        let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        for column in destination.partition_columns() {
            if columns.contains(&column.value.as_str()) {
                continue;
            }
            let help = suggest::help(&column.value, columns.iter().copied()).or(format!(
                "columns of `{}`: {}",
                pipeline.stages[stage].name.value,
                quoted_list(&columns)
            ));
            self.diagnostics.push(
                Diagnostic::error(
                    Code::UnknownPartitionColumn,
                    format!(
                        "partition column `{}` is not a column of stage `{}`, which the destination writes",
                        column.value, pipeline.stages[stage].name.value
                    ),
                )
                .label(column.span.clone(), "no such column")
                .label(pipeline.stages[stage].name.span.clone(), "the destination writes this stage")
                .help(help),
            );
        }
    }
}
