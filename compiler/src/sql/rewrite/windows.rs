//! A window that refines a named one (`OVER (w ORDER BY ts)` after `WINDOW w AS
//! (PARTITION BY user_id)`): DataFusion drops the refinement and uses `w` as it is.
//! The named window's definition is written into the refining one, as PostgreSQL
//! composes them: its partition, its order unless the refinement orders, and the
//! refinement's frame unless it has none.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, Ident, NamedWindowDefinition, NamedWindowExpr, Select, VisitMut, VisitorMut, WindowSpec, WindowType,
};

use super::syntax::normalize;

pub fn compose_named_windows(select: &mut Select) {
    if select.named_window.is_empty() {
        return;
    }
    let named: Vec<(String, WindowSpec)> = select
        .named_window
        .iter()
        .filter_map(|NamedWindowDefinition(name, definition)| match definition {
            NamedWindowExpr::WindowSpec(spec) => Some((normalize(name), spec.clone())),
            NamedWindowExpr::NamedWindow(_) => None,
        })
        .collect();
    struct Compose<'a>(&'a [(String, WindowSpec)]);
    impl VisitorMut for Compose<'_> {
        type Break = ();
        fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
            if let Expr::Function(function) = expr
                && let Some(WindowType::WindowSpec(spec)) = &mut function.over
                && let Some(base) = spec.window_name.as_ref().and_then(|name| find(self.0, name))
            {
                spec.window_name = None;
                if spec.partition_by.is_empty() {
                    spec.partition_by = base.partition_by.clone();
                }
                if spec.order_by.is_empty() {
                    spec.order_by = base.order_by.clone();
                }
                if spec.window_frame.is_none() {
                    spec.window_frame = base.window_frame.clone();
                }
            }
            ControlFlow::Continue(())
        }
    }
    let _ = select.projection.visit(&mut Compose(&named));
}

fn find<'a>(named: &'a [(String, WindowSpec)], name: &Ident) -> Option<&'a WindowSpec> {
    let name = normalize(name);
    named.iter().find(|(n, _)| *n == name).map(|(_, spec)| spec)
}
