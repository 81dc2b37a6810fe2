//! Ordered aggregates that sort by different keys in one query (`string_agg(name, ', '
//! ORDER BY signup_date)` beside `string_agg(country, '/' ORDER BY country)`):
//! DataFusion sorts an aggregate's input once for all `string_agg`s and refuses two
//! orders. `array_agg` sorts its own values, so there each ordered `string_agg(x, sep
//! ORDER BY k)` becomes `array_to_string(array_agg(x ORDER BY k) FILTER (WHERE x IS NOT
//! NULL), sep)`: the same text, NULL values skipped, NULL for a group without values.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, Function, FunctionArgumentClause, FunctionArguments, Ident, ObjectName, ObjectNamePart, Select, Visit,
    VisitMut, Visitor, VisitorMut,
};

use super::syntax::{expression, function_name, plain_arguments};

pub fn separate_orderings(select: &mut Select) {
    struct Orders(Vec<String>);
    impl Visitor for Orders {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
            if let Expr::Function(function) = expr
                && function.over.is_none()
                && let Some(order) = order_by(function)
            {
                let key = order.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
                if !self.0.contains(&key) {
                    self.0.push(key);
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut orders = Orders(Vec::new());
    let _ = select.projection.visit(&mut orders);
    let _ = select.having.visit(&mut orders);
    if orders.0.len() < 2 {
        return;
    }
    struct Separate;
    impl VisitorMut for Separate {
        type Break = ();
        fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
            if let Expr::Function(function) = expr
                && function.over.is_none()
                && function_name(function).as_deref() == Some("string_agg")
                && order_by(function).is_some()
                && let Some(replaced) = as_array_agg(function)
            {
                *expr = replaced;
            }
            ControlFlow::Continue(())
        }
    }
    let _ = VisitMut::visit(&mut select.projection, &mut Separate);
    let _ = VisitMut::visit(&mut select.having, &mut Separate);
}

fn order_by(function: &Function) -> Option<&Vec<datafusion::sql::sqlparser::ast::OrderByExpr>> {
    let FunctionArguments::List(list) = &function.args else { return None };
    list.clauses.iter().find_map(|clause| match clause {
        FunctionArgumentClause::OrderBy(order) if !order.is_empty() => Some(order),
        _ => None,
    })
}

fn as_array_agg(function: &Function) -> Option<Expr> {
    let [value, separator] = plain_arguments(function)?[..] else { return None };
    let (value, separator) = (value.clone(), separator.clone());
    let mut array_agg = function.clone();
    array_agg.name = ObjectName(vec![ObjectNamePart::Identifier(Ident::new("array_agg"))]);
    if let FunctionArguments::List(list) = &mut array_agg.args {
        list.args.truncate(1);
    }
    let not_null = expression("$0 IS NOT NULL", vec![value]).ok()?;
    array_agg.filter = Some(Box::new(match array_agg.filter.take() {
        Some(filter) => expression("($0) AND $1", vec![*filter, not_null]).ok()?,
        None => not_null,
    }));
    expression("array_to_string($0, $1)", vec![Expr::Function(array_agg), separator]).ok()
}
