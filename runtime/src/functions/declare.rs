//! [`function_type!`]: what every function type of ours has, a struct holding its
//! DataFusion signature, `new()` and `Default`.

/// Declares `pub struct $name` holding `signature`, with `new()` building it from
/// `$signature` and `Default` calling `new()`.
macro_rules! function_type {
    ($name:ident, $signature:expr) => {
        #[derive(Debug, PartialEq, Eq, Hash)]
        pub struct $name {
            signature: datafusion::logical_expr::Signature,
        }

        impl Default for $name {
            fn default() -> Self {
                $name::new()
            }
        }

        impl $name {
            pub fn new() -> Self {
                $name { signature: $signature }
            }
        }
    };
}

pub(crate) use function_type;
