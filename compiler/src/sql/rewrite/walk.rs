//! The walk over a statement: every rewrite applied to every query, innermost first.

use std::ops::ControlFlow;

use datafusion::sql::parser::Statement;
use datafusion::sql::sqlparser::ast::{self, Query, VisitMut, VisitorMut};

use super::outcome::{OrderNames, Placement, Rewritten, Unsupported};
use super::{aggregates, columns, expressions, fetch, order_by, table_functions, using, windows};

/// Applies every rewrite to every query of `statement`, reading bare names in `ORDER BY`
/// expressions as `names` says.
pub fn rewrite(statement: &mut Statement, names: OrderNames) -> Result<Rewritten, Unsupported> {
    /// Rewrites the nested queries; the statement's own query (depth 1) is left for
    /// the caller.
    struct Nested {
        depth: usize,
        names: OrderNames,
    }
    impl VisitorMut for Nested {
        type Break = Unsupported;
        fn pre_visit_query(&mut self, _query: &mut Query) -> ControlFlow<Unsupported> {
            self.depth += 1;
            ControlFlow::Continue(())
        }
        fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<Unsupported> {
            self.depth -= 1;
            if let Some(with) = &mut query.with {
                for cte in &mut with.cte_tables {
                    columns::name_columns(&mut cte.query, &cte.alias);
                }
            }
            windows::compose_named_windows(query);
            using::merge_using_columns(query);
            if self.depth == 0 {
                return ControlFlow::Continue(());
            }
            done(rewrite_query(query, Placement::Nested, self.names).map(|_| ()))
        }
        fn post_visit_select(&mut self, select: &mut ast::Select) -> ControlFlow<Unsupported> {
            aggregates::separate_orderings(select);
            ControlFlow::Continue(())
        }
        fn post_visit_table_factor(&mut self, factor: &mut ast::TableFactor) -> ControlFlow<Unsupported> {
            if let ast::TableFactor::Derived { subquery, alias: Some(alias), .. } = factor {
                columns::name_columns(subquery, alias);
            }
            done(table_functions::rewrite(factor))
        }
        fn post_visit_expr(&mut self, expr: &mut ast::Expr) -> ControlFlow<Unsupported> {
            done(expressions::rewrite(expr))
        }
    }
    fn done(result: Result<(), Unsupported>) -> ControlFlow<Unsupported> {
        match result {
            Ok(()) => ControlFlow::Continue(()),
            Err(problem) => ControlFlow::Break(problem),
        }
    }
    let Statement::Statement(statement) = statement else { return Ok(Rewritten::default()) };
    if let ControlFlow::Break(problem) = statement.visit(&mut Nested { depth: 0, names }) {
        return Err(problem);
    }
    let ast::Statement::Query(query) = statement.as_mut() else { return Ok(Rewritten::default()) };
    Ok(Rewritten { hidden: rewrite_query(query, Placement::Statement, names)? })
}

/// Every rewrite of one query; the hidden columns left in its output.
fn rewrite_query(query: &mut Query, placement: Placement, names: OrderNames) -> Result<Vec<String>, Unsupported> {
    fetch::rewrite(query)?;
    order_by::rewrite(query, placement, names)
}
