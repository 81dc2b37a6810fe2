//! The merged column of `FULL JOIN ... USING (k)` and `RIGHT JOIN ... USING (k)`: in
//! PostgreSQL an unqualified `k` is `COALESCE(left.k, right.k)`, the key from whichever
//! side has the row; DataFusion reads it as the left side's `k`, NULL for rows only the
//! right side has. Unqualified references to `k` in the select list (named `k`), the
//! `WHERE`, `GROUP BY`, `HAVING`, `DISTINCT ON` and `ORDER BY` (where `k` is not an
//! output name) become that `COALESCE`, when the join is the only one of its `FROM` item
//! and both sides have a name to qualify with.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Distinct, Expr, GroupByExpr, Ident, JoinConstraint, JoinOperator, OrderBy, OrderByKind, Query, SelectItem, SetExpr,
    TableFactor, VisitMut, VisitorMut,
};

use super::syntax::{normalize, output_names};

pub fn merge_using_columns(query: &mut Query) {
    let SetExpr::Select(select) = query.body.as_mut() else { return };
    let mut merged: Vec<(String, Ident, Ident)> = Vec::new();
    for from in &select.from {
        // With a second join the key would merge three sides.
        let [join] = from.joins.as_slice() else { continue };
        let (JoinOperator::FullOuter(JoinConstraint::Using(columns))
        | JoinOperator::Right(JoinConstraint::Using(columns))
        | JoinOperator::RightOuter(JoinConstraint::Using(columns))) = &join.join_operator
        else {
            continue;
        };
        let (Some(left), Some(right)) = (qualifier(&from.relation), qualifier(&join.relation)) else { continue };
        for column in columns {
            if let [part] = column.0.as_slice()
                && let Some(ident) = part.as_ident()
            {
                merged.push((normalize(ident), left.clone(), right.clone()));
            }
        }
    }
    if merged.is_empty() {
        return;
    }
    let mut merge = Merge { merged: &merged, depth: 0 };
    for item in &mut select.projection {
        match item {
            SelectItem::UnnamedExpr(Expr::Identifier(ident)) if merge.find(ident).is_some() => {
                let alias = ident.clone();
                let mut expr = Expr::Identifier(ident.clone());
                let _ = expr.visit(&mut merge);
                *item = SelectItem::ExprWithAlias { expr, alias };
            }
            SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } => {
                let _ = expr.visit(&mut merge);
            }
            _ => {}
        }
    }
    if let Some(selection) = &mut select.selection {
        let _ = selection.visit(&mut merge);
    }
    if let GroupByExpr::Expressions(exprs, _) = &mut select.group_by {
        for expr in exprs {
            let _ = expr.visit(&mut merge);
        }
    }
    if let Some(having) = &mut select.having {
        let _ = having.visit(&mut merge);
    }
    if let Some(Distinct::On(exprs)) = &mut select.distinct {
        for expr in exprs {
            let _ = expr.visit(&mut merge);
        }
    }
    let outputs = output_names(select);
    if let Some(OrderBy { kind: OrderByKind::Expressions(items), .. }) = &mut query.order_by {
        for item in items {
            // A bare output name sorts by that output.
            if let Expr::Identifier(ident) = &item.expr
                && outputs.contains(&Some(normalize(ident)))
            {
                continue;
            }
            let _ = item.expr.visit(&mut merge);
        }
    }
}

/// The name a `FROM` item's columns are qualified with: its alias, or its table's name.
fn qualifier(factor: &TableFactor) -> Option<Ident> {
    match factor {
        TableFactor::Table { alias: Some(alias), .. } | TableFactor::Derived { alias: Some(alias), .. } => {
            Some(alias.name.clone())
        }
        TableFactor::Table { name, alias: None, args: None, .. } => name.0.last().and_then(|p| p.as_ident()).cloned(),
        _ => None,
    }
}

/// Replaces unqualified merged columns, outside subqueries (which have scopes of their own).
struct Merge<'a> {
    merged: &'a [(String, Ident, Ident)],
    depth: usize,
}

impl Merge<'_> {
    fn find(&self, ident: &Ident) -> Option<&(String, Ident, Ident)> {
        let name = normalize(ident);
        self.merged.iter().find(|(n, _, _)| *n == name)
    }
}

impl VisitorMut for Merge<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, _query: &mut Query) -> ControlFlow<()> {
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &mut Query) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if self.depth == 0
            && let Expr::Identifier(ident) = expr
            && let Some((_, left, right)) = self.find(ident)
        {
            let column = ident.clone();
            let (left, right) = (left.clone(), right.clone());
            if let Ok(merged) = super::syntax::expression(
                "COALESCE($0, $1)",
                vec![
                    Expr::CompoundIdentifier(vec![left, column.clone()]),
                    Expr::CompoundIdentifier(vec![right, column]),
                ],
            ) {
                *expr = merged;
            }
        }
        ControlFlow::Continue(())
    }
}
