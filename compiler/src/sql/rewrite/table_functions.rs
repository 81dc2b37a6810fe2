//! Set-returning functions in `FROM` that read columns of the tables before them
//! (`CROSS JOIN LATERAL generate_series(1, oi.quantity) AS g(n)`, `FROM products p,
//! unnest(string_to_array(p.tags, ',')) AS t(tag)`): PostgreSQL runs them once per row
//! of what precedes them; DataFusion's table functions take constants only.
//!
//! Each becomes a lateral derived table that unnests the function's array form:
//! `LATERAL (SELECT unnest(generate_series(1, oi.quantity)) AS n) AS g`. The column is
//! named as PostgreSQL names it: after the alias's column list, the alias, or the
//! function. Calls with constant arguments stay table functions, and so do those
//! `WITH ORDINALITY` or of several arrays (`unnest(a, b)`), which this cannot spell.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, Ident, ObjectName, SelectItem, SetExpr, TableAlias, TableFactor, Visit, Visitor,
};

use super::outcome::Unsupported;
use super::syntax::{expression, normalize, template};

/// The functions rewritten, by their name in PostgreSQL.
const SET_RETURNING: &[&str] = &["generate_series", "unnest"];

pub fn rewrite(factor: &mut TableFactor) -> Result<(), Unsupported> {
    let (name, args, alias) = match factor {
        TableFactor::Table { name, args: Some(args), alias, with_ordinality: false, .. } => {
            (name.clone(), args.args.clone(), alias.clone())
        }
        TableFactor::Function { name, args, alias, with_ordinality: false, .. } => {
            (name.clone(), args.clone(), alias.clone())
        }
        _ => return Ok(()),
    };
    let Some(function) = single_name(&name).filter(|f| SET_RETURNING.contains(&f.as_str())) else { return Ok(()) };
    let mut values = Vec::with_capacity(args.len());
    for arg in &args {
        match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(expr)) => values.push(expr.clone()),
            _ => return Ok(()),
        }
    }
    // `unnest(a, b)` zips arrays side by side, which one column cannot hold.
    if !values.iter().any(reads_columns) || (function == "unnest" && values.len() != 1) {
        return Ok(());
    }
    let column = match &alias {
        Some(TableAlias { columns, .. }) if columns.len() == 1 => columns[0].name.clone(),
        Some(TableAlias { columns, .. }) if columns.len() > 1 => return Ok(()),
        Some(alias) => alias.name.clone(),
        None => Ident::new(&function),
    };
    let array = if function == "unnest" {
        values.remove(0)
    } else {
        let placeholders: Vec<String> = (0..values.len()).map(|i| format!("${i}")).collect();
        expression(&format!("generate_series({})", placeholders.join(", ")), values)?
    };
    let mut subquery = template("SELECT 1")?;
    if let SetExpr::Select(select) = subquery.body.as_mut() {
        select.projection =
            vec![SelectItem::ExprWithAlias { expr: expression("unnest($0)", vec![array])?, alias: column }];
    }
    let alias = match alias {
        Some(mut alias) => {
            alias.columns.clear();
            alias
        }
        None => TableAlias { explicit: true, name: Ident::new(&function), columns: vec![], at: None },
    };
    *factor = TableFactor::Derived { lateral: true, subquery: Box::new(subquery), alias: Some(alias), sample: None };
    Ok(())
}

fn single_name(name: &ObjectName) -> Option<String> {
    match name.0.as_slice() {
        [part] => part.as_ident().map(normalize),
        _ => None,
    }
}

/// Whether an argument reads a column (of a table before it in `FROM`).
fn reads_columns(expr: &Expr) -> bool {
    struct Reads;
    impl Visitor for Reads {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
            match expr {
                Expr::Identifier(_) | Expr::CompoundIdentifier(_) => ControlFlow::Break(()),
                _ => ControlFlow::Continue(()),
            }
        }
    }
    expr.visit(&mut Reads).is_break()
}
