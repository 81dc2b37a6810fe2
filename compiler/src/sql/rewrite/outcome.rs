//! What rewriting tells its caller: a refusal with where it is ([`Unsupported`]), the
//! hidden columns left for planning to remove ([`Rewritten`]), and where a query sits
//! ([`Placement`]), which decides who removes its hidden columns.

/// Why a query cannot be rewritten into something DataFusion plans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    pub message: String,
    /// Where, as a span of the SQL text (line and column, 1-based; 0 when unknown).
    pub span: datafusion::sql::sqlparser::tokenizer::Span,
}

/// What rewriting left for planning to do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rewritten {
    /// Hidden columns in the statement's own output, to be removed after planning.
    pub hidden: Vec<String>,
}

/// Where a query is: its hidden columns are removed by an outer query when nested, by
/// planning when it is the statement's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    Nested,
    Statement,
}

/// How an `ORDER BY` expression reads a bare name that is both an input column and an
/// output alias (`SELECT -amount AS amount ... ORDER BY amount * 1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderNames {
    /// As PostgreSQL (and DuckDB): the input column.
    Input,
    /// As DataFusion: the output alias. Only qualified names (`o.amount`) are read as
    /// input columns.
    AliasFirst,
}
