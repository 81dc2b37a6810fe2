//! The methods our plan nodes' `impl ExecutionPlan` blocks have in common, as macros
//! (a leaf node, a node over one input, a node without expressions).

/// `apply_expressions` of a plan node with no expressions of its own, and
/// `with_new_children` through its `replace_children`, for `impl ExecutionPlan`.
macro_rules! expressionless_node_methods {
    () => {
        fn apply_expressions(
            &self,
            _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
        ) -> Result<TreeNodeRecursion> {
            Ok(TreeNodeRecursion::Continue)
        }

        fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
            self.replace_children(children, ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute))
        }
    };
}
pub(crate) use expressionless_node_methods;

/// The methods of a plan node without children (a scan), for `impl ExecutionPlan`.
macro_rules! leaf_node_methods {
    () => {
        fn properties(&self) -> &Arc<PlanProperties> {
            &self.properties
        }

        fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
            vec![]
        }

        fn replace_children(
            self: Arc<Self>,
            _: Vec<Arc<dyn ExecutionPlan>>,
            _: ReplaceChildrenOptions,
        ) -> Result<Arc<dyn ExecutionPlan>> {
            Ok(self)
        }

        $crate::node_macros::expressionless_node_methods!();
    };
}
pub(crate) use leaf_node_methods;

/// The methods of a plan node over one input in `self.input`, for `impl ExecutionPlan`;
/// `$rebuild` makes the node again over a new input: `fn(&Self, input) -> Self`.
macro_rules! single_input_node_methods {
    ($rebuild:expr) => {
        fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
            vec![&self.input]
        }

        fn replace_children(
            self: Arc<Self>,
            children: Vec<Arc<dyn ExecutionPlan>>,
            _: ReplaceChildrenOptions,
        ) -> Result<Arc<dyn ExecutionPlan>> {
            let Some(input) = children.into_iter().next() else {
                return Err(datafusion::common::DataFusionError::Internal(format!("{} needs an input", self.name())));
            };
            let rebuild: fn(&Self, Arc<dyn ExecutionPlan>) -> Self = $rebuild;
            Ok(Arc::new(rebuild(&self, input)))
        }

        $crate::node_macros::expressionless_node_methods!();
    };
}
pub(crate) use single_input_node_methods;

/// The properties of a node that writes its input somewhere and returns one row, the
/// `count` of rows written (like DataFusion's file sinks).
pub(crate) fn rows_written_properties() -> std::sync::Arc<datafusion::physical_plan::PlanProperties> {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::physical_expr::EquivalenceProperties;
    use datafusion::physical_plan::Partitioning;
    use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
    let schema = std::sync::Arc::new(Schema::new(vec![Field::new("count", DataType::UInt64, false)]));
    let properties = datafusion::physical_plan::PlanProperties::new(
        EquivalenceProperties::new(schema),
        Partitioning::UnknownPartitioning(1),
        EmissionType::Final,
        Boundedness::Bounded,
    );
    std::sync::Arc::new(properties)
}
