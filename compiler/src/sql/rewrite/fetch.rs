//! `FETCH { FIRST | NEXT } n { ROW | ROWS } { ONLY | WITH TIES }`, the standard's
//! spelling of a row limit, which DataFusion's planner refuses.
//!
//! `ONLY` is a `LIMIT n` (after any `OFFSET`). `WITH TIES` also keeps the rows that tie
//! with the last one in the query's order: every row whose `rank()` in that order is at
//! most `offset + n` is one of them, so the query computes the rank and its sort keys
//! under hidden names, and an outer query keeps those rows, sorts and skips the offset:
//!
//! ```sql
//! SELECT name, salary FROM employees ORDER BY salary DESC FETCH FIRST 3 ROWS WITH TIES
//! -- becomes
//! SELECT * EXCLUDE (__aqueducts_order_1, __aqueducts_rank_1) FROM (
//!   SELECT name, salary, salary AS __aqueducts_order_1,
//!          rank() OVER (ORDER BY salary DESC) AS __aqueducts_rank_1
//!   FROM employees) AS __aqueducts_ties
//! WHERE __aqueducts_rank_1 <= 3 ORDER BY __aqueducts_order_1 DESC
//! ```
//!
//! `PERCENT` is refused, as is `WITH TIES` where the rank cannot be computed beside the
//! select list (`SELECT DISTINCT`, a set operation, an `ORDER BY` without expressions).

use datafusion::sql::sqlparser::ast::{
    BinaryOperator, Expr, Ident, LimitClause, Offset, OrderBy, OrderByExpr, OrderByKind, Query, SelectItem, SetExpr,
    Spanned, Value, ValueWithSpan, WindowType,
};
use datafusion::sql::sqlparser::tokenizer::Span;

use super::outcome::Unsupported;
use super::syntax::{hidden, identifier, normalize, template, unnested, without_hidden};

pub fn rewrite(query: &mut Query) -> Result<(), Unsupported> {
    let Some(fetch) = query.fetch.take() else { return Ok(()) };
    let refuse = |message: &str| Unsupported { message: message.to_string(), span: span_of(&fetch.quantity) };
    if fetch.percent {
        return Err(refuse("FETCH ... PERCENT is not supported: give the number of rows"));
    }
    let quantity = fetch.quantity.clone().unwrap_or_else(|| Expr::value(Value::Number("1".into(), false)));
    let offset = match query.limit_clause.take() {
        None => None,
        Some(LimitClause::LimitOffset { limit: None, offset, limit_by }) if limit_by.is_empty() => offset,
        Some(_) => return Err(refuse("a query takes either LIMIT or FETCH FIRST, not both")),
    };
    if !fetch.with_ties {
        query.limit_clause = Some(LimitClause::LimitOffset { limit: Some(quantity), offset, limit_by: vec![] });
        return Ok(());
    }
    with_ties(query, quantity, offset).map_err(|message| refuse(&message))
}

fn span_of(quantity: &Option<Expr>) -> Span {
    quantity.as_ref().map_or(Span::empty(), Spanned::span)
}

/// Rewrites a query with `FETCH FIRST quantity ROWS WITH TIES` (see the module docs).
fn with_ties(query: &mut Query, quantity: Expr, offset: Option<Offset>) -> Result<(), String> {
    let Some(OrderBy { kind: OrderByKind::Expressions(items), .. }) = query.order_by.take() else {
        return Err("FETCH ... WITH TIES needs an ORDER BY".into());
    };
    if items.is_empty() {
        return Err("FETCH ... WITH TIES needs an ORDER BY".into());
    }
    let SetExpr::Select(select) = query.body.as_mut() else {
        return Err(
            "FETCH ... WITH TIES is supported on a SELECT, not on a set operation: wrap it in a subquery".into()
        );
    };
    if select.distinct.is_some() {
        return Err("FETCH ... WITH TIES is not supported with SELECT DISTINCT: use a subquery".into());
    }
    // Each sort key as an expression of the input: an output name or position stands
    // for the expression it names.
    let mut keys = Vec::with_capacity(items.len());
    for item in &items {
        keys.push(input_expression(&item.expr, &select.projection)?);
    }
    let rank_name = hidden("rank", 1);
    let mut rank = rank_item(&rank_name)?;
    if let SelectItem::ExprWithAlias { expr: Expr::Function(function), .. } = &mut rank
        && let Some(WindowType::WindowSpec(window)) = &mut function.over
    {
        window.order_by = keys
            .iter()
            .zip(&items)
            .map(|(key, item)| OrderByExpr { expr: key.clone(), options: item.options, with_fill: None })
            .collect();
    } else {
        // Without its order every row would tie: refuse rather than return them all.
        return Err("internal rewrite template for WITH TIES has no window".into());
    }
    let mut hidden_names = Vec::new();
    let mut outer_order = Vec::new();
    for (n, (key, item)) in keys.into_iter().zip(&items).enumerate() {
        let name = hidden("order", n + 1);
        select.projection.push(SelectItem::ExprWithAlias { expr: key, alias: Ident::new(&name) });
        outer_order.push(OrderByExpr { expr: identifier(&name), options: item.options, with_fill: None });
        hidden_names.push(name);
    }
    select.projection.push(rank);
    hidden_names.push(rank_name.clone());
    let bound = match &offset {
        Some(offset) => Expr::BinaryOp {
            left: Box::new(Expr::Nested(Box::new(offset.value.clone()))),
            op: BinaryOperator::Plus,
            right: Box::new(Expr::Nested(Box::new(quantity))),
        },
        None => quantity,
    };
    let inner = std::mem::replace(query, template("SELECT 1").map_err(|e| e.message)?);
    let mut outer = without_hidden(inner, &hidden_names, "__aqueducts_ties").map_err(|e| e.message)?;
    if let SetExpr::Select(select) = outer.body.as_mut() {
        select.selection = Some(Expr::BinaryOp {
            left: Box::new(identifier(&rank_name)),
            op: BinaryOperator::LtEq,
            right: Box::new(bound),
        });
    }
    outer.order_by = Some(OrderBy { kind: OrderByKind::Expressions(outer_order), interpolate: None });
    outer.limit_clause =
        offset.map(|offset| LimitClause::LimitOffset { limit: None, offset: Some(offset), limit_by: vec![] });
    *query = outer;
    Ok(())
}

/// `rank() OVER (...) AS name`, its window to be filled in.
fn rank_item(name: &str) -> Result<SelectItem, String> {
    let query = template(&format!("SELECT rank() OVER (ORDER BY 1) AS {name}")).map_err(|e| e.message)?;
    match *query.body {
        SetExpr::Select(select) => select.projection.into_iter().next().ok_or_else(|| "internal rank template".into()),
        _ => Err("internal rank template".into()),
    }
}

/// The input expression an `ORDER BY` item sorts by: itself, or what the output name or
/// position it is stands for.
fn input_expression(expr: &Expr, projection: &[SelectItem]) -> Result<Expr, String> {
    if let Expr::Value(ValueWithSpan { value: Value::Number(n, _), .. }) = unnested(expr) {
        let position: usize = n.parse().map_err(|_| format!("ORDER BY {n} is not a column position"))?;
        let before = position.saturating_sub(1).min(projection.len());
        // A wildcard before it would make the position count columns we cannot see.
        let wildcard = projection[..before]
            .iter()
            .any(|item| !matches!(item, SelectItem::UnnamedExpr(_) | SelectItem::ExprWithAlias { .. }));
        return match position.checked_sub(1).and_then(|i| projection.get(i)) {
            Some(SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. }) if !wildcard => Ok(e.clone()),
            _ => Err(format!(
                "ORDER BY {n} with FETCH ... WITH TIES must name a column of the select list, before any *"
            )),
        };
    }
    if let Expr::Identifier(ident) = unnested(expr) {
        let name = normalize(ident);
        let aliased = projection.iter().find_map(|item| match item {
            SelectItem::ExprWithAlias { expr, alias } if normalize(alias) == name => Some(expr.clone()),
            _ => None,
        });
        if let Some(aliased) = aliased {
            return Ok(aliased);
        }
    }
    Ok(expr.clone())
}
