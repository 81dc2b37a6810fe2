//! [`Spec`]: a spec that passed every check, with what the checks learned about it (the
//! stage graph and order, schemas, parsed queries, store descriptors). Lowering starts
//! from it.

use std::collections::BTreeMap;

use aqueducts_runtime::io::stores::StoreDescriptor;
use datafusion::arrow::datatypes::SchemaRef;
use deltalake_core::DeltaTable;

use crate::dag::StageDag;
use crate::node::Text;
use crate::spec::{Pipeline, Spanned};
use crate::sql::ParsedQuery;

/// A spec that passed every check, with what the checks learned about it.
pub struct Spec {
    pub pipeline: Pipeline,
    /// Position maps of the spec's strings (see [`Spanned::text`]).
    pub texts: Vec<Text>,
    pub dag: StageDag,
    /// The stages in an order where each comes after its inputs.
    pub order: Vec<usize>,
    /// The stage the destination receives.
    pub final_stage: Option<usize>,
    /// The output schema of each stage, where it could be planned.
    pub stage_schemas: Vec<Option<SchemaRef>>,
    /// The parsed query of each stage.
    pub queries: Vec<Option<ParsedQuery>>,
    /// The schema of each source's files (without partition columns), where known.
    pub source_schemas: Vec<Option<SchemaRef>>,
    /// The object stores that locations name, with their checked settings.
    pub stores: Vec<StoreDescriptor>,
    /// Each Delta source's table, opened at the version `check` planned against, by
    /// source index.
    pub delta_tables: BTreeMap<usize, DeltaTable>,
}

impl Spec {
    /// The position map of a spanned string.
    pub fn text<T>(&self, spanned: &Spanned<T>) -> Option<&Text> {
        spanned.text.and_then(|i| self.texts.get(i))
    }
}
