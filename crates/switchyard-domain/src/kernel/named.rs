//! Closed sets of names (protocols, roles, modalities, ...), stored and sent as short strings and
//! declared the same way everywhere by [`named_enum!`].

/// Declares an enum whose variants each have one name, with `ALL`, `as_str`, `Display` and a
/// `parse` that refuses anything else as a validation error on `$field` with `$code` (`parse_field`
/// names another field, such as `input_types[2]`).
macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident, $field:literal, $code:literal { $($(#[$variant_meta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$variant_meta])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$(Self::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            pub fn parse(raw: &str) -> Result<Self, $crate::kernel::error::DomainError> {
                Self::parse_field($field, raw)
            }

            pub fn parse_field(field: &str, raw: &str) -> Result<Self, $crate::kernel::error::DomainError> {
                Self::ALL.iter().copied().find(|value| value.as_str() == raw).ok_or_else(|| {
                    let names: Vec<&str> = Self::ALL.iter().map(|value| value.as_str()).collect();
                    $crate::kernel::error::DomainError::validation(
                        field,
                        $code,
                        format!("must be one of {}", names.join(", ")),
                    )
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use named_enum;

#[cfg(test)]
mod tests {
    use crate::kernel::error::DomainError;

    named_enum!(
        /// A test set.
        Colour, "colour", "invalid_colour" {
            Red => "red",
            DarkBlue => "dark_blue",
        }
    );

    #[test]
    fn names_round_trip_and_anything_else_is_refused_naming_the_field() {
        for colour in Colour::ALL {
            assert_eq!(Colour::parse(colour.as_str()), Ok(*colour));
        }
        assert_eq!(Colour::DarkBlue.to_string(), "dark_blue");
        match Colour::parse_field("colours[1]", "green") {
            Err(DomainError::Validation { field, code, message }) => {
                assert_eq!((field.as_str(), code), ("colours[1]", "invalid_colour"));
                assert_eq!(message, "must be one of red, dark_blue");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}
