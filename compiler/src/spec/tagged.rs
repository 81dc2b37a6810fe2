//! `tagged_enum!`: `Deserialize` for the spec's tagged enums, with lenient tags and
//! errors that keep their positions.

/// Implements `Deserialize` for a tagged enum through `deserialize_enum`, whose name
/// tells [`super::de`] the tag key and (for adjacently tagged enums) the content key:
/// `"What:tag"` or `"What:tag:content"`.
macro_rules! tagged_enum {
    ($ty:ident, $name:literal, { $($tag:literal => $variant:ident $(($inner:ty))?),+ $(,)? }) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                const VARIANTS: &[&str] = &[$($tag),+];
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        write!(f, "one of {}", VARIANTS.join(", "))
                    }
                    fn visit_enum<A: serde::de::EnumAccess<'de>>(self, data: A) -> Result<$ty, A::Error> {
                        #[allow(unused_imports)]
                        use serde::de::VariantAccess;
                        let (tag, access): (String, A::Variant) = data.variant()?;
                        $(
                            if tag == $tag {
                                return tagged_enum!(@variant access, $ty, $variant $(, $inner)?);
                            }
                        )+
                        Err(serde::de::Error::unknown_variant(&tag, VARIANTS))
                    }
                }
                d.deserialize_enum($name, VARIANTS, V)
            }
        }
    };
    (@variant $access:ident, $ty:ident, $variant:ident, $inner:ty) => {
        $access.newtype_variant::<$inner>().map($ty::$variant)
    };
    (@variant $access:ident, $ty:ident, $variant:ident) => {
        $access.unit_variant().map(|()| $ty::$variant)
    };
}
pub(crate) use tagged_enum;
