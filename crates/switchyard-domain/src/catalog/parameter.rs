//! Typed model parameters (`temperature: float in [0, 2], default 1`): the gateway applies them
//! as per-model defaults and limits. Every value is checked against the parameter's type, and
//! reads give typed JSON values back.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::catalog::ids::{ModelId, ParameterId};
use crate::kernel::error::DomainError;
use crate::kernel::named::named_enum;
use crate::kernel::text::{length, optional_bounded};

named_enum!(
    /// The type of a parameter's values.
    ParameterType, "parameter_type", "invalid_value" {
        Int => "int",
        Float => "float",
        Bool => "bool",
        String => "string",
        Json => "json",
    }
);

impl ParameterType {
    fn numeric(self) -> bool {
        matches!(self, Self::Int | Self::Float)
    }

    /// The value as this type wants it (floats as floats), or `None` when it is not one.
    fn coerce(self, value: &Value) -> Option<Value> {
        match self {
            Self::Int => value.as_i64().map(Value::from),
            Self::Float => value.as_f64().filter(|f| f.is_finite()).map(Value::from),
            Self::Bool => value.as_bool().map(Value::from),
            Self::String => value.as_str().map(Value::from),
            Self::Json => Some(value.clone()),
        }
    }

    fn article(self) -> &'static str {
        match self {
            Self::Int => "an integer",
            Self::Float => "a number",
            Self::Bool => "true or false",
            Self::String => "a string",
            Self::Json => "JSON",
        }
    }
}

/// The writable fields of a parameter, checked; every value is of `parameter_type`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParameterSpec {
    /// 1–64 of `[a-z0-9_]`, unique per model (`temperature`, `top_p`, `max_tokens`).
    pub name: String,
    pub parameter_type: ParameterType,
    pub default_value: Option<Value>,
    /// Numeric types only.
    pub min_value: Option<Value>,
    pub max_value: Option<Value>,
    /// When set, the only values allowed (not for bool or json).
    pub allowed_values: Option<Vec<Value>>,
    pub description: Option<String>,
}

/// The raw writable fields, as a caller sends them.
#[derive(Debug, Clone, Default)]
pub struct ParameterInput {
    pub name: String,
    pub parameter_type: String,
    pub default_value: Option<Value>,
    pub min_value: Option<Value>,
    pub max_value: Option<Value>,
    pub allowed_values: Option<Vec<Value>>,
    pub description: Option<String>,
}

/// The largest JSON value kept, serialised.
pub const MAX_VALUE_LEN: usize = 4000;

fn parameter_name(raw: &str) -> Result<String, DomainError> {
    let name = raw.trim().to_owned();
    length("name", &name, 1, 64)?;
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        || !name.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
    {
        return Err(DomainError::validation(
            "name",
            "invalid_parameter_name",
            "may contain only a-z, 0-9 and '_', starting with a letter",
        ));
    }
    Ok(name)
}

fn as_f64(value: &Value) -> f64 {
    value.as_f64().unwrap_or(f64::NAN)
}

impl ParameterSpec {
    pub fn parse(input: ParameterInput) -> Result<Self, DomainError> {
        let name = parameter_name(&input.name)?;
        let kind = ParameterType::parse(input.parameter_type.trim())?;
        let bad = |field: &str, code: &'static str, what: String| {
            DomainError::validation(field, code, format!("parameter {name}: {what}"))
        };
        let typed = |field: &str, value: Option<Value>| -> Result<Option<Value>, DomainError> {
            match value {
                None | Some(Value::Null) => Ok(None),
                Some(value) => {
                    let coerced = kind.coerce(&value).ok_or_else(|| {
                        bad(
                            field,
                            "invalid_type",
                            format!("{value} is not {} ({})", kind.article(), kind.as_str()),
                        )
                    })?;
                    if coerced.to_string().chars().count() > MAX_VALUE_LEN {
                        return Err(bad(field, "too_long", "serialises to more than 4000 characters".into()));
                    }
                    Ok(Some(coerced))
                }
            }
        };
        let default_value = typed("default_value", input.default_value)?;
        let (min_value, max_value) = (
            typed("min_value", input.min_value)?,
            typed("max_value", input.max_value)?,
        );
        if !kind.numeric() && (min_value.is_some() || max_value.is_some()) {
            let field = if min_value.is_some() { "min_value" } else { "max_value" };
            return Err(bad(
                field,
                "not_allowed",
                "only int and float parameters have bounds".into(),
            ));
        }
        if let (Some(min), Some(max)) = (&min_value, &max_value)
            && as_f64(min) > as_f64(max)
        {
            return Err(bad(
                "min_value",
                "out_of_range",
                format!("min {min} is above max {max}"),
            ));
        }
        let allowed_values = match input.allowed_values {
            None => None,
            Some(_) if matches!(kind, ParameterType::Bool | ParameterType::Json) => {
                return Err(bad(
                    "allowed_values",
                    "not_allowed",
                    "only int, float and string parameters list allowed values".into(),
                ));
            }
            Some(values) if values.is_empty() => {
                return Err(bad(
                    "allowed_values",
                    "required",
                    "list at least one value or leave it out".into(),
                ));
            }
            Some(values) => Some(
                values
                    .into_iter()
                    .enumerate()
                    .map(|(index, value)| {
                        typed(&format!("allowed_values[{index}]"), Some(value))?.ok_or_else(|| {
                            bad(
                                &format!("allowed_values[{index}]"),
                                "invalid_type",
                                "null is not allowed".into(),
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        if let Some(default) = &default_value {
            let below = min_value.as_ref().is_some_and(|min| as_f64(default) < as_f64(min));
            let above = max_value.as_ref().is_some_and(|max| as_f64(default) > as_f64(max));
            if below || above {
                return Err(bad(
                    "default_value",
                    "out_of_range",
                    format!("{default} is outside the bounds"),
                ));
            }
            if let Some(allowed) = &allowed_values
                && !allowed.contains(default)
            {
                return Err(bad(
                    "default_value",
                    "not_allowed",
                    format!("{default} is not an allowed value"),
                ));
            }
        }
        Ok(Self {
            description: optional_bounded("description", input.description, 2000)?,
            name,
            parameter_type: kind,
            default_value,
            min_value,
            max_value,
            allowed_values,
        })
    }
}

/// A parameter as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    pub id: ParameterId,
    pub model_id: ModelId,
    pub spec: ParameterSpec,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn temperature(default: Value) -> ParameterInput {
        ParameterInput {
            name: "temperature".into(),
            parameter_type: "float".into(),
            default_value: Some(default),
            min_value: Some(json!(0)),
            max_value: Some(json!(2)),
            ..ParameterInput::default()
        }
    }

    fn refused(input: ParameterInput) -> (String, String) {
        match ParameterSpec::parse(input) {
            Err(DomainError::Validation { field, message, .. }) => (field, message),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn values_are_checked_against_the_type_and_read_back_typed() {
        let spec = ParameterSpec::parse(temperature(json!(1))).expect("a valid parameter");
        assert_eq!(spec.default_value, Some(json!(1.0)));
        assert_eq!(spec.max_value, Some(json!(2.0)));

        let (field, message) = refused(temperature(json!("hot")));
        assert_eq!(field, "default_value");
        assert!(message.contains("temperature"), "{message}");
        assert_eq!(refused(temperature(json!(3))).0, "default_value");

        let int = ParameterInput {
            name: "max_tokens".into(),
            parameter_type: "int".into(),
            default_value: Some(json!(1.5)),
            ..ParameterInput::default()
        };
        assert_eq!(refused(int).0, "default_value");

        let choice = ParameterInput {
            name: "quality".into(),
            parameter_type: "string".into(),
            default_value: Some(json!("hd")),
            allowed_values: Some(vec![json!("standard"), json!(3)]),
            ..ParameterInput::default()
        };
        assert_eq!(refused(choice).0, "allowed_values[1]");

        let bounded_bool = ParameterInput {
            name: "stream".into(),
            parameter_type: "bool".into(),
            min_value: Some(json!(0)),
            ..ParameterInput::default()
        };
        assert_eq!(refused(bounded_bool).0, "min_value");
        let json = ParameterInput {
            name: "response_format".into(),
            parameter_type: "json".into(),
            default_value: Some(json!({"type": "text"})),
            ..ParameterInput::default()
        };
        assert!(ParameterSpec::parse(json).is_ok());
    }
}
