//! Set-returning functions in `FROM` that read columns of the tables before them
//! (`CROSS JOIN LATERAL generate_series(1, oi.quantity) AS g(n)`, `FROM products p,
//! unnest(string_to_array(p.tags, ',')) AS t(tag)`): PostgreSQL runs them once per row
//! of what precedes them; DataFusion's table functions take constants only.
//!
//! Each becomes a lateral derived table that unnests the function's array form:
//! `LATERAL (SELECT unnest(generate_series(1, oi.quantity)) AS n) AS g`. The column is
//! named as PostgreSQL names it: after the alias's column list, the alias, or the
//! function. Calls with constant arguments stay table functions.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, ObjectName, TableAlias, TableFactor, Visit, Visitor,
};

use super::outcome::Unsupported;
use super::syntax::{normalize, template};

/// The functions rewritten, by their name in PostgreSQL.
const SET_RETURNING: &[&str] = &["generate_series", "unnest"];

pub fn rewrite(factor: &mut TableFactor) -> Result<(), Unsupported> {
    let (name, args, alias) = match factor {
        TableFactor::Table { name, args: Some(args), alias, .. } => (name.clone(), args.args.clone(), alias.clone()),
        TableFactor::Function { name, args, alias, .. } => (name.clone(), args.clone(), alias.clone()),
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
    if !values.iter().any(reads_columns) {
        return Ok(());
    }
    let column = match &alias {
        Some(TableAlias { columns, .. }) if columns.len() == 1 => columns[0].name.to_string(),
        Some(TableAlias { columns, .. }) if columns.len() > 1 => return Ok(()),
        Some(alias) => alias.name.to_string(),
        None => function.clone(),
    };
    let call = format!("{function}({})", values.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "));
    let array = if function == "unnest" { values[0].to_string() } else { call };
    let subquery = template(&format!("SELECT unnest({array}) AS {column}"))?;
    let alias = match alias {
        Some(mut alias) => {
            alias.columns.clear();
            alias
        }
        None => TableAlias {
            explicit: true,
            name: datafusion::sql::sqlparser::ast::Ident::new(&function),
            columns: vec![],
            at: None,
        },
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
