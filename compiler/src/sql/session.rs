//! The session that compiles SQL: the runtime's session for the same settings (memory,
//! physical rules, our functions) with the front end's logical rules added where they
//! belong among DataFusion's. `check` plans with it and lowering does, so that what
//! `check` accepts is what `plan` and `run` plan.

use std::sync::Arc;

use aqueducts_runtime::RunSettings;
use datafusion::error::Result;
use datafusion::execution::SessionStateBuilder;
use datafusion::optimizer::OptimizerRule;
use datafusion::prelude::SessionContext;

use super::planner::IntervalArithmetic;
use super::rules::arithmetic::PostgresArithmetic;
use super::rules::casts::PostgresCasts;
use super::rules::domain::CorrelationDomain;
use super::rules::lateral_rowwise::LateralRowwise;
use super::rules::projection_predicates::ProjectionPredicates;
use super::rules::set_all::SetOperationsAll;
use super::rules::sort_keys::{self, SortKeys};
use super::rules::subquery_limit::SubqueryLimit;

/// DataFusion's first rule that turns subqueries into joins, which our subquery rules
/// prepare for.
const DECORRELATE: &str = "decorrelate_predicate_subquery";

/// DataFusion's analyzer rule that decides expression types.
const TYPE_COERCION: &str = "type_coercion";

/// A session for compiling (and running) with `settings`.
pub fn compile_context(settings: &RunSettings) -> Result<SessionContext> {
    let mut state = settings.session_context()?.state();
    // `1.50` is a numeric of scale 2 in PostgreSQL (and DuckDB), not a double.
    state.config_mut().options_mut().sql_parser.parse_float_as_decimal = true;
    let mut optimizer_rules: Vec<Arc<dyn OptimizerRule + Send + Sync>> = state.optimizers().to_vec();
    // Should a DataFusion upgrade rename the rule, ours go first, which is still
    // before it; the subquery and lateral corpus cases tell if they no longer help.
    let at = optimizer_rules.iter().position(|rule| rule.name() == DECORRELATE).unwrap_or(0);
    let subquery_rules: [Arc<dyn OptimizerRule + Send + Sync>; 3] =
        [Arc::new(LateralRowwise), Arc::new(CorrelationDomain), Arc::new(SubqueryLimit)];
    for (offset, rule) in subquery_rules.into_iter().enumerate() {
        optimizer_rules.insert(at + offset, rule);
    }
    optimizer_rules.insert(0, Arc::new(ProjectionPredicates));
    for rule in optimizer_rules.iter_mut().filter(|rule| rule.name() == sort_keys::REPLACES) {
        *rule = Arc::new(SortKeys::default());
    }
    let mut analyzer_rules = state.analyzer().rules.clone();
    let coercion = analyzer_rules.iter().position(|rule| rule.name() == TYPE_COERCION).unwrap_or(0);
    analyzer_rules.insert(coercion, Arc::new(PostgresArithmetic));
    analyzer_rules.push(Arc::new(PostgresCasts));
    analyzer_rules.push(Arc::new(SetOperationsAll));
    let mut expr_planners = state.expr_planners().to_vec();
    expr_planners.insert(0, Arc::new(IntervalArithmetic));
    let state = SessionStateBuilder::new_from_existing(state)
        .with_expr_planners(expr_planners)
        .with_optimizer_rules(optimizer_rules)
        .with_analyzer_rules(analyzer_rules)
        .build();
    Ok(SessionContext::new_with_state(state))
}

#[cfg(test)]
mod tests {
    use super::compile_context;
    use crate::sql::parse_query;
    use aqueducts_runtime::RunSettings;

    async fn rows(sql: &str) -> Vec<String> {
        let ctx = compile_context(&RunSettings::default()).unwrap();
        let state = ctx.state();
        let parsed = parse_query(sql, &state).unwrap();
        let plan = parsed.plan(&state).await.unwrap();
        let batches = ctx.execute_logical_plan(plan).await.unwrap().collect().await.unwrap();
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string();
        text.lines().filter(|l| l.starts_with("| ")).skip(1).map(|l| l.replace(' ', "")).collect()
    }

    #[tokio::test]
    async fn order_by_names_read_the_input_column_first_then_the_alias() {
        // `x` is an input column: sorted by -x of the input (2, 1, 0), not of the output.
        let input = rows("SELECT x * 10 AS x FROM (VALUES (0), (1), (2)) t(x) ORDER BY -x").await;
        assert_eq!(input, vec!["|20|", "|10|", "|0|"]);
        // `n` is only an alias: DuckDB's reading, where PostgreSQL would refuse.
        let alias = rows("SELECT k, count(*) AS n FROM (VALUES (1), (1), (2)) t(k) GROUP BY k ORDER BY n * -1").await;
        assert_eq!(alias, vec!["|1|2|", "|2|1|"]);
    }
}
