//! Named windows (`WINDOW w AS (PARTITION BY user_id)`) composed as PostgreSQL composes
//! them: a window refining another (`OVER (w ORDER BY ts)`, or `WINDOW w2 AS (w ORDER BY
//! ts)`) takes the base's partition, its order unless the refinement orders, and the
//! refinement's frame unless it has none. DataFusion drops the refinement and uses the
//! base as it is, so every definition is written out in full, and so is every window
//! that refines one (in the select list, `HAVING`, `QUALIFY` and `ORDER BY`).

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, NamedWindowDefinition, NamedWindowExpr, Query, SetExpr, VisitMut, VisitorMut, WindowSpec, WindowType,
};

use super::syntax::normalize;

pub fn compose_named_windows(query: &mut Query) {
    let SetExpr::Select(select) = query.body.as_mut() else { return };
    if select.named_window.is_empty() {
        return;
    }
    let mut named: Vec<(String, WindowSpec)> = select
        .named_window
        .iter()
        .map(|NamedWindowDefinition(name, definition)| {
            let spec = match definition {
                NamedWindowExpr::WindowSpec(spec) => spec.clone(),
                NamedWindowExpr::NamedWindow(base) => WindowSpec {
                    window_name: Some(base.clone()),
                    partition_by: vec![],
                    order_by: vec![],
                    window_frame: None,
                },
            };
            (normalize(name), spec)
        })
        .collect();
    // Each pass resolves one more level of a chain; a chain is at most as long as the
    // list (a cycle stays unresolved, for DataFusion to refuse).
    for _ in 0..named.len() {
        for i in 0..named.len() {
            if let Some(base) = named[i].1.window_name.as_ref().and_then(|n| find(&named, &normalize(n))).cloned()
                && base.window_name.is_none()
            {
                named[i].1 = composed(&named[i].1, &base);
            }
        }
    }
    for (definition, (_, spec)) in select.named_window.iter_mut().zip(&named) {
        if spec.window_name.is_none() {
            definition.1 = NamedWindowExpr::WindowSpec(spec.clone());
        }
    }
    let mut compose = Compose(&named);
    let _ = select.projection.visit(&mut compose);
    let _ = select.having.visit(&mut compose);
    let _ = select.qualify.visit(&mut compose);
    let _ = query.order_by.visit(&mut compose);
}

struct Compose<'a>(&'a [(String, WindowSpec)]);

impl VisitorMut for Compose<'_> {
    type Break = ();
    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::Function(function) = expr
            && let Some(WindowType::WindowSpec(spec)) = &mut function.over
            && let Some(base) = spec.window_name.as_ref().and_then(|name| find(self.0, &normalize(name)))
            && base.window_name.is_none()
        {
            *spec = composed(spec, base);
        }
        ControlFlow::Continue(())
    }
}

/// `refinement` over `base`, as PostgreSQL composes a window referring to another.
fn composed(refinement: &WindowSpec, base: &WindowSpec) -> WindowSpec {
    WindowSpec {
        window_name: None,
        partition_by: if refinement.partition_by.is_empty() {
            base.partition_by.clone()
        } else {
            refinement.partition_by.clone()
        },
        order_by: if refinement.order_by.is_empty() { base.order_by.clone() } else { refinement.order_by.clone() },
        window_frame: refinement.window_frame.clone().or_else(|| base.window_frame.clone()),
    }
}

fn find<'a>(named: &'a [(String, WindowSpec)], name: &str) -> Option<&'a WindowSpec> {
    named.iter().find(|(n, _)| n == name).map(|(_, spec)| spec)
}
