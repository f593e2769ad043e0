//! The API's mirrors of the domain's closed sets of names (protocols, roles, modalities, ...):
//! each is declared once by [`schema_enum!`], for the OpenAPI schema and serde, with conversions
//! both ways; a test checks every mirror's names against the domain's.

use switchyard_domain::Role;
use switchyard_domain::catalog::{CapabilityDomain, DeleteMode, Modality, ModelType, ParameterType, Protocol, SubType};

/// Declares the mirror of a domain `named_enum!`: the same variants, named on the wire as the
/// domain names them, `From` both ways, and `assert_names_match` for the test below. The names
/// are `tt`, not `literal`: utoipa does not read a `literal` fragment in `#[serde(rename)]`.
macro_rules! schema_enum {
    ($(#[$meta:meta])* $name:ident for $domain:ident { $($(#[$variant_meta:meta])* $variant:ident => $text:tt),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        pub enum $name {
            $($(#[$variant_meta])* #[serde(rename = $text)] $variant),+
        }

        impl From<$name> for $domain {
            fn from(name: $name) -> Self {
                match name {
                    $($name::$variant => $domain::$variant),+
                }
            }
        }

        impl From<$domain> for $name {
            fn from(value: $domain) -> Self {
                match value {
                    $($domain::$variant => $name::$variant),+
                }
            }
        }

        impl $name {
            /// The domain's value.
            pub fn domain(self) -> $domain {
                self.into()
            }

            /// Serde and the OpenAPI schema name every value as the domain does.
            #[cfg(test)]
            fn assert_names_match() {
                let names: Vec<&str> = $domain::ALL.iter().map(|value| value.as_str()).collect();
                for value in $domain::ALL {
                    let wire = serde_json::to_value($name::from(*value)).expect("a name serialises");
                    assert_eq!(wire.as_str(), Some(value.as_str()), "{}", stringify!($name));
                }
                let schema = serde_json::to_value(<$name as utoipa::PartialSchema>::schema()).expect("a schema");
                let listed: Vec<&str> = match schema["oneOf"].as_array() {
                    // Variants with doc comments are listed one by one.
                    Some(variants) => variants.iter().flat_map(|variant| variant["enum"].as_array().into_iter().flatten()).filter_map(|name| name.as_str()).collect(),
                    None => schema["enum"].as_array().into_iter().flatten().filter_map(|name| name.as_str()).collect(),
                };
                assert_eq!(listed, names, "the OpenAPI schema of {}: {schema}", stringify!($name));
            }
        }
    };
}

schema_enum!(
    /// How the gateway talks to a supplier.
    ProtocolName for Protocol {
        OpenAi => "openai",
        AzureOpenAi => "azure_openai",
        Anthropic => "anthropic",
        Gemini => "gemini",
        Replicate => "replicate",
    }
);

schema_enum!(
    /// A kind of content.
    ModalityName for Modality {
        Audio => "audio",
        File => "file",
        Image => "image",
        Text => "text",
        Video => "video",
    }
);

schema_enum!(
    /// The field a capability belongs to.
    DomainName for CapabilityDomain {
        Nlp => "nlp",
        Cv => "cv",
        Audio => "audio",
        Multimodal => "multimodal",
    }
);

schema_enum!(
    /// The type of a parameter's values.
    ParameterTypeName for ParameterType {
        Int => "int",
        Float => "float",
        Bool => "bool",
        String => "string",
        Json => "json",
    }
);

schema_enum!(
    /// A role.
    RoleName for Role {
        Admin => "admin",
        User => "user",
    }
);

schema_enum!(
    /// A model's kind.
    ModelTypeName for ModelType {
        Language => "language",
        Vision => "vision",
        Multimodal => "multimodal",
        Audio => "audio",
        Embedding => "embedding",
        Image => "image",
    }
);

schema_enum!(
    /// How a model is called.
    SubTypeName for SubType {
        Chat => "chat",
        Completion => "completion",
        Embedding => "embedding",
        ImageGeneration => "image_generation",
        SpeechToText => "speech_to_text",
        TextToSpeech => "text_to_speech",
        Rerank => "rerank",
        Moderation => "moderation",
    }
);

schema_enum!(
    /// What to do with a deleted category's children and models.
    DeleteModeName for DeleteMode {
        /// Refuse (409 `category_not_empty`) while the category has children or models.
        Refuse => "refuse",
        /// Move the children and models to the category's parent first.
        Reassign => "reassign",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mirror_names_its_values_as_the_domain_does() {
        ProtocolName::assert_names_match();
        ModalityName::assert_names_match();
        DomainName::assert_names_match();
        ParameterTypeName::assert_names_match();
        RoleName::assert_names_match();
        ModelTypeName::assert_names_match();
        SubTypeName::assert_names_match();
        DeleteModeName::assert_names_match();
    }
}
