//! JSON Merge Patch (RFC 7396) of a row's writable fields, applied by the domain inside the
//! store's transaction: the store reads the current fields under a lock, [`Revise`] computes the
//! new ones, the store writes them. Two concurrent patches of different fields both land.

use crate::kernel::error::DomainError;

/// Computes a row's new writable fields from its current ones (a patch, or a replacement that
/// ignores them), refusing with the domain's error.
pub type Revise<'a, S> = &'a (dyn Fn(&S) -> Result<S, DomainError> + Send + Sync);

/// Declares the merge patch of an input type: one `Option` per field of `$input` (absent =
/// keep; a nullable field's `Some(None)` clears it), and `apply`, which merges the patch into
/// `$spec::to_input()` of the current fields and checks the result with `$spec::parse`.
macro_rules! merge_patch {
    ($(#[$meta:meta])* $name:ident of $spec:ident via $input:ident { $($field:ident: $ty:ty),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct $name {
            $(pub $field: Option<$ty>),+
        }

        impl $name {
            /// The fields after this patch, checked like new ones.
            pub fn apply(&self, current: &$spec) -> Result<$spec, $crate::kernel::error::DomainError> {
                let mut input: $input = current.to_input();
                $(
                    if let Some(value) = &self.$field {
                        input.$field = value.clone();
                    }
                )+
                $spec::parse(input)
            }
        }
    };
}

pub(crate) use merge_patch;

/// A replacement as a [`Revise`]: the current fields do not matter.
pub fn replace<S: Clone + Send + Sync>(spec: S) -> impl Fn(&S) -> Result<S, DomainError> + Send + Sync {
    move |_current| Ok(spec.clone())
}
