//! [`AqueductsCodec`]: how our own plan nodes travel inside datafusion-proto plans.
//!
//! It is a layer, not an end point: it encodes and decodes the nodes it knows (shared
//! stage scans, ODBC scans and writes, Delta scans and writes, and DataFusion's recursive-query nodes, which
//! datafusion-proto cannot carry; each starting with a tag of its own) and hands
//! everything else to the codec it wraps. Another codec (Delta Lake's, Ballista's) can
//! therefore sit under it, or wrap it in turn.

use std::sync::Arc;

use datafusion::common::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{AggregateUDF, HigherOrderUDF, ScalarUDF, WindowUDF};
use datafusion::physical_expr_common::physical_expr::proto_decode::PhysicalExprDecodeCtx;
use datafusion::physical_expr_common::physical_expr::proto_encode::PhysicalExprEncodeCtx;
use datafusion::physical_plan::{ExecutionPlan, PhysicalExpr};
use datafusion_proto::physical_plan::{
    DefaultPhysicalExtensionCodec, PhysicalExtensionCodec, PhysicalProtoConverterExtension,
};

use datafusion::physical_plan::recursive_query::RecursiveQueryExec;
use datafusion::physical_plan::work_table::WorkTableExec;

use super::recursive::{
    RECURSIVE_TAG, WORK_TABLE_TAG, decode_recursive, decode_work_table, encode_recursive, encode_work_table,
};
use crate::io::delta::scan::DeltaSourceExec;
use crate::io::delta::sink::DeltaWriteExec;
use crate::io::odbc::scan::OdbcScanExec;
use crate::io::odbc::sink::OdbcWriteExec;
use crate::shared::scan::SharedStageExec;

/// Our plan nodes, then whatever the inner codec knows.
#[derive(Debug, Clone)]
pub struct AqueductsCodec {
    inner: Arc<dyn PhysicalExtensionCodec>,
}

impl Default for AqueductsCodec {
    /// Over DataFusion's own codec, which knows no extension nodes.
    fn default() -> Self {
        AqueductsCodec::wrapping(Arc::new(DefaultPhysicalExtensionCodec {}))
    }
}

impl AqueductsCodec {
    /// Our nodes over `inner`, which gets every node, function and expression that is
    /// not ours.
    pub fn wrapping(inner: Arc<dyn PhysicalExtensionCodec>) -> Self {
        AqueductsCodec { inner }
    }
}

/// Which of our nodes `buf` holds, by its tag.
enum OwnNode {
    SharedStage,
    OdbcScan,
    OdbcWrite,
    DeltaSource,
    DeltaWrite,
    RecursiveQuery,
    WorkTable,
}

impl OwnNode {
    fn of(buf: &[u8]) -> Option<OwnNode> {
        match buf.get(..4)? {
            SharedStageExec::TAG => Some(OwnNode::SharedStage),
            OdbcScanExec::TAG => Some(OwnNode::OdbcScan),
            OdbcWriteExec::TAG => Some(OwnNode::OdbcWrite),
            DeltaSourceExec::TAG => Some(OwnNode::DeltaSource),
            DeltaWriteExec::TAG => Some(OwnNode::DeltaWrite),
            RECURSIVE_TAG => Some(OwnNode::RecursiveQuery),
            WORK_TABLE_TAG => Some(OwnNode::WorkTable),
            _ => None,
        }
    }
}

impl PhysicalExtensionCodec for AqueductsCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match OwnNode::of(buf) {
            Some(OwnNode::SharedStage) => Ok(Arc::new(SharedStageExec::decode(buf)?)),
            Some(OwnNode::OdbcScan) => Ok(Arc::new(OdbcScanExec::decode(buf)?)),
            Some(OwnNode::OdbcWrite) => Ok(Arc::new(OdbcWriteExec::decode(buf, inputs)?)),
            Some(OwnNode::DeltaSource) => Ok(Arc::new(DeltaSourceExec::decode(buf, ctx)?)),
            Some(OwnNode::DeltaWrite) => Ok(Arc::new(DeltaWriteExec::decode(buf, inputs)?)),
            Some(OwnNode::RecursiveQuery) => Ok(Arc::new(decode_recursive(buf, inputs)?)),
            Some(OwnNode::WorkTable) => Ok(Arc::new(decode_work_table(buf)?)),
            None => self.inner.try_decode(buf, inputs, ctx, converter),
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        let any = node.as_ref();
        if let Some(shared) = any.downcast_ref::<SharedStageExec>() {
            return shared.encode(buf);
        }
        if let Some(scan) = any.downcast_ref::<OdbcScanExec>() {
            return scan.encode(buf);
        }
        if let Some(write) = any.downcast_ref::<OdbcWriteExec>() {
            return write.encode(buf);
        }
        if let Some(scan) = any.downcast_ref::<DeltaSourceExec>() {
            return scan.encode(buf);
        }
        if let Some(write) = any.downcast_ref::<DeltaWriteExec>() {
            return write.encode(buf);
        }
        if let Some(recursive) = any.downcast_ref::<RecursiveQueryExec>() {
            return encode_recursive(recursive, buf);
        }
        if let Some(work_table) = any.downcast_ref::<WorkTableExec>() {
            return encode_work_table(work_table, buf);
        }
        let name = node.name().to_string();
        // The inner codec says "not implemented" for nodes nobody knows (DataFusion's own
        // codec always does): that is a node no artifact can carry. Any other failure is
        // the inner codec's own, and reported as it is.
        match self.inner.try_encode(node, buf, converter) {
            Err(DataFusionError::NotImplemented(_)) => {
                Err(DataFusionError::NotImplemented(format!("{name} cannot be stored in a plan artifact")))
            }
            other => other,
        }
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        self.inner.try_decode_udf(name, buf)
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udf(node, buf)
    }

    fn try_decode_higher_order_function(&self, name: &str, buf: &[u8]) -> Result<Arc<HigherOrderUDF>> {
        self.inner.try_decode_higher_order_function(name, buf)
    }

    fn try_encode_higher_order_function(&self, node: &HigherOrderUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_higher_order_function(node, buf)
    }

    fn try_decode_expr(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn PhysicalExpr>],
        ctx: &PhysicalExprDecodeCtx<'_>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        self.inner.try_decode_expr(buf, inputs, ctx)
    }

    fn try_encode_expr(
        &self,
        node: &Arc<dyn PhysicalExpr>,
        buf: &mut Vec<u8>,
        ctx: &PhysicalExprEncodeCtx<'_>,
    ) -> Result<()> {
        self.inner.try_encode_expr(node, buf, ctx)
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        self.inner.try_decode_udaf(name, buf)
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udaf(node, buf)
    }

    fn try_decode_udwf(&self, name: &str, buf: &[u8]) -> Result<Arc<WindowUDF>> {
        self.inner.try_decode_udwf(name, buf)
    }

    fn try_encode_udwf(&self, node: &WindowUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udwf(node, buf)
    }
}
